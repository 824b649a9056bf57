"""What the emulated breathing belt measures: its force over session time, and its own rate.

Synthetic: the lung volume of a seeded breather (:func:`psoas_sense.simulate.synthesize`, in
chunks made as the session needs them) as belt tension, ``BASE_N + DEPTH_N x`` the belt signal
(volume, slow wander and noise), so the force rises on the inhale as a real belt's does; the
breather's exhale onsets are kept (:attr:`BeltSignal.exhale_onsets_s`) to score the session
against. Or a recording's breathing waveform (``resp``), looped: in newtons when the recording
says so (a recording of a belt), otherwise scaled into the same range.

The belt's own respiration rate is computed here by a stand-in (:data:`RATE_ALGORITHM`):
Vernier's algorithm is not public, only its window (30 s) and its update step (10 s).
"""

from __future__ import annotations

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.simulate import Breather, synthesize
from psoas_sense.sources.emulator.options import EmulatorOptions

BELT_CHUNK_S = 600.0
"""The synthetic breather is made in chunks of this length."""
BELT_SYNTH_HZ = 50.0
"""... at this rate (the belt samples it at 10 or 20 Hz)."""
BASE_N = 3.0
"""Belt tension at the end of an exhale, newtons (a worn belt is pre-loaded; unloaded it reads
about -0.5 N, as the captured packet shows)."""
DEPTH_N = 1.5
"""Tension added by a breath of the synthetic breather's mean depth, newtons."""
RATE_WINDOW_S = 30.0
"""The belt's respiration rate looks at this much force (SMARTlab's quote of Vernier's manual) ..."""
RATE_STEP_S = 10.0
"""... and changes every this many seconds."""
SMOOTH_N = 10
"""Samples (at 10 Hz) of the moving average the stand-in rate smooths the force with."""
RATE_ALGORITHM = "placeholder: 60 / mean time between upward crossings of the window's mean"
"""How the emulator computes the belt's rate (Vernier's own algorithm is not public)."""


class BeltSignal:
    """Belt force over session time (newtons), generated lazily; the belt's own rate."""

    def __init__(self, opts: EmulatorOptions) -> None:
        self._opts = opts
        self._chunks: dict[int, np.ndarray] = {}
        self.exhale_onsets_s: list[float] = []
        """True exhale onsets of the synthetic breather (chunks made so far); empty for a recording."""
        self._rec: tuple[np.ndarray, np.ndarray, float] | None = None
        self._rates: dict[float, float] = {}
        if opts.recording:
            self._rec = self._load_recording(opts.recording)

    @staticmethod
    def _load_recording(path: str) -> tuple[np.ndarray, np.ndarray, float]:
        """(t, force N, span) of a recording's breathing waveform."""
        from psoas_sense.decode import NotificationDecoder
        from psoas_sense.model import Notification, RespFrame
        from psoas_sense.recording.importers import load_input

        header, items = load_input(path)
        dec = NotificationDecoder()
        ts: list[np.ndarray] = []
        vs: list[np.ndarray] = []
        for _, item in items:
            frames = dec.decode(item) if isinstance(item, Notification) else [item]
            for fr in frames:
                if isinstance(fr, RespFrame) and fr.t_s.size:
                    ts.append(fr.t_s)
                    vs.append(fr.resp)
        if not ts:
            raise PsoasError(f"{path}: no breathing waveform (resp) to drive the emulated belt; use a belt recording")
        t = np.concatenate(ts)
        v = np.concatenate(vs)
        keep = np.isfinite(v)
        t, v = t[keep], v[keep]
        if t.size < 2:
            raise PsoasError(f"{path}: too little breathing waveform to drive the emulated belt")
        order = np.argsort(t, kind="stable")
        t, v = t[order] - t[order][0], v[order]
        unit = str(header.streams.get("resp", {}).get("unit", ""))
        if unit != "N":
            lo, hi = np.percentile(v, [5, 95])
            v = BASE_N + DEPTH_N * (v - lo) / max(hi - lo, 1e-9)
        return t, v, max(float(t[-1]), 1.0)

    def _chunk(self, k: int) -> np.ndarray:
        got = self._chunks.get(k)
        if got is not None:
            return got
        syn = synthesize(
            BELT_CHUNK_S,
            seed=self._opts.seed * 1000 + k,
            breather=Breather(rate_bpm=self._opts.rate_bpm),
            fs_hz=BELT_SYNTH_HZ,
        )
        off = k * BELT_CHUNK_S
        self.exhale_onsets_s.extend(float(x) + off for x in syn.exhale_onsets_s)
        force = BASE_N + DEPTH_N * syn.resp
        self._chunks[k] = force
        return force

    def force(self, t_s: np.ndarray) -> np.ndarray:
        """Belt force at session times ``t_s`` (non-negative), newtons."""
        t = np.asarray(t_s, dtype=np.float64)
        if self._rec is not None:
            rt, rv, span = self._rec
            looped: np.ndarray = np.interp(np.mod(t, span), rt, rv)
            return looped
        out = np.empty(t.shape)
        k_of = np.floor(np.maximum(t, 0.0) / BELT_CHUNK_S).astype(np.int64)
        n = int(BELT_CHUNK_S * BELT_SYNTH_HZ)
        grid = np.arange(n) / BELT_SYNTH_HZ
        for k in np.unique(k_of):
            m = k_of == k
            out[m] = np.interp(t[m] - k * BELT_CHUNK_S, grid, self._chunk(int(k)))
        return out

    def device_rate(self, since_start_s: float, t_s: float) -> float:
        """The belt's own rate at ``t_s``, ``since_start_s`` after START: NaN until
        ``rate_after`` has passed, then updated every :data:`RATE_STEP_S` from the last
        :data:`RATE_WINDOW_S` of force (:data:`RATE_ALGORITHM`)."""
        after = self._opts.rate_after_s
        if since_start_s < after:
            return float("nan")
        steps = np.floor((since_start_s - after) / RATE_STEP_S)
        t_update = t_s - (since_start_s - after - steps * RATE_STEP_S)
        window = np.arange(t_update - RATE_WINDOW_S, t_update, 0.1)
        window = window[window >= 0.0]
        if window.size < 50:
            return float("nan")
        key = round(t_update, 6)
        if key in self._rates:
            return self._rates[key]
        f = np.convolve(self.force(window), np.ones(SMOOTH_N) / SMOOTH_N, mode="valid")
        up = np.nonzero((f[:-1] < f.mean()) & (f[1:] >= f.mean()))[0]
        rate = float(60.0 / (np.mean(np.diff(up)) * 0.1)) if up.size >= 2 else float("nan")
        self._rates = {key: rate}
        return rate
