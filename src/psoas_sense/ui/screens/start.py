"""The start screen: what to practise, and what follows the breathing (demo, strap, phone, file).

The demo button has the focus, so Enter starts the demo. Everything else sits in sections that
open on demand, so the screen reads at 80x24 and spreads into two columns on a wide terminal.
Importing this module loads no signal processing and no Bluetooth: the scan imports
:mod:`psoas_sense.sources.ble` (NumPy, bleak) in a thread the first time it runs.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Collapsible, DirectoryTree, Input, OptionList, RadioSet, Static
from textual.widgets.option_list import Option

from psoas_sense.session.choices import StartChoice
from psoas_sense.ui.keybar import KeyBar, KeyHint
from psoas_sense.ui.screens.modals import ChoiceButton

if TYPE_CHECKING:
    from psoas_sense.sources.ble import FoundDevice

PROTOCOLS: tuple[tuple[str, str], ...] = (
    ("manual", "Massage with my fingers"),
    ("tool", "Massage lying on a tool (a ball or a psoas tool)"),
    ("breathing", "Breathing practice only (no massage)"),
)
"""The protocols offered, in order: (``StartChoice.protocol``, label)."""

PHONE_APPS: tuple[tuple[str, str, str, str, str], ...] = (
    ("phyphox", "phyphox", "Enable remote access in phyphox and type the address it shows",
     "e.g. 192.168.1.20:8080", ""),
    ("sensorlogger", "Sensor Logger",
     "Settings > Data Streaming > HTTP Push to http://THIS-COMPUTER:8000/?token=TOKEN (shown at the start)",
     "Port to listen on", "8000"),
    ("udp", "UDP (HyperIMU and others)", "send lines TOKEN,t,ax,ay,az to port 5555 (TOKEN shown at the start)",
     "Port to listen on", "5555"),
)
"""Phone apps: (spec prefix, label, one-line set-up, input placeholder, default value)."""

RECORDING_SUFFIXES = (".jsonl", ".jsonl.gz", ".csv", ".txt")
"""Files the recording picker offers."""
SCAN_ROUND_S = 2.0
"""Length of one scan round; the list fills in after each."""
SCAN_ROUNDS = 5
"""Scan rounds per scan (about 10 s in all)."""
STREAM_WORDS = {"hr": "heart rate", "rr": "beat intervals", "acc": "accelerometer", "force": "breathing belt force",
                "device_rate": "the belt's breathing rate"}
"""What a strap streams, in words."""
TALL_AT = (120, 40)
"""From this size (columns, rows) the strap and phone sections start open."""
ROOMY_AT = (160, 50)
"""From this size (columns, rows) the recording section starts open too."""
KEYS_NOTE = ("In a session: p or Escape stops everything at once (pain); ? lists every key and sound. "
             "h: past sessions.")
"""The one thing to know before lying down (and where the past sessions are)."""
START_KEYS: tuple[KeyHint, ...] = (
    ("Enter", "start the demo", "demo"), ("h", "past sessions", "history"), ("?", "help", "help"),
    ("q", "leave", "leave"), ("s", "scan straps", "scan"), ("e", "emulated strap", "emulated"),
    ("r", "a recording", "file"),
)
"""The start screen's keys, most needed first."""
STRAP_SETUP = "Wear the strap and wet the electrodes; straps appear here as they are found."
"""What to do before scanning."""
RECORDING_SETUP = "Pick a .jsonl, .jsonl.gz, .csv or .txt file: arrows move, Enter chooses."
"""How to use the file picker."""
NO_STRAP = (
    "No strap found. Wear the strap (it sleeps off the skin), wet the electrodes, "
    "and make sure no phone app holds it; then scan again."
)
"""What a scan that found nothing says."""


def strap_prompt(device: FoundDevice) -> str:
    """One strap as the list shows it: name, signal strength in words and dBm, what it streams."""
    rssi = device.rssi
    if rssi is None:
        signal = "signal unknown"
    else:
        word = "strong" if rssi >= -60 else "fair" if rssi >= -75 else "weak"
        signal = f"{word} signal ({rssi} dBm)"
    streams = ", ".join(STREAM_WORDS.get(s, s) for s in device.streams) or "nothing known"
    return f"{device.name or '(no name)'}  {signal}\n  streams {streams}\n  {device.address}"


def phone_spec(app: str, text: str) -> str:
    """The ``--device`` spec for a phone app and what was typed.

    Raises:
        ValueError: the text is not an address (phyphox) or a port number (the others), in words.
    """
    text = text.strip()
    if app == "phyphox":
        if not text or any(c.isspace() for c in text):
            raise ValueError("Type the address phyphox shows, e.g. 192.168.1.20:8080")
        return f"phyphox:{text}"
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError("Type a port number between 1 and 65535, e.g. 8000")
    # the phone is on the network, not on this computer: listen there, behind a session token
    # (shown on screen when the session starts)
    return f"{app}:0.0.0.0:{int(text)}"


class RecordingTree(DirectoryTree):
    """A directory tree showing folders and recordings only (no hidden files)."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        """Keep folders and files ending in one of :data:`RECORDING_SUFFIXES`."""
        for path in paths:
            if path.name.startswith("."):
                continue
            if path.name.lower().endswith(RECORDING_SUFFIXES) or path.is_dir():
                yield path


class StartScreen(Screen[StartChoice]):
    """What to practise and what to run on; dismisses with a :class:`StartChoice`.

    Args:
        protocol: the protocol selected at first (``manual``, ``tool`` or ``breathing``).
        recordings_dir: where the recording picker starts (default: the current directory).
        scanner_backend: bleak scanner backend for the strap scan (None: the system's radio).
        scanner_kwargs: passed on to the scanner (the emulated scanner's ``devices``).
        scan_round_s: length of one scan round.
        scan_rounds: rounds per scan.
    """

    AUTO_FOCUS = "#demo"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (TALL_AT[0], "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "demo", "Demo"),
        Binding("s", "scan", "Scan straps"),
        Binding("e", "emulated", "Emulated strap"),
        Binding("b", "emulated_belt", "Emulated belt", show=False),
        Binding("r", "recording", "Recording"),
        Binding("h", "app.history", "Past sessions"),
    ]
    DEFAULT_CSS = """
    StartScreen #start-columns { height: 1fr; }
    StartScreen.-wide #start-columns { layout: horizontal; }
    StartScreen .column { height: auto; padding: 0 1; }
    StartScreen.-wide .column { width: 1fr; height: 100%; }
    StartScreen .title { text-style: bold; color: $text-primary; }
    StartScreen .question { text-style: bold; margin-top: 1; }
    StartScreen RadioSet { width: 100%; }
    StartScreen .row { height: auto; }
    StartScreen .row Button { width: auto; min-width: 12; }
    StartScreen .choice Button { width: 26; }
    StartScreen .hint { width: 1fr; padding: 0 1; }
    StartScreen .choice .hint { min-height: 3; content-align: left middle; }
    StartScreen .keys-note { margin-top: 1; text-style: bold; }
    StartScreen #sound-note { color: $text-muted; }
    StartScreen Collapsible.-collapsed { padding-bottom: 0; }
    StartScreen Collapsible Contents { padding: 0 0 0 2; }
    StartScreen #scan-status { width: 1fr; padding: 1 1 0 1; }
    StartScreen #straps { height: auto; max-height: 12; }
    StartScreen #phone-address { width: 1fr; }
    StartScreen #phone-error { color: $text-error; }
    StartScreen RecordingTree { height: 16; }
    """

    def __init__(
        self,
        *,
        protocol: str = "manual",
        recordings_dir: Path | None = None,
        scanner_backend: type | None = None,
        scanner_kwargs: Mapping[str, Any] | None = None,
        scan_round_s: float = SCAN_ROUND_S,
        scan_rounds: int = SCAN_ROUNDS,
    ) -> None:
        super().__init__()
        self._initial_protocol = protocol if protocol in dict(PROTOCOLS) else "manual"
        self._recordings_dir = recordings_dir
        self._scanner_backend = scanner_backend
        self._scanner_kwargs = dict(scanner_kwargs) if scanner_kwargs is not None else None
        self._scan_round_s = scan_round_s
        self._scan_rounds = scan_rounds
        self._found: dict[str, FoundDevice] = {}

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="start-columns"):
            with VerticalScroll(id="start-main", classes="column"):
                yield Static("psoas-sense: psoas release, paced by your breathing", classes="title")
                yield Static("What will you practise today?", classes="question")
                with RadioSet(id="protocol", compact=True):
                    for key, label in PROTOCOLS:
                        yield ChoiceButton(label, value=key == self._initial_protocol, id=f"protocol-{key}")
                yield Static("What will follow your breathing?", classes="question")
                with Horizontal(classes="row choice"):
                    yield Button("Start the demo", id="demo", variant="primary")
                    yield Static("A recorded session plays back, no strap needed. Enter starts it.", classes="hint")
                with Horizontal(classes="row choice"):
                    yield Button("Emulated strap", id="emulated")
                    yield Static("A pretend Polar H10 on this computer, to try everything out.", classes="hint")
                yield Static(KEYS_NOTE, classes="keys-note")
                notice = str(getattr(self.app, "sound_notice", "") or "")
                if notice:
                    yield Static(f"Sound: {notice}", id="sound-note")
            with VerticalScroll(id="start-sources", classes="column"):
                with Collapsible(title="A chest strap (Bluetooth)", id="strap-section"):
                    yield Static(STRAP_SETUP, classes="hint")
                    with Horizontal(classes="row"):
                        yield Button("Scan", id="scan")
                        yield Static("Not scanned yet.", id="scan-status")
                    yield OptionList(id="straps")
                with Collapsible(title="A phone on your belly", id="phone-section"):
                    with RadioSet(id="phone-app", compact=True):
                        for i, (key, label, *_rest) in enumerate(PHONE_APPS):
                            yield ChoiceButton(label, value=i == 0, id=f"phone-{key}")
                    yield Static(PHONE_APPS[0][2], id="phone-setup", classes="hint")
                    with Horizontal(classes="row"):
                        yield Input(PHONE_APPS[0][4], placeholder=PHONE_APPS[0][3], id="phone-address")
                        yield Button("Connect", id="phone-go")
                    yield Static("", id="phone-error")
                with Collapsible(title="A recording (a file)", id="recording-section"):
                    yield Static(RECORDING_SETUP, classes="hint")
        yield KeyBar(START_KEYS, id="keys")

    def on_mount(self) -> None:
        """Open the sections there is room for."""
        self.query_one("#straps", OptionList).display = False
        width, height = self.app.size
        sections = ["#strap-section", "#phone-section"] if width >= TALL_AT[0] and height >= TALL_AT[1] else []
        if width >= ROOMY_AT[0] and height >= ROOMY_AT[1]:
            sections.append("#recording-section")
        for section in sections:
            self.query_one(section, Collapsible).collapsed = False

    # ------------------------------------------------------------------ choices

    @property
    def protocol(self) -> str:
        """The protocol selected now."""
        index = self.query_one("#protocol", RadioSet).pressed_index
        return PROTOCOLS[index][0] if 0 <= index < len(PROTOCOLS) else self._initial_protocol

    def _choose(self, kind: str, *, device: str | None = None, file: Path | None = None) -> None:
        self.workers.cancel_group(self, "scan")
        self.dismiss(StartChoice(kind, device=device, file=file, protocol=self.protocol))

    @on(Button.Pressed, "#demo")
    def action_demo(self) -> None:
        """Start the demo."""
        self._choose("demo")

    @on(Button.Pressed, "#emulated")
    def action_emulated(self) -> None:
        """Run on the emulated strap."""
        self._choose("emulated", device="emulated:h10")

    def action_emulated_belt(self) -> None:
        """Run on the emulated breathing belt (Vernier GDX-RB)."""
        self._choose("emulated", device="emulated:gdx-rb")

    @on(OptionList.OptionSelected, "#straps")
    def on_strap_selected(self, event: OptionList.OptionSelected) -> None:
        """Run on the strap picked from the list."""
        if event.option.id is not None:
            self._choose("strap", device=event.option.id)

    @on(DirectoryTree.FileSelected)
    def on_recording_selected(self, event: DirectoryTree.FileSelected) -> None:
        """Replay the recording picked in the file tree."""
        if event.path.name.lower().endswith(RECORDING_SUFFIXES):
            self._choose("recording", file=event.path)

    # ------------------------------------------------------------------ phone

    def _phone_app(self) -> tuple[str, str, str, str, str]:
        index = self.query_one("#phone-app", RadioSet).pressed_index
        return PHONE_APPS[max(index, 0)]

    @on(RadioSet.Changed, "#phone-app")
    def on_phone_app_changed(self) -> None:
        """Show the set-up of the phone app picked, with its default port."""
        _key, _label, setup, placeholder, default = self._phone_app()
        self.query_one("#phone-setup", Static).update(setup)
        address = self.query_one("#phone-address", Input)
        address.placeholder = placeholder
        if address.value.strip() in {app[4] for app in PHONE_APPS}:
            address.value = default
        self.query_one("#phone-error", Static).update("")

    @on(Button.Pressed, "#phone-go")
    @on(Input.Submitted, "#phone-address")
    def on_phone_connect(self) -> None:
        """Run on the phone, or say what is wrong with the address."""
        key = self._phone_app()[0]
        try:
            spec = phone_spec(key, self.query_one("#phone-address", Input).value)
        except ValueError as exc:
            self.query_one("#phone-error", Static).update(str(exc))
            return
        self._choose("phone", device=spec)

    # ------------------------------------------------------------------ recording

    @on(Collapsible.Expanded, "#recording-section")
    def on_recording_expanded(self) -> None:
        """Build the file tree the first time the section opens (it reads the disk)."""
        self._recording_tree()

    def _recording_tree(self) -> RecordingTree:
        section = self.query_one("#recording-section", Collapsible)
        for tree in section.query(RecordingTree):
            return tree
        directory = self._recordings_dir if self._recordings_dir is not None else Path.cwd()
        tree = RecordingTree(directory, id="recordings")
        section.query_one(Collapsible.Contents).mount(tree)
        return tree

    def action_recording(self) -> None:
        """Open the recording section and move to the file tree."""
        self.query_one("#recording-section", Collapsible).collapsed = False
        tree = self._recording_tree()
        tree.focus(scroll_visible=False)
        self.call_after_refresh(tree.scroll_visible)

    # ------------------------------------------------------------------ strap scan

    @on(Button.Pressed, "#scan")
    def action_scan(self) -> None:
        """Open the strap section and scan for straps."""
        self.query_one("#strap-section", Collapsible).collapsed = False
        self._scan()

    @work(exclusive=True, group="scan")
    async def _scan(self) -> None:
        """Scan in rounds, adding straps to the list as they are found."""
        status = self.query_one("#scan-status", Static)
        status.update("Scanning for straps...")
        self._found.clear()  # a new scan lists only the straps still there
        straps = self.query_one("#straps", OptionList)
        straps.clear_options()
        straps.display = False
        try:
            ble: Any = await asyncio.to_thread(importlib.import_module, "psoas_sense.sources.ble")
            for _ in range(self._scan_rounds):
                found = await ble.scan(
                    self._scan_round_s, scanner_backend=self._scanner_backend, scanner_kwargs=self._scanner_kwargs
                )
                self._show_straps(found)
                status.update(f"Scanning... {self._found_words()}")
        except ImportError as exc:
            status.update(f"Bluetooth is not available here: {exc}")
        except Exception as exc:  # noqa: BLE001 - a PsoasError with advice, or anything else in words
            status.update(str(exc) or type(exc).__name__)
        else:
            status.update(f"{self._found_words()} Pick one and press Enter." if self._found else NO_STRAP)

    def _found_words(self) -> str:
        n = len(self._found)
        return "1 strap found." if n == 1 else f"{n} straps found."

    def _show_straps(self, found: list[FoundDevice]) -> None:
        straps = self.query_one("#straps", OptionList)
        for device in found:
            if device.address in self._found:
                straps.replace_option_prompt(device.address, strap_prompt(device))
            else:
                straps.add_option(Option(strap_prompt(device), id=device.address))
            self._found[device.address] = device
        if self._found and straps.highlighted is None:
            straps.highlighted = 0  # Enter picks the strongest at once
        if self._found and not straps.display:
            straps.display = True
            if not isinstance(self.focused, Input):  # the scan was asked for: go to its list, unless typing
                straps.focus(scroll_visible=False)
            self.call_after_refresh(straps.scroll_visible)  # once it has its size
