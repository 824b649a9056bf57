"""Breathing signal from each kind of input, causal and chunk-invariant.

Each extractor takes sample frames of one stream and returns a breathing signal on a uniform
grid, with the availability time of every grid sample (the newest raw sample seen when it became
known) and the delay of the causal filters at breathing frequencies (so the detector can date a
phase change in sensor time).

Filtering is kept short on purpose (latency is the product): a 2nd-order low-pass at the raw
rate and a 1st-order high-pass on the grid. Heartbeat ripple that survives it (impedance
pneumography, chest accelerometers) is measured causally, and only when it is strong is it
cancelled (:class:`RippleGuard`): on waveforms by notches at the tracked heart rate (little
delay), with a one-heart-period comb on top for what they leave; on accelerometers by the comb.

Modules: :mod:`.base` (the :class:`Extractor` protocol, :class:`Extracted` and shared helpers),
:mod:`.ripple` (:class:`RippleGuard`), :mod:`.resp` (belts, impedance), :mod:`.acc`
(accelerometers) and :mod:`.rr` (RR intervals). Every name is re-exported here.
"""

from psoas_sense.dsp.extract.acc import (
    ACC_RIPPLE_CANCEL,
    MOTION_HOLDOFF_S,
    MOTION_MG_PER_S,
    MOTION_RMS_FACTOR,
    MOTION_RMS_TC_S,
    PCA_FORGET_ON_SHIFT,
    PCA_TIME_CONSTANT_S,
    PCA_UPDATE_S,
    STUCK_MG,
    STUCK_REPORT_S,
    AccExtractor,
)
from psoas_sense.dsp.extract.base import (
    FAST_LP_HZ,
    GRID_HZ,
    HP_HZ,
    RATE_ESTIMATE_SAMPLES,
    REF_FREQ_HZ,
    ExpWeightedMean,
    Extracted,
    Extractor,
    RateGate,
    phase_delay_s,
)
from psoas_sense.dsp.extract.resp import RespExtractor
from psoas_sense.dsp.extract.ripple import (
    COMB_MAX_BPM,
    COMB_MIN_BPM,
    COMB_MIN_CORR,
    COMB_UPDATE_S,
    COMB_WINDOW_S,
    NOTCH_HARMONICS,
    NOTCH_MIN_HZ,
    NOTCH_Q,
    NOTCH_SETTLE_S,
    RESP_RIPPLE_CANCEL,
    RIPPLE_BAND_HZ,
    RIPPLE_FADE_TC_S,
    RIPPLE_RATIO,
    RIPPLE_RATIO_NOTCHED,
    RIPPLE_RES_TC_S,
    RIPPLE_TC_S,
    RippleGuard,
)
from psoas_sense.dsp.extract.rr import (
    RR_BAND_HZ,
    RR_GRID_HZ,
    RR_MAX_GAP_S,
    RR_MAX_JUMP,
    RR_MAX_MS,
    RR_MIN_MS,
    RR_RESONATOR_Q,
    RR_TRACK_EVERY_S,
    RR_TRACK_F_POWER,
    RR_TRACK_MIN_PEAK,
    RR_TRACK_PERIOD_S,
    RR_TRACK_WINDOW_S,
    RateTracker,
    RRExtractor,
)
from psoas_sense.dsp.filters import (
    GridResampler,
    StreamingSOS,
    design_bandpass,
    design_highpass,
    design_lowpass,
)
from psoas_sense.model import SignalNotice

_RateGate = RateGate  # the names these helpers had when this was one module
_EW = ExpWeightedMean

__all__ = [
    "ACC_RIPPLE_CANCEL",
    "COMB_MAX_BPM",
    "COMB_MIN_BPM",
    "COMB_MIN_CORR",
    "COMB_UPDATE_S",
    "COMB_WINDOW_S",
    "FAST_LP_HZ",
    "GRID_HZ",
    "HP_HZ",
    "MOTION_HOLDOFF_S",
    "MOTION_MG_PER_S",
    "MOTION_RMS_FACTOR",
    "MOTION_RMS_TC_S",
    "NOTCH_HARMONICS",
    "NOTCH_MIN_HZ",
    "NOTCH_Q",
    "NOTCH_SETTLE_S",
    "PCA_FORGET_ON_SHIFT",
    "PCA_TIME_CONSTANT_S",
    "PCA_UPDATE_S",
    "RATE_ESTIMATE_SAMPLES",
    "REF_FREQ_HZ",
    "RESP_RIPPLE_CANCEL",
    "RIPPLE_BAND_HZ",
    "RIPPLE_FADE_TC_S",
    "RIPPLE_RATIO",
    "RIPPLE_RATIO_NOTCHED",
    "RIPPLE_RES_TC_S",
    "RIPPLE_TC_S",
    "RR_BAND_HZ",
    "RR_GRID_HZ",
    "RR_MAX_GAP_S",
    "RR_MAX_JUMP",
    "RR_MAX_MS",
    "RR_MIN_MS",
    "RR_RESONATOR_Q",
    "RR_TRACK_EVERY_S",
    "RR_TRACK_F_POWER",
    "RR_TRACK_MIN_PEAK",
    "RR_TRACK_PERIOD_S",
    "RR_TRACK_WINDOW_S",
    "STUCK_MG",
    "STUCK_REPORT_S",
    "AccExtractor",
    "ExpWeightedMean",
    "Extracted",
    "Extractor",
    "GridResampler",
    "RRExtractor",
    "RateGate",
    "RateTracker",
    "RespExtractor",
    "RippleGuard",
    "SignalNotice",
    "StreamingSOS",
    "design_bandpass",
    "design_highpass",
    "design_lowpass",
    "phase_delay_s",
]
