"""The coach engine on synthetic breaths: every rule of the guide's practice.

The helpers here (``phases``, ``drive``) are shared by the other ``test_coach_*`` files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.coach.safety import CONDITIONS
from psoas_sense.coach.texts import CUES, PAIN_STOP, STAGES
from psoas_sense.model import BreathEvent, SignalNotice, Status
from psoas_sense.serialize import to_json

STEP_S = 0.1
"""One processing step of the test driver (the runner calls tick after every item)."""


def phases(
    t0: float,
    t1: float,
    period_s: float = 5.0,
    inhale_s: float = 2.0,
    lag_s: float = 0.3,
    quality: float | None = None,
    signal: str = "resp",
    only: str | None = None,
) -> list[BreathEvent]:
    """Regular breathing: an inhale at t0, t0+period...; an exhale inhale_s after each."""
    out: list[BreathEvent] = []
    t = t0
    while t < t1:
        for kind, tt in (("inhale", t), ("exhale", t + inhale_s)):
            if tt < t1 and (only is None or kind == only):
                out.append(BreathEvent(kind, tt, tt + lag_s, signal=signal, quality=quality))  # type: ignore[arg-type]
        t += period_s
    return out


def _wire(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The coach's typed events as the JSON lines a session prints (the contract under test)."""
    return [to_json(ev) for ev in events]


@dataclass
class Run:
    lines: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[float, list[Any], list[dict[str, Any]]]] = field(default_factory=list)
    """(call time, events passed, lines returned) of every on_events call."""

    def of(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [ln for ln in self.lines if ln["event"] == event and all(ln.get(k) == v for k, v in match.items())]

    def cues(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [ln for ln in self.lines if ln["event"] == "cue" and (kind is None or ln["kind"] == kind)]

    @property
    def end(self) -> dict[str, Any]:
        (end,) = self.of("session_end")
        return end


def drive(
    coach: CoachEngine,
    events: Iterable[Any] = (),
    t_end: float = 900.0,
    *,
    commands: Sequence[tuple[float, str]] = (),
    statuses: Sequence[Status] = (),
    finish: bool = True,
    step_s: float = STEP_S,
) -> Run:
    """Feed events at their detection time, commands and statuses, ticking every step."""
    run = Run()
    evs = sorted(events, key=lambda e: e.detected_at_s if isinstance(e, BreathEvent) else e.t_s)
    cmds = sorted(commands)
    sts = sorted(statuses, key=lambda s: s.t_s)
    run.lines += _wire(coach.start(0.0))
    i = 0
    k = 0
    t = 0.0
    while not coach.finished and t < t_end:
        k += 1
        t = round(k * step_s, 6)
        while sts and sts[0].t_s <= t:
            run.lines += _wire(coach.on_status(sts.pop(0)))
        batch = []
        while i < len(evs) and (evs[i].detected_at_s if isinstance(evs[i], BreathEvent) else evs[i].t_s) <= t:
            batch.append(evs[i])
            i += 1
        if batch:
            out = _wire(coach.on_events(batch, t))
            run.calls.append((t, batch, out))
            run.lines += out
        while cmds and cmds[0][0] <= t:
            run.lines += _wire(coach.command(cmds.pop(0)[1], t))
        run.lines += _wire(coach.tick(t))
    if finish:
        run.lines += _wire(coach.finish(t))
    return run


def manual(**kw: Any) -> CoachEngine:
    return CoachEngine(CoachSettings(**kw), SafetyCheck.answered([]))


def settle_then(t_change: float, period_after: float, t_end: float = 900.0, **kw: Any) -> list[BreathEvent]:
    return phases(0.0, t_change, 6.0, **kw) + phases(t_change, t_end, period_after, inhale_s=period_after * 0.4, **kw)


# ---------------------------------------------------------------------------- whole session


def test_whole_manual_session_has_every_stage() -> None:
    # (no timing asserted here: a loaded machine would fail it; speed figures belong in benchmarks/)
    run = drive(manual(), phases(0, 900))
    stages = [ln["stage"] for ln in run.of("stage")]
    for s in ("preparation", "locate", "static", "active", "repress", "switch", "finish"):
        assert s in stages
    assert [ln["side"] for ln in run.of("side_start")] == ["left", "right"]
    assert len(run.of("side_end")) == 2
    assert {ln["kind"] for ln in run.of("hold_start")} == {"static", "active"}
    assert run.end["ended_by"] == "done"
    assert run.end["summary"]["pain_stops"] == 0
    json.dumps(run.lines)  # every line is JSON-serialisable
    assert all(isinstance(ln["t"], float) and ln["t"] == round(ln["t"], 3) for ln in run.lines)
    ts = [ln["t"] for ln in run.lines]
    assert ts == sorted(ts)


def test_replay_is_deterministic() -> None:
    a = drive(manual(), phases(0, 900, 5.3), commands=[(150.0, "soften")])
    b = drive(manual(), phases(0, 900, 5.3), commands=[(150.0, "soften")])
    assert a.lines == b.lines


@pytest.mark.parametrize("step_s", [0.02, 0.37, 1.0, 2.5])
def test_output_does_not_depend_on_how_time_is_chunked(step_s: float) -> None:
    """Events act at their detection time and timers at their own time, whatever the tick grid."""
    evs = phases(0, 900, 5.3, lag_s=0.45)
    ref = drive(manual(), evs, 900, step_s=0.1, finish=False)
    other = drive(manual(), evs, 900, step_s=step_s, finish=False)
    assert other.lines == ref.lines


# ---------------------------------------------------------------------------- rule 1: safety


@pytest.mark.parametrize("protocol", ["manual", "tool"])
def test_unconfirmed_safety_blocks_massage(protocol: str) -> None:
    s = (
        CoachSettings(protocol=protocol, hold_s=150, hold_min_s=60, hold_max_s=300)
        if protocol == "tool"
        else CoachSettings()
    )
    run = drive(CoachEngine(s, SafetyCheck()), phases(0, 400), 400)
    (safety,) = run.of("safety")
    assert safety["status"] == "not_confirmed"
    assert "not medical advice" in safety["text"]
    (changed,) = run.of("protocol_changed")
    assert changed["protocol"] == "breathing" and changed["requested"] == protocol
    assert "breathing practice only" in changed["text"]
    assert not run.of("hold_start") and not run.of("side_start")
    assert run.of("stage", stage="breathing")
    assert run.end["summary"]["practised"] == "breathing"


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_any_condition_means_breathing_only_and_consult(condition: str) -> None:
    run = drive(CoachEngine(CoachSettings(), SafetyCheck.answered([condition])), phases(0, 400), 400)
    (changed,) = run.of("protocol_changed")
    assert changed["reason"] == "contraindicated"
    assert "healthcare professional" in changed["text"]
    assert "breathing practice only" in changed["text"]
    assert not run.of("hold_start")


def test_cleared_safety_allows_massage_and_still_shows_the_notice() -> None:
    run = drive(manual(), phases(0, 200), 200)
    (safety,) = run.of("safety")
    assert safety["status"] == "cleared" and "not medical advice" in safety["text"]
    assert not run.of("protocol_changed")
    assert run.of("hold_start", kind="static")


def test_unknown_condition_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown condition"):
        SafetyCheck.answered(["headache"])


# ---------------------------------------------------------------------------- rule 2: preparation


def test_preparation_waits_for_steady_slow_breathing() -> None:
    # fast and irregular for 40 s, then slow and steady
    fast = phases(0, 40, 3.0, inhale_s=1.2)
    slow = phases(40, 300, 6.0, inhale_s=2.4)
    run = drive(manual(), fast + slow, 300)
    (prep,) = run.of("stage", stage="preparation")
    assert "back" in prep["text"] and "knees bent" in prep["text"] and "feet flat" in prep["text"]
    assert "belly" in prep["text"]
    (settled,) = run.cues("settled")
    assert settled["t"] > 40 + 3 * 6.0
    assert settled["rate_bpm"] == pytest.approx(10.0, abs=0.5)
    assert run.cues("belly_out") and run.cues("belly_in")
    (side,) = [ln for ln in run.of("side_start") if ln["side"] == "left"]
    assert side["t"] == settled["t"]


def test_preparation_moves_on_when_breathing_does_not_settle() -> None:
    run = drive(manual(prep_max_s=60.0), phases(0, 300, 3.0, inhale_s=1.2), 200)
    assert not run.cues("settled")
    (timeout,) = run.cues("settle_timeout")
    assert timeout["t"] == pytest.approx(60.0)
    assert run.of("side_start")[0]["t"] == pytest.approx(60.0)


# ---------------------------------------------------------------------------- rule 3: locate


def test_locate_places_fingers_then_checks_with_a_foot_lift() -> None:
    run = drive(manual(), phases(0, 200), 200)
    (loc,) = run.of("stage", stage="locate", side="left")
    for words in ("inch inside the front hip bone", "below the navel", "gently", "toward the spine", "left"):
        assert words in loc["text"]
    lift = run.cues("lift_foot")[0]
    lower = run.cues("lower_foot")[0]
    hold = run.of("hold_start", kind="static")[0]
    assert loc["t"] < lift["t"] < lower["t"] < hold["t"]
    assert "left foot" in lift["text"] and "tighten under your fingers" in lift["text"]
    assert "down" in lower["text"]


def test_next_skips_the_locate_wait() -> None:
    run = drive(manual(), phases(0, 200), 200, commands=[(40.0, "next")])
    hold = run.of("hold_start", kind="static")[0]
    assert hold["t"] == pytest.approx(40.0)


# ---------------------------------------------------------------------------- rule 4: static


def test_every_exhale_in_a_static_hold_gets_sink_deeper_within_one_step() -> None:
    run = drive(manual(), phases(0, 900, 5.0), 900)
    holds = run.of("hold_start", kind="static")
    ends = run.of("hold_end", kind="static")
    assert len(holds) >= 4
    checked = 0
    for t_call, batch, out in run.calls:
        for ev in batch:
            in_hold = any(h["t"] <= t_call < e["t"] for h, e in zip(holds, ends))
            if not in_hold or ev.kind != "exhale":
                continue
            cues = [
                c
                for c in out
                if c["event"] == "cue" and c["kind"] == "sink_deeper" and c["breath_t"] == round(ev.t_s, 3)
            ]
            assert len(cues) == 1, (t_call, ev)
            assert 0 <= cues[0]["t"] - ev.detected_at_s <= STEP_S + 1e-9
            assert cues[0]["text"] == "Sink deeper as you breathe out."
            checked += 1
    assert checked >= 30
    assert run.cues("hold_breathe")
    assert all(c["text"] == "Breathe in slowly. Keep the pressure." for c in run.cues("hold_breathe"))


@pytest.mark.parametrize("hold_s", [30.0, 45.0, 60.0])
@pytest.mark.parametrize("period_s", [3.0, 5.0, 7.5, 11.0])
def test_static_holds_last_30_to_60_s_rounded_to_the_breath(hold_s: float, period_s: float) -> None:
    run = drive(manual(hold_s=hold_s), phases(0, 900, period_s, inhale_s=period_s * 0.4), 900)
    ends = run.of("hold_end", kind="static")
    assert ends
    inhale_times = {round(c[0], 3) for c in run.calls if any(e.kind == "inhale" for e in c[1])}
    starts = run.of("hold_start", kind="static")
    for st, e in zip(starts, ends):
        assert 30.0 <= e["duration_s"] <= 60.0, e
        assert st["target_s"] <= hold_s
        if e["ended_by"] == "time":
            assert e["duration_s"] >= st["target_s"] - 1e-6
        if e["t"] in inhale_times:  # ended at the end of the breath in progress
            assert e["duration_s"] - hold_s <= period_s + STEP_S


def test_static_hold_text_never_asks_for_pain() -> None:
    run = drive(manual(), phases(0, 200), 200)
    st = run.of("stage", stage="static")[0]
    assert "never sharp pain" in st["text"]


def test_soften_ends_the_hold() -> None:
    run = drive(manual(), phases(0, 300), 300, commands=[(70.0, "soften")])
    first = run.of("hold_end", kind="static")[0]
    assert first["ended_by"] == "softened" and first["softened"] is True
    assert first["t"] == pytest.approx(70.0)
    assert run.cues("softened")
    assert run.of("hold_start", kind="active")[0]["t"] == pytest.approx(70.0)


# ---------------------------------------------------------------------------- rule 5: active


def test_active_release_slides_the_foot_on_the_exhales_then_bends_and_releases() -> None:
    run = drive(manual(), phases(0, 300), 300)
    start = run.of("hold_start", kind="active")[0]
    end = run.of("hold_end", kind="active")[0]
    kinds = [c["kind"] for c in run.cues() if start["t"] <= c["t"] <= end["t"] and c["kind"] != "side_ending"]
    seq = [k for k in kinds if k in ("slide_foot", "leg_straight", "bend_knee", "release")]
    assert seq == ["slide_foot", "slide_foot", "leg_straight", "bend_knee", "release"]
    for c in run.cues():
        if c["kind"] in ("slide_foot", "leg_straight", "release"):
            ev = [e for _, b, _ in run.calls for e in b if round(e.t_s, 3) == c["breath_t"]]
            assert ev and ev[0].kind == "exhale"
    assert end["ended_by"] == "released"
    stage = run.of("stage", stage="active")[0]
    assert "Keep the pressure" in stage["text"] and "slide the foot away" in stage["text"]


def test_new_point_only_after_the_last_one_softened() -> None:
    run = drive(manual(side_minutes=5.0), phases(0, 900), 900)
    assert {ln["move"] for ln in run.of("stage", stage="repress")} == {"same"}
    assert {h["point"] for h in run.of("hold_start")} == {1}
    run2 = drive(manual(side_minutes=5.0), phases(0, 900), 900, commands=[(70.0, "soften")])
    moves = [ln["move"] for ln in run2.of("stage", stage="repress")]
    assert moves[0] == "new" and all(m == "same" for m in moves[1:])
    points = [h["point"] for h in run2.of("hold_start", side="left")]
    assert points[0] == 1 and points[-1] == 2


# ---------------------------------------------------------------------------- rule 6: sides


@pytest.mark.parametrize("side_minutes", [2.0, 3.0, 4.5])
@pytest.mark.parametrize("period_s", [4.0, 6.5])
def test_sides_get_equal_time_with_a_warning_and_a_switch(side_minutes: float, period_s: float) -> None:
    s = CoachSettings(side_minutes=side_minutes)
    run = drive(CoachEngine(s, SafetyCheck.answered([])), phases(0, 1500, period_s), 1500)
    left, right = run.of("side_end")
    assert left["side"] == "left" and right["side"] == "right"
    assert abs(left["duration_s"] - right["duration_s"]) <= s.side_cap_extra_s
    assert right["target_s"] == left["duration_s"]
    for sd in (left, right):
        assert side_minutes * 60 - 1e-6 <= sd["duration_s"] <= side_minutes * 60 + s.side_cap_extra_s + 1e-6
    warns = run.cues("side_ending")
    assert len(warns) == 2
    starts = run.of("side_start")
    assert warns[0]["t"] == pytest.approx(starts[0]["t"] + side_minutes * 60 - 30, abs=1e-3)
    (switch,) = run.cues("switch_sides")
    assert "right" in switch["text"] and "same time" in switch["text"]


def test_side_hard_cap_holds_without_breath_ends() -> None:
    # only exhales: a hold can never end "at the end of the breath", so the caps must act
    s = CoachSettings()
    run = drive(CoachEngine(s, SafetyCheck.answered([])), phases(0, 900, 5.0, only="exhale"), 900, step_s=0.5)
    sides = run.of("side_end")
    assert len(sides) == 2
    for sd in sides:
        assert sd["target_s"] <= s.side_s + s.side_cap_extra_s
        assert sd["duration_s"] <= sd["target_s"] + s.side_cap_extra_s + 1e-6
    assert run.cues("bend_knee") and run.cues("release")
    for h in run.of("hold_end", kind="static"):
        assert 30 <= h["duration_s"] <= 60


# ---------------------------------------------------------------------------- rule 7: pain


@pytest.mark.parametrize(
    "t_pain", [0.05, 10.0, 30.0, 40.0, 60.0, 95.0, 104.0, 112.0, 180.0, 205.0, 215.0, 300.0, 380.0]
)
def test_pain_stops_everything_at_any_stage(t_pain: float) -> None:
    coach = manual()
    run = drive(coach, phases(0, 900), 900, commands=[(t_pain, "pain")], finish=False)
    assert coach.finished
    (stop,) = run.of("pain_stop")
    assert stop["t"] == pytest.approx(t_pain, abs=STEP_S)
    assert stop["text"] == PAIN_STOP
    for words in (
        "Stop now",
        "healthcare professional",
        "physical therapist",
        "massage therapist experienced in deep core work",
    ):
        assert words in stop["text"]
    assert run.end["ended_by"] == "pain" and run.end["summary"]["pain_stops"] == 1
    assert len(run.of("hold_start")) == len(run.of("hold_end"))
    assert len(run.of("side_start")) == len(run.of("side_end"))
    after = [ln for ln in run.lines if ln["t"] > stop["t"]]
    assert not after
    assert coach.tick(1000.0) == [] and coach.on_events(phases(1000, 1010), 1010) == []
    assert coach.finish(1010.0) == []


def _stage_midpoints(make: Any, events: list[Any], t_end: float) -> dict[str, float]:
    """A time inside every stage that a full session goes through."""
    ref = drive(make(), events, t_end)
    stages = ref.of("stage")
    out: dict[str, float] = {}
    for a, b in zip(stages, stages[1:] + [ref.end]):
        if b["t"] - a["t"] >= 1.0:
            out.setdefault(a["stage"], round((a["t"] + b["t"]) / 2, 1))
    return out


STAGE_CASES = [
    ("manual", lambda: manual(), {"preparation", "locate", "static", "active", "repress", "rest", "switch"}),
    ("acc", lambda: CoachEngine(CoachSettings(), SafetyCheck.answered([]), signal="acc"), {"calibration"}),
    (
        "tool",
        lambda: CoachEngine(
            CoachSettings(protocol="tool", hold_s=150, hold_min_s=60, hold_max_s=300), SafetyCheck.answered([])
        ),
        {"tool_position", "tool", "rest", "switch"},
    ),
    ("breathing", lambda: CoachEngine(CoachSettings(protocol="breathing"), SafetyCheck()), {"breathing"}),
]


@pytest.mark.parametrize(("name", "make", "expected"), STAGE_CASES, ids=[c[0] for c in STAGE_CASES])
def test_pain_stop_in_every_stage(name: str, make: Any, expected: set[str]) -> None:
    events = phases(0, 1200, 5.0, signal="acc" if name == "acc" else "resp")
    mids = _stage_midpoints(make, events, 1200)
    assert expected <= set(mids), mids
    for stage, t in mids.items():
        coach = make()
        run = drive(coach, events, 1200, commands=[(t, "pain")], finish=False)
        (stop,) = run.of("pain_stop")
        assert stop["stage"] == stage and coach.finished
        assert run.end["ended_by"] == "pain" and run.end["t"] == stop["t"]
        assert len(run.of("hold_start")) == len(run.of("hold_end"))
        assert "healthcare professional" in stop["text"]


@pytest.mark.parametrize("protocol", ["tool", "breathing"])
def test_pain_stops_tool_and_breathing_too(protocol: str) -> None:
    s = (
        CoachSettings(protocol=protocol, hold_s=150, hold_min_s=60, hold_max_s=300)
        if protocol == "tool"
        else CoachSettings(protocol=protocol)
    )
    run = drive(CoachEngine(s, SafetyCheck.answered([])), phases(0, 900), 900, commands=[(100.0, "pain")])
    assert run.of("pain_stop") and run.end["ended_by"] == "pain"


def test_no_text_suggests_pushing_through_pain() -> None:
    texts = [*CUES.values(), *STAGES.values(), PAIN_STOP]
    for text in texts:
        low = text.lower()
        assert "push" not in low and "through the pain" not in low and "no pain" not in low
        assert len(text) <= 220, text
        for visual in ("look at", "screen", "click", "tap ", "below this", "above this"):
            assert visual not in low, text  # said to someone with their eyes closed


# ---------------------------------------------------------------------------- rule 8: tool


def test_tool_mode_holds_several_minutes_face_down_with_exhale_cues() -> None:
    s = CoachSettings(protocol="tool", hold_s=150, hold_min_s=60, hold_max_s=300, cue_inhale=False)
    run = drive(CoachEngine(s, SafetyCheck.answered([])), phases(0, 900), 900)
    pos = run.of("stage", stage="tool_position")[0]
    assert "face down" in pos["text"] and "navel" in pos["text"] and "hip bone" in pos["text"]
    holds = run.of("hold_end", kind="tool")
    assert {h["side"] for h in holds} == {"left", "right"}
    assert all(h["duration_s"] >= 120 for h in holds)
    assert not run.of("hold_start", kind="static") and not run.of("hold_start", kind="active")
    sinks = run.cues("tool_sink")
    assert len(sinks) >= 2 * 25
    assert not run.cues("tool_breathe")
    ex_in_holds = sum(h["breaths"] for h in holds)
    assert len(sinks) == ex_in_holds


# ---------------------------------------------------------------------------- rule 9: paced breathing


def breathing(**kw: Any) -> CoachEngine:
    return CoachEngine(CoachSettings(protocol="breathing", **kw), SafetyCheck())


def test_pacer_cues_follow_the_target_rhythm() -> None:
    run = drive(breathing(breathing_minutes=1.0), phases(0, 100, 10.0, inhale_s=4.0), 100)
    ins = [c["t"] for c in run.cues("pace_inhale")]
    outs = [c["t"] for c in run.cues("pace_exhale")]
    assert ins[:3] == pytest.approx([0.0, 10.0, 20.0], abs=STEP_S)
    assert outs[:3] == pytest.approx([4.0, 14.0, 24.0], abs=STEP_S)
    assert run.end["ended_by"] == "done"
    assert run.end["t"] == pytest.approx(60.0)


def test_adherence_is_high_on_the_pacer_and_low_off_it() -> None:
    on = drive(breathing(breathing_minutes=3.0), phases(0, 200, 10.0, inhale_s=4.0, lag_s=0.4), 200)
    off = drive(breathing(breathing_minutes=3.0), phases(0, 200, 4.3, inhale_s=1.7, lag_s=0.4), 200)
    assert on.end["summary"]["adherence"] >= 95
    assert off.end["summary"]["adherence"] <= 60
    assert on.of("pacing") and all(abs(p["error_s"]) < 0.1 for p in on.of("pacing"))


def test_pacer_presets_with_holds() -> None:
    run = drive(
        breathing(pacer_inhale_s=4, pacer_hold_in_s=4, pacer_exhale_s=4, pacer_hold_out_s=4, breathing_minutes=1.0),
        (),
        70,
    )
    kinds = [c["kind"] for c in run.cues() if c["kind"].startswith("pace_")][:4]
    assert kinds == ["pace_inhale", "pace_hold_in", "pace_exhale", "pace_hold_out"]


# ---------------------------------------------------------------------------- rule 10: breathing-aware


def test_detector_breath_hold_notice_gives_keep_breathing() -> None:
    evs: list[Any] = phases(0, 80) + [SignalNotice("breath_hold", 85.0)] + phases(95, 300)
    run = drive(manual(breath_hold_s=30.0, signal_silence_s=60.0), evs, 200)
    (kb,) = run.cues("keep_breathing")
    assert kb["t"] == pytest.approx(85.0, abs=STEP_S) and kb["reason"] == "breath_hold"
    assert not run.cues("fallback_pacer")


def test_breath_hold_is_inferred_without_notices() -> None:
    evs = phases(0, 80) + phases(100, 300)  # 20 s with no breath
    run = drive(manual(), evs, 200)
    kbs = run.cues("keep_breathing")
    assert len(kbs) == 1
    last_before = max(e.detected_at_s for e in evs if e.detected_at_s < 80)
    assert kbs[0]["t"] == pytest.approx(last_before + 12.0, abs=STEP_S)
    assert "Keep breathing" in kbs[0]["text"]
    assert not run.cues("fallback_pacer")


def test_slow_breathers_are_not_told_to_keep_breathing() -> None:
    # 3.75 breaths/min with a long exhale: 13 s between exhale and inhale
    evs = phases(0, 900, 16.0, inhale_s=3.0)
    run = drive(manual(prep_max_s=60.0), evs, 600)
    assert not run.cues("keep_breathing") and not run.cues("fallback_pacer")
    # but a real hold (no breath for 3 of their breaths) still is noticed
    held = [e for e in evs if not 300 < e.t_s < 350]
    run2 = drive(manual(prep_max_s=60.0), held, 600)
    (kb,) = run2.cues("keep_breathing")
    assert kb["since_s"] == pytest.approx(1.5 * 16.0, abs=STEP_S + 1e-6)


def test_much_faster_breathing_than_settled_gives_ease_the_pressure() -> None:
    # settles at 10/min, then at 110 s (inside the first static hold) breathes at 24/min
    run = drive(manual(), settle_then(110.0, 2.5), 300)
    eases = run.cues("ease_pressure")
    assert eases
    assert eases[0]["t"] > 110 and eases[0]["stage"] in ("static", "active")
    assert eases[0]["settled_rate_bpm"] == pytest.approx(10.0, abs=0.1)
    gaps = [b["t"] - a["t"] for a, b in zip(eases, eases[1:])]
    assert all(g >= 20.0 for g in gaps)
    calm = drive(manual(), settle_then(110.0, 5.5), 300)
    assert not calm.cues("ease_pressure")


def test_signal_loss_falls_back_to_a_clock_pacer_and_says_so() -> None:
    evs = phases(0, 100) + phases(160, 400)
    sts = [Status(100.0, "lost", "link dropped"), Status(150.0, "reconnecting"), Status(158.0, "streaming")]
    run = drive(manual(), evs, 400, statuses=sts)
    (fb,) = run.cues("fallback_pacer")
    assert fb["t"] == pytest.approx(100.0, abs=STEP_S) and fb["reason"] == "signal_lost"
    assert "dropped out" in fb["text"]
    paced = [c for c in run.cues() if c.get("source") == "pacer"]
    assert paced and all(100 <= c["t"] <= 170.4 for c in paced)
    # the link back is a settle period, said as such, not a failure
    (settle,) = run.cues("settling")
    assert settle["t"] == pytest.approx(158.0) and settle["reason"] == "reconnected"
    assert settle["since_s"] == pytest.approx(58.0) and "settling" in settle["text"]
    (back,) = run.cues("signal_restored")
    # four confident events in a row once the 10 s settle is over (160.3..167.3 in the settle; 170.3 after)
    assert back["t"] == pytest.approx(170.3, abs=STEP_S) and back["reason"] == "confident" and back["count"] >= 4
    assert not run.cues("keep_breathing")
    assert run.end["summary"]["fallback_s"] == pytest.approx(back["t"] - 100.0, abs=0.01)


def test_long_silence_without_status_also_falls_back() -> None:
    evs = phases(0, 100) + phases(200, 400)
    run = drive(manual(), evs, 400)
    (fb,) = run.cues("fallback_pacer")
    assert fb["reason"] == "no_breaths"
    assert len(run.cues("keep_breathing")) == 1
    assert run.cues("signal_restored")


def test_poor_quality_falls_back_and_good_quality_returns() -> None:
    evs = phases(0, 100, quality=0.9) + phases(100, 160, quality=0.05) + phases(160, 400, quality=0.9)
    run = drive(manual(), evs, 400)
    (fb,) = run.cues("fallback_pacer")
    # the last confident event was detected at 97.3: the lead goes after 40 s of unsure ones
    assert fb["reason"] == "signal_poor" and fb["t"] == pytest.approx(137.3, abs=STEP_S)
    (back,) = run.cues("signal_restored")
    assert back["t"] == pytest.approx(167.3, abs=STEP_S)  # the fourth confident event in a row


def test_only_confident_events_are_cued_on() -> None:
    """Quality >= 0.5 means "confident enough to cue on": an unsure event is recorded, never cued."""
    evs = phases(0, 600, quality=0.9)
    for i, ev in enumerate(evs):
        if i % 5 == 3:  # one event in five is unsure (never four in a row)
            evs[i] = BreathEvent(ev.kind, ev.t_s, ev.detected_at_s, signal=ev.signal, quality=0.3)
    unsure = {round(ev.t_s, 3) for ev in evs if ev.quality == 0.3}
    run = drive(manual(), evs, 600)
    cued = [c for c in run.cues() if c.get("source") == "detector"]
    assert len(cued) > 50
    assert not [c for c in cued if c["breath_t"] in unsure]
    assert not run.cues("fallback_pacer") and not run.cues("keep_breathing")
    # the old threshold (0.15) cued on them; the setting still allows it
    lax = drive(manual(min_quality=0.15), evs, 600)
    seen = [e for e in evs if e.kind == "exhale" and e.detected_at_s <= run.end["t"]]
    assert run.end["summary"]["breaths"] == len(seen)  # the unsure ones are recorded too
    assert [c for c in lax.cues() if c.get("source") == "detector" and c["breath_t"] in unsure]


def test_unsure_events_hand_over_to_the_pacer_and_confident_ones_take_back() -> None:
    evs = phases(0, 100, quality=0.9) + phases(100, 160, quality=0.35) + phases(160, 400, quality=0.8)
    run = drive(manual(), evs, 400)
    (fb,) = run.cues("fallback_pacer")
    # sustained evidence: 40 s without a confident event (from 97.3), not the fourth unsure one
    assert fb["reason"] == "signal_poor" and fb["t"] == pytest.approx(137.3, abs=STEP_S)
    assert fb["count"] >= 4 and fb["since_s"] == pytest.approx(40.0, abs=0.1)
    assert "can't follow your breathing" in fb["text"]
    paced = [c for c in run.cues() if c.get("source") == "pacer"]
    assert paced and all(fb["t"] <= c["t"] <= 167.4 for c in paced)
    assert not [c for c in run.cues() if c.get("source") == "detector" and 100 <= c["breath_t"] < 160]
    (back,) = run.cues("signal_restored")
    assert back["t"] == pytest.approx(167.3, abs=STEP_S)


def test_a_settling_detector_does_not_start_the_session_on_the_pacer() -> None:
    """The first events after a start carry quality 0 while the detector settles: no pacer for that."""
    evs = phases(0, 12, quality=0.0) + phases(12, 300, quality=0.9)
    run = drive(manual(), evs, 300)
    assert not run.cues("fallback_pacer")
    first = [c for c in run.cues() if c.get("source") == "detector"][0]
    assert first["breath_t"] >= 12.0
    # never confident: the lead goes to the pacer once 40 s pass without a confident event (unsure
    # breaths keep coming, so it is the unsure rule, not the silence one)
    never = drive(manual(), phases(0, 300, quality=0.2), 300)
    (fb,) = never.cues("fallback_pacer")
    assert fb["reason"] == "signal_poor" and fb["t"] == pytest.approx(40.3, abs=STEP_S)


def test_calibration_counts_unsure_accelerometer_exhales() -> None:
    """The calibration breath is what makes the polarity confident, so it cannot wait for confidence."""
    coach = CoachEngine(CoachSettings(), SafetyCheck.answered([]), signal="acc")
    run = drive(coach, phases(0, 60, signal="acc", quality=0.1) + phases(60, 200, signal="acc", quality=0.9), 200)
    (done,) = run.cues("calibrated")
    assert done["t"] < 20.0
    # a source whose kind shows up with its first (unsure) accelerometer breath also calibrates
    late = drive(manual(), phases(5, 60, signal="acc", quality=0.1) + phases(60, 200, signal="acc", quality=0.9), 200)
    assert late.cues("calibrate")[0]["t"] == pytest.approx(5.3) and late.cues("calibrated")[0]["t"] < 25.0


def _with_motion(t0: float, t1: float, t_end: float = 600.0) -> list[Any]:
    """Confident breathing, none seen while the body moves from t0 to t1 (as the detector does)."""
    evs: list[Any] = [e for e in phases(0, t_end, quality=0.9) if not t0 <= e.t_s <= t1 + 3.0]
    return evs + [SignalNotice("motion", t0, {}, t0), SignalNotice("motion_ended", t1, {}, t1)]


def test_rolling_over_in_a_still_stage_hands_over_to_the_pacer_and_says_so() -> None:
    plain = drive(manual(), phases(0, 600, quality=0.9), 600)
    static = plain.of("stage", stage="static")[0]["t"]
    run = drive(manual(), _with_motion(static + 5.0, static + 15.0), 600)
    (fb,) = run.cues("fallback_pacer")
    assert fb["reason"] == "motion" and fb["t"] == pytest.approx(static + 10.0, abs=STEP_S)
    assert not [c for c in run.cues() if c.get("source") == "detector" and static + 5 <= c["t"] < static + 18]
    assert run.cues("signal_restored")[0]["t"] > static + 18.0  # confident breaths again after it
    # a short shift (fingers, a cough) says nothing
    short = drive(manual(), _with_motion(static + 5.0, static + 7.0), 600)
    assert not short.cues("fallback_pacer")


def test_moving_is_never_taken_for_a_breath_hold() -> None:
    """No breath is seen while the body moves: "keep breathing" would be wrong there."""
    plain = drive(manual(), phases(0, 600, quality=0.9), 600)
    locate = plain.of("stage", stage="locate")[0]["t"]
    run = drive(manual(), _with_motion(locate + 1.0, locate + 16.0), 600)  # moving is fine in locate
    assert not run.cues("keep_breathing") and not run.cues("fallback_pacer")
    # no breath after the movement ended is noticed as before, counted from the end of the movement
    evs = [e for e in _with_motion(locate + 1.0, locate + 16.0)
           if not (isinstance(e, BreathEvent) and locate < e.t_s < locate + 60)]
    paused = drive(manual(), evs, 600)
    (hold,) = paused.cues("keep_breathing")
    assert hold["t"] == pytest.approx(locate + 16.0 + CoachSettings().breath_hold_s, abs=0.5)


def test_moving_is_the_exercise_in_active_release() -> None:
    plain = drive(manual(), phases(0, 600, quality=0.9), 600)
    active = plain.of("stage", stage="active")[0]["t"]
    run = drive(manual(), _with_motion(active + 1.0, active + 9.0), 600)
    assert not [c for c in run.cues("fallback_pacer") if c["reason"] == "motion"]


def test_detector_signal_lost_notice_falls_back() -> None:
    evs: list[Any] = phases(0, 100) + [SignalNotice("signal_lost", 101.0)] + phases(130, 300)
    run = drive(manual(), evs, 300)
    assert run.cues("fallback_pacer")[0]["reason"] == "signal_lost"


def test_a_gap_already_healed_in_the_same_batch_is_not_announced() -> None:
    coach = manual()
    coach.start(0.0)
    for ev in phases(0, 60):
        coach.on_events([ev], ev.detected_at_s)
    healed = [SignalNotice("signal_lost", 58.0, {"gap_s": 3.0}, 61.0), SignalNotice("signal_restored", 61.0, {}, 61.0)]
    out = _wire(coach.on_events(healed + phases(61, 63), 63.5))
    assert not [ln for ln in out if ln["event"] == "cue" and ln["kind"] in ("fallback_pacer", "signal_restored")]
    lost = _wire(coach.on_events([SignalNotice("signal_lost", 70.0, {}, 71.0)], 71.0))
    cues = [ln for ln in lost if ln["event"] == "cue"]
    assert cues[0]["kind"] == "fallback_pacer" and cues[0]["t"] == 71.0  # acts when it was detected
    assert all(c["source"] == "pacer" for c in cues[1:])


def test_no_breaths_at_all_runs_the_session_on_the_pacer() -> None:
    run = drive(manual(), (), 1000)
    assert run.cues("fallback_pacer")[0]["t"] == pytest.approx(30.0)
    assert run.end["ended_by"] == "done"
    assert len(run.of("side_end")) == 2
    assert run.cues("sink_deeper") and all(c["source"] == "pacer" for c in run.cues("sink_deeper"))


def test_accelerometer_source_starts_with_polarity_calibration() -> None:
    run = drive(CoachEngine(CoachSettings(), SafetyCheck.answered([]), signal="acc"), phases(0, 200, signal="acc"), 200)
    first_stage = run.of("stage")[0]
    assert first_stage["stage"] == "calibration"
    (cal,) = run.cues("calibrate")
    assert cal["t"] == 0.0 and "Breathe in deeply" in cal["text"]
    (done,) = run.cues("calibrated")
    assert run.of("stage", stage="preparation")[0]["t"] == done["t"]
    run2 = drive(
        CoachEngine(CoachSettings(), SafetyCheck.answered([]), signal="acc"), [SignalNotice("polarity", 3.0)], 50
    )
    assert run2.cues("calibrated")[0]["t"] == pytest.approx(3.0, abs=STEP_S)
    run3 = drive(CoachEngine(CoachSettings(), SafetyCheck.answered([])), phases(0, 50), 50)
    assert not run3.cues("calibrate")
    # a source whose kind was unknown at the start: calibrate when its first breath shows acc
    unknown = drive(CoachEngine(CoachSettings(), SafetyCheck.answered([])), phases(5, 200, signal="acc"), 200)
    stages = [ln["stage"] for ln in unknown.of("stage")]
    assert stages[:3] == ["preparation", "calibration", "preparation"]
    assert unknown.cues("calibrate")[0]["t"] == pytest.approx(5.3)
    assert unknown.cues("calibrated")
    # an accelerometer that starts streaming late (H10: 25-30 s) still gets its calibration breath
    late = drive(
        CoachEngine(CoachSettings(), SafetyCheck.answered([]), signal="acc"), phases(25, 200, signal="acc"), 200
    )
    (done,) = late.cues("calibrated")
    assert done["t"] == pytest.approx(27.3 + 5.0, abs=STEP_S)


# ---------------------------------------------------------------------------- commands


def test_unknown_command_is_an_error_line_not_an_exception() -> None:
    coach = manual()
    coach.start(0.0)
    (line,) = _wire(coach.command("jump", 1.0))
    assert line["event"] == "error" and "jump" in line["message"]
    assert not coach.finished


def test_quit_closes_what_is_open() -> None:
    run = drive(manual(), phases(0, 300), 300, commands=[(60.0, "quit")])
    assert run.end["ended_by"] == "quit"
    assert run.of("hold_end")[-1]["ended_by"] == "quit"
    assert run.of("side_end")[-1]["ended_by"] == "quit"


def test_finish_at_end_of_input_closes_hold_and_side() -> None:
    coach = manual()
    run = drive(coach, phases(0, 60), 60, finish=True)
    assert run.end["ended_by"] == "end_of_input"
    assert len(run.of("hold_start")) == len(run.of("hold_end"))
    assert math.isclose(run.end["summary"]["duration_s"], 60.0)
