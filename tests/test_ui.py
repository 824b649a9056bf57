"""The Textual UI driven by Pilot on replayed recordings (data time, no wall-clock waits)."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from conftest import RECORDINGS
from psoas_sense.sources.replay import ReplaySource
from psoas_sense.ui.app import PsoasApp
from psoas_sense.ui.audio import CuePlayer, sound_for, synth
from psoas_sense.ui.screens import PainScreen, SafetyScreen

BELT = RECORDINGS / "biosppy-belt-60s.jsonl.gz"


def quiet_audio(tmp_path) -> tuple[CuePlayer, list[list[str]]]:
    started: list[list[str]] = []
    return CuePlayer(player=["fake-player"], speaker=["fake-say"], run=started.append, cache_dir=tmp_path), started


class Gate:
    """A replay clock that runs free until data time passes ``hold_at``, then waits for release."""

    def __init__(self, hold_at: float) -> None:
        self.now = 0.0
        self.hold_at = hold_at
        self.release = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.now += s
        if self.now >= self.hold_at:
            await self.release.wait()
        else:
            await asyncio.sleep(0)


async def test_detection_only_shows_phases_and_sounds(tmp_path):
    audio, started = quiet_audio(tmp_path)
    app = PsoasApp(lambda: ReplaySource(BELT), audio=audio, subtitle="test")
    async with app.run_test(size=(100, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        phases = [x["event"] for x in app.lines if x["event"] in ("exhale", "inhale")]
        assert phases.count("exhale") >= 10
        assert app.phase == phases[-1]
        assert app.source_state == "ended"
        # every phase sounded its own tone, through the injected player
        assert audio.played.count("exhale") == phases.count("exhale")
        assert all(cmd[0] == "fake-player" for cmd in started)
        await pilot.press("m")
        assert audio.enabled is False


def _coach_factory(protocol: str):
    from psoas_sense import cli
    from psoas_sense.cli_coach import make_coach

    def make(answer):
        ns = argparse.Namespace(protocol=protocol, signal="auto")
        cli._fill_coach_defaults(ns)
        ns.no_history = True
        ns.protocol = protocol
        if answer is not None:
            ns.confirm_safety = True
            ns.condition = list(answer.conditions)
            if answer.breathing_only:
                ns.protocol = "breathing"
        return make_coach(ns, ReplaySource(BELT).header)

    return make


async def test_safety_check_then_pain_key_stops_everything(tmp_path):
    pytest.importorskip("psoas_sense.cli_coach")
    audio, _ = quiet_audio(tmp_path)
    gate = Gate(hold_at=40.0)
    app = PsoasApp(
        lambda: ReplaySource(BELT, speed=1.0, loop=True, sleep=gate.sleep, clock=gate.clock),
        make_coach=_coach_factory("manual"),
        needs_safety=True,
        audio=audio,
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SafetyScreen)
        await pilot.click("#continue")
        for _ in range(200):
            await pilot.pause()
            if app.data_t >= 39.0:
                break
        assert app.data_t >= 39.0
        assert any(x["event"] == "stage" for x in app.lines)
        await pilot.press("p")
        gate.release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        events = [x["event"] for x in app.lines]
        assert "pain_stop" in events
        assert isinstance(app.screen, PainScreen)
        assert "stop" in audio.played
        # nothing after the pain stop asks for more pressure
        after = app.lines[events.index("pain_stop") + 1 :]
        assert not any(x.get("kind") in ("sink_deeper", "slide_foot") for x in after)


async def test_breathing_only_answer_blocks_massage(tmp_path):
    pytest.importorskip("psoas_sense.cli_coach")
    audio, _ = quiet_audio(tmp_path)
    app = PsoasApp(
        lambda: ReplaySource(BELT),
        make_coach=_coach_factory("manual"),
        needs_safety=True,
        audio=audio,
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.click("#cond-pregnancy")
        await pilot.click("#continue")
        await app.workers.wait_for_complete()
        await pilot.pause()
        kinds = {x.get("kind") for x in app.lines if x["event"] in ("hold_start", "cue")}
        assert not kinds & {"static", "active", "sink_deeper", "slide_foot"}


def test_sound_mapping_and_tones():
    assert sound_for({"event": "cue", "kind": "sink_deeper"}, coached=True) == "exhale"
    assert sound_for({"event": "cue", "kind": "hold_breathe"}, coached=True) == "inhale"
    assert sound_for({"event": "pain_stop"}, coached=True) == "stop"
    assert sound_for({"event": "exhale"}, coached=True) is None  # the coach's cue sounds instead
    assert sound_for({"event": "exhale"}, coached=False) == "exhale"
    assert sound_for({"event": "status", "state": "lost"}, coached=False) is None
    x = synth([(440.0, 440.0, 0.1, 0.5)], rate_hz=8000)
    assert x.dtype.name == "int16" and 0 < abs(x).max() < 32767


def test_no_player_falls_back_to_the_bell(tmp_path):
    bells: list[int] = []
    audio = CuePlayer(player=None, speaker=None, bell=lambda: bells.append(1), cache_dir=tmp_path)
    audio.on_line({"event": "cue", "kind": "sink_deeper", "text": "Sink deeper"}, coached=True)
    assert bells == [1]
    audio.enabled = False
    audio.play("exhale")
    assert bells == [1]


def test_spoken_cues_only_when_asked(tmp_path):
    ran: list[list[str]] = []
    audio = CuePlayer(player=["p"], speaker=["say"], run=ran.append, cache_dir=tmp_path, speak=True)
    audio.on_line({"event": "cue", "kind": "sink_deeper", "text": "Sink deeper as you breathe out."}, coached=True)
    assert ["say", "Sink deeper as you breathe out."] in ran
    assert (tmp_path / "exhale.wav").exists()
