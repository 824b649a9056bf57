"""The vocabularies became types (:mod:`psoas_sense.vocab`) without changing a byte on the wire.

``tests/wire/`` holds lines written by psoas-sense *before* cue kinds, stages, hold kinds,
endings and sources were enums: a coached session on the emulated H10 (a move at 60 s, a link
drop at 100 s, ``soften``, ``next``, an unknown command and a pain stop), as its JSON lines and as
its recording's markers, one line per distinct word. Each is read into typed events and written
back: the same bytes, and the words are members of their vocabularies.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import pytest

from psoas_sense.events import Cue, HoldEnded, HoldStarted, PainStopped, SessionEnded, SideEnded, StageEntered
from psoas_sense.model import Marker
from psoas_sense.recording.writer import dumps_line, encode_item
from psoas_sense.serialize import from_json, marker_to_event, to_json, to_marker
from psoas_sense.vocab import (
    BreathSource,
    CueKind,
    CueReason,
    Ending,
    HoldKind,
    Meaning,
    Stage,
)

WIRE = Path(__file__).parent / "wire"
LINES = (WIRE / "coached-h10-link-drop.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
MARKERS = (WIRE / "coached-h10-link-drop.markers.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)


ADDED: dict[str, tuple[str, ...]] = {"hold_end": ("t_start",), "side_end": ("t_start",)}
"""Fields a line has gained since these were written (by design: a hold's and a side's own start);
left out to compare, so every other byte must be the same."""


def as_then(name: str, obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A line as it was written then: without the fields added since (that the old line lacks)."""
    return {k: v for k, v in obj.items() if k in old or k not in ADDED.get(name, ())}


def printed(event: Any, old: dict[str, Any]) -> str:
    """The line the headless printer writes (:class:`psoas_sense.session.sinks.JsonPrinter`)."""
    obj = to_json(event)
    return json.dumps(as_then(str(obj["event"]), obj, old), separators=(", ", ": ")) + "\n"


def words_of(event: Any) -> list[object]:
    """The event's vocabulary fields (None left out)."""
    if isinstance(event, Cue):
        return [event.kind, event.stage, event.source, event.reason]
    if isinstance(event, StageEntered):
        return [event.stage]
    if isinstance(event, HoldStarted):
        return [event.kind]
    if isinstance(event, HoldEnded):
        return [event.kind, event.ended_by]
    if isinstance(event, SideEnded):
        return [event.ended_by]
    if isinstance(event, PainStopped):
        return [event.stage, event.hold]
    if isinstance(event, SessionEnded):
        return [event.ended_by, event.summary.ended_by, *(h.kind for h in event.summary.holds),
                *(h.ended_by for h in event.summary.holds), *(s.ended_by for s in event.summary.sides)]
    return []


@pytest.mark.parametrize("line", LINES, ids=lambda s: json.loads(s)["event"])
def test_an_old_json_line_reads_into_members_and_prints_the_same_bytes(line: str) -> None:
    event = from_json(json.loads(line))
    assert printed(event, json.loads(line)) == line
    for word in words_of(event):
        assert word is None or isinstance(word, enum.StrEnum), (word, type(word))


@pytest.mark.parametrize("line", MARKERS, ids=lambda s: json.loads(s)["marker"])
def test_an_old_recording_marker_reads_into_members_and_writes_the_same_bytes(line: str) -> None:
    obj = json.loads(line)
    event = marker_to_event(obj["marker"], obj["t"], obj.get("data", {}))
    name, data = to_marker(event)
    data = as_then(name, data, obj.get("data", {}))
    if "at" in obj.get("data", {}):  # written after its time: the recorder keeps the event's own (sinks.Recorder)
        data["at"] = round(float(event.t_s), 3)
    assert dumps_line(encode_item(Marker(t_s=obj["t"], marker=name, data=data))) == line
    for word in words_of(event):
        assert word is None or isinstance(word, enum.StrEnum)


def test_the_old_lines_cover_the_vocabularies() -> None:
    """The fixture is worth its name: every kind of line the coach writes about the practice."""
    events = [from_json(json.loads(line)) for line in LINES]
    cues = {e.kind for e in events if isinstance(e, Cue)}
    assert {CueKind.SINK_DEEPER, CueKind.HOLD_BREATHE, CueKind.RELEASE, CueKind.FALLBACK_PACER,
            CueKind.SIGNAL_RESTORED, CueKind.SWITCH_SIDES} <= cues
    assert {e.source for e in events if isinstance(e, Cue)} >= {BreathSource.DETECTOR, BreathSource.PACER}
    assert {e.reason for e in events if isinstance(e, Cue)} >= {CueReason.SIGNAL_LOST}
    assert {e.kind for e in events if isinstance(e, HoldEnded)} == {HoldKind.STATIC, HoldKind.ACTIVE}
    assert {e.ended_by for e in events if isinstance(e, HoldEnded)} >= {Ending.RELEASED, Ending.SOFTENED,
                                                                        Ending.NEXT, Ending.PAIN}
    assert Stage.PREPARATION in {e.stage for e in events if isinstance(e, StageEntered)}
    assert [e.ended_by for e in events if isinstance(e, SessionEnded)] == [Ending.PAIN]


def test_a_member_is_its_old_word() -> None:
    """StrEnum members compare, hash and print as the strings they replace (old code and files
    that hold the words keep working)."""
    assert CueKind.SINK_DEEPER == "sink_deeper" and hash(Stage.STATIC) == hash("static")
    assert json.dumps({"k": Ending.END_OF_INPUT}) == '{"k": "end_of_input"}'
    assert f"{HoldKind.TOOL}" == "tool" and str(Meaning.EXHALE) == "exhale"


def test_an_unknown_word_in_a_line_is_a_wire_error() -> None:
    from psoas_sense.serialize import WireError

    with pytest.raises(WireError, match="is not a CueKind"):
        from_json({"event": "cue", "t": 1.0, "kind": "sink_deeperer", "text": "x", "stage": "static"})
    with pytest.raises(WireError, match="is not a Ending"):
        from_json({"event": "session_end", "t": 1.0, "ended_by": "bored", "summary": {}})


def test_every_cue_kind_says_what_it_means_in_one_table() -> None:
    """Sound, colour and view read the meaning from the cue; the old three lists agree with it."""
    exhale = {k for k in CueKind if k.meaning is Meaning.EXHALE}
    inhale = {k for k in CueKind if k.meaning is Meaning.INHALE}
    attention = {k for k in CueKind if k.meaning is Meaning.ATTENTION}
    assert exhale == {"sink_deeper", "slide_foot", "leg_straight", "tool_sink", "release", "pace_exhale", "belly_out"}
    assert inhale == {"hold_breathe", "keep_pressure", "tool_breathe", "pace_inhale", "belly_in"}
    assert attention == {"keep_breathing", "ease_pressure", "fallback_pacer", "side_ending", "calibrate",
                         "sensor_down"}
