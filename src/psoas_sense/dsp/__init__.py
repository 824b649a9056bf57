"""Signal processing of the pure core: filters, extraction per signal kind, detection, polarity.

:mod:`.filters` (streaming IIR and resampling), :mod:`.extract` (a breathing signal from each
kind of input), :mod:`.detector` with :mod:`.breath_stats` and :mod:`.hold` (the online phase
detector), :mod:`.polarity` (the inhale direction of an accelerometer) and :mod:`.pipeline`
(items in, events out).
"""
