"""Who leads, the breath or the pacer: hysteresis, settle periods, the sensor down, an RR-only strap.

Synthetic breath events through the pure coach (the driver of ``test_coach_engine``), on data time.
"""

from __future__ import annotations

from typing import Any

import pytest

from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.coach.texts import CUES
from psoas_sense.model import BreathEvent, SignalNotice, Status
from test_coach_engine import STEP_S, Run, _wire, drive, manual, phases

CANT = "can't follow"


def with_unsure(t_end: float, stretches: list[tuple[float, float]], period_s: float = 5.0,
                quality: float = 0.35) -> list[BreathEvent]:
    """Confident breathing (0.9) with unsure stretches ``(t0, t1)`` in it."""
    out = []
    for ev in phases(0, t_end, period_s, quality=0.9):
        if any(a <= ev.t_s < b for a, b in stretches):
            ev = BreathEvent(ev.kind, ev.t_s, ev.detected_at_s, signal=ev.signal, quality=quality)
        out.append(ev)
    return out


def said(run: Run, words: str) -> list[dict[str, Any]]:
    return [c for c in run.cues() if words in c["text"]]


def handovers(run: Run) -> list[dict[str, Any]]:
    return run.cues("fallback_pacer")


# ---------------------------------------------------------------------------- hysteresis


def test_half_a_minute_of_unsure_breaths_is_left_uncued_not_announced() -> None:
    """A clean belt has stretches of ~30 s of unsure events: nothing is said, nothing is cued on them."""
    stretches = [(t, t + 32.0) for t in range(60, 1200, 130)]
    evs = with_unsure(1200, stretches)
    run = drive(manual(side_minutes=9.0), evs, 1200)
    assert not handovers(run) and not run.cues("signal_restored") and not said(run, CANT)
    unsure = {round(e.t_s, 3) for e in evs if e.quality == 0.35}
    assert not [c for c in run.cues() if c.get("source") == "detector" and c["breath_t"] in unsure]
    assert len(run.cues("sink_deeper")) > 40
    assert all(c["source"] == "detector" and c["breath_t"] not in unsure for c in run.cues("sink_deeper"))


def test_quality_that_keeps_flickering_never_flaps() -> None:
    """Five unsure events, three confident ones, for 20 minutes: the old rule handed over every
    time four were unsure in a row; this never hands over, and never says it."""
    evs = phases(0, 1200, 5.0)
    evs = [BreathEvent(e.kind, e.t_s, e.detected_at_s, signal=e.signal, quality=0.3 if i % 8 < 5 else 0.8)
           for i, e in enumerate(evs)]
    run = drive(manual(side_minutes=9.0), evs, 1200)
    assert not handovers(run) and not said(run, CANT)


def test_losing_the_breath_is_said_in_full_once_then_briefly_with_its_evidence() -> None:
    evs = with_unsure(900, [(100, 200), (400, 500)])
    run = drive(manual(side_minutes=6.0), evs, 900)
    first, second = handovers(run)
    assert first["reason"] == second["reason"] == "signal_poor"
    assert first["text"] == CUES["fallback_pacer"] and CANT in first["text"]
    assert second["text"] == CUES["lead_again"] and CANT not in second["text"]
    for fb, t_last_confident in ((first, 97.3), (second, 397.3)):
        assert fb["t"] == pytest.approx(t_last_confident + 40.0, abs=STEP_S)
        assert fb["count"] >= 4 and fb["since_s"] == pytest.approx(40.0, abs=0.1)
    backs = run.cues("signal_restored")
    assert [b["reason"] for b in backs] == ["confident", "confident"]
    assert all(b["count"] >= 4 for b in backs)
    assert len(said(run, CANT)) == 1


def test_taking_back_needs_four_confident_events_in_a_row_and_a_dwell() -> None:
    # unsure from 100 s; from 150 s confident and unsure alternate two by two: never four in a row
    evs = [e for e in phases(0, 150, 5.0, quality=0.9) if e.t_s < 100] + phases(100, 150, 5.0, quality=0.3)
    alt = phases(150, 260, 5.0)
    evs += [BreathEvent(e.kind, e.t_s, e.detected_at_s, quality=0.9 if (i // 2) % 2 == 0 else 0.3)
            for i, e in enumerate(alt)]
    evs += phases(260, 400, 5.0, quality=0.9)
    run = drive(manual(), evs, 400)
    (fb,) = handovers(run)
    (back,) = run.cues("signal_restored")
    assert back["t"] > 260 and back["count"] == 4
    # confident again straight after the hand-over: the pacer still leads for pacer_min_s
    quick = with_unsure(400, [(100, 138)])
    early = drive(manual(poor_events=2, unsure_handover_s=20.0), quick, 400)
    (fb2,) = handovers(early)
    (back2,) = early.cues("signal_restored")
    assert back2["t"] - fb2["t"] >= 20.0 and back2["since_s"] >= 20.0


# ---------------------------------------------------------------------------- the sensor down


def _first_hold_start() -> float:
    return drive(manual(), phases(0, 300), 300).of("hold_start", kind="static")[0]["t"]


def test_no_new_hold_while_the_sensor_is_down_then_a_settle_then_press_in_again() -> None:
    t_hold = _first_hold_start()
    lost, back = t_hold - 3.0, t_hold + 17.0
    evs = [e for e in phases(0, 400) if not lost - 1 <= e.t_s <= back + 1]
    run = drive(manual(), evs, 400, statuses=[Status(lost, "reconnecting"), Status(back, "reconnected")])
    (fb,) = handovers(run)
    assert fb["t"] == pytest.approx(lost, abs=STEP_S) and fb["reason"] == "signal_lost"
    assert fb["text"] == CUES["lead_link"] and fb.get("hold_clock") is None  # no hold under way
    (wait,) = run.of("stage", stage="wait")
    assert wait["t"] == pytest.approx(t_hold, abs=STEP_S)
    starts = run.of("hold_start")
    settle_s = CoachSettings().settle_s
    assert not [h for h in starts if lost <= h["t"] < back + settle_s]
    (settling,) = run.cues("settling")
    assert settling["t"] == pytest.approx(back) and settling["reason"] == "reconnected"
    assert settling["since_s"] == pytest.approx(20.0) and "settling" in settling["text"]
    press = run.of("stage", stage="repress")[0]
    assert press["t"] == pytest.approx(back + settle_s, abs=STEP_S) and press["move"] == "same"
    first = run.of("hold_start", kind="static")[0]
    assert first["t"] == pytest.approx(back + settle_s + CoachSettings().repress_s, abs=STEP_S)
    # resting while waiting, with the pacer: no pressure cue, no breath cue of a hold
    in_wait = [c for c in run.cues() if wait["t"] <= c["t"] < press["t"] and c.get("source") == "pacer"]
    assert in_wait and {c["kind"] for c in in_wait} <= {"belly_in", "belly_out"}
    assert not said(run, CANT)


def test_a_hold_under_way_keeps_its_time_and_the_drop_says_so() -> None:
    t_hold = _first_hold_start()
    lost = t_hold + 10.0
    evs = [e for e in phases(0, 400) if not lost - 1 <= e.t_s <= lost + 60]
    run = drive(manual(), evs, 400, statuses=[Status(lost, "reconnecting"), Status(lost + 50.0, "reconnected")])
    (fb,) = handovers(run)
    assert fb["hold_clock"] == "runs" and fb["text"] == CUES["lead_link_hold"] and "ends on time" in fb["text"]
    static = run.of("hold_end", kind="static")[0]
    assert static["duration_s"] <= CoachSettings().hold_max_s  # never longer because the sensor dropped
    assert static["t"] < lost + 50.0  # it ended on time, during the drop
    # the active release under way then goes on with the pacer; the next hold waits for the sensor
    assert not [h for h in run.of("hold_start", kind="static") if lost < h["t"] < lost + 50.0 + 10.0]


def test_the_source_closing_its_streams_is_not_announced_as_a_drop() -> None:
    """A recording ends with the strap's ``stopped`` status: no "the sensor has dropped out" then."""
    run = drive(manual(), phases(0, 200), 200, statuses=[Status(150.0, "stopped")])
    assert not handovers(run) and not run.cues("sensor_down")
    assert not [h for h in run.of("hold_start") if h["t"] >= 150.0]


def test_next_goes_on_without_the_sensor() -> None:
    t_hold = _first_hold_start()
    lost = t_hold - 3.0
    evs = [e for e in phases(0, 300) if e.t_s < lost - 1]
    run = drive(manual(), evs, 300, statuses=[Status(lost, "reconnecting")], commands=[(t_hold + 5.0, "next")])
    (start,) = [h for h in run.of("hold_start", kind="static") if h["t"] < t_hold + 6.0]
    assert start["t"] == pytest.approx(t_hold + 5.0, abs=STEP_S)


def test_a_gap_found_in_the_data_is_a_settle_period() -> None:
    coach = manual()
    lines = _wire(coach.start(0.0))
    for ev in phases(0, 60, quality=0.9):
        lines += _wire(coach.on_events([ev], ev.detected_at_s))
    healed = [SignalNotice("signal_lost", 58.0, {"gap_s": 6.0}, 64.0), SignalNotice("signal_restored", 64.0, {}, 64.0)]
    out = _wire(coach.on_events(healed, 64.0))
    (settle,) = [c for c in out if c["event"] == "cue"]
    assert settle["kind"] == "settling" and settle["reason"] == "gap" and settle["since_s"] == 6.0
    assert settle["text"] == CUES["settling_breath"]  # the breath still leads: no pacer for a healed gap
    assert not [c for c in lines + out if c["event"] == "cue" and c["kind"] == "fallback_pacer"]


def test_a_gap_still_open_hands_over_then_data_is_a_settle() -> None:
    evs: list[Any] = phases(0, 100, quality=0.9) + [SignalNotice("signal_lost", 101.0)] + phases(130, 300, quality=0.9)
    run = drive(manual(), evs, 300)
    (fb,) = handovers(run)
    assert fb["reason"] == "signal_lost"
    (settle,) = run.cues("settling")
    assert settle["reason"] == "data_resumed" and settle["t"] == pytest.approx(130.3, abs=STEP_S)
    assert settle["text"] == CUES["settling_gap"]
    assert run.cues("signal_restored")[0]["t"] >= 140.3


# ---------------------------------------------------------------------------- an RR-only strap


def rr_coach(**kw: Any) -> CoachEngine:
    return CoachEngine(CoachSettings(**kw), SafetyCheck.answered([]), signal="rr")


def test_an_rr_strap_leads_with_the_pacer_from_the_start_and_says_so_once() -> None:
    evs = phases(0, 600, 8.0, signal="rr", quality=0.3) + phases(600, 900, 8.0, signal="rr", quality=0.9)
    run = drive(rr_coach(), evs, 900)
    (fb,) = handovers(run)
    assert fb["t"] == 0.0 and fb["reason"] == "rr_only" and "Breathe with my cues" in fb["text"]
    assert not said(run, CANT) and not run.cues("signal_restored")  # confident RR events too
    sinks = run.cues("sink_deeper")
    assert sinks and all(c["source"] == "pacer" for c in sinks)
    assert run.cues("settle_paced")  # the preparation ends on the pacer, without "that's fine"
    assert run.end["ended_by"] == "done" and len(run.of("side_end")) == 2


def test_an_rr_strap_that_drops_says_so_and_the_hold_keeps_its_time() -> None:
    plain = drive(rr_coach(), phases(0, 500, 8.0, signal="rr", quality=0.3), 500)
    t_hold = plain.of("hold_start", kind="static")[0]["t"]
    lost, back = t_hold + 5.0, t_hold + 25.0
    evs = [e for e in phases(0, 500, 8.0, signal="rr", quality=0.3) if not lost <= e.t_s <= back]
    run = drive(rr_coach(), evs, 500, statuses=[Status(lost, "reconnecting"), Status(back, "reconnected")])
    (down,) = run.cues("sensor_down")  # the pacer already leads: it goes on, and says why
    assert down["t"] == pytest.approx(lost) and down["hold_clock"] == "runs" and "ends on time" in down["text"]
    assert len(handovers(run)) == 1 and not said(run, CANT)
    (settle,) = run.cues("settling")
    assert settle["t"] == pytest.approx(back)
    assert not [h for h in run.of("hold_start") if lost <= h["t"] < back + CoachSettings().settle_s]


def test_an_rr_strap_may_follow_confident_rr_breaths_when_asked() -> None:
    evs = (phases(0, 60, 8.0, signal="rr", quality=0.3) + phases(60, 300, 8.0, signal="rr", quality=0.9)
           + phases(300, 420, 8.0, signal="rr", quality=0.3) + phases(420, 900, 8.0, signal="rr", quality=0.9))
    run = drive(rr_coach(rr_follow_breath=True), evs, 900)
    first, again = handovers(run)
    assert first["reason"] == "rr_only" and again["reason"] == "signal_poor"
    assert again["text"] == CUES["lead_again"]  # never "I can't follow" with an RR strap
    assert not said(run, CANT)
    assert len(run.cues("signal_restored")) == 2


def test_the_strap_streams_make_an_rr_strap() -> None:
    for streams, rr in (({"rr": {}, "hr": {}}, True), ({"acc": {}, "rr": {}, "hr": {}}, False), ({}, False)):
        coach = manual()
        coach.on_streams(streams)
        kinds = {(c["kind"], c.get("reason")) for c in _wire(coach.start(0.0)) if c["event"] == "cue"}
        assert (("fallback_pacer", "rr_only") in kinds) is rr
    breathing = CoachEngine(CoachSettings(protocol="breathing"), SafetyCheck.answered([]), signal="rr")
    assert not [c for c in _wire(breathing.start(0.0)) if c["event"] == "cue" and c["kind"] == "fallback_pacer"]
    off = rr_coach(rr_lead=False)
    assert not [c for c in _wire(off.start(0.0)) if c["event"] == "cue" and c["kind"] == "fallback_pacer"]


def test_an_emulated_link_drop_holds_back_the_next_hold_and_settles_after_it() -> None:
    """``emulated:h10?drop_at=60,150&drop_for=20`` on data time: the first drop comes as the first
    static hold would start, the second during an active release."""
    import asyncio

    from conftest import lines_sink
    from psoas_sense.session.loop import run_session
    from psoas_sense.sources.devices import open_device_source

    src = open_device_source("emulated:h10?drop_at=60,150&drop_for=20", speed=None, acc_rate_hz=50)
    lines: list[dict[str, Any]] = []
    coach = CoachEngine(CoachSettings(), SafetyCheck.answered([]), signal="")
    asyncio.run(run_session(src, sinks=[lines_sink(lines.append)], coach=coach, duration_s=200.0))
    down = [(ln["t"], ln["state"]) for ln in lines if ln["event"] == "status" and ln["state"] in
            ("reconnecting", "reconnected")]
    assert [s for _, s in down] == ["reconnecting", "reconnected"] * 2
    cues = [ln for ln in lines if ln["event"] == "cue"]
    settle_s = CoachSettings().settle_s
    for (t_lost, _), (t_back, _) in zip(down[::2], down[1::2], strict=True):
        assert not [h for h in lines if h["event"] == "hold_start" and t_lost <= h["t"] < t_back + settle_s]
        (said_down,) = [c for c in cues if c["kind"] == "fallback_pacer" and c["t"] == t_lost]
        assert said_down["reason"] == "signal_lost"
        (settle,) = [c for c in cues if c["kind"] == "settling" and c["t"] == t_back]
        assert settle["reason"] == "reconnected"
    waits = [ln for ln in lines if ln["event"] == "stage" and ln["stage"] == "wait"]
    assert len(waits) == 2
    second = next(c for c in cues if c["kind"] == "fallback_pacer" and c["t"] == down[2][0])
    assert second["hold_clock"] == "runs"  # the active release under way keeps its time
    assert not [c for c in cues if "can't follow" in c["text"]]
    assert len([ln for ln in lines if ln["event"] == "hold_start" and ln["kind"] == "static"]) >= 2
