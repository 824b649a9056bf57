"""The one serializer: every session event to its JSON line and back, unchanged."""

from __future__ import annotations

import json
import typing

import pytest

from psoas_sense.events import (
    BreathingTrace,
    CommandRejected,
    Cue,
    ErrorReported,
    FollowingScored,
    HeartRate,
    HoldEnded,
    HoldStarted,
    HoldSummary,
    Note,
    PacedPhase,
    PacerSpec,
    PacingScored,
    PainStopped,
    ProtocolChanged,
    SafetyChecked,
    SessionEnded,
    SessionEvent,
    SessionSummary,
    SideEnded,
    SideStarted,
    SideSummary,
    StageEntered,
)
from psoas_sense.model import BreathEvent, SignalNotice, Status
from psoas_sense.serialize import WireError, from_json, marker_to_event, to_json, to_marker

SUMMARY = SessionSummary(
    protocol="manual", practised="manual", safety="cleared", ended_by="done", duration_s=412.25,
    settled_rate_bpm=9.5, breaths=61, mean_rate_bpm=9.125, paced_breaths=2, fallback_s=12.5, cues=140,
    sides=(SideSummary("left", 180.0, 3, 150.5, 24, "time"), SideSummary("right", 180.0, 3, 149.0, 23, "time")),
    holds=(HoldSummary("static", "left", 1, 45.0, 7, "time"),),
    pain_stops=0,
)

EXAMPLES: list[SessionEvent] = [
    BreathEvent("exhale", 12.345, 12.71, signal="resp", rate_bpm=14.2, quality=0.8, inhale_s=1.9, depth=0.004125),
    BreathEvent("inhale", 14.0, 14.2, signal="rr", approximate=True, exhale_s=2.5, ie_ratio=0.76),
    SignalNotice("signal_lost", 20.0, {"gap_s": 3.0}),
    Status(1.5, "reconnecting", "link lost"),
    Status(2.0, "streaming"),
    HeartRate(3.0, 62.5),
    BreathingTrace(4.0, (3.5, 3.75, 4.0), (0.25, -0.5, 1.0)),
    SafetyChecked(0.0, "cleared", (), "This is a self-care guide, not medical advice."),
    SafetyChecked(0.0, "conditions", ("pregnancy", "aneurysm"), "not advice"),
    ProtocolChanged(0.0, "manual", "breathing", "conditions", "Breathing practice only."),
    Cue(30.5, "sink_deeper", "Sink deeper as you breathe out.", "static", side="left", breath_t_s=30.1,
        source="detector"),
    Cue(40.0, "keep_breathing", "Keep breathing, gently.", "static", side="left", reason="no_breath", since_s=12.0),
    Cue(50.0, "ease_pressure", "Ease off.", "static", rate_bpm=18.5, settled_rate_bpm=9.0),
    Cue(60.0, "switch_sides", "Switch sides.", "switch", to_side="right"),
    Cue(61.0, "fallback_pacer", "The sensor has dropped out.", "static", reason="signal_lost", hold_clock="runs"),
    Cue(62.0, "signal_restored", "I can follow your breathing again.", "static", reason="confident", count=4,
        since_s=21.5),
    StageEntered(10.0, "locate", "Find the muscle.", side="left", point=1),
    StageEntered(70.0, "repress", "Same spot.", side="left", point=2, move="new"),
    StageEntered(80.0, "switch", "Switch.", to_side="right"),
    StageEntered(5.0, "breathing", "Breathe with me.", pacer=PacerSpec(4.0, 0.0, 6.0, 0.0), duration_s=300.0),
    SideStarted(10.0, "left", 0, 180.0),
    HoldStarted(20.0, "static", "left", 1, 45.0),
    HoldStarted(65.0, "active", "left", 1),
    HoldEnded(65.0, "static", "left", 1, t_start_s=20.0, duration_s=45.0, breaths=7, mean_rate_bpm=9.333,
              cues=9, ended_by="time", softened=True),
    SideEnded(190.0, "left", 0, t_start_s=10.0, duration_s=180.0, target_s=180.0, holds=3, hold_s=150.5,
              breaths=24, ended_by="time", mean_rate_bpm=9.1),
    PainStopped(99.5, "static", "left", "static", "Stop now. See a professional."),
    PacedPhase(61.5, "exhale", "static", "left"),
    PacedPhase(64.0, "inhale", "rest"),
    PacingScored(33.0, 32.5, -0.25, 0.9, 91.5),
    FollowingScored(44.5, 44.0, 0.725, 4.25, -1.5, 90.0, 96),
    Note(5.0, "soften", "Nothing to soften yet."),
    ErrorReported(7.0, "history not saved: disk full"),
    CommandRejected(8.0, "unknown command 'jump'"),
    SessionEnded(412.25, "done", SUMMARY),
    SessionEnded(100.0, "done", SessionSummary(
        protocol="breathing", practised="breathing", safety="unanswered", ended_by="done", duration_s=100.0,
        settled_rate_bpm=None, breaths=10, mean_rate_bpm=None, paced_breaths=0, fallback_s=0.0, cues=20,
        sides=(), holds=(), pain_stops=0, adherence_pct=None, has_adherence=True)),
]


def test_every_event_type_has_an_example() -> None:
    union = set(typing.get_args(SessionEvent))
    assert union == {type(e) for e in EXAMPLES}


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip_through_a_json_line(event: SessionEvent) -> None:
    line = json.dumps(to_json(event))
    back = from_json(json.loads(line))
    assert type(back) is type(event)
    assert to_json(back) == to_json(event)
    if not isinstance(event, (HoldEnded, SignalNotice, BreathingTrace)):  # a hold's exhale times are not printed
        assert back == event


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip_through_a_recording_marker(event: SessionEvent) -> None:
    name, data = to_marker(event)
    back = marker_to_event(name, event.t_s, data)
    assert to_json(back) == to_json(event)


def test_the_detect_contract_is_unchanged() -> None:
    line = to_json(BreathEvent("exhale", 12.3449, 12.7051, signal="resp", rate_bpm=14.2))
    assert line == {"event": "exhale", "t": 12.345, "detected_at": 12.705, "signal": "resp", "rate_bpm": 14.2}


def test_non_finite_numbers_never_reach_the_wire() -> None:
    line = to_json(BreathEvent("exhale", 1.0, 1.5, rate_bpm=float("nan"), quality=float("inf")))
    assert "rate_bpm" not in line and "quality" not in line
    json.dumps(line, allow_nan=False)


@pytest.mark.parametrize("bad", [
    {"t": 1.0},
    {"event": "cue", "t": "soon", "kind": "x", "text": "", "stage": ""},
    {"event": "hold_start", "t": 1.0, "kind": 5, "side": None, "point": 1},
    {"event": "exhale", "t": float("nan"), "detected_at": 1.0},
    {"event": "session_end", "t": 1.0, "ended_by": "done", "summary": 5},
])
def test_bad_lines_are_wire_errors(bad: dict[str, typing.Any]) -> None:
    with pytest.raises(WireError):
        from_json(bad)
