"""The whole streaming pipeline: chunk-size invariance, no look-ahead, auto signal choice."""

from __future__ import annotations

import numpy as np
import pytest

from chunking import irregular, lone_samples_in, regular
from conftest import RECORDINGS
from psoas_sense.dsp.pipeline import Pipeline
from psoas_sense.model import AccFrame, BreathEvent, Notification, RespFrame, RRFrame
from psoas_sense.recording.format import read_recording

CASES = [
    pytest.param("neurokit2-resting-belt-rr.jsonl.gz", "resp", marks=pytest.mark.slow),
    ("neurokit2-resting-belt-rr.jsonl.gz", "rr"),
    ("biosppy-belt-60s.jsonl.gz", "resp"),
    ("phone-chest-paced-6s.jsonl.gz", "acc"),
    ("h10-rr-10min.jsonl.gz", "rr"),
]
CLS = {"resp": (RespFrame, "resp"), "acc": (AccFrame, "acc_mg"), "rr": (RRFrame, "rr_ms")}


def stream(name: str, kind: str, max_s: float | None = None) -> tuple[dict, np.ndarray, np.ndarray]:
    header, items = read_recording(RECORDINGS / name)
    cls, field = CLS[kind]
    frames = [it for it in items if isinstance(it, cls)]
    t = np.concatenate([f.t_s for f in frames])
    v = np.concatenate([getattr(f, field) for f in frames], axis=0)
    if max_s is not None:
        keep = t <= t[0] + max_s
        t, v = t[keep], v[keep]
    return header.streams, t, v


def chunked(kind: str, t: np.ndarray, v: np.ndarray, size: int | list[slice] | None) -> list:
    cls, field = CLS[kind]
    n = t.shape[0]
    cuts = size if isinstance(size, list) else regular(n, size or n)
    return [cls(t[c], v[c]) for c in cuts]


def run(kind: str, streams: dict, frames: list, signal: str | None = None) -> list:
    p = Pipeline(signal=signal or kind, streams=streams)
    return p.feed_all(frames)


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_chunk_size_invariance(name, kind):
    streams, t, v = stream(name, kind)
    whole = run(kind, streams, chunked(kind, t, v, None))
    assert sum(isinstance(e, BreathEvent) and e.kind == "exhale" for e in whole) >= 5
    n = t.shape[0]
    # one sample at a time through the start-up (the first 1500 samples), chunks of 1 to 25
    # samples (seeded) and of 64 over the whole recording
    ways = {"lone samples first": lone_samples_in(n, (0, 1500)), "irregular": irregular(n, seed=3),
            "chunks of 64": regular(n, 64)}
    for label, cuts in ways.items():
        assert run(kind, streams, chunked(kind, t, v, cuts)) == whole, label


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_no_look_ahead(name, kind):
    streams, t, v = stream(name, kind)
    rng = np.random.default_rng(11)
    cut_t = float(t[0] + 0.6 * (t[-1] - t[0]))
    v2 = v.copy()
    later = t > cut_t
    if kind == "rr":
        v2[later] = rng.uniform(600, 1100, later.sum())
    else:
        v2[later] = v2[later][::-1] + rng.standard_normal(v2[later].shape) * np.std(v)
    a = run(kind, streams, chunked(kind, t, v, 50))
    b = run(kind, streams, chunked(kind, t, v2, 50))
    before_a = [e for e in a if e.detected_at_s <= cut_t]
    before_b = [e for e in b if e.detected_at_s <= cut_t]
    assert before_a == before_b
    assert len(before_a) >= 4
    assert a != b  # the change after the cut did change later events: the test has teeth
    for e in a:
        if isinstance(e, BreathEvent):
            assert e.detected_at_s >= e.t_s


def test_detected_at_is_the_newest_sample_seen():
    """Feeding frame by frame, every event comes out with detected_at <= the newest sample fed."""
    streams, t, v = stream("biosppy-belt-60s.jsonl.gz", "resp")
    p = Pipeline(signal="resp", streams=streams)
    for f in chunked("resp", t, v, 25):
        for e in p.feed(f):
            assert e.detected_at_s <= float(f.t_s[-1]) + 1e-9


def test_auto_prefers_the_belt_over_rr():
    header, items = read_recording(RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz")
    events = Pipeline(signal="auto", streams=header.streams).feed_all(items)
    signals = [e.signal for e in events if isinstance(e, BreathEvent)]
    # RR may carry the first seconds, then the belt takes over for good
    first_resp = signals.index("resp")
    assert first_resp < 6
    assert set(signals[first_resp:]) == {"resp"}


def test_unknown_and_raw_items_are_harmless():
    p = Pipeline(signal="auto")
    n = Notification(t_s=1.0, char_uuid="00002a37-0000-1000-8000-00805f9b34fb", data=b"\x10")
    assert p.feed(n) == []  # malformed: skipped and counted, not raised
    assert p.decoder.errors == 1
    with pytest.raises(ValueError):
        Pipeline(signal="sonar")


def test_gap_is_reported_whatever_the_chunking():
    """A gap whose first sample after it ends a frame is still reported, and at the same sample
    (the resampler carries it to the next frame's first grid sample)."""
    from psoas_sense.model import SignalNotice
    from psoas_sense.simulate import synthesize

    syn = synthesize(120.0, seed=4, fs_hz=50.0)
    keep = (syn.t_s < 50.0) | (syn.t_s >= 56.0)
    t, v = syn.t_s[keep], syn.resp[keep]
    streams = {"resp": {"rate_hz": 50.0}}
    whole = run("resp", streams, chunked("resp", t, v, None))
    assert [e.kind for e in whole if isinstance(e, SignalNotice) and e.kind.startswith("signal_")] == [
        "signal_lost",
        "signal_restored",
    ]
    n, g = t.shape[0], int(np.searchsorted(t, 56.0))  # g: the first sample after the gap
    ways = {
        "a frame ends on the first sample after the gap": [slice(0, g + 1), slice(g + 1, n)],
        "a frame ends on the last sample before it": [slice(0, g), slice(g, n)],
        "one sample at a time around it": lone_samples_in(n, (g - 100, g + 100)),
        "irregular chunks of 1 to 7": irregular(n, seed=5, most=7),
        "chunks of 50": regular(n, 50),
    }
    for label, cuts in ways.items():
        assert run("resp", streams, chunked("resp", t, v, cuts)) == whole, label


def test_resampler_carries_a_gap_to_the_next_output_sample():
    from psoas_sense.dsp.filters import GridResampler

    rs = GridResampler(10.0)
    t = np.concatenate((np.arange(0, 5, 0.1), [9.0]))
    gt, _, _, gaps = rs.process(t, np.zeros_like(t))
    assert gaps == [] and rs.gaps == [(4.9, 9.0)]
    gt2, _, ga2, gaps2 = rs.process(np.array([9.1, 9.2]), np.zeros(2))
    assert gaps2 == [0] and gt2[0] == pytest.approx(9.0) and ga2[0] == pytest.approx(9.0)
