"""Large inputs are streamed: ``detect`` reads a file in bounded blocks and feeds the pipeline as
it goes (issue 10, point 4). The events are those of the same samples fed at once or in any
chunking; memory does not grow with the length of the file; a bad value deep in the file is a
one-line ``FILE:LINE`` error with exit status 2.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import tracemalloc
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from conftest import STREAM_RATE_HZ, write_resp_csv
from psoas_sense.cli import main
from psoas_sense.cli.detect import coalesced
from psoas_sense.model import Item, RespFrame, RRFrame
from psoas_sense.recording import bounded, importers
from psoas_sense.recording.header import Header
from psoas_sense.recording.importers import load_input, open_input
from psoas_sense.session.loop import run_session
from psoas_sense.session.sinks import JsonPrinter
from psoas_sense.sources.memory import MemorySource


def write_rr_csv(path: Path, rr_ms: np.ndarray) -> None:
    """``t,rr_ms``: each beat at the end of its interval."""
    t = np.cumsum(rr_ms) / 1000.0
    rows = (f"{a:.3f},{b:.1f}\n" for a, b in zip(t.tolist(), rr_ms.tolist(), strict=True))
    path.write_text("t,rr_ms\n" + "".join(rows))


def printed(header: Header, pairs: Iterable[tuple[float, Item]]) -> list[str]:
    """The JSON lines ``detect --notices`` prints for these items."""
    out = io.StringIO()
    asyncio.run(run_session(MemorySource(header, pairs), sinks=[JsonPrinter(out)]))
    return out.getvalue().splitlines()


@pytest.mark.usefixtures("small_blocks")
def test_streamed_detect_gives_the_events_of_any_chunking(tmp_path, capsys):
    p = tmp_path / "long.csv"
    write_resp_csv(p, 60_000)  # 1200 s, 0.8 MB: a dozen 64 KiB blocks
    assert main(["detect", "--notices", str(p)]) == 0
    streamed = capsys.readouterr().out.splitlines()
    assert sum('"event": "exhale"' in line for line in streamed) > 270

    header, stream = open_input(p)
    frames = list(stream)
    assert len(frames) == 1200  # 1 s frames, as an import makes them
    t = np.concatenate([f.t_s for _, f in frames])
    y = np.concatenate([f.resp for _, f in frames])
    assert t.size == 60_000
    at_once = printed(header, [(float(t[-1]), RespFrame(t_s=t, resp=y))])
    rng = np.random.default_rng(1)
    cuts = np.unique(np.concatenate([[0], rng.integers(1, t.size, 300), [t.size]]))
    chunks = [(float(t[b - 1]), RespFrame(t_s=t[a:b], resp=y[a:b])) for a, b in itertools.pairwise(cuts.tolist())]
    assert printed(header, chunks) == at_once
    assert streamed == at_once


def test_the_read_ahead_keeps_the_header_and_frames_of_a_whole_read(tmp_path, monkeypatch):
    p = tmp_path / "rows.csv"
    write_resp_csv(p, 30_000)
    header_whole, items_whole = load_input(p)
    monkeypatch.setattr(bounded, "READ_BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(importers, "RATE_SAMPLES", 100)
    header, stream = open_input(p)
    assert header.streams == header_whole.streams == {"resp": {"unit": "au", "rate_hz": STREAM_RATE_HZ}}
    items = list(stream)
    assert [t for t, _ in items] == [t for t, _ in items_whole]
    assert all(np.array_equal(a.resp, b.resp) for (_, a), (_, b) in zip(items, items_whole, strict=True))


def _peak_bytes(path: Path) -> int:
    """Peak traced memory while ``detect`` reads and chunks the file (the pipeline aside)."""
    tracemalloc.start()
    try:
        _, stream = open_input(path, frame_s=60.0)
        n = 0
        for _, item in coalesced(stream):
            n += item.t_s.size
        assert n > 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("kind", ["resp", "rr"])
def test_memory_does_not_grow_with_the_length_of_the_file(tmp_path, kind):
    paths = []
    for rows in (40_000, 160_000):
        p = tmp_path / f"{kind}-{rows}.csv"
        if kind == "resp":
            write_resp_csv(p, rows)
        else:
            write_rr_csv(p, 900 + 60 * np.sin(np.arange(rows) / 4.0))
        paths.append(p)
    small, large = (_peak_bytes(p) for p in paths)
    # 4x the rows; a whole read would hold 4x the samples (2.5 MB of floats for the large one)
    assert large < 1.3 * small + (64 << 10), (small, large)


@pytest.mark.usefixtures("small_blocks")
def test_a_bad_value_deep_in_a_streamed_file_is_a_one_line_error(tmp_path, capsys):
    p = tmp_path / "bad.csv"
    write_resp_csv(p, 60_000, bad_line=50_001)
    assert main(["detect", str(p)]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"psoas-sense: error: {p}:50001: column 'resp' is not a finite number: 'nan'"]
    # the file was streamed: the events before the bad line were printed as they came
    assert sum('"event": "exhale"' in line for line in out.splitlines()) > 100


def test_an_rr_stream_is_fed_in_chunks_of_a_minute(tmp_path):
    p = tmp_path / "rr.csv"
    write_rr_csv(p, np.full(3000, 800.0))
    _, stream = open_input(p, frame_s=60.0)
    frames = [f for _, f in coalesced(stream)]
    assert all(isinstance(f, RRFrame) for f in frames)
    assert sum(f.t_s.size for f in frames) == 3000
    assert len(frames) == 40  # 2400 s of beats
