"""Bytes the emulated strap sends: Heart Rate Measurement values and the ECG waveform. Pure.

The PMD data frames themselves come from the decoder's encoders
(:func:`psoas_sense.decode.pmd.acc_frame_bytes`, :func:`~psoas_sense.decode.pmd.ecg_frame_bytes`).
"""

from __future__ import annotations

import numpy as np

from psoas_sense.decode import pmd
from psoas_sense.sources.emulator.gatt import ATT_HEADER_BYTES, EMULATED_MTU

HR_FLAG_UINT16 = 0x01
"""Heart Rate Measurement flags: the HR value is a uint16."""
HR_FLAG_CONTACT_DETECTED = 0x02
"""... skin contact detected (meaningful when contact is supported)."""
HR_FLAG_CONTACT_SUPPORTED = 0x04
"""... the sensor reports skin contact."""
HR_FLAG_RR_PRESENT = 0x10
"""... RR intervals follow."""
RR_UNITS_PER_S = 1024
"""RR intervals are sent in 1/1024 s."""
MALFORMED_HR_MEASUREMENT = bytes([HR_FLAG_RR_PRESENT | HR_FLAG_UINT16, 60])
"""A uint16 HR flagged but one byte sent: does not decode."""

ACC_SAMPLES_PER_FRAME = (EMULATED_MTU - ATT_HEADER_BYTES - pmd.HEADER_BYTES) // 6
"""36 samples per frame, as a real H10 at MTU 232 (raw int16 fills 226 of 229 bytes; the
delta-compressed form of the same samples always fits too)."""
MALFORMED_DELTA_BYTES = pmd.HEADER_BYTES + 9
"""A delta frame cut to this length (header, part of the reference sample) does not decode."""

ECG_R_PEAK_UV = 1200.0
"""Height of the R peak of the emulated ECG, µV."""
ECG_R_WIDTH_S = 0.012
ECG_T_WAVE_UV = 200.0
"""Height of the T wave, µV, this long after the R peak:"""
ECG_T_DELAY_S = 0.25
ECG_T_WIDTH_S = 0.05


def heart_rate_measurement(hr_bpm: int, rr_ms: np.ndarray, flags: int, contact: bool) -> bytes:
    """A Heart Rate Measurement value (0x2A37) with these flags, HR and RR intervals.

    Args:
        hr_bpm: heart rate; sent as uint16 (flag bit 0 set) when above 255.
        rr_ms: RR intervals since the previous notification, oldest first (may be empty).
        flags: the strap's flags byte (contact and energy bits).
        contact: whether the skin contact bit is set, where the strap reports contact.
    """
    if not contact and flags & HR_FLAG_CONTACT_SUPPORTED:
        flags &= ~HR_FLAG_CONTACT_DETECTED
    hr_field = bytes([hr_bpm]) if hr_bpm <= 0xFF else (hr_bpm & 0xFFFF).to_bytes(2, "little")
    if hr_bpm > 0xFF:
        flags |= HR_FLAG_UINT16
    if rr_ms.size:
        body = bytes([flags | HR_FLAG_RR_PRESENT]) + hr_field
        return body + b"".join(
            min(int(round(r * RR_UNITS_PER_S / 1000)), 0xFFFF).to_bytes(2, "little") for r in rr_ms
        )
    return bytes([flags & ~HR_FLAG_RR_PRESENT]) + hr_field


def ecg_waveform_uv(t_s: np.ndarray, beats_s: np.ndarray) -> np.ndarray:
    """A simple ECG (an R peak and a T wave per beat) at times ``t_s``, µV."""
    uv = np.zeros(t_s.size)
    for b in beats_s:
        uv += ECG_R_PEAK_UV * np.exp(-(((t_s - b) / ECG_R_WIDTH_S) ** 2)) + ECG_T_WAVE_UV * np.exp(
            -(((t_s - b - ECG_T_DELAY_S) / ECG_T_WIDTH_S) ** 2)
        )
    return uv
