"""Recording format v1: JSON Lines, one header object then one item per line.

See ``firmware_notes/recording-format.md`` for the full description. In short::

    {"format": "psoas-sense-recording", "version": 1, "recorded_at": "...", "device": {...},
     "streams": {"acc": {"unit": "mG", "rate_hz": 200.0}, ...}}
    {"t": 0.512, "kind": "ble", "char": "00002a37-0000-1000-8000-00805f9b34fb", "hex": "10482c03"}
    {"t": 1.0, "kind": "resp", "t0": 0.01, "dt": 0.01, "v": [0.49, 0.50, ...]}
    {"t": 1.0, "kind": "acc", "ts": [0.99, 1.0], "v": [[-9, -1, 999], [-8, -2, 997]]}
    {"t": 2.2, "kind": "rr", "ts": [1.4, 2.2], "rr_ms": [812.0, 800.0]}
    {"t": 2.2, "kind": "hr", "hr_bpm": 72}
    {"t": 3.0, "kind": "status", "state": "lost", "detail": "link dropped"}
    {"t": 4.0, "kind": "marker", "marker": "hold_start", "data": {"side": "left", "kind": "static"}}

The writer is append-only and flushes every line; it fsyncs at least once a second and on close.
It creates the file with mode 0600 and refuses to overwrite an existing file. The reader
validates everything and reports ``FILE:LINE: what is wrong``; a last line cut short by a crash
is skipped with a warning.

The code lives in :mod:`.header` (the first line), :mod:`.writer` and :mod:`.reader`; this
module re-exports all of it, so ``psoas_sense.recording.format`` stays the one import.
"""

from psoas_sense.recording.header import FORMAT_NAME, FORMAT_VERSION, Header, is_finite_number, parse_header
from psoas_sense.recording.reader import (
    MAX_LINE_BYTES,
    Recording,
    TruncatedLineWarning,
    read_bytes_tolerant,
    read_recording,
)
from psoas_sense.recording.writer import (
    FSYNC_INTERVAL_S,
    UNIFORM_TOLERANCE_S,
    RecordingWriter,
    dumps_line,
    encode_item,
    write_recording,
)

_read_bytes_tolerant = read_bytes_tolerant  # its name when this was one module

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FSYNC_INTERVAL_S",
    "MAX_LINE_BYTES",
    "UNIFORM_TOLERANCE_S",
    "Header",
    "Recording",
    "RecordingWriter",
    "TruncatedLineWarning",
    "dumps_line",
    "encode_item",
    "is_finite_number",
    "parse_header",
    "read_bytes_tolerant",
    "read_recording",
    "write_recording",
]
