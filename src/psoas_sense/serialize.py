"""The one serializer: typed session events to and from the JSON-lines contract.

:func:`to_json` gives the object printed for an event (``detect``, headless ``session`` and
``replay``, the recorder's markers, the history's lines); :func:`from_json` reads one back
(markers of a recording, lines of the history). This is the only module that looks at an
event as a dict. Floats are rounded to the millisecond on the wire; non-finite numbers are
left out (JSON has none). Pure.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

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
from psoas_sense.vocab import BreathSource, Command, CueKind, CueReason, Ending, HoldKind, Stage

JsonObject = dict[str, Any]

BREATH_EVENT_NAMES = ("exhale", "inhale")
"""The ``event`` of a detected phase change."""

_BREATH_OPTIONAL = ("rate_bpm", "quality", "inhale_s", "exhale_s", "ie_ratio", "polarity_confidence")


class WireError(ValueError):
    """A JSON object that is not a valid session event."""


def _r(x: float) -> float:
    return round(float(x), 3)


def _opt(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return _r(x)


def _put(out: JsonObject, key: str, value: Any) -> None:
    """Add ``key`` unless the value is None (or a non-finite float)."""
    if value is None:
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            return
        value = _r(value)
    out[key] = value


# --------------------------------------------------------------------------- to JSON


def _breath(ev: BreathEvent) -> JsonObject:
    out: JsonObject = {"event": ev.kind, "t": _r(ev.t_s), "detected_at": _r(ev.detected_at_s)}
    if ev.signal:
        out["signal"] = ev.signal
    if ev.approximate:
        out["approximate"] = True
    for name in _BREATH_OPTIONAL:
        _put(out, name, getattr(ev, name))
    if ev.depth is not None and math.isfinite(ev.depth):
        out["depth"] = float(f"{ev.depth:.4g}")  # in the signal's own units: significant digits
    return out


def _summary(s: SessionSummary) -> JsonObject:
    out: JsonObject = {
        "protocol": s.protocol,
        "practised": s.practised,
        "safety": s.safety,
        "ended_by": s.ended_by,
        "duration_s": _r(s.duration_s),
        "settled_rate_bpm": _opt(s.settled_rate_bpm),
        "breaths": s.breaths,
        "mean_rate_bpm": _opt(s.mean_rate_bpm),
        "paced_breaths": s.paced_breaths,
        "fallback_s": _r(s.fallback_s),
        "cues": s.cues,
        "sides": [
            {"side": sd.side, "duration_s": _r(sd.duration_s), "holds": sd.holds, "hold_s": _r(sd.hold_s),
             "breaths": sd.breaths, "ended_by": sd.ended_by}
            for sd in s.sides
        ],
        "holds": [
            {"kind": h.kind, "side": h.side, "point": h.point, "duration_s": _r(h.duration_s),
             "breaths": h.breaths, "ended_by": h.ended_by}
            for h in s.holds
        ],
        "pain_stops": s.pain_stops,
    }
    if s.has_adherence:
        out["adherence"] = _opt(s.adherence_pct)
    _physio_out(out, s)
    return out


PHYSIO_KEYS = ("exhale_share", "hr_bpm", "rmssd_ms")
"""Physiology a hold, a side and a session's summary carry when known."""


def _physio_out(out: JsonObject, ev: Any) -> JsonObject:
    for key in PHYSIO_KEYS:
        _put(out, key, getattr(ev, key))
    return out



def _cue(ev: Cue) -> JsonObject:
    out: JsonObject = {"event": "cue", "t": _r(ev.t_s), "kind": ev.kind, "text": ev.text, "stage": ev.stage}
    _put(out, "side", ev.side)
    _put(out, "breath_t", ev.breath_t_s)
    _put(out, "source", ev.source)
    _put(out, "to_side", ev.to_side)
    _put(out, "reason", ev.reason)
    _put(out, "since_s", ev.since_s)
    _put(out, "rate_bpm", ev.rate_bpm)
    _put(out, "settled_rate_bpm", ev.settled_rate_bpm)
    _put(out, "count", ev.count)
    _put(out, "hold_clock", ev.hold_clock)
    return out


def _stage(ev: StageEntered) -> JsonObject:
    out: JsonObject = {"event": "stage", "t": _r(ev.t_s), "stage": ev.stage, "text": ev.text}
    _put(out, "side", ev.side)
    _put(out, "point", ev.point)
    _put(out, "move", ev.move)
    _put(out, "to_side", ev.to_side)
    if ev.pacer is not None:
        out["pacer"] = dataclasses.asdict(ev.pacer)
    _put(out, "duration_s", ev.duration_s)
    return out


def _hold_start(ev: HoldStarted) -> JsonObject:
    out: JsonObject = {"event": "hold_start", "t": _r(ev.t_s), "kind": ev.kind, "side": ev.side, "point": ev.point}
    _put(out, "target_s", ev.target_s)
    return out


def _hold_end(ev: HoldEnded) -> JsonObject:
    return _physio_out({
        "event": "hold_end", "t": _r(ev.t_s), "kind": ev.kind, "side": ev.side, "point": ev.point,
        "t_start": _r(ev.t_start_s), "duration_s": _r(ev.duration_s), "breaths": ev.breaths,
        "mean_rate_bpm": _opt(ev.mean_rate_bpm),
        "cues": ev.cues, "ended_by": ev.ended_by, "softened": ev.softened,
    }, ev)


def _side_end(ev: SideEnded) -> JsonObject:
    return _physio_out({
        "event": "side_end", "t": _r(ev.t_s), "side": ev.side, "index": ev.index, "t_start": _r(ev.t_start_s),
        "duration_s": _r(ev.duration_s),
        "target_s": _r(ev.target_s), "holds": ev.holds, "hold_s": _r(ev.hold_s), "breaths": ev.breaths,
        "ended_by": ev.ended_by, "mean_rate_bpm": _opt(ev.mean_rate_bpm),
    }, ev)


_WRITERS: dict[type, Callable[[Any], JsonObject]] = {
    BreathEvent: _breath,
    SignalNotice: lambda ev: {"event": ev.kind, "t": _r(ev.t_s), **dict(ev.detail)},
    HeartRate: lambda ev: {"event": "heart_rate", "t": _r(ev.t_s), "hr_bpm": _r(ev.hr_bpm),
                           **({"rr_ms": [_r(x) for x in ev.rr_ms]} if ev.rr_ms else {})},
    BreathingTrace: lambda ev: {"event": "trace", "t": _r(ev.t_s), "times": [_r(x) for x in ev.times_s],
                                "values": [_r(x) for x in ev.values]},
    Status: lambda ev: {"event": "status", "state": ev.state, "t": _r(ev.t_s),
                        **({"detail": ev.detail} if ev.detail else {})},
    SafetyChecked: lambda ev: {"event": "safety", "t": _r(ev.t_s), "status": ev.status,
                               "conditions": list(ev.conditions), "text": ev.text},
    ProtocolChanged: lambda ev: {"event": "protocol_changed", "t": _r(ev.t_s), "requested": ev.requested,
                                 "protocol": ev.protocol, "reason": ev.reason, "text": ev.text},
    Cue: _cue,
    StageEntered: _stage,
    SideStarted: lambda ev: {"event": "side_start", "t": _r(ev.t_s), "side": ev.side, "index": ev.index,
                             "target_s": _r(ev.target_s)},
    HoldStarted: _hold_start,
    HoldEnded: _hold_end,
    SideEnded: _side_end,
    PainStopped: lambda ev: {"event": "pain_stop", "t": _r(ev.t_s), "stage": ev.stage, "side": ev.side,
                             "hold": ev.hold, "text": ev.text},
    PacedPhase: lambda ev: {"event": "paced_phase", "t": _r(ev.t_s), "kind": ev.kind, "stage": ev.stage,
                            "side": ev.side},
    PacingScored: lambda ev: {"event": "pacing", "t": _r(ev.t_s), "breath_t": _r(ev.breath_t_s),
                              "error_s": _r(ev.error_s), "score": _r(ev.score), "adherence": _r(ev.adherence_pct)},
    FollowingScored: lambda ev: {"event": "following", "t": _r(ev.t_s), "breath_t": _r(ev.breath_t_s),
                                 "locked": _r(ev.locked), "amplitude_bpm": _r(ev.amplitude_bpm),
                                 "lag_s": _r(ev.lag_s), "window_s": _r(ev.window_s), "beats": ev.beats},
    Note: lambda ev: {"event": "note", "t": _r(ev.t_s), "command": ev.command, "text": ev.text},
    ErrorReported: lambda ev: {"event": "error", "t": _r(ev.t_s), "message": ev.message},
    CommandRejected: lambda ev: {"event": "error", "t": _r(ev.t_s), "detail": ev.detail},
    SessionEnded: lambda ev: {"event": "session_end", "t": _r(ev.t_s), "ended_by": ev.ended_by,
                              "summary": _summary(ev.summary)},
}


def to_json(event: SessionEvent) -> JsonObject:
    """The JSON object of one event, exactly as the JSON-lines contract prints it."""
    writer = _WRITERS.get(type(event))
    if writer is None:
        raise TypeError(f"not a session event: {type(event).__name__}")
    return writer(event)


# --------------------------------------------------------------------------- from JSON


def _f(d: Mapping[str, Any], key: str) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise WireError(f"{key!r} must be a finite number")
    return float(v)


def _of(d: Mapping[str, Any], key: str) -> float | None:
    return None if d.get(key) is None else _f(d, key)


def _s(d: Mapping[str, Any], key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise WireError(f"{key!r} must be a string")
    return v


def _os(d: Mapping[str, Any], key: str) -> str | None:
    return None if d.get(key) is None else _s(d, key)


def _i(d: Mapping[str, Any], key: str) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise WireError(f"{key!r} must be an integer")
    return v


def _oi(d: Mapping[str, Any], key: str) -> int | None:
    return None if d.get(key) is None else _i(d, key)


W = TypeVar("W", bound=enum.StrEnum)


def _word(vocabulary: type[W], d: Mapping[str, Any], key: str) -> W:
    """A word of one of the vocabularies (:mod:`psoas_sense.vocab`)."""
    v = _s(d, key)
    try:
        return vocabulary(v)
    except ValueError:
        raise WireError(f"{key!r}: {v[:40]!r} is not a {vocabulary.__name__}") from None


def _oword(vocabulary: type[W], d: Mapping[str, Any], key: str) -> W | None:
    """An optional word (missing, null or empty: None)."""
    return _word(vocabulary, d, key) if d.get(key) not in (None, "") else None


def _floats(d: Mapping[str, Any], key: str) -> tuple[float, ...]:
    v = d.get(key)
    if not isinstance(v, list):
        raise WireError(f"{key!r} must be a list of numbers")
    return tuple(_f({"x": x}, "x") for x in v)


def _txt(d: Mapping[str, Any], key: str) -> str:
    """A text field that older or hand-made markers may leave out (empty then)."""
    return "" if d.get(key) is None else _s(d, key)


def _n(d: Mapping[str, Any], key: str, default: int = 0) -> int:
    """A count that older or hand-made markers may leave out."""
    return default if d.get(key) is None else _i(d, key)


def summary_from_json(d: Mapping[str, Any]) -> SessionSummary:
    """A session summary from its JSON object (``session_end``'s ``summary``, the history)."""
    sides = d.get("sides") or []
    holds = d.get("holds") or []
    if not isinstance(sides, list) or not isinstance(holds, list):
        raise WireError("'sides' and 'holds' must be lists")
    return SessionSummary(
        protocol=_s(d, "protocol"), practised=_s(d, "practised"), safety=_s(d, "safety"),
        ended_by=_oword(Ending, d, "ended_by"), duration_s=_f(d, "duration_s"),
        settled_rate_bpm=_of(d, "settled_rate_bpm"),
        breaths=_i(d, "breaths"), mean_rate_bpm=_of(d, "mean_rate_bpm"), paced_breaths=_i(d, "paced_breaths"),
        fallback_s=_f(d, "fallback_s"), cues=_i(d, "cues"),
        sides=tuple(
            SideSummary(side=_s(x, "side"), duration_s=_f(x, "duration_s"), holds=_i(x, "holds"),
                        hold_s=_f(x, "hold_s"), breaths=_i(x, "breaths"), ended_by=_word(Ending, x, "ended_by"))
            for x in sides
        ),
        holds=tuple(
            HoldSummary(kind=_word(HoldKind, x, "kind"), side=_os(x, "side"), point=_i(x, "point"),
                        duration_s=_f(x, "duration_s"), breaths=_i(x, "breaths"),
                        ended_by=_word(Ending, x, "ended_by"))
            for x in holds
        ),
        pain_stops=_i(d, "pain_stops"),
        adherence_pct=_of(d, "adherence"),
        has_adherence="adherence" in d,
        exhale_share=_of(d, "exhale_share"), hr_bpm=_of(d, "hr_bpm"), rmssd_ms=_of(d, "rmssd_ms"),
    )


def _pacer(d: Any) -> PacerSpec | None:
    if d is None:
        return None
    if not isinstance(d, Mapping):
        raise WireError("'pacer' must be an object")
    return PacerSpec(_f(d, "inhale_s"), _f(d, "hold_in_s"), _f(d, "exhale_s"), _f(d, "hold_out_s"))


def _read_breath(d: Mapping[str, Any], t: float) -> BreathEvent:
    return BreathEvent(
        kind="exhale" if d["event"] == "exhale" else "inhale", t_s=t, detected_at_s=_f(d, "detected_at"),
        signal=str(d.get("signal", "")), approximate=bool(d.get("approximate", False)),
        rate_bpm=_of(d, "rate_bpm"), quality=_of(d, "quality"), inhale_s=_of(d, "inhale_s"),
        exhale_s=_of(d, "exhale_s"), ie_ratio=_of(d, "ie_ratio"), polarity_confidence=_of(d, "polarity_confidence"),
        depth=_of(d, "depth"),
    )


def _t_start(d: Mapping[str, Any], t: float) -> float:
    """A hold's or side's start: its own ``t_start``, or (older lines) its end less its length."""
    return _f(d, "t_start") if d.get("t_start") is not None else round(t - _f(d, "duration_s"), 3)


_READERS: dict[str, Callable[[Mapping[str, Any], float], SessionEvent]] = {
    "exhale": _read_breath,
    "inhale": _read_breath,
    "heart_rate": lambda d, t: HeartRate(t, _f(d, "hr_bpm"), _floats(d, "rr_ms") if "rr_ms" in d else ()),
    "trace": lambda d, t: BreathingTrace(t, _floats(d, "times"), _floats(d, "values")),
    "status": lambda d, t: Status(t, _s(d, "state"), str(d.get("detail", ""))),
    "safety": lambda d, t: SafetyChecked(t, _s(d, "status"), tuple(str(c) for c in d.get("conditions") or ()),
                                         _s(d, "text")),
    "protocol_changed": lambda d, t: ProtocolChanged(t, _s(d, "requested"), _s(d, "protocol"), _s(d, "reason"),
                                                     _s(d, "text")),
    "cue": lambda d, t: Cue(
        t, _word(CueKind, d, "kind"), _txt(d, "text"), _oword(Stage, d, "stage"), side=_os(d, "side"),
        breath_t_s=_of(d, "breath_t"), source=_oword(BreathSource, d, "source"), to_side=_os(d, "to_side"),
        reason=_oword(CueReason, d, "reason"), since_s=_of(d, "since_s"), rate_bpm=_of(d, "rate_bpm"),
        settled_rate_bpm=_of(d, "settled_rate_bpm"), count=_oi(d, "count"),
        hold_clock="runs" if d.get("hold_clock") == "runs" else None,
    ),
    "stage": lambda d, t: StageEntered(
        t, _word(Stage, d, "stage"), _s(d, "text"), side=_os(d, "side"), point=_oi(d, "point"), move=_os(d, "move"),
        to_side=_os(d, "to_side"), pacer=_pacer(d.get("pacer")), duration_s=_of(d, "duration_s"),
    ),
    "side_start": lambda d, t: SideStarted(t, _s(d, "side"), _i(d, "index"), _f(d, "target_s")),
    "hold_start": lambda d, t: HoldStarted(t, _word(HoldKind, d, "kind"), _os(d, "side"), _n(d, "point", 1),
                                           _of(d, "target_s")),
    "hold_end": lambda d, t: HoldEnded(
        t, _word(HoldKind, d, "kind"), _os(d, "side"), _n(d, "point", 1), t_start_s=_t_start(d, t),
        duration_s=_f(d, "duration_s"), breaths=_n(d, "breaths"), mean_rate_bpm=_of(d, "mean_rate_bpm"),
        cues=_n(d, "cues"), ended_by=_word(Ending, d, "ended_by"), softened=bool(d.get("softened", False)),
        exhale_share=_of(d, "exhale_share"), hr_bpm=_of(d, "hr_bpm"), rmssd_ms=_of(d, "rmssd_ms"),
    ),
    "side_end": lambda d, t: SideEnded(
        t, _s(d, "side"), _n(d, "index"), t_start_s=_t_start(d, t), duration_s=_f(d, "duration_s"),
        target_s=_of(d, "target_s") or _f(d, "duration_s"), holds=_n(d, "holds"), hold_s=_of(d, "hold_s") or 0.0,
        breaths=_n(d, "breaths"), ended_by=_word(Ending, d, "ended_by"), mean_rate_bpm=_of(d, "mean_rate_bpm"),
        exhale_share=_of(d, "exhale_share"), hr_bpm=_of(d, "hr_bpm"), rmssd_ms=_of(d, "rmssd_ms"),
    ),
    "pain_stop": lambda d, t: PainStopped(t, _oword(Stage, d, "stage"), _os(d, "side"), _oword(HoldKind, d, "hold"),
                                          _s(d, "text")),
    "paced_phase": lambda d, t: PacedPhase(t, "exhale" if _s(d, "kind") == "exhale" else "inhale",
                                           _oword(Stage, d, "stage"), _os(d, "side")),
    "pacing": lambda d, t: PacingScored(t, _f(d, "breath_t"), _f(d, "error_s"), _f(d, "score"), _f(d, "adherence")),
    "following": lambda d, t: FollowingScored(t, _f(d, "breath_t"), _f(d, "locked"), _f(d, "amplitude_bpm"),
                                              _f(d, "lag_s"), _f(d, "window_s"), _i(d, "beats")),
    "note": lambda d, t: Note(t, _word(Command, d, "command"), _s(d, "text")),
    "error": lambda d, t: CommandRejected(t, _s(d, "detail")) if "detail" in d else ErrorReported(t, _s(d, "message")),
    "session_end": lambda d, t: SessionEnded(t, _word(Ending, d, "ended_by"),
                                             summary_from_json(_mapping(d.get("summary")))),
}


def _mapping(v: Any) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise WireError("'summary' must be an object")
    return v


def from_json(obj: Mapping[str, Any]) -> SessionEvent:
    """The event of one JSON object. Unknown ``event`` names are detector notices.

    Raises:
        WireError: a missing or mistyped field.
    """
    name = obj.get("event")
    if not isinstance(name, str) or not name:
        raise WireError("'event' must be a non-empty string")
    t = _f(obj, "t")
    reader = _READERS.get(name)
    try:
        if reader is not None:
            return reader(obj, t)
    except KeyError as exc:
        raise WireError(f"{exc.args[0]!r} is missing") from None
    detail = {k: v for k, v in obj.items() if k not in ("event", "t")}
    return SignalNotice(kind=name, t_s=t, detail=detail)


def marker_to_event(name: str, t_s: float, data: Mapping[str, Any]) -> SessionEvent:
    """The event a recording's marker stands for (markers hold a line without ``event``/``t``).

    A marker written after its event's time (lines keep time order) carries the event's own
    time as ``at``; that is the event's time.
    """
    at = data.get("at")
    t = float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at) else t_s
    return from_json({**{k: v for k, v in data.items() if k != "at"}, "event": name, "t": t})


def to_marker(event: SessionEvent) -> tuple[str, JsonObject]:
    """An event as a recording's marker: its name, and its line without ``event`` and ``t``."""
    data = to_json(event)
    name = str(data.pop("event"))
    del data["t"]
    return name, data
