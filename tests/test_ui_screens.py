"""The start, history and help screens, each in a tiny host app: Pilot tests and snapshots.

Snapshots are taken at 60x20, 80x24 and 120x40 with animations off, nothing focused that blinks, and
the time zone pinned, so they show no clock and nothing random.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Collapsible, DataTable, Input, OptionList, RadioButton, Static
from textual.widgets._toggle_button import ToggleButton

from psoas_sense.sources.clock import VirtualClock
from psoas_sense.sources.emulator import EmulatedBleakScanner, EmulatedStrap, parse_emulator_spec
from psoas_sense.store import HistoryStore
from psoas_sense.ui.audio import TONES
from psoas_sense.ui.choices import StartChoice
from psoas_sense.ui.screens.help import KEYS, SOUNDS, HelpScreen
from psoas_sense.ui.screens.history import HistoryScreen, source_words
from psoas_sense.ui.screens.start import PHONE_APPS, RecordingTree, StartScreen, phone_spec
from screen_host import Host
from ui_states import until_true

SIZES = [(60, 20), (80, 24), (120, 40)]
SIZE_IDS = ["60x20", "80x24", "120x40"]
H10_ADDRESS = "EE:A1:D2:C3:00:10"
HRS_ADDRESS = "C0:FF:EE:00:00:01"



def emulated_straps() -> list[EmulatedStrap]:
    clock = VirtualClock(None)
    specs = ("emulated:h10?rssi=-55", "emulated:hrs?rssi=-80")
    return [EmulatedStrap(parse_emulator_spec(spec), clock) for spec in specs]


def start_host(**kw: Any) -> Host:
    kw.setdefault("scanner_backend", EmulatedBleakScanner)
    kw.setdefault("scanner_kwargs", {"devices": emulated_straps()})
    kw.setdefault("scan_round_s", 0.05)
    kw.setdefault("scan_rounds", 2)
    return Host(lambda: StartScreen(**kw))


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for the screens' workers (not a file tree's loader, which runs until it is removed)."""
    workers = [w for w in pilot.app.workers if not isinstance(w.node, RecordingTree)]
    if workers:  # (an empty list would mean every worker)
        await pilot.app.workers.wait_for_complete(workers)
    await pilot.pause()


async def tree_loaded(pilot: Pilot[Any], tree: RecordingTree) -> None:
    """Wait until the file tree shows its first level (its loader is a thread)."""
    await until_true(pilot, lambda: bool(tree.root.children), "the file tree's first level")


def shown(widget: Widget) -> bool:
    """Displayed, and so are all its containers."""
    return all(node.display for node in widget.ancestors_with_self if isinstance(node, Widget))


def cut_off(screen: Screen[Any]) -> list[str]:
    """Widgets whose text does not fit the room they are given, or that stick out of the screen."""
    bad: list[str] = []
    width = screen.size.width
    for w in screen.query("*"):
        if not shown(w):
            continue
        if w.is_scrollable and w.max_scroll_x > 0:
            bad.append(f"{w!r} scrolls sideways by {w.max_scroll_x}")
        if w.region and (w.region.x < 0 or w.region.right > width):
            bad.append(f"{w!r} sticks out: {w.region}")
        if isinstance(w, Static) and w.content_size.width > 0:
            size = w.content_size
            need_h = w.get_content_height(w.container_size, screen.size, size.width)
            if need_h > size.height:
                bad.append(f"{w!r} needs {need_h} rows, has {size.height}")
            if isinstance(w, ToggleButton) or w.styles.text_wrap == "nowrap":
                need_w = w.get_content_width(w.container_size, screen.size)
                if need_w > size.width:
                    bad.append(f"{w!r} needs {need_w} columns, has {size.width}")
        if isinstance(w, Button) and len(str(w.label)) > w.content_size.width:
            bad.append(f"{w!r} label cut to {w.content_size.width}")
    return bad


# ---------------------------------------------------------------------------- start screen


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_demo_is_focused_and_enter_starts_it(size: tuple[int, int]) -> None:
    app = start_host()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert app.focused is not None and app.focused.id == "demo"
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [StartChoice("demo", protocol="manual")]


async def test_the_protocol_goes_with_every_choice() -> None:
    app = start_host(protocol="tool")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#protocol-tool", RadioButton).value
        app.screen.query_one("#protocol-breathing", RadioButton).value = True
        await pilot.press("e")
        await pilot.pause()
    assert app.results == [StartChoice("emulated", device="emulated:h10", protocol="breathing")]


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_a_scan_lists_the_emulated_straps_and_picks_one(size: tuple[int, int]) -> None:
    app = start_host()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await settle(pilot)
        straps = app.screen.query_one("#straps", OptionList)
        prompts = [str(straps.get_option_at_index(i).prompt) for i in range(straps.option_count)]
        assert len(prompts) == 2, prompts
        h10, hrs = prompts  # strongest first
        assert "Polar H10 E4A1D2C3" in h10 and "accelerometer" in h10 and "-55 dBm" in h10
        assert "HRM-Dual 12345" in hrs and "heart rate" in hrs and "accelerometer" not in hrs and "weak" in hrs
        assert "2 straps found" in str(app.screen.query_one("#scan-status", Static).render())
        assert not cut_off(app.screen)
        await pilot.press("s")  # a new scan starts a new list
        await settle(pilot)
        assert straps.option_count == 2
        assert app.focused is straps and straps.highlighted == 0
        await pilot.press("down", "enter")
        await pilot.pause()
    assert app.results == [StartChoice("strap", device=HRS_ADDRESS, protocol="manual")]


async def test_straps_are_listed_while_the_scan_goes_on_and_choosing_stops_it() -> None:
    app = start_host(scan_round_s=0.05, scan_rounds=2000)  # 100 s of scanning, ended by the choice
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        straps = app.screen.query_one("#straps", OptionList)
        await until_true(pilot, lambda: straps.option_count == 2, "both straps listed")
        assert str(app.screen.query_one("#scan-status", Static).render()).startswith("Scanning")
        assert app.focused is straps  # the list takes the focus when it first fills
        scans = [w for w in app.workers if w.group == "scan"]
        await pilot.press("enter")
        await until_true(pilot, lambda: bool(app.results), "the choice")
        assert app.results and all(w.is_cancelled for w in scans), [(w, w.state) for w in scans]
    assert app.results == [StartChoice("strap", device=H10_ADDRESS, protocol="manual")]


async def test_a_scan_that_finds_nothing_says_what_to_do() -> None:
    app = start_host(scanner_kwargs={"devices": []})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        assert "No strap found" in str(app.screen.query_one("#scan-status", Static).render())
        assert not app.screen.query_one("#straps", OptionList).display
    assert app.results == []


@pytest.mark.parametrize(
    ("app_key", "typed", "spec"),
    [("phyphox", "desk.home:8080", "phyphox:desk.home:8080"), ("sensorlogger", None, "sensorlogger:0.0.0.0:8000"),
     ("udp", "5556", "udp:0.0.0.0:5556")],
)
async def test_a_phone_returns_its_device_spec(app_key: str, typed: str | None, spec: str) -> None:
    app = start_host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#phone-section", Collapsible).collapsed = False
        screen.query_one(f"#phone-{app_key}", RadioButton).value = True
        await pilot.pause()
        setup = str(screen.query_one("#phone-setup", Static).render())
        assert setup == next(a[2] for a in PHONE_APPS if a[0] == app_key)
        address = screen.query_one("#phone-address", Input)
        address.focus()
        if typed is not None:
            address.value = ""
            await pilot.press(*typed)  # letters such as d, e, s, r go into the field, not to the bindings
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [StartChoice("phone", device=spec, protocol="manual")]


async def test_a_bad_phone_port_is_explained_not_taken() -> None:
    app = start_host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#phone-section", Collapsible).collapsed = False
        screen.query_one("#phone-udp", RadioButton).value = True
        await pilot.pause()
        screen.query_one("#phone-address", Input).value = "port"
        screen.query_one("#phone-go", Button).press()
        await pilot.pause()
        assert "port number" in str(screen.query_one("#phone-error", Static).render())
    assert app.results == []
    assert phone_spec("sensorlogger", " 8001 ") == "sensorlogger:0.0.0.0:8001"
    with pytest.raises(ValueError):
        phone_spec("phyphox", "  ")


async def test_the_file_picker_shows_recordings_and_returns_one(tmp_path: Path) -> None:
    (tmp_path / "morning.jsonl").write_text("{}\n")
    (tmp_path / "old.jsonl.gz").write_bytes(b"")
    (tmp_path / "photo.png").write_bytes(b"")
    (tmp_path / "more").mkdir()
    app = start_host(recordings_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await settle(pilot)
        tree = app.screen.query_one(RecordingTree)
        await tree_loaded(pilot, tree)
        assert app.focused is tree
        names = sorted(str(node.label) for node in tree.root.children)
        assert names == ["more", "morning.jsonl", "old.jsonl.gz"]
        node = next(n for n in tree.root.children if str(n.label) == "morning.jsonl")
        tree.move_cursor(node)
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [StartChoice("recording", file=tmp_path / "morning.jsonl", protocol="manual")]


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_nothing_on_the_start_screen_is_cut_off(size: tuple[int, int], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the recording picker's root is labelled with the folder as given: a short one, so the check
    # is the same whatever pytest's temporary folder is called; a recording in it, so the tree's
    # first level appears and the check runs on the drawn tree, never on a half-loaded one
    (tmp_path / "recordings").mkdir()
    (tmp_path / "recordings" / "morning.jsonl").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    app = start_host(recordings_dir=Path("recordings"))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert not cut_off(app.screen)
        for section in app.screen.query(Collapsible):
            section.collapsed = False
        await settle(pilot)
        await tree_loaded(pilot, app.screen.query_one(RecordingTree))
        assert not cut_off(app.screen)


async def test_the_cut_off_check_finds_a_label_that_does_not_fit() -> None:
    app = start_host()
    async with app.run_test(size=(80, 24)) as pilot:
        button = app.screen.query_one("#protocol-manual", RadioButton)
        button.label = "Massage " * 12
        await pilot.pause()
        assert cut_off(app.screen)


def test_the_screens_import_no_signal_stack_and_no_bluetooth() -> None:
    code = (
        "import sys\n"
        "import psoas_sense.ui.screens.start, psoas_sense.ui.screens.history, psoas_sense.ui.screens.help\n"
        "print(sorted({'numpy', 'scipy', 'bleak'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- history screen


@pytest.fixture
def time_zone() -> Iterator[Callable[[str], None]]:
    """Sets the local time zone for one test (``TZ``), and puts it back after."""
    with pytest.MonkeyPatch.context() as mp:

        def set_zone(name: str) -> None:
            mp.setenv("TZ", name)
            time.tzset()

        yield set_zone
    time.tzset()


def make_history(path: Path) -> list[int]:
    with HistoryStore(path) as store:
        first = store.begin_session(
            started_at="2026-01-01T10:00:00+00:00", protocol="manual", practised="breathing", safety="conditions",
            settings={}, source={"kind": "session", "device": {"name": "Polar H10 E4A1D2C3"}}, t_start=0.0,
        )
        second = store.begin_session(
            started_at="2026-06-01T10:00:00", protocol="tool", practised="tool", safety="ok",
            settings={}, source={"file": "/recordings/evening.jsonl.gz"}, t_start=5.0,
        )
        store.db.execute("UPDATE sessions SET t_last = 190.0, t_end = 190.0, ended_by = 'pain' WHERE id = ?", (second,))
    return [first, second]


async def test_history_lists_sessions_in_local_time_and_enter_opens_one(tmp_path: Path, time_zone: Any) -> None:
    time_zone("Europe/Paris")
    first, second = make_history(tmp_path / "history.sqlite3")
    app = Host(lambda: HistoryScreen(tmp_path / "history.sqlite3"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#history-table", DataTable)
        rows = [table.get_row(str(i)) for i in (second, first)]
        assert rows[0] == ["2026-06-01 12:00", "file", "tool", "3:05", "0", "pain stop", "evening.jsonl.gz"]
        assert rows[1] == ["2026-01-01 11:00", "session", "manual → breathing", "0:00", "0", "interrupted",
                           "Polar H10 E4A1D2C3"]
        assert app.focused is table
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [second]


@pytest.mark.parametrize("key", ["escape", "b"])
async def test_history_goes_back_with_nothing(tmp_path: Path, key: str) -> None:
    app = Host(lambda: HistoryScreen(tmp_path / "none.sqlite3"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "No sessions saved yet" in str(app.screen.query_one("#history-note", Static).render())
        assert not app.screen.query_one("#history-table", DataTable).display
        await pilot.press(key)
        await pilot.pause()
    assert app.results == [None]


def test_source_words() -> None:
    assert source_words({"kind": "demo", "file": "/x/demo.jsonl.gz"}) == ("demo", "demo.jsonl.gz")
    assert source_words({"device": "emulated:h10"}) == ("device", "emulated:h10")
    assert source_words({"device": {"address": "AA:BB"}, "kind": "session"}) == ("session", "AA:BB")
    assert source_words({}) == ("?", "")


# ---------------------------------------------------------------------------- help screen


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
async def test_help_lists_every_key_and_sound_and_any_key_closes_it(size: tuple[int, int]) -> None:
    app = Host(HelpScreen)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        text = "\n".join(str(s.render()) for s in app.screen.query(Static))
        for key in ("p or Esc", "space", "n", "m", "?", "q", "h", "Esc"):
            assert key in [k for k, _ in KEYS] and key in text
        assert "PAIN" in text and "outside a session: back" in text
        for _name, sound, meaning in SOUNDS:
            assert sound in text and meaning in text
        assert not cut_off(app.screen)  # nothing cut sideways (a short terminal scrolls it with the arrows)
        await pilot.press("x")
        await pilot.pause()
    assert app.results == [None]


def test_help_describes_every_tone() -> None:
    assert [name for name, _, _ in SOUNDS] == list(TONES)


# ---------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_snapshot_start(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    assert snap_compare(start_host(recordings_dir=tmp_path), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_snapshot_history(snap_compare: Any, size: tuple[int, int], tmp_path: Path, time_zone: Any) -> None:
    time_zone("UTC")
    make_history(tmp_path / "history.sqlite3")
    app = Host(lambda: HistoryScreen(tmp_path / "history.sqlite3"))
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_snapshot_help(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(Host(HelpScreen), terminal_size=size, run_before=settle)
