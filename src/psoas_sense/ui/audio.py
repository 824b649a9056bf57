"""Sound cues for eyes-closed practice: distinct tones, optional spoken cues.

Tones are synthesised once with NumPy into small WAV files in the user cache directory and
played with whatever player the system has (``paplay``, ``pw-play``, ``aplay``, ``afplay``, or
``winsound`` on Windows), without waiting for them to finish. With no player the terminal bell
is the fallback. Spoken cues use ``espeak-ng``/``espeak``/``say`` when asked for and present.

Which sound goes with which output line is a pure function (:func:`sound_for`), tested on its
own; the player is injected so tests record what would be played.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import wave
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from psoas_sense.events import (
    Cue,
    HoldEnded,
    HoldStarted,
    PainStopped,
    SessionEnded,
    SessionEvent,
    SideEnded,
    SideStarted,
    StageEntered,
)
from psoas_sense.model import BreathEvent
from psoas_sense.vocab import Meaning

RATE_HZ = 22050

# name -> list of (start Hz, end Hz, seconds, loudness 0-1); notes play one after another
TONES: Mapping[str, list[tuple[float, float, float, float]]] = {
    "exhale": [(587.0, 392.0, 0.45, 0.5)],  # falling: breathe out, sink deeper
    "inhale": [(392.0, 494.0, 0.25, 0.25)],  # soft rise: breathe in, keep the pressure
    "chime": [(659.0, 659.0, 0.18, 0.4), (880.0, 880.0, 0.3, 0.4)],  # a hold or stage begins/ends
    "switch": [(523.0, 523.0, 0.2, 0.45), (659.0, 659.0, 0.2, 0.45), (784.0, 784.0, 0.4, 0.45)],
    "attention": [(440.0, 440.0, 0.15, 0.5), (440.0, 440.0, 0.15, 0.5)],  # keep breathing / ease off
    "stop": [(220.0, 220.0, 0.8, 0.6)],  # pain stop: low and plain, not alarming
    "end": [(523.0, 392.0, 1.2, 0.4)],
}

BELLS: Mapping[str, int] = {"exhale": 1, "inhale": 0, "chime": 2, "switch": 2, "attention": 3, "stop": 4, "end": 2}
"""Terminal bells per tone when no player exists, so the cues still differ by ear: one on the
exhale, none on the inhale (two alike sounds a breath apart would be confused), more for what
needs attention, four for the pain stop."""
BELL_GAP_S = 0.3
"""Between the bells of one cue (terminals merge bells rung closer together)."""

SOUNDS: dict[Meaning, str] = {
    Meaning.EXHALE: "exhale",
    Meaning.INHALE: "inhale",
    Meaning.ATTENTION: "attention",
    Meaning.SWITCH: "switch",
    Meaning.STOP: "stop",
    Meaning.CALM: "chime",
}
"""The tone of a cue, by what it means (:attr:`psoas_sense.vocab.CueKind.meaning`)."""


def sound_for(event: SessionEvent, *, coached: bool) -> str | None:
    """The tone for one session event, or None. Without a coach, raw phase events sound."""
    if isinstance(event, Cue):
        # the release ends a hold: the hold's chime, not the exhale tone (its end chimes at once)
        return "chime" if event.kind.ends_hold else SOUNDS[event.kind.meaning]
    if isinstance(event, (HoldStarted, HoldEnded, SideStarted)):
        return "chime"
    if isinstance(event, SideEnded):
        return "switch"
    if isinstance(event, PainStopped):
        return "stop"
    if isinstance(event, SessionEnded):
        return "end"
    if not coached and isinstance(event, BreathEvent):
        return event.kind
    return None


def spoken_text(event: SessionEvent) -> str | None:
    """What is spoken for an event (cues, stages, the pain stop), or None."""
    if isinstance(event, (Cue, StageEntered, PainStopped)) and event.text:
        return event.text
    return None


def synth(notes: list[tuple[float, float, float, float]], rate_hz: int = RATE_HZ) -> np.ndarray:
    """Int16 samples of a sequence of gliding notes with soft attack and release."""
    parts = []
    for f0, f1, dur, loud in notes:
        n = int(dur * rate_hz)
        t = np.arange(n) / rate_hz
        freq = np.linspace(f0, f1, n)
        phase = 2 * np.pi * np.cumsum(freq) / rate_hz
        env = np.minimum(1.0, t / 0.02) * np.minimum(1.0, (dur - t) / 0.08)
        parts.append(loud * env * np.sin(phase))
        parts.append(np.zeros(int(0.03 * rate_hz)))
    x = np.concatenate(parts) if parts else np.zeros(1)
    return (np.clip(x, -1, 1) * 32767 * 0.8).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate_hz: int = RATE_HZ) -> None:
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(samples.tobytes())
    os.replace(tmp, path)


def find_player() -> list[str] | None:
    """A command that plays a WAV file given as its last argument, or None."""
    for cmd in (["paplay"], ["pw-play"], ["aplay", "-q"], ["afplay"]):
        if shutil.which(cmd[0]):
            return cmd
    return None


def find_speaker() -> list[str] | None:
    for cmd in (["espeak-ng", "-s", "140"], ["espeak", "-s", "140"], ["say"]):
        if shutil.which(cmd[0]):
            return cmd
    return None


class CuePlayer:
    """Plays cue tones (and optionally speaks cue texts) without blocking.

    Args:
        enabled: start unmuted.
        speak: also speak cue texts when a speech synthesiser is present.
        cache_dir: where the tone WAVs live (default: the user cache directory).
        run: starts a command without waiting (injected in tests).
        bell: fallback when no player exists (the app's terminal bell), rung :data:`BELLS` times.
        later: ``later(delay_s, fn)`` runs ``fn`` after a delay without blocking (the app's timer);
            without it a cue rings its bell once.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        speak: bool = False,
        cache_dir: Path | None = None,
        run: Callable[[list[str]], Any] | None = None,
        bell: Callable[[], None] | None = None,
        later: Callable[[float, Callable[[], None]], Any] | None = None,
        player: list[str] | None | bool = True,
        speaker: list[str] | None | bool = True,
    ) -> None:
        self.enabled = enabled
        self.speak = speak
        self._cache_dir = cache_dir
        self._procs: list[subprocess.Popen[bytes]] = []
        self._run = run or self._spawn
        self._bell = bell
        self._later = later
        self._player = find_player() if player is True else (player or None)
        self._speaker = find_speaker() if speaker is True else (speaker or None)
        self.played: list[str] = []
        """Every tone requested while unmuted (for tests and the session log)."""

    def missing_notice(self) -> str | None:
        """One line saying what to install when sound or speech cannot play (None: all is there)."""
        parts = []
        if self._player is None and sys.platform != "win32":
            parts.append("no audio player found, so cues are terminal bells (counted: ? explains); "
                         "install pulseaudio-utils (paplay), pipewire (pw-play) or alsa-utils (aplay)")
        if self.speak and self._speaker is None:
            parts.append("--speak needs a speech engine: install espeak-ng")
        return "; ".join(parts) or None

    def short_notice(self) -> str | None:
        """:meth:`missing_notice` in a few words, for a quiet line on the session screen."""
        parts = []
        if self._player is None and sys.platform != "win32":
            parts.append("sound: terminal bells only, no audio player (? explains)")
        if self.speak and self._speaker is None:
            parts.append("no speech engine for --speak")
        return "; ".join(parts) or None

    def _wav(self, name: str) -> Path:
        base = self._cache_dir
        if base is None:
            import platformdirs

            base = Path(platformdirs.user_cache_dir("psoas-sense")) / "tones"
        base.mkdir(parents=True, exist_ok=True)
        path = base / f"{name}.wav"
        if not path.exists():
            write_wav(path, synth(list(TONES[name])))
        return path

    def play(self, name: str) -> None:
        if not self.enabled or name not in TONES:
            return
        self.played.append(name)
        if self._player is None:
            self._ring(BELLS.get(name, 1))
            return
        if sys.platform == "win32":  # pragma: no cover - no Windows here
            import winsound

            winsound.PlaySound(str(self._wav(name)), winsound.SND_FILENAME | winsound.SND_ASYNC)
            return
        self._run([*self._player, str(self._wav(name))])

    def _ring(self, times: int) -> None:
        bell = self._bell
        if bell is None or times <= 0:
            return
        bell()
        if self._later is not None:  # (without a timer: one bell)
            for k in range(1, times):
                self._later(k * BELL_GAP_S, self._bell_if_unmuted)

    def _bell_if_unmuted(self) -> None:
        if self.enabled and self._bell is not None:
            self._bell()

    def say(self, text: str) -> None:
        if self.enabled and self.speak and self._speaker is not None and text:
            self._run([*self._speaker, text])

    def _spawn(self, cmd: list[str]) -> None:
        self._procs = [p for p in self._procs if p.poll() is None]  # reap finished players
        try:
            self._procs.append(
                subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        except OSError:
            self._player = None  # the player vanished: fall back to the bell

    def close(self) -> None:
        """Wait briefly for sounds still playing (so none is left behind as a zombie)."""
        for p in self._procs:
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                p.kill()
        self._procs = []

    def on_event(self, event: SessionEvent, *, coached: bool) -> None:
        """React to one session event: its tone, and its words when speaking."""
        name = sound_for(event, coached=coached)
        if name is not None:
            self.play(name)
        text = spoken_text(event)
        if text is not None:
            self.say(text)
