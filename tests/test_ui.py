"""The Textual UI driven by Pilot on replayed recordings (data time, no wall-clock waits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import RECORDINGS, Gate
from psoas_sense.events import Cue, HoldStarted, PainStopped, StageEntered
from psoas_sense.model import BreathEvent, Status
from psoas_sense.serialize import from_json
from psoas_sense.session.setup import CoachConfig, RunConfig
from psoas_sense.sources.replay import ReplaySource
from psoas_sense.ui.app import make_app
from psoas_sense.ui.audio import CuePlayer, sound_for, synth
from psoas_sense.ui.screens.modals import PainScreen, SafetyScreen

BELT = RECORDINGS / "biosppy-belt-60s.jsonl.gz"


def quiet_audio(tmp_path) -> tuple[CuePlayer, list[list[str]]]:
    started: list[list[str]] = []
    return CuePlayer(player=["fake-player"], speaker=["fake-say"], run=started.append, cache_dir=tmp_path), started




def config(protocol: str | None = None, path: Path = BELT) -> RunConfig:
    return RunConfig("replay", file=path, speed=None, coach=CoachConfig(protocol=protocol, save_history=False))


async def test_detection_only_shows_phases_and_sounds(tmp_path):
    audio, started = quiet_audio(tmp_path)
    app = make_app(config(), audio=audio)
    async with app.run_test(size=(100, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        phases = [x.kind for x in app.events if isinstance(x, BreathEvent)]
        assert phases.count("exhale") >= 10
        assert app.view.phase == phases[-1]
        assert app.ended and app.view.source_words == "session over"
        # every phase sounded its own tone, through the injected player
        assert audio.played.count("exhale") == phases.count("exhale")
        assert all(cmd[0] == "fake-player" for cmd in started)
        await pilot.press("m")
        assert audio.enabled is False


async def test_safety_check_then_pain_key_stops_everything(tmp_path):
    audio, _ = quiet_audio(tmp_path)
    gate = Gate(hold_at=40.0)
    app = make_app(
        RunConfig("replay", file=BELT, speed=1.0, loop=True, coach=CoachConfig(protocol="manual", save_history=False)),
        make_source=lambda: ReplaySource(BELT, speed=1.0, loop=True, sleep=gate.sleep, clock=gate.clock),
        audio=audio,
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SafetyScreen)
        await pilot.click("#continue")
        for _ in range(200):
            await pilot.pause()
            if app.view.t_s >= 39.0:
                break
        assert app.view.t_s >= 39.0
        assert any(isinstance(x, StageEntered) for x in app.events)
        await pilot.press("p")
        await pilot.pause()
        # the stop took effect while the replay was held: no data needed
        assert any(isinstance(x, PainStopped) for x in app.events)
        gate.release.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        kinds = [type(x) for x in app.events]
        assert isinstance(app.screen, PainScreen)
        assert "stop" in audio.played
        assert app.view.pain and app.view.ended_by == "pain"
        # nothing after the pain stop asks for more pressure
        after = app.events[kinds.index(PainStopped) + 1 :]
        assert not any(isinstance(x, Cue) and x.kind in ("sink_deeper", "slide_foot") for x in after)


async def test_breathing_only_answer_blocks_massage(tmp_path):
    audio, _ = quiet_audio(tmp_path)
    app = make_app(config("manual"), audio=audio)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.click("#cond-pregnancy")
        await pilot.click("#continue")
        await app.workers.wait_for_complete()
        await pilot.pause()
        kinds = {x.kind for x in app.events if isinstance(x, (HoldStarted, Cue))}
        assert not kinds & {"static", "active", "sink_deeper", "slide_foot"}


def test_sound_mapping_and_tones():
    sink = Cue(1.0, "sink_deeper", "Sink deeper.", "static")
    assert sound_for(sink, coached=True) == "exhale"
    assert sound_for(Cue(1.0, "hold_breathe", "Hold.", "static"), coached=True) == "inhale"
    assert sound_for(PainStopped(1.0, "static", "left", "static", "Stop."), coached=True) == "stop"
    exhale = BreathEvent("exhale", 1.0, 1.2)
    assert sound_for(exhale, coached=True) is None  # the coach's cue sounds instead
    assert sound_for(exhale, coached=False) == "exhale"
    assert sound_for(Status(1.0, "lost"), coached=False) is None
    x = synth([(440.0, 440.0, 0.1, 0.5)], rate_hz=8000)
    assert x.dtype.name == "int16" and 0 < abs(x).max() < 32767


def test_no_player_falls_back_to_the_bell(tmp_path):
    bells: list[int] = []
    audio = CuePlayer(player=None, speaker=None, bell=lambda: bells.append(1), cache_dir=tmp_path)
    audio.on_event(
        from_json({"event": "cue", "t": 1.0, "kind": "sink_deeper", "text": "Sink deeper", "stage": "static"}),
        coached=True,
    )
    assert bells == [1]
    audio.enabled = False
    audio.play("exhale")
    assert bells == [1]


def test_without_a_player_the_cues_still_differ_by_ear(tmp_path):
    """Bells by count: one on the exhale, none on the inhale, three for attention, four to stop."""
    bells: list[float] = []
    pending: list[tuple[float, Any]] = []
    audio = CuePlayer(player=None, speaker=None, bell=lambda: bells.append(0.0), cache_dir=tmp_path,
                      later=lambda delay_s, fn: pending.append((delay_s, fn)))

    def rings(kind: str) -> tuple[int, list[float]]:
        bells.clear()
        pending.clear()
        audio.on_event(Cue(1.0, kind, "words", "static"), coached=True)
        for _, fn in pending:
            fn()
        return len(bells), [d for d, _ in pending]

    assert rings("sink_deeper") == (1, [])
    assert rings("hold_breathe") == (0, [])
    assert rings("fallback_pacer") == (3, [0.3, 0.6])
    bells.clear()
    pending.clear()
    audio.on_event(PainStopped(2.0, "static", "left", None, "Stop."), coached=True)
    audio.enabled = False  # muted between the bells of one cue: the rest stay silent
    for _, fn in pending:
        fn()
    assert len(bells) == 1 and len(pending) == 3


def test_spoken_cues_only_when_asked(tmp_path):
    ran: list[list[str]] = []
    audio = CuePlayer(player=["p"], speaker=["say"], run=ran.append, cache_dir=tmp_path, speak=True)
    audio.on_event(Cue(1.0, "sink_deeper", "Sink deeper as you breathe out.", "static"), coached=True)
    assert ["say", "Sink deeper as you breathe out."] in ran
    assert (tmp_path / "exhale.wav").exists()


def test_start_screen_runs_take_the_command_line_options(tmp_path):
    """`psoas-sense --speed 4 --duration 60 --save --mute` applies to what the start screen starts."""
    from psoas_sense.ui.choices import StartChoice, StartOptions, config_for

    opts = StartOptions(speed=4.0, duration_s=60.0, save=True, mute=True)
    demo = config_for(StartChoice("demo", protocol="tool"), opts)
    assert (demo.speed, demo.duration_s, demo.coach.save_history, demo.mute) == (4.0, 60.0, True, True)
    assert demo.coach.protocol == "tool" and demo.loop
    rec = tmp_path / "r.jsonl"
    replay = config_for(StartChoice("recording", file=rec), StartOptions(speed=None))
    assert replay.speed is None and replay.file == rec and not replay.coach.save_history  # not saved unless asked
    live = config_for(StartChoice("emulated", device="emulated:h10"), opts)
    assert live.coach.save_history and live.device == "emulated:h10"  # live sessions are always saved
    plain = config_for(StartChoice("demo"))
    assert plain.speed == 1.0 and plain.duration_s is None and not plain.coach.save_history
    # the app made for the start screen has the bell fallback (and its timer) and the asked mute
    app = make_app(None, start_options=StartOptions(mute=True))
    assert not app.audio.enabled and app.audio._bell is not None and app.audio._later is not None
