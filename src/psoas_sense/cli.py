"""Command line: ``psoas-sense [COMMAND] ...``. One function per subcommand.

Errors the user can act on are printed as one line, ``psoas-sense: error: FILE:LINE: reason``,
with exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from psoas_sense import __version__
from psoas_sense.cli_common import run_with_signals, seconds_arg, speed_arg
from psoas_sense.errors import PsoasError

PROG = "psoas-sense"
DEMO_RECORDING = "neurokit2-resting-belt-rr.jsonl.gz"
"""The bundled recording the demo plays."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def recordings_dir() -> Path:
    """Where the bundled recordings are: inside the installed package, or the source tree."""
    here = Path(__file__).resolve().parent
    packaged = here / "_recordings"
    if packaged.is_dir():
        return packaged
    return here.parents[1] / "recordings"


def demo_recording() -> Path:
    path = recordings_dir() / DEMO_RECORDING
    if not path.exists():
        raise PsoasError(f"{path}: bundled demo recording is missing (reinstall psoas-sense)")
    return path


def _printer(stream: Any = None) -> Callable[[dict[str, Any]], None]:
    out = stream or sys.stdout

    def emit(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj, separators=(", ", ": ")) + "\n")
        out.flush()

    return emit


# --------------------------------------------------------------------------- commands


def cmd_detect(args: argparse.Namespace) -> int:
    """Run the online detector over a file as fast as possible; print one JSON line per event."""
    from psoas_sense.dsp.pipeline import Pipeline
    from psoas_sense.model import BreathEvent
    from psoas_sense.recording.importers import load_input
    from psoas_sense.runner import event_to_json

    header, items = load_input(args.input)
    signal_kind = args.signal
    available = set(header.streams)
    if signal_kind != "auto" and signal_kind not in available and not _has_raw(items):
        raise PsoasError(
            f"{args.input}: has no '{signal_kind}' stream (it has: {', '.join(sorted(available)) or 'none'})"
        )
    pipe = Pipeline(signal=signal_kind, streams=header.streams)
    emit = _printer()
    count = 0
    for item in _coalesced(items):
        for ev in pipe.feed(item):
            # the contract: one line per phase change; notices (breath hold, signal loss,
            # predictions) only when asked for
            if isinstance(ev, BreathEvent) or args.notices:
                emit(event_to_json(ev))
                count += 1
    if args.summary:
        print(json.dumps({"event": "summary", "events": count, "decode_errors": pipe.decoder.errors}))
    return 0


COALESCE_S = 60.0
"""``detect`` feeds a single-stream file in chunks of up to this many seconds."""


def _coalesced(items: list[tuple[float, Any]]) -> Any:
    """The items of a file, with runs of frames of one stream merged into longer chunks.

    The pipeline is chunk-invariant (tested: chunks of 1, 7, 64 samples and whole files give
    identical events), so this changes nothing in the output and saves the per-frame overhead
    (1 h of 200 Hz accelerometer: 1.7 s -> 0.6 s). Only files with a single sample stream and no
    raw notifications are merged, so the interleaving of streams is never touched.
    """
    from psoas_sense.model import AccFrame, RespFrame, RRFrame

    kinds = {type(it) for _, it in items}
    frame_kinds = kinds & {RespFrame, AccFrame, RRFrame}
    if len(frame_kinds) != 1 or kinds - frame_kinds:
        yield from (it for _, it in items)
        return
    (cls,) = frame_kinds
    field = {RespFrame: "resp", AccFrame: "acc_mg", RRFrame: "rr_ms"}[cls]
    run: list[Any] = []
    for _, it in items:
        if run and float(it.t_s[-1]) - float(run[0].t_s[0]) > COALESCE_S:
            yield cls(np.concatenate([f.t_s for f in run]), np.concatenate([getattr(f, field) for f in run]))
            run = []
        run.append(it)
    if run:
        yield cls(np.concatenate([f.t_s for f in run]), np.concatenate([getattr(f, field) for f in run]))


def _has_raw(items: list[tuple[float, Any]]) -> bool:
    from psoas_sense.model import Notification

    return any(isinstance(it, Notification) for _, it in items[:200])


def cmd_import(args: argparse.Namespace) -> int:
    """Convert a supported input into a format-v1 recording."""
    from psoas_sense.recording.format import Header, RecordingWriter
    from psoas_sense.recording.importers import load_input

    header, items = load_input(args.input)
    extra = dict(header.extra)
    extra.setdefault("imported_from", Path(args.input).name)
    header = Header(streams=header.streams, device=header.device, recorded_at=header.recorded_at, extra=extra)
    with RecordingWriter(args.output, header) as w:
        for t, item in items:
            w.write(item, t_s=t)
    print(f"{args.output}: {len(items)} items written", file=sys.stderr)
    return 0


async def _stdin_lines() -> AsyncIterator[str]:
    """Lines of standard input, read in a thread so the event loop never blocks."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(x: str | None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, x)
        except RuntimeError:  # loop closed: the session is over
            pass

    def reader() -> None:
        try:
            for line in sys.stdin:
                put(line)
        except (OSError, ValueError):
            pass
        put(None)

    threading.Thread(target=reader, name="stdin-commands", daemon=True).start()
    while True:
        line = await queue.get()
        if line is None:
            return
        yield line


async def _script_lines(lines: list[str]) -> AsyncIterator[str]:
    for line in lines:
        yield line


def _command_source(args: argparse.Namespace, fast: bool) -> AsyncIterator[str] | None:
    if getattr(args, "commands", None):
        try:
            text = Path(args.commands).read_text(encoding="utf-8")
        except OSError as exc:
            raise PsoasError(f"{args.commands}: cannot read commands: {exc.strerror or exc}") from None
        return _script_lines(text.splitlines())
    if sys.stdin is None or sys.stdin.closed:
        return None
    try:
        is_tty = sys.stdin.isatty()
    except (ValueError, OSError):
        return None
    if not is_tty and fast:
        # a script piped into an as-fast-as-possible run: read it all first, so timed
        # commands (@T name) apply at the same data time on every run
        return _script_lines(sys.stdin.read().splitlines())
    return _stdin_lines()


def _make_coach(args: argparse.Namespace, header: Any) -> Any:
    try:
        cli_coach = importlib.import_module("psoas_sense.cli_coach")
    except ModuleNotFoundError as exc:
        if exc.name != "psoas_sense.cli_coach":
            raise
        return None
    return cli_coach.make_coach(args, header)


def _run_async(coro_factory: Callable[[], Any]) -> int:
    return run_with_signals(coro_factory)


def _headless(args: argparse.Namespace, source: Any, coach: Any, record_path: str | None) -> int:
    """Run a session printing JSON lines; commands from stdin (or --commands) when coached."""
    from psoas_sense.runner import run_session

    commands = _command_source(args, fast=args.speed is None) if coach is not None else None
    emit = _printer()

    async def go() -> int:
        await run_session(
            source,
            signal=args.signal,
            emit=emit,
            coach=coach,
            commands=commands,
            duration_s=args.duration,
            record_path=record_path,
        )
        return 0

    return _run_async(go)


def cmd_replay(args: argparse.Namespace) -> int:
    """Play a recording through the live pipeline (and the coach, with --protocol)."""
    from psoas_sense.sources.replay import ReplaySource

    source = ReplaySource(args.file, speed=args.speed, loop=args.loop)
    if not args.headless and _tui_possible():
        return _run_tui(
            args,
            source,
            subtitle=f"replay: {Path(args.file).name}",
        )
    if not args.headless:
        _no_tui_notice()
    # A headless replay runs the coach on recorded breathing: a simulation, nobody is pressing
    # on anything, so the safety check is not asked (the TUI and live sessions always ask).
    args.simulated_safety = True
    coach = _make_coach(args, source.header)
    if args.loop and coach is None and args.duration is None:
        raise PsoasError("--loop needs --protocol or --duration, or it would never end")
    return _headless(args, source, coach, getattr(args, "record", None))


def cmd_session(args: argparse.Namespace) -> int:
    """A live session with a strap, the emulated strap or a phone."""
    devices = importlib.import_module("psoas_sense.sources.devices")

    source = devices.open_device_source(
        args.device, speed=args.speed, acc_rate_hz=args.acc_rate, reconnect_timeout_s=args.reconnect_timeout
    )
    if not args.headless and _tui_possible():
        return _run_tui(
            args,
            source,
            subtitle=f"device: {args.device}",
            record_path=args.record,
        )
    if not args.headless:
        _no_tui_notice()
    coach = _make_coach(args, getattr(source, "header", None))
    return _headless(args, source, coach, args.record)


def _no_tui_notice() -> None:
    print(f"{PROG}: not a terminal: printing JSON lines (as --headless)", file=sys.stderr)


def _tui_possible() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _run_tui(
    args: argparse.Namespace,
    source: Any,
    *,
    subtitle: str,
    record_path: str | None = None,
) -> int:
    """Run the Textual UI on a source; the coach (if any) starts after the safety check."""
    header = getattr(source, "header", None)
    import copy

    from psoas_sense.ui.app import PsoasApp
    from psoas_sense.ui.audio import CuePlayer

    protocol = getattr(args, "protocol", None)
    needs_safety = protocol in ("manual", "tool") and not getattr(args, "confirm_safety", False)

    def make_coach(answer: Any) -> Any:
        ns = copy.copy(args)
        if answer is not None:
            ns.confirm_safety = True
            ns.condition = list(answer.conditions)
            if answer.breathing_only:
                ns.protocol = "breathing"
        return _make_coach(ns, header)

    audio = CuePlayer(enabled=not getattr(args, "mute", False), speak=getattr(args, "speak", False))
    app = PsoasApp(
        lambda: source,
        make_coach=make_coach if protocol else None,
        needs_safety=needs_safety,
        audio=audio,
        signal=getattr(args, "signal", "auto"),
        record_path=record_path,
        subtitle=subtitle,
    )
    audio._bell = app.bell
    rc = app.run()
    audio.close()
    return int(rc or 0)


def cmd_demo(args: argparse.Namespace) -> int:
    """No command: the demo, a guided session on the bundled recording at real pace."""
    from psoas_sense.sources.replay import ReplaySource

    path = demo_recording()
    source = ReplaySource(path, speed=args.speed, loop=True)
    if _tui_possible() and args.speed is not None:
        ns = argparse.Namespace(
            protocol="manual", confirm_safety=False, condition=[], signal="auto",
            speak=args.speak, mute=args.mute,
        )
        _fill_coach_defaults(ns)
        return _run_tui(ns, source, subtitle=f"demo: {path.name}")
    print(
        f"{PROG}: demo: replaying {path.name} at real pace; one JSON line per breath phase. "
        "Ctrl-C to stop. 'psoas-sense --help' lists the commands.",
        file=sys.stderr,
    )
    ns = argparse.Namespace(speed=args.speed, signal="auto", duration=args.duration)
    return _headless(ns, source, None, None)


def _fill_coach_defaults(ns: argparse.Namespace) -> None:
    """Give a hand-made namespace every coach option's default (as the parser would)."""
    cli_coach = _optional_module("psoas_sense.cli_coach")
    if cli_coach is None:
        ns.protocol = None
        return
    probe = argparse.ArgumentParser(add_help=False)
    cli_coach.add_coach_arguments(probe)
    for key, value in vars(probe.parse_args([])).items():
        if not hasattr(ns, key):
            setattr(ns, key, value)


# --------------------------------------------------------------------------- parser


def _optional_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description=(
            "Breathing and hold tracker for guided psoas self-massage. With no command: the demo, "
            "a guided session in the terminal UI on a bundled real recording (no hardware needed; "
            "JSON lines when not run in a terminal)."
        ),
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    p.add_argument("--speed", type=speed_arg, default=1.0, help="demo pace: 1, 4, ... or max (default 1)")
    p.add_argument("--duration", type=seconds_arg, default=None, help="stop the demo after S seconds of data")
    p.add_argument("--mute", action="store_true", help="no sound cues")
    p.add_argument("--speak", action="store_true", help="also speak the cues (needs espeak-ng, espeak or say)")
    p.set_defaults(func=cmd_demo)
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    d = sub.add_parser("detect", help="run the online detector over a file and print events as JSON lines")
    d.add_argument("input", metavar="INPUT", help="recording (.jsonl, .jsonl.gz), generic CSV or supported export")
    d.add_argument("--signal", choices=["auto", "resp", "acc", "rr"], default="auto", help="signal to detect on (default auto)")
    d.add_argument("--summary", action="store_true", help="print a summary line at the end")
    d.add_argument("--notices", action="store_true",
                   help="also print the detector's notices (breath_hold, signal_lost, exhale_expected, ...)")
    d.set_defaults(func=cmd_detect)

    r = sub.add_parser("replay", help="play a recording through the live pipeline")
    r.add_argument("file", metavar="FILE", help="recording (.jsonl, .jsonl.gz) or any file 'detect' reads")
    r.add_argument("--speed", type=speed_arg, default=1.0, help="1 (real pace), 4, ... or max (default 1)")
    r.add_argument("--headless", action="store_true", help="print JSON lines instead of the terminal UI")
    r.add_argument("--loop", action="store_true", help="repeat the recording (for sessions longer than it)")
    r.add_argument("--signal", choices=["auto", "resp", "acc", "rr"], default="auto")
    r.add_argument("--duration", type=seconds_arg, default=None, help="stop after S seconds of data")
    r.add_argument("--commands", metavar="FILE", help="read headless commands from FILE instead of stdin")
    r.add_argument("--mute", action="store_true", help="no sound cues (terminal UI)")
    r.add_argument("--speak", action="store_true", help="also speak the cues (needs espeak-ng, espeak or say)")
    r.set_defaults(func=cmd_replay)

    im = sub.add_parser("import", help="convert a CSV or export into a format-v1 recording")
    im.add_argument("input", metavar="INPUT")
    im.add_argument("-o", "--output", metavar="OUT.jsonl", required=True, help="new recording (.jsonl or .jsonl.gz)")
    im.set_defaults(func=cmd_import)

    devices = _optional_module("psoas_sense.sources.devices")
    if devices is not None:
        s = sub.add_parser(
            "session",
            help="live session with a strap, the emulated strap or a phone",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            description=getattr(devices, "DEVICE_HELP", ""),
        )
        s.add_argument("--device", required=True, metavar="D", help="address, name, emulated:h10 or emulated:hrs (options: see above)")
        s.add_argument("--headless", action="store_true", help="print JSON lines instead of the terminal UI")
        s.add_argument("--speed", type=speed_arg, default=1.0, help="emulated devices only: 1, 4, ... or max")
        s.add_argument("--duration", type=seconds_arg, default=None, help="stop after S seconds")
        s.add_argument("--record", metavar="FILE", default=None, help="record raw traffic to FILE (.jsonl or .jsonl.gz)")
        s.add_argument("--signal", choices=["auto", "resp", "acc", "rr"], default="auto")
        s.add_argument("--acc-rate", type=int, default=200, help="H10 accelerometer rate, Hz (25-200; default 200)")
        s.add_argument("--reconnect-timeout", type=seconds_arg, default=60.0, metavar="S",
                       help="give up after S seconds without a link (default 60)")
        s.add_argument("--commands", metavar="FILE", help="read headless commands from FILE instead of stdin")
        s.add_argument("--mute", action="store_true", help="no sound cues (terminal UI)")
        s.add_argument("--speak", action="store_true", help="also speak the cues (needs espeak-ng, espeak or say)")
        s.set_defaults(func=cmd_session)
        targets = [r, s]
    else:
        targets = [r]

    cli_coach = _optional_module("psoas_sense.cli_coach")
    if cli_coach is not None:
        for t in targets:
            cli_coach.add_coach_arguments(t)
        cli_coach.add_parsers(sub)
    for name in ("psoas_sense.cli_ble", "psoas_sense.cli_eval"):
        mod = _optional_module(name)
        if mod is not None:
            mod.add_parsers(sub)
    return p


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: Any = None, line: str | None = None) -> None:
    """Warnings for the user (a cut last line, ...) as one line, like errors."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if not debug:
        import warnings

        from psoas_sense.recording.format import TruncatedLineWarning

        warnings.showwarning = _one_line_warning
        warnings.simplefilter("always", TruncatedLineWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "protocol"):
        args.protocol = None
    try:
        return int(args.func(args) or 0)
    except PsoasError as exc:
        if debug:
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (e.g. '| head'): not an error
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line, traceback with --debug
        if debug:
            raise
        print(f"{PROG}: error: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 1
