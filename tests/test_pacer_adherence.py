"""Pacer adherence means following the pacer: matching pace scores high, 1.5x or 2x off scores low.

Tested on real phone recordings of paced breathing at known periods (the bundled one, and the
DEV files of the shared phone set), replayed through the coach's breathing practice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from conftest import RECORDINGS, SHARED_DATA
from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.coach.pacer import following_score
from psoas_sense.events import SessionEnded
from psoas_sense.model import AccFrame
from psoas_sense.recording.format import Header
from psoas_sense.session.loop import run_session
from psoas_sense.session.sinks import Collector
from psoas_sense.sources.memory import MemorySource
from psoas_sense.sources.replay import ReplaySource

PHONE_6S = RECORDINGS / "phone-chest-paced-6s.jsonl.gz"
PHONE_SET = SHARED_DATA / "phone_imu_paced_breathing"


def phone_txt(path: Path) -> MemorySource:
    """A DEV phone file (headerless ``t, ax, ay, az, |a|`` in seconds and g) as a source."""
    data = np.loadtxt(path, delimiter=",")
    t, acc = data[:, 0] - data[0, 0], data[:, 1:4] * 1000.0
    rate = float(1.0 / np.median(np.diff(t)))
    frames = [(float(t[min(i + 50, len(t)) - 1]), AccFrame(t[i:i + 50], acc[i:i + 50])) for i in range(0, len(t), 50)]
    return MemorySource(Header(streams={"acc": {"unit": "mG", "rate_hz": rate}}), frames)


def adherence_of(path: Path, period_s: float) -> float:
    settings = CoachSettings(protocol="breathing", breathing_minutes=3.0, pacer_inhale_s=period_s / 2,
                             pacer_exhale_s=period_s / 2)
    coach = CoachEngine(settings, SafetyCheck.answered([]), signal="")
    col = Collector()
    source = ReplaySource(path, loop=True) if path.name.endswith(".jsonl.gz") else phone_txt(path)
    asyncio.run(run_session(source, sinks=[col], coach=coach))
    (end,) = [e for e in col.events if isinstance(e, SessionEnded)]
    assert end.summary.adherence_pct is not None
    return end.summary.adherence_pct


def test_the_score_itself() -> None:
    steady = [10.0 * k for k in range(8)]
    assert following_score(steady, [0.3] * 8, 10.0) == pytest.approx(1.0)  # a steady delay is fine
    drifting = [6.7 * k for k in range(8)]
    errors = [((t + 5.0) % 10.0) - 5.0 for t in drifting]
    assert following_score(drifting, errors, 10.0) < 0.1  # 1.5x the pace: drifts through the cycle
    assert following_score([3.0], [0.0], 10.0) == 1.0  # one exhale: its alignment


def test_bundled_phone_recording_at_its_period() -> None:
    match = adherence_of(PHONE_6S, 6.0)
    assert match >= 60
    for off in (4.0, 9.0, 12.0):  # 1.5x and 2x off either way
        assert adherence_of(PHONE_6S, off) <= 25, off


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("period_s", [6.0, 8.0, 10.0])
def test_dev_phone_recordings_at_their_periods(period_s: float) -> None:
    path = PHONE_SET / f"pos1_accelerometer_data_{int(period_s)}sbreathing.txt"
    if not path.exists():
        pytest.skip(f"{path} not found")
    match = adherence_of(path, period_s)
    assert match >= 50
    assert adherence_of(path, period_s * 1.5) <= 25
    assert adherence_of(path, period_s * 2) <= 25
