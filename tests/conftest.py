"""Shared fixtures: the bundled recordings, the shared data folder, an isolated data dir."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from psoas_sense.coach import CoachEngine
from psoas_sense.events import BreathingTrace, HeartRate, SessionEnded, SessionEvent
from psoas_sense.recording import bounded, importers
from psoas_sense.serialize import to_json
from psoas_sense.session.history import HistorySink
from psoas_sense.session.sinks import CallbackSink, Sink

pytest_plugins = ["conftest_ble"]  # the --ble-device option for the optional real-strap tests

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "recordings"
SHARED_DATA = ROOT.parent / "shared" / "data"
BUNDLED = sorted(RECORDINGS.glob("*.jsonl.gz"))


HEADLESS_FPS = 10


def pytest_configure(config: pytest.Config) -> None:
    """Headless apps under test refresh their screen 10 times a second, not Textual's 60: every
    ``Pilot.pause()`` brings the screen up to date anyway, snapshots draw their own frame, and the
    other 50 frames a second only cost CPU while a replay runs at full speed in an app (about a
    quarter of the UI tests' CPU: 101 s -> 74 s in one process). The screen reads the period when
    it starts its update timer."""
    import textual.screen

    textual.screen.UPDATE_PERIOD = 1 / HEADLESS_FPS  # type: ignore[misc]  # a Final constant, for tests only


SNAPSHOT_TEXTUAL = "8.2.8"
"""The Textual version that drew the committed snapshots (SVGs differ between versions)."""


@pytest.fixture
def snap_compare(snap_compare: Any) -> Any:
    """pytest-textual-snapshot's fixture, failing (never skipping) each snapshot test with the reason
    when this Textual is not the one that drew the snapshots (the test extra pins it: pyproject.toml);
    the rest of the suite still runs."""
    import textual

    if textual.__version__ != SNAPSHOT_TEXTUAL:
        pytest.fail(f"snapshots drawn with Textual {SNAPSHOT_TEXTUAL}, this is {textual.__version__}: "
                    "pip install -e '.[test]' (it pins Textual), or review and run pytest --snapshot-update",
                    pytrace=False)
    return snap_compare


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run the tests marked slow (long end-to-end runs; CI runs them)")


def pytest_report_header(config: pytest.Config) -> str:
    if config.getoption("--slow"):
        return "slow tier: included (--slow)"
    return "slow tier: left out (long end-to-end runs, CI runs them): pytest --slow runs everything"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--slow"):
        slow = [item for item in items if "slow" in item.keywords]
        if slow:
            items[:] = [item for item in items if "slow" not in item.keywords]
            config.hook.pytest_deselected(items=slow)
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"shared data folder not found at {SHARED_DATA}")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never write history or config into the real home directory."""
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("PSOAS_SENSE_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("PSOAS_SENSE_CONFIG_DIR", str(base / "config"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


def lines_sink(append: Callable[[dict[str, Any]], None]) -> Sink:
    """A sink that hands every event on as its JSON line (as headless mode prints them)."""

    def put(ev: SessionEvent) -> None:
        if not isinstance(ev, (HeartRate, BreathingTrace)):  # not part of the printed contract
            append(to_json(ev))

    return CallbackSink(put)


class HistoryCoach:
    """A coach engine whose events also go to a history sink, as in a session (tests drive it by hand):
    the detector's events first, then the coach's, as the session loop hands them on.

    Its methods return what the engine returned plus any error the history reported, as a
    session's output would show them.
    """

    def __init__(self, engine: CoachEngine, **kwargs: Any) -> None:
        self.engine = engine
        self.sink = HistorySink(engine.settings, **kwargs)

    @property
    def finished(self) -> bool:
        return self.engine.finished

    @property
    def session_id(self) -> int | None:
        return self.sink.session_id

    def _pass(self, events: list[Any]) -> list[Any]:
        out: list[Any] = []
        for ev in events:
            out.append(ev)
            self.sink.event(ev)
            if isinstance(ev, SessionEnded):
                self.sink.close()  # as the session loop does at its end: the writer thread finishes
            out.extend(self.sink.take_errors())
        return out

    def start(self, t_s: float) -> list[Any]:
        return self._pass(self.engine.start(t_s))

    def on_events(self, events: Any, t_s: float) -> list[Any]:
        if self.engine.t_start_s is not None and not self.engine.finished:
            for ev in events:
                self.sink.event(ev)
        return self._pass(self.engine.on_events(events, t_s))

    def on_status(self, status: Any) -> list[Any]:
        return self._pass(self.engine.on_status(status))

    def tick(self, t_s: float) -> list[Any]:
        return self._pass(self.engine.tick(t_s))

    def command(self, name: str, t_s: float) -> list[Any]:
        return self._pass(self.engine.command(name, t_s))

    def finish(self, t_s: float) -> list[Any]:
        return self._pass(self.engine.finish(t_s))


class Gate:
    """A replay clock that runs free until data time passes ``hold_at``, then holds all data."""

    def __init__(self, hold_at: float) -> None:
        self.now = 0.0
        self.hold_at = hold_at
        self.release = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.now += s
        if self.now >= self.hold_at:
            await self.release.wait()
        else:
            await asyncio.sleep(0)


STREAM_RATE_HZ = 50.0
"""Rate of :func:`write_resp_csv`'s rows."""


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 64 KiB and a rate read-ahead of 5000 rows, so a few MB stream in many steps
    and the pipeline starts long before the end of the file."""
    monkeypatch.setattr(bounded, "READ_BLOCK_BYTES", 1 << 16)
    monkeypatch.setattr(importers, "RATE_SAMPLES", 5000)


def write_resp_csv(path: Path, rows: int, *, bad_line: int | None = None) -> None:
    """``t,resp`` at 50 Hz: 15 breaths a minute, a slow drift and noise (seeded); ``bad_line``
    (1 = the header) holds a ``nan``."""
    rng = np.random.default_rng(7)
    t = np.arange(rows) / STREAM_RATE_HZ
    y = np.sin(2 * np.pi * 0.25 * t) + 0.3 * np.sin(2 * np.pi * 0.01 * t) + rng.normal(0, 0.05, rows)
    lines = [f"{a:.2f},{b:.4f}" for a, b in zip(t.tolist(), y.tolist(), strict=True)]
    if bad_line is not None:
        lines[bad_line - 2] = f"{t[bad_line - 2]:.2f},nan"  # line 1 is the header
    path.write_text("t,resp\n" + "\n".join(lines) + "\n")
