"""The session's vocabularies as types: what a cue is and what it means, the coach's stages, the
kinds of hold, how things end, who a breath came from, why the lead changes, the source's states.

Every one is an :class:`enum.StrEnum`: a member *is* its string (``CueKind.SINK_DEEPER ==
"sink_deeper"``), so the JSON-lines contract, the recordings and the history read and write the
same words as before, while the code compares members, never spelled-out strings.

What a cue *means* (breathe out, breathe in, pay attention, switch sides...) is a property of the
cue kind, defined once here (:attr:`CueKind.meaning`): the sound (:mod:`psoas_sense.ui.audio`),
the band's colour and phase (:mod:`psoas_sense.band`, :mod:`psoas_sense.ui.theme`) and the
view's count of paced exhales (:mod:`psoas_sense.view`) all read it.

Two vocabularies are open: a source's state (:class:`LinkState`) and a detector notice
(:class:`Notice`) are kept as written in a recording (a newer psoas-sense may write words this
one does not know), and compared with these members. The others are closed: an event whose word
is not a member cannot be built (``ValueError``), and the serializer refuses such a line.

Pure: no clock, no I/O; imports nothing of the package.
"""

from __future__ import annotations

import enum
from typing import Literal

BreathPhase = Literal["exhale", "inhale"]
"""A breath phase: ``exhale`` (breathing out starts) or ``inhale`` (breathing in starts)."""
ShownPhase = Literal["exhale", "inhale", ""]
"""A breath phase as a screen shows it: empty for none (none yet, or none to tell)."""
PacePhase = Literal["inhale", "hold_in", "exhale", "hold_out"]
"""A phase of the clock pacer's rhythm."""


class Meaning(enum.StrEnum):
    """What an instruction asks of the person: one word that sets its sound, its band colour, and
    the breath phase it belongs to."""

    EXHALE = "exhale"
    """Breathe out (and it answers a breath out: sink deeper, slide the foot, breathe out)."""
    INHALE = "inhale"
    """Breathe in (and it answers a breath in: keep the pressure, breathe in)."""
    ATTENTION = "attention"
    """Listen: keep breathing, ease off, follow my cues, the side is nearly over."""
    SWITCH = "switch"
    """Go to the other side."""
    STOP = "stop"
    """Stop now (the pain stop)."""
    CALM = "calm"
    """Anything else: a step (lift the foot, press in), a word of thanks, a stage's words."""

    @property
    def phase(self) -> BreathPhase | None:
        """The breath phase an instruction of this meaning belongs to (None: none)."""
        if self is Meaning.EXHALE:
            return "exhale"
        if self is Meaning.INHALE:
            return "inhale"
        return None


class CueKind(enum.StrEnum):
    """What a cue is (the ``kind`` of a ``cue`` line). Its text is in
    :data:`psoas_sense.coach.texts.CUES`, its meaning in :attr:`meaning`."""

    BELLY_IN = "belly_in"
    """Preparation (and waiting for the sensor): breathe in, belly rises."""
    BELLY_OUT = "belly_out"
    """Preparation (and waiting for the sensor): breathe out, belly falls."""
    SETTLED = "settled"
    """The breathing has settled: the sides begin."""
    SETTLE_TIMEOUT = "settle_timeout"
    """The preparation's time is up without settling: the sides begin all the same."""
    SETTLE_PACED = "settle_paced"
    """The preparation's time is up while the pacer leads: the sides begin with it."""
    CALIBRATE = "calibrate"
    """Accelerometer: one deep breath so its direction can be told."""
    CALIBRATED = "calibrated"
    """The deep breath was read."""
    LIFT_FOOT = "lift_foot"
    """Locating the muscle: lift the foot an inch or two."""
    LOWER_FOOT = "lower_foot"
    """Locating the muscle: put the foot down again."""
    SINK_DEEPER = "sink_deeper"
    """Static hold, on the exhale: sink deeper."""
    HOLD_BREATHE = "hold_breathe"
    """Static hold, on the inhale: breathe in, keep the pressure."""
    SLIDE_FOOT = "slide_foot"
    """Active release, on the exhale: slide the foot away."""
    KEEP_PRESSURE = "keep_pressure"
    """Active release, on the inhale: keep the pressure."""
    LEG_STRAIGHT = "leg_straight"
    """Active release, on the last exhale out: the leg straightens."""
    BEND_KNEE = "bend_knee"
    """Active release, the leg straight: bend the knee back (a movement, not a breath phase)."""
    RELEASE = "release"
    """Active release, on the exhale after bending back: release the pressure (ends the hold)."""
    TOOL_SINK = "tool_sink"
    """Tool hold, on the exhale: let your weight sink onto the tool."""
    TOOL_BREATHE = "tool_breathe"
    """Tool hold, on the inhale: breathe in deeply."""
    SOFTENED = "softened"
    """The person said the spot softened."""
    SIDE_ENDING = "side_ending"
    """The side's time is nearly up."""
    SWITCH_SIDES = "switch_sides"
    """Go to the other side."""
    PACE_INHALE = "pace_inhale"
    """The pacer: breathe in."""
    PACE_HOLD_IN = "pace_hold_in"
    """The pacer: hold gently after breathing in."""
    PACE_EXHALE = "pace_exhale"
    """The pacer: breathe out."""
    PACE_HOLD_OUT = "pace_hold_out"
    """The pacer: rest after breathing out."""
    KEEP_BREATHING = "keep_breathing"
    """No breath for a while (a breath held): keep breathing."""
    EASE_PRESSURE = "ease_pressure"
    """The breathing sped up in a hold: ease the pressure."""
    FALLBACK_PACER = "fallback_pacer"
    """The lead goes to the clock pacer (its ``reason`` says why)."""
    SIGNAL_RESTORED = "signal_restored"
    """The breath takes the lead back from the pacer."""
    SENSOR_DOWN = "sensor_down"
    """The sensor dropped out while the pacer already led."""
    SETTLING = "settling"
    """The sensor is back: a settle period before the breath may lead again."""

    @property
    def meaning(self) -> Meaning:
        """What this cue asks of the person (:class:`Meaning`)."""
        return _CUE_MEANINGS[self]

    @property
    def ends_hold(self) -> bool:
        """Said as the hold ends (the release): it sounds as the hold's end, not as its breath."""
        return self is CueKind.RELEASE

    @property
    def pace_phase(self) -> PacePhase | None:
        """The pacer's phase this cue announces (None: not a pacer cue)."""
        return next((phase for phase, kind in PACE_CUES.items() if kind is self), None)


_CUE_MEANINGS: dict[CueKind, Meaning] = {
    CueKind.BELLY_IN: Meaning.INHALE,
    CueKind.BELLY_OUT: Meaning.EXHALE,
    CueKind.SETTLED: Meaning.CALM,
    CueKind.SETTLE_TIMEOUT: Meaning.CALM,
    CueKind.SETTLE_PACED: Meaning.CALM,
    CueKind.CALIBRATE: Meaning.ATTENTION,
    CueKind.CALIBRATED: Meaning.CALM,
    CueKind.LIFT_FOOT: Meaning.CALM,
    CueKind.LOWER_FOOT: Meaning.CALM,
    CueKind.SINK_DEEPER: Meaning.EXHALE,
    CueKind.HOLD_BREATHE: Meaning.INHALE,
    CueKind.SLIDE_FOOT: Meaning.EXHALE,
    CueKind.KEEP_PRESSURE: Meaning.INHALE,
    CueKind.LEG_STRAIGHT: Meaning.EXHALE,
    CueKind.BEND_KNEE: Meaning.CALM,
    CueKind.RELEASE: Meaning.EXHALE,
    CueKind.TOOL_SINK: Meaning.EXHALE,
    CueKind.TOOL_BREATHE: Meaning.INHALE,
    CueKind.SOFTENED: Meaning.CALM,
    CueKind.SIDE_ENDING: Meaning.ATTENTION,
    CueKind.SWITCH_SIDES: Meaning.SWITCH,
    CueKind.PACE_INHALE: Meaning.INHALE,
    CueKind.PACE_HOLD_IN: Meaning.CALM,
    CueKind.PACE_EXHALE: Meaning.EXHALE,
    CueKind.PACE_HOLD_OUT: Meaning.CALM,
    CueKind.KEEP_BREATHING: Meaning.ATTENTION,
    CueKind.EASE_PRESSURE: Meaning.ATTENTION,
    CueKind.FALLBACK_PACER: Meaning.ATTENTION,
    CueKind.SIGNAL_RESTORED: Meaning.CALM,
    CueKind.SENSOR_DOWN: Meaning.ATTENTION,
    CueKind.SETTLING: Meaning.CALM,
}
if set(_CUE_MEANINGS) != set(CueKind):  # pragma: no cover - a new cue kind must say what it means
    raise AssertionError(f"cue kinds without a meaning: {sorted(set(CueKind) - set(_CUE_MEANINGS))}")

PACE_CUES: dict[PacePhase, CueKind] = {
    "inhale": CueKind.PACE_INHALE,
    "hold_in": CueKind.PACE_HOLD_IN,
    "exhale": CueKind.PACE_EXHALE,
    "hold_out": CueKind.PACE_HOLD_OUT,
}
"""The cue that announces each phase of the pacer."""


class Stage(enum.StrEnum):
    """The coach's stage (the ``stage`` of ``stage`` and ``cue`` lines). Its words are in
    :data:`psoas_sense.coach.texts.STAGES`."""

    IDLE = "idle"
    """Not started yet (never printed)."""
    CALIBRATION = "calibration"
    """Accelerometer: one deep breath so its direction can be told."""
    PREPARATION = "preparation"
    """Slow belly breathing until it settles."""
    LOCATE = "locate"
    """Finding the muscle (fingers in, lift the foot, foot down)."""
    STATIC = "static"
    """A static hold: press in and breathe."""
    ACTIVE = "active"
    """Active release: slide the foot out on the exhales."""
    REPRESS = "repress"
    """Pressing in again (the same spot, or a new one once it softened)."""
    TOOL_POSITION = "tool_position"
    """Getting onto the tool."""
    TOOL = "tool"
    """A tool hold."""
    REST = "rest"
    """Resting until the side's time is up."""
    SWITCH = "switch"
    """Going to the other side."""
    WAIT = "wait"
    """Resting while the sensor is down or settling (no hold starts)."""
    BREATHING = "breathing"
    """Paced breathing practice."""
    FINISH = "finish"
    """The practice is done: release slowly."""
    DONE = "done"
    """The session is over (never printed as a stage)."""

    @property
    def meaning(self) -> Meaning:
        """A stage's words say what to do for a while: calm."""
        return Meaning.CALM


class Closing(enum.StrEnum):
    """What a session view shows once the session is over (never a coach's word)."""

    PAIN_STOP = "pain_stop"
    """Stopped on pain."""
    SESSION_END = "session_end"
    """Over."""

    @property
    def meaning(self) -> Meaning:
        """Stop after a pain stop; calm at the end."""
        return Meaning.STOP if self is Closing.PAIN_STOP else Meaning.CALM


Instruction = CueKind | Stage | Closing
"""What an instruction on the screen comes from: a cue, a stage's words, or the session's close;
each has a ``meaning``."""


class HoldKind(enum.StrEnum):
    """A kind of hold (the ``kind`` of ``hold_start`` and ``hold_end`` lines)."""

    STATIC = "static"
    """Static pressure with the fingers, 30-60 s."""
    ACTIVE = "active"
    """Active release: the pressure kept while the foot slides out on the exhales."""
    TOOL = "tool"
    """Resting on a tool (a Pso-Rite, a ball), minutes."""

    @property
    def stage(self) -> Stage:
        """The stage this hold is worked in."""
        return Stage(self.value)


class Ending(enum.StrEnum):
    """How a hold, a side or the session ended (``ended_by``)."""

    TIME = "time"
    """Its time was up."""
    SOFTENED = "softened"
    """The person said the spot softened (a hold)."""
    RELEASED = "released"
    """Active release ran its course (a hold)."""
    NEXT = "next"
    """The person asked to go on."""
    SIDE_END = "side_end"
    """Its side ended under it (a hold)."""
    SIDE_CAP = "side_cap"
    """The side ran past its longest time (a side)."""
    DONE = "done"
    """The practice was completed (the session, or what it closed)."""
    QUIT = "quit"
    """The person ended the session."""
    PAIN = "pain"
    """A pain stop."""
    END_OF_INPUT = "end_of_input"
    """The recording (or the source) ran out."""
    INPUT_ERROR = "input_error"
    """A replayed file turned out bad part-way."""
    LINK_LOST = "link_lost"
    """The sensor's link could not be re-established."""
    SIGNAL = "signal"
    """Stopped by the system (SIGTERM, SIGHUP, the terminal or the front end closing)."""
    INTERRUPT = "interrupt"
    """Ctrl-C."""
    OUTPUT_CLOSED = "output_closed"
    """Nobody reads the printed lines any more (headless)."""
    DURATION = "duration"
    """The time asked for (``--duration``) passed."""


class BreathSource(enum.StrEnum):
    """Where a breath phase came from, and what a cue follows (``source``)."""

    DETECTOR = "detector"
    """The person's breathing, as the detector found it."""
    PACER = "pacer"
    """The coach's clock pacer."""


class CueReason(enum.StrEnum):
    """Why a cue about the lead or the breath was given (a cue's ``reason``)."""

    BREATH_HOLD = "breath_hold"
    """The detector saw no breathing movement for a while."""
    NO_BREATH = "no_breath"
    """No breath for longer than this person's rhythm allows."""
    NO_BREATHS = "no_breaths"
    """No breath at all for ``signal_silence_s``: the pacer leads."""
    SIGNAL_POOR = "signal_poor"
    """Only unsure breaths for ``unsure_handover_s``: the pacer leads."""
    SIGNAL_LOST = "signal_lost"
    """The sensor is down (the link, or a gap in the data): the pacer leads."""
    MOTION = "motion"
    """The body moved where it should be still: the pacer leads."""
    RR_ONLY = "rr_only"
    """A heart-rate strap without a breathing waveform: the pacer leads by design."""
    CONFIDENT = "confident"
    """Confident breaths again: the breath leads."""
    RECONNECTED = "reconnected"
    """The link is back (a settle period)."""
    DATA_RESUMED = "data_resumed"
    """Data flows again after a gap (a settle period)."""
    GAP = "gap"
    """A gap in the data that was over when it was found (a settle period)."""


class LinkState(enum.StrEnum):
    """A source's state (``status`` lines). Open: a status keeps the word it was written with."""

    STARTING = "starting"
    """Nothing said yet (a session view's first state; a replay never says more)."""
    CONNECTING = "connecting"
    """Looking for the sensor and connecting."""
    CONNECTED = "connected"
    """Connected; the streams are being started."""
    WAITING_FOR_ACC = "waiting_for_acc"
    """A Polar H10 whose accelerometer has not started yet (up to 30 s)."""
    STREAMING = "streaming"
    """Data flows."""
    RECONNECTING = "reconnecting"
    """The link dropped: reconnecting with backoff."""
    RECONNECTED = "reconnected"
    """The link is back."""
    LOST = "lost"
    """The link could not be re-established: the source gave up."""
    STOPPED = "stopped"
    """The source closed its streams (the end of a session or a recording, or a failure)."""
    ENDED = "ended"
    """The session is over (a front end's own word, once its loop is done)."""


LINK_DOWN: frozenset[LinkState] = frozenset({LinkState.RECONNECTING, LinkState.LOST, LinkState.STOPPED})
"""Source states in which no data comes (a plain ``str`` state is looked up the same)."""


class Notice(enum.StrEnum):
    """What a detector notice is (the ``event`` of a notice line). Open: unknown lines of a
    recording or the history are read as notices of their own name."""

    BREATH_HOLD = "breath_hold"
    """No breathing movement for a while."""
    BREATHING_RESUMED = "breathing_resumed"
    """Breathing movement again."""
    SIGNAL_LOST = "signal_lost"
    """A gap in the samples."""
    SIGNAL_RESTORED = "signal_restored"
    """Samples again after a gap."""
    MOTION = "motion"
    """Body movement (no breath is read until it ends)."""
    MOTION_ENDED = "motion_ended"
    """The body is still again."""
    POLARITY = "polarity"
    """Which way the accelerometer's inhale goes, with a confidence."""
    STUCK_AXIS = "stuck_axis"
    """An accelerometer axis pinned at full scale (the H10's -2000 mG fault)."""
    AXIS_RECOVERED = "axis_recovered"
    """The pinned axis moves again."""
    EXHALE_EXPECTED = "exhale_expected"
    """On regular breathing: when the next exhale is expected."""
    DEVICE_RATE = "device_rate"
    """The breathing rate the device computes itself (a belt)."""
    GAP_HEALED = "gap_healed"
    """The coach's own: a gap already over when found (never printed)."""


class Practice(enum.StrEnum):
    """A coached protocol (``--protocol``)."""

    MANUAL = "manual"
    """Self-massage with the fingers: locate, static holds, active release, two sides."""
    TOOL = "tool"
    """A Pso-Rite, hip hook or firm ball: face down, long holds, two sides."""
    BREATHING = "breathing"
    """Paced breathing practice only."""


class Command(enum.StrEnum):
    """What the person can ask for (keys in the terminal UI, stdin lines in headless mode)."""

    PAIN = "pain"
    """Stop everything at once (sharp or radiating pain)."""
    QUIT = "quit"
    """End the session, saving what was done."""
    SOFTEN = "soften"
    """The spot has softened: move on."""
    NEXT = "next"
    """Skip to the next step."""

    @classmethod
    def parse(cls, text: str) -> Command | None:
        """The command named by ``text`` (case and spaces ignored), or None."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            return None


COMMAND_NAMES: tuple[str, ...] = tuple(c.value for c in Command)
"""Every command name, in the order help texts list them."""
