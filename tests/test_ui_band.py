"""What the instruction band says (a pure function of the session view), on real runs and on
hand-made event streams: who leads, never the opposite of the breath, the sensor down at once."""

from __future__ import annotations

from psoas_sense.band import BREATH_MARK, CLOCK_MARK, NONE_MARK, band_of, contradicts
from psoas_sense.coach.texts import CUES, HEADLINES
from psoas_sense.events import Cue, ErrorReported, HeartRate, HoldEnded, HoldStarted, SessionEvent, StageEntered
from psoas_sense.model import BreathEvent, SignalNotice, Status
from psoas_sense.ui import bigtext
from psoas_sense.ui.bandview import band_lines
from psoas_sense.ui.chart import too_little
from psoas_sense.ui.keybar import key_line, keys_text
from psoas_sense.view import STALE_AFTER_S, SessionView, at, step, view_of
from psoas_sense.vocab import CueKind, Meaning
from ui_states import Step, steps


def breath(kind: str, t: float, quality: float = 0.9) -> BreathEvent:
    return BreathEvent(kind, t, t + 0.4, signal="resp", quality=quality)  # type: ignore[arg-type]


def cue(kind: str, t: float, source: str | None = "detector") -> Cue:
    return Cue(t + 0.4, kind, CUES[kind], "static", breath_t_s=t, source=source)


def beats(t0: float, t1: float) -> list[SessionEvent]:
    """A heart-rate event every second: data keeps coming."""
    return [HeartRate(float(t), 60.0) for t in range(int(t0), int(t1) + 1)]


def frames(run: tuple[Step, ...], t0: float, t1: float, every_s: float = 0.5) -> list[SessionView]:
    """The view every ``every_s`` of session time from ``t0`` to ``t1``, as a screen would draw it."""
    v = SessionView()
    out: list[SessionView] = []
    nxt = t0
    for kind, x in run:
        t = x if kind == "t" else (getattr(x, "detected_at_s", None) or x.t_s)
        while nxt <= min(t, t1) - 1e-9:
            out.append(at(v, nxt))
            nxt += every_s
        v = step(v, x) if kind == "e" else at(v, x)
    return out


# ---------------------------------------------------------------------------- hand-made streams


def test_an_instruction_holds_for_its_phase_then_goes_neutral_without_a_confident_cue() -> None:
    v = view_of([StageEntered(0.0, "static", "Press in."), HoldStarted(0.0, "static", "left", 1, 45.0),
                 breath("exhale", 10.0), cue("sink_deeper", 10.0)])
    assert band_of(v).headline == "SINK DEEPER" and band_of(v).phase == "exhale" and band_of(v).tone == "exhale"
    v = step(v, breath("inhale", 12.0, quality=0.3))  # an unsure inhale: no cue comes
    b = band_of(v)
    assert b.headline == "KEEP BREATHING" and b.phase == "" and not contradicts(v)
    v = step(step(v, breath("exhale", 14.0)), cue("sink_deeper", 14.0))  # a confident one brings the cue back
    assert band_of(v).headline == "SINK DEEPER"
    v = step(v, SignalNotice("motion", 15.0))
    assert band_of(v).headline == "KEEP BREATHING" and v.you_words == "moving" and v.quality_words == "moving"


def test_the_inhale_cue_never_begins_with_hold() -> None:
    for kind in CueKind:
        if kind.meaning is Meaning.INHALE:
            assert not CUES[kind].lower().startswith("hold"), kind
            assert not HEADLINES[kind].lower().startswith("hold"), kind


def test_who_leads_is_said_in_words_and_shapes() -> None:
    v = view_of([StageEntered(0.0, "static", "Press in."), breath("exhale", 1.0), cue("sink_deeper", 1.0)])
    assert band_of(v).lead == "breath" and band_of(v).lead_words.startswith(BREATH_MARK + " FOLLOWING")
    v = step(v, Cue(2.0, "fallback_pacer", CUES["fallback_pacer"], "static", reason="signal_poor"))
    v = step(v, cue("sink_deeper", 4.0, source="pacer"))
    for ev in beats(2.0, 5.0):
        v = step(v, ev)
    b = band_of(v)
    assert b.lead == "clock" and b.lead_words.startswith(CLOCK_MARK + " CLOCK") and "follow" in b.lead_words
    assert b.headline == "SINK DEEPER"  # the clock's cue stands: it leads, and says so
    # no coach, no data: nothing to follow
    lost = view_of([breath("exhale", 1.0), Status(2.0, "reconnecting", "link lost")])
    assert band_of(lost).lead == "none" and band_of(lost).lead_words.startswith(NONE_MARK)


def test_the_sensor_down_is_said_everywhere_and_the_hold_clock_pauses() -> None:
    v = view_of([StageEntered(0.0, "static", "Press in."), HoldStarted(0.0, "static", "left", 1, 45.0),
                 breath("exhale", 1.0), cue("sink_deeper", 1.0), *beats(2.0, 10.0),
                 Status(10.0, "reconnecting", "link lost")])
    v = at(v, 30.0)
    assert v.sensor_down and v.you_words == "no data" and v.quality_words == "no signal"
    assert v.shown_quality is None  # the meter shows no quality
    assert "sensor down" in band_of(v).lead_words
    assert v.hold_elapsed_s == 10.0  # 10 s before the drop; the 20 s since do not count
    for ev in [Status(31.0, "streaming"), *beats(31.0, 35.0)]:
        v = step(v, ev)
    assert v.hold_elapsed_s == 14.0 and not v.sensor_down
    # a stream that just stops (no status at all) is down once nothing came for a while
    quiet = view_of([breath("exhale", 1.0)])
    assert not at(quiet, 1.4 + STALE_AFTER_S - 0.1).sensor_down
    assert at(quiet, 1.4 + STALE_AFTER_S + 0.1).sensor_down


def test_survived_errors_are_kept_for_one_quiet_line() -> None:
    v = view_of([ErrorReported(float(i), f"history not saved ({i})") for i in range(5)])
    assert v.problems == ("history not saved (2)", "history not saved (3)", "history not saved (4)")


def test_the_session_end_clears_the_lead() -> None:
    v = view_of([StageEntered(0.0, "static", "Press in."), HoldStarted(0.0, "static", "left", 1, 45.0)])
    v = step(v, HoldEnded(5.0, "static", "left", 1, 0.0, 5.0, 0, None, 0, "quit", False))
    assert band_of(v).lead == "breath"


# ---------------------------------------------------------------------------- real runs


def test_the_band_never_says_the_opposite_through_the_demos_first_hold() -> None:
    """Done when: <= 3 % of frames, sampled every 0.5 s through the demo's first hold."""
    run = steps("demo", 170.0)
    start = next(x for k, x in run if k == "e" and isinstance(x, HoldStarted))
    end = next(x for k, x in run if k == "e" and isinstance(x, HoldEnded))
    hold = [f for f in frames(run, start.t_s, end.t_s) if f.hold_kind is not None]
    assert len(hold) >= 60
    share = sum(contradicts(f) for f in hold) / len(hold)
    assert share <= 0.03, share
    # and the band did follow the breath for part of it (it is not neutral all the time)
    assert sum(band_of(f).phase != "" for f in hold) >= len(hold) // 4


def test_without_a_coach_the_band_follows_the_detected_phase() -> None:
    run = steps("demo", 60.0, protocol=None)
    shown = [f for f in frames(run, 20.0, 60.0) if f.phase_sure]
    assert shown and all(band_of(f).phase == f.phase for f in shown)
    assert {band_of(f).headline for f in shown} == {"BREATHING OUT", "BREATHING IN"}


def test_a_link_drop_is_in_the_band_within_3_s_and_never_good_while_it_lasts() -> None:
    run = steps("emulated:h10?drop_at=60&drop_for=20", 90.0)
    fr = frames(run, 50.0, 90.0)
    down = [f for f in fr if "sensor down" in band_of(f).lead_words]
    assert down and down[0].t_s - 60.0 <= 3.0
    during = [f for f in fr if 60.5 <= f.t_s < 80.0]
    assert during and all(f.quality_words != "good" and f.shown_quality is None for f in during)
    assert all(f.you_words == "no data" for f in during)


# ---------------------------------------------------------------------------- drawing


def test_every_headline_fits_large_type_at_60_columns() -> None:
    for kind, words in HEADLINES.items():
        lines = bigtext.wrap(words, "large", 56)
        assert lines is not None and len(lines) <= 2, kind


def test_the_band_draws_big_words_and_the_sentence() -> None:
    v = view_of([StageEntered(0.0, "static", "Press in."), breath("exhale", 1.0), cue("sink_deeper", 1.0)])
    rows = [text for text, _ in band_lines(band_of(v), 76, 9)]
    assert len(rows) == 9
    assert any("FOLLOWING YOUR BREATH" in r for r in rows)
    assert sum("█" in r or "▀" in r for r in rows) >= 3  # the large type
    assert any("Sink deeper as you breathe out." in r for r in rows)


def test_the_key_bar_always_keeps_the_pain_key() -> None:
    keys = [("p/Esc", "PAIN: stop now", "PAIN"), ("space", "softened", "softened"), ("q", "end", "end")]
    for width in (120, 60, 30, 10):
        shown = key_line(keys, width)
        assert shown[0][0] == "p/Esc"
        assert len(keys_text(shown)) <= width or len(shown) == 1


def test_no_plot_from_too_little_data() -> None:
    assert too_little([(0.0, 14.0)]) is not None and "1 breath " in str(too_little([(0.0, 14.0)]))
    assert too_little([(float(t), 14.0) for t in range(0, 80, 10)]) is None


def test_a_narrow_band_keeps_the_reason_the_clock_leads() -> None:
    from psoas_sense.ui.bandview import lead_line

    words = "◔ CLOCK · sensor down (reconnecting): breathe with my cues"
    assert lead_line(words, 80) == words
    assert lead_line(words, 56) == "◔ CLOCK · sensor down (reconnecting)"
    assert lead_line(words, 20) == "◔ CLOCK"
