"""The terminal UI's flows, driven by Pilot on replays and the emulated strap (data time)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from conftest import RECORDINGS, Gate
from psoas_sense.coach.texts import PAIN_STOP
from psoas_sense.events import HoldStarted, ProtocolChanged, SessionEnded
from psoas_sense.model import Status
from psoas_sense.session.setup import CoachConfig, RunConfig
from psoas_sense.sources.replay import ReplaySource
from psoas_sense.ui.app import make_app
from psoas_sense.ui.audio import CuePlayer
from psoas_sense.ui.messages import DataTimeAdvanced, EventEmitted
from psoas_sense.ui.screens.modals import PainScreen, QuitScreen, SafetyScreen
from psoas_sense.ui.screens.session import SessionScreen
from psoas_sense.ui.screens.summary import SummaryScreen
from psoas_sense.ui.theme import AA_TEXT, BAND_TEXT, BANDS, contrast
from ui_states import fed_app, steps

BELT = RECORDINGS / "biosppy-belt-60s.jsonl.gz"
BELT_RR = RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz"


def quiet(tmp_path: Path) -> CuePlayer:
    return CuePlayer(player=["fake-player"], speaker=None, run=lambda cmd: None, cache_dir=tmp_path)




def gated(path: Path, hold_at: float, protocol: str | None = "manual", confirmed: bool = True):
    gate = Gate(hold_at)
    config = RunConfig("replay", file=path, speed=1.0, loop=True,
                       coach=CoachConfig(protocol=protocol, safety_confirmed=confirmed, save_history=False))
    return gate, config, lambda: ReplaySource(path, speed=1.0, loop=True, sleep=gate.sleep, clock=gate.clock)


async def run_until(pilot, cond, steps: int = 400) -> None:
    for _ in range(steps):
        await pilot.pause()
        if cond():
            return
    raise AssertionError("condition not reached")


async def test_safety_enter_starts_massage_with_nothing_ticked(tmp_path: Path) -> None:
    gate, config, src = gated(BELT_RR, 30.0, confirmed=False)
    app = make_app(config, make_source=src, audio=quiet(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SafetyScreen)
        assert app.focused is not None and app.focused.id == "continue"
        await pilot.press("enter")
        await run_until(pilot, lambda: app.view.stage == "preparation")
        assert not any(isinstance(e, ProtocolChanged) for e in app.events)
        assert app.config is not None and app.config.coach.protocol == "manual"
        gate.release.set()


async def test_a_ticked_condition_says_why_and_gives_breathing_practice(tmp_path: Path) -> None:
    gate, config, src = gated(BELT_RR, 30.0, confirmed=False)
    app = make_app(config, make_source=src, audio=quiet(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.click("#cond-aneurysm")
        why = str(app.screen.query_one("#safety-why").render())
        assert "breathing practice only" in why and "doctor or physiotherapist" in why
        await pilot.click("#continue")
        await run_until(pilot, lambda: any(isinstance(e, ProtocolChanged) for e in app.events))
        await run_until(pilot, lambda: app.view.stage == "breathing")
        gate.release.set()


@pytest.mark.parametrize("key", ["p", "escape"])
async def test_pain_key_stops_at_once_while_no_data_arrives(tmp_path: Path, key: str) -> None:
    gate, config, src = gated(BELT_RR, 60.0)
    app = make_app(config, make_source=src, audio=quiet(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await run_until(pilot, lambda: app.view.t_s >= 59.0)
        assert isinstance(app.screen, SessionScreen)
        await pilot.press(key)  # the replay is held: nothing arrives
        await run_until(pilot, lambda: app.view.pain)
        assert isinstance(app.screen, PainScreen)
        assert "professional" in PAIN_STOP.lower()
        assert app.view.ended_by == "pain" and app.view.instruction_kind == "pain_stop"
        # closing the advice shows the summary of what was done
        await pilot.press("enter")
        await run_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        gate.release.set()


@pytest.mark.parametrize("over", ["help", "quit"])
async def test_pain_key_works_over_other_screens(tmp_path: Path, over: str) -> None:
    gate, config, src = gated(BELT_RR, 40.0)
    app = make_app(config, make_source=src, audio=quiet(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await run_until(pilot, lambda: app.view.t_s >= 39.0)
        if over == "help":
            pytest.importorskip("psoas_sense.ui.screens.help")
        await pilot.press("question_mark" if over == "help" else "q")
        await pilot.pause()
        assert not isinstance(app.screen, SessionScreen)
        await pilot.press("escape")
        await run_until(pilot, lambda: app.view.pain)
        assert [e.ended_by for e in app.events if isinstance(e, SessionEnded)] == ["pain"]
        gate.release.set()


async def test_quit_asks_and_is_recorded_as_a_quit(tmp_path: Path) -> None:
    gate, config, src = gated(BELT_RR, 80.0)
    app = make_app(config, make_source=src, audio=quiet(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await run_until(pilot, lambda: app.view.t_s >= 79.0)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen) and app.running
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await run_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert [e.ended_by for e in app.events if isinstance(e, SessionEnded)] == ["quit"]
        assert app.summary_report is not None and app.summary_report.session.ended_by == "quit"
        gate.release.set()


@pytest.mark.slow
async def test_replay_at_max_speed_ends_on_the_summary(tmp_path: Path) -> None:
    # sides of a minute and a half (the default 3 minutes draws twice as many frames, to the same end)
    config = RunConfig("replay", file=BELT_RR, speed=None, loop=True,
                       coach=CoachConfig(protocol="manual", simulated_safety=True, save_history=False,
                                         overrides={"side_minutes": 1.5}))
    app = make_app(config, audio=quiet(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await run_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        report = app.summary_report
        assert report is not None and len(report.sides) == 2 and report.holds
        holds = [e for e in app.events if isinstance(e, HoldStarted)]
        assert len(holds) >= 4
        # the summary's figures are the session's own
        (end,) = [e for e in app.events if isinstance(e, SessionEnded)]
        assert report.totals.breaths == end.summary.breaths


async def test_link_drop_shown_in_words(tmp_path: Path) -> None:
    # the emulated strap's run on data time (its link dropped at 4 s for 5 s), played into a real
    # app one status at a time: what the screen says at each, the same on every run and under any load
    app = fed_app(tmp_path)
    said: list[tuple[str, str, str]] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for kind, x in steps("emulated:h10?drop_at=4&drop_for=5", 15.0):
            app.post_message(EventEmitted(x) if kind == "e" else DataTimeAdvanced(x))
            if kind == "e" and isinstance(x, Status):
                await pilot.pause()
                assert app._session_screen is not None
                said.append((x.state, app.view.source_words, str(app._session_screen.query_one("#status").render())))
    words = [w for _, w, _ in said]
    assert "reconnecting: follow my cues" in words, said
    at = words.index("reconnecting: follow my cues")
    assert said[at][0] == "reconnecting" and "reconnecting" in said[at][2]  # in the status line too
    assert words[-1] == "receiving" and "receiving" in said[-1][2]  # and back once the strap returned


def test_band_colours_meet_wcag_aa() -> None:
    for name, bg in BANDS.items():
        assert contrast(BAND_TEXT, bg) >= AA_TEXT, name


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_theme_text_meets_wcag_aa(tmp_path: Path, theme: str) -> None:
    config = RunConfig("replay", file=BELT, speed=None, coach=CoachConfig(save_history=False))
    app = make_app(config, audio=quiet(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = theme
        await pilot.pause()
        v = app.get_css_variables()
        assert contrast(v["foreground"][:7], v["background"][:7]) >= AA_TEXT
        assert contrast(v["foreground"][:7], v["surface"][:7]) >= AA_TEXT


async def test_no_color_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    config = RunConfig("replay", file=BELT, speed=None, coach=CoachConfig(save_history=False))
    app = make_app(config, audio=quiet(tmp_path))
    assert app.no_color  # Textual then renders in monochrome


async def test_a_source_that_cannot_open_says_why(tmp_path: Path) -> None:
    config = RunConfig("session", device="emulated:h10?drop_at=soon",
                       coach=CoachConfig(protocol="breathing", save_history=False))
    app = make_app(config, audio=quiet(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await run_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert app.failure is not None and "drop_at" in app.failure
        assert "could not run" in str(app.screen.query_one("#summary-title").render())


# ---------------------------------------------------------------------------- issue 17: the screen tells the truth


async def test_escape_in_the_quit_question_is_the_pain_stop_and_it_says_so(tmp_path: Path) -> None:
    gate, config, src = gated(BELT_RR, 40.0)
    app = make_app(config, make_source=src, audio=quiet(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await run_until(pilot, lambda: app.view.t_s >= 39.0)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        said = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "Esc" in said and "PAIN" in said  # the box says what Escape does here
        await pilot.press("escape")
        await run_until(pilot, lambda: app.view.pain)
        assert [e.ended_by for e in app.events if isinstance(e, SessionEnded)] == ["pain"]
        gate.release.set()


async def test_from_the_summary_back_to_the_start_and_leaving_asks(tmp_path: Path) -> None:
    from psoas_sense.ui.screens.modals import LeaveScreen
    from psoas_sense.ui.screens.start import StartScreen

    config = RunConfig("replay", file=BELT, speed=None, coach=CoachConfig(save_history=False))
    app = make_app(config, audio=quiet(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await run_until(pilot, lambda: isinstance(app.screen, SummaryScreen), steps=4000)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, LeaveScreen)  # quitting asks
        await pilot.press("escape")  # outside a session Escape is "back": here, "no"
        await pilot.pause()
        assert isinstance(app.screen, SummaryScreen) and app.is_running
        await pilot.press("escape")  # back to the start screen, ready for another session
        await pilot.pause()
        assert isinstance(app.screen, StartScreen) and not app.events and app.summary_report is None
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


async def test_a_replay_without_a_coach_ends_in_words_and_the_band_follows_the_phase(tmp_path: Path) -> None:
    from psoas_sense.ui.bandview import BandWidget

    gate, config, src = gated(BELT_RR, 30.0, protocol=None)
    app = make_app(config, make_source=src, audio=quiet(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await run_until(pilot, lambda: app.view.t_s >= 29.0)
        await pilot.pause()
        band = app.screen.query_one(BandWidget).band
        assert band.headline == {"exhale": "BREATHING OUT", "inhale": "BREATHING IN"}[app.view.phase]
        assert band.lead_words.startswith("≈ FOLLOWING YOUR BREATH")
    config = RunConfig("replay", file=BELT, speed=None, coach=CoachConfig(save_history=False))
    app = make_app(config, audio=quiet(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await run_until(pilot, lambda: isinstance(app.screen, SummaryScreen), steps=4000)
        screen = app.screen
        assert isinstance(screen, SummaryScreen)
        assert screen.ended_words == "ended: the recording ran out"  # not "interrupted"


async def test_a_quit_without_a_coach_is_saved_as_a_quit_not_a_pain_stop(tmp_path: Path) -> None:
    gate, config, src = gated(BELT_RR, 30.0, protocol=None)
    app = make_app(config, make_source=src, audio=quiet(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await run_until(pilot, lambda: app.view.t_s >= 29.0)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await run_until(pilot, lambda: app.summary_report is not None, steps=2000)
        assert app.summary_report is not None and app.summary_report.session.ended_by == "quit"
        assert not app.view.pain
        gate.release.set()


@pytest.mark.parametrize("size", [(60, 20), (80, 24)], ids=["60x20", "80x24"])
async def test_nothing_that_matters_is_cut_on_the_session_screen(tmp_path: Path, size: tuple[int, int]) -> None:
    from psoas_sense.ui.keybar import KeyBar

    gate, config, src = gated(BELT_RR, 60.0)
    app = make_app(config, make_source=src, audio=CuePlayer(player=None, speaker=None, run=lambda cmd: None,
                                                            cache_dir=tmp_path))
    async with app.run_test(size=size) as pilot:
        await run_until(pilot, lambda: app.view.t_s >= 59.0)
        await pilot.pause()
        screen = app.screen
        keys = [k for k, _ in screen.query_one(KeyBar).shown]
        assert keys[:5] == ["p/Esc", "space", "n", "?", "q"]  # the pain key first, whole, and help and end
        you = str(screen.query_one("#you", Static).render())
        assert you.rstrip().endswith(app.view.quality_words) and len(you.rstrip()) <= size[0] - 2
        band = screen.query_one("#band")
        assert band.size.height + 2 >= size[1] / 3  # the band is a third of the screen or more
        assert not app._notifications  # no toast over the keys (the sound notice is a quiet line)
        assert "terminal bells" in str(screen.query_one("#notes", Static).render())
        gate.release.set()
