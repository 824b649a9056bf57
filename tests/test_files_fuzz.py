"""Property-based fuzzing of the file readers: whatever a recording line, a CSV row or a raw
byte string holds, reading gives items or one :class:`InputError` line, never anything else.

Examples are bounded and derandomized so CI stays fast and deterministic; set
``PSOAS_FUZZ_EXAMPLES`` to run more (the counts are printed with ``-s``).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psoas_sense.errors import InputError
from psoas_sense.recording.importers import load_input
from psoas_sense.recording.reader import TruncatedLineWarning

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("PSOAS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TALLY: Counter[str] = Counter()
"""Inputs tried, and how each ended (``items`` or ``error``), over the whole run."""

HEADER = {"format": "psoas-sense-recording", "version": 1,
          "streams": {"resp": {"unit": "au", "rate_hz": 25}, "acc": {"unit": "mG", "rate_hz": 200}}}

numbers = st.one_of(
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1e308, -1e308, 1e-320, 2**63, 1e12, 1e13]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                      max_leaves=12)
kinds = st.sampled_from(["ble", "resp", "acc", "rr", "hr", "status", "marker", "other"])
keys = st.sampled_from(["t", "kind", "v", "ts", "t0", "dt", "n", "rr_ms", "hr_bpm", "state", "marker", "data",
                        "char", "hex", "detail"])
items = st.builds(lambda kind, t, extra: {"t": t, "kind": kind, **extra},
                  kinds, numbers, st.dictionaries(keys, values, max_size=5))


@pytest.fixture(scope="module", autouse=True)
def report_tally() -> Iterator[None]:
    yield
    print(f"\nfuzz: {sum(v for k, v in TALLY.items() if k.endswith('tried'))} inputs tried, "
          f"{dict(sorted(TALLY.items()))}")


def _read(data: bytes, suffix: str, group: str) -> None:
    """Write ``data`` to a fresh file and read it: items or one InputError line, nothing else."""
    TALLY[f"{group} tried"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / f"in{suffix}"
        p.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TruncatedLineWarning)  # a cut last line is tolerated
                load_input(p)
        except InputError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(p))
            TALLY[f"{group} error"] += 1
            return
    TALLY[f"{group} items"] += 1


@pytest.mark.slow
@FUZZ
@given(st.lists(items, min_size=1, max_size=4), st.booleans())
def test_recording_lines(lines: list[dict[str, object]], gz: bool) -> None:
    text = json.dumps(HEADER) + "\n" + "".join(json.dumps(obj) + "\n" for obj in lines)
    data = text.encode()
    _read(gzip.compress(data) if gz else data, ".jsonl.gz" if gz else ".jsonl", "recording")


@FUZZ
@given(st.lists(st.binary(max_size=80), min_size=1, max_size=4))
def test_recording_raw_lines(lines: list[bytes]) -> None:
    _read(json.dumps(HEADER).encode() + b"\n" + b"\n".join(lines), ".jsonl", "recording-bytes")


CSV_HEADERS = ["t,resp", "t,ax,ay,az", "t,rr_ms", "resp,t,x", "Phone timestamp;RR-interval [ms]",
               "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]", "time,seconds_elapsed,z,y,x"]
cells = st.one_of(
    numbers.map(str),
    st.sampled_from(["", "nan", "inf", "-inf", "1e999", "9" * 400, "2023-02-08T18:48:01.683", " ", '"1"', "0x10"]),
    st.text(alphabet="0123456789.-+eE ;,\t\r", max_size=12),
)


@FUZZ
@given(st.sampled_from(CSV_HEADERS), st.lists(st.lists(cells, min_size=1, max_size=6), max_size=6),
       st.sampled_from(["\n", "\r\n"]))
def test_csv_rows(header: str, rows: list[list[str]], newline: str) -> None:
    sep = ";" if ";" in header else ","
    text = header + newline + "".join(sep.join(r) + newline for r in rows)
    _read(text.encode(), ".csv", "csv")


GENERIC = {"t,resp": 2, "t,ax,ay,az": 4, "t,rr_ms": 2, "resp,t,x": 3}
plain = st.one_of(st.floats(-2000, 2000, allow_nan=False).map(lambda x: f"{x:.4g}"), st.integers(1, 2000).map(str))


@pytest.mark.slow
@FUZZ
@given(st.sampled_from(sorted(GENERIC)), st.data())
def test_csv_mostly_valid(header: str, data: st.DataObject) -> None:
    ncols = GENERIC[header]
    tcol = header.split(",").index("t")
    n = data.draw(st.integers(1, 30))
    steps = data.draw(st.lists(st.floats(0, 0.5), min_size=n, max_size=n))
    rows = []
    t = 0.0
    for k in range(n):
        t += steps[k]
        row = [data.draw(cells if data.draw(st.integers(0, 39)) == 0 else plain) for _ in range(ncols)]
        row[tcol] = f"{t:.3f}"
        rows.append(",".join(row))
    _read((header + "\n" + "\n".join(rows) + "\n").encode(), ".csv", "csv-valid")


@FUZZ
@given(st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.lists(st.floats(-1e4, 1e4), max_size=5)),
                min_size=1, max_size=5), st.booleans())
def test_recording_mostly_valid(frames: list[tuple[float, list[float]]], gz: bool) -> None:
    lines, t = [], 0.0
    for step, v in frames:
        t += step
        lines.append({"t": t + 0.04 * len(v), "kind": "resp", "t0": t, "dt": 0.04, "v": v})
        t += 0.04 * len(v)
    data = (json.dumps(HEADER) + "\n" + "".join(json.dumps(obj) + "\n" for obj in lines)).encode()
    _read(gzip.compress(data) if gz else data, ".jsonl.gz" if gz else ".jsonl", "recording-valid")


@FUZZ
@given(st.binary(max_size=300), st.booleans())
def test_any_bytes(data: bytes, gz: bool) -> None:
    _read(gzip.compress(data)[: max(2, len(data))] if gz else data, ".bin", "bytes")
