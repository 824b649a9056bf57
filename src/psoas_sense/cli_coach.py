"""The coach on the command line: options of ``session``/``replay``, history, ``history`` and ``report``.

Edge code: it reads the config files and the wall clock (for the session's start date only),
and writes the history database. The coach itself (:mod:`psoas_sense.coach`) stays pure.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from psoas_sense.coach import CONDITIONS, CoachEngine, SafetyCheck
from psoas_sense.coach.settings import FIELD_TYPES, PROTOCOLS, SIDES
from psoas_sense.config import ConfigError, load_settings
from psoas_sense.errors import PsoasError
from psoas_sense.model import CoreEvent, Status

COMMIT_EVENTS = frozenset({"hold_end", "side_end", "pain_stop", "session_end"})
"""Coach lines after which the history is committed at once."""


# --------------------------------------------------------------------------- options


def _pace(text: str) -> tuple[float, float, float, float]:
    parts = text.split(":")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--pace wants IN:OUT or IN:HOLD:OUT:HOLD seconds, got {text!r}") from None
    if len(nums) == 2:
        return nums[0], 0.0, nums[1], 0.0
    if len(nums) == 4:
        return nums[0], nums[1], nums[2], nums[3]
    raise argparse.ArgumentTypeError(f"--pace wants IN:OUT or IN:HOLD:OUT:HOLD seconds, got {text!r}")


def add_coach_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the coach options to ``session`` or ``replay``."""
    g = parser.add_argument_group("coach")
    g.add_argument("--protocol", choices=PROTOCOLS, default=None,
                   help="coach a session: manual (fingers), tool (face down on a tool) or breathing (paced)")
    g.add_argument("--confirm-safety", action="store_true",
                   help="none of the safety-check conditions apply to me (pregnancy, recent abdominal surgery, "
                        "inflammation or acute injury, blood clots, aneurysm, kidney or gallbladder disease); "
                        "without it massage protocols offer breathing practice only")
    g.add_argument("--condition", action="append", default=[], choices=sorted(CONDITIONS), metavar="NAME",
                   help="a safety-check condition that applies to me (repeatable; massage is then replaced by "
                        f"breathing practice): {', '.join(CONDITIONS)}")
    g.add_argument("--side-minutes", type=float, default=None, metavar="M", help="minutes per side (default 3)")
    g.add_argument("--hold-seconds", type=float, default=None, metavar="S",
                   help="length of a static hold, 30-60 (default 45; tool holds default 150)")
    g.add_argument("--first-side", choices=SIDES, default=None, help="side to start with (default left)")
    g.add_argument("--breathing-minutes", type=float, default=None, metavar="M",
                   help="length of breathing practice (default 5)")
    g.add_argument("--pace", type=_pace, default=None, metavar="IN:OUT",
                   help="paced breathing rhythm, seconds: IN:OUT or IN:HOLD:OUT:HOLD (default 4:6)")
    g.add_argument("--preset", default=None, metavar="NAME",
                   help="a named preset (built in: manual gentle|long, tool long, breathing calm|even|slow|box; "
                        "or [presets.NAME] in your coach.toml)")
    g.add_argument("--config", default=None, metavar="FILE",
                   help="coach settings file (default: coach.toml in the config directory)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="coach_set",
                   help="override one coach setting, e.g. --set side_warning_s=20 (repeatable)")
    g.add_argument("--no-history", action="store_true", help="do not save this session in the history")


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: use KEY=VALUE")
        if key not in FIELD_TYPES:
            raise ConfigError(f"--set: {key}: unknown setting")
        if FIELD_TYPES[key] is str:
            out[key] = raw.strip()
            continue
        try:
            out[key] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            raise ConfigError(f"--set: {key}: not a value: {raw!r}") from None
    return out


def _signal_kind(args: argparse.Namespace, header: Any) -> str:
    chosen = getattr(args, "signal", "auto") or "auto"
    if chosen != "auto":
        return str(chosen)
    streams = getattr(header, "streams", None) or {}
    for kind in ("resp", "acc", "rr"):
        if kind in streams:
            return kind
    return ""


def make_coach(args: argparse.Namespace, header: Any) -> HistoryCoach | CoachEngine | None:
    """The coach asked for by the options (None without ``--protocol``), saving history as it goes."""
    protocol = getattr(args, "protocol", None)
    if protocol is None:
        return None
    overrides: dict[str, Any] = {}
    for opt, key in (("side_minutes", "side_minutes"), ("hold_seconds", "hold_s"),
                     ("first_side", "first_side"), ("breathing_minutes", "breathing_minutes")):
        v = getattr(args, opt, None)
        if v is not None:
            overrides[key] = v
    pace = getattr(args, "pace", None)
    if pace is not None:
        overrides.update(zip(("pacer_inhale_s", "pacer_hold_in_s", "pacer_exhale_s", "pacer_hold_out_s"), pace))
    overrides.update(_parse_set(getattr(args, "coach_set", []) or []))
    config = getattr(args, "config", None)
    settings = load_settings(
        protocol,
        preset=getattr(args, "preset", None),
        config_file=Path(config) if config else None,
        overrides=overrides,
    )
    conditions = list(getattr(args, "condition", []) or [])
    if getattr(args, "confirm_safety", False) or conditions:
        safety = SafetyCheck.answered(conditions)
    elif getattr(args, "simulated_safety", False):
        # a headless replay of a recording: a simulation, nobody is pressing on anything
        safety = SafetyCheck(confirmed=True, simulated=True)
    else:
        safety = SafetyCheck()
    engine = CoachEngine(settings, safety, signal=_signal_kind(args, header))
    if getattr(args, "no_history", False):
        return engine
    source: dict[str, Any] = {}
    for attr in ("file", "device"):
        v = getattr(args, attr, None)
        if v:
            source[attr] = str(v)
    if header is not None:
        source["device"] = dict(getattr(header, "device", {}) or {}) or source.get("device", "")
        source["recorded_at"] = getattr(header, "recorded_at", "")
        source["streams"] = sorted((getattr(header, "streams", None) or {}).keys())
    if getattr(args, "loop", False):
        source["loop"] = True
    return HistoryCoach(engine, source=source)


# --------------------------------------------------------------------------- history wrapper


class HistoryCoach:
    """A coach engine whose session is written to the history as it goes.

    A session row is written at start; every completed hold, side and pain stop is committed
    at once with the breaths and lines since the previous commit. If the history cannot be
    written, the session goes on and one ``error`` line says so.
    """

    def __init__(
        self,
        engine: CoachEngine,
        *,
        source: dict[str, Any] | None = None,
        store_path: str | Path | None = None,
        started_at: str | None = None,
    ) -> None:
        self.engine = engine
        self.source = source or {}
        self.store_path = store_path
        self.started_at = started_at
        self.session_id: int | None = None
        self._store: Any = None
        self._disabled = False
        self._n = {"holds": 0, "sides": 0, "pain_stops": 0, "breaths": 0}
        self._pending: list[dict[str, Any]] = []

    @property
    def finished(self) -> bool:
        return self.engine.finished

    def start(self, t_s: float) -> list[dict[str, Any]]:
        return self._after(self.engine.start(t_s))

    def on_events(self, events: Sequence[CoreEvent], t_s: float) -> list[dict[str, Any]]:
        return self._after(self.engine.on_events(events, t_s))

    def on_status(self, status: Status) -> list[dict[str, Any]]:
        return self._after(self.engine.on_status(status))

    def tick(self, t_s: float) -> list[dict[str, Any]]:
        return self._after(self.engine.tick(t_s))

    def command(self, name: str, t_s: float) -> list[dict[str, Any]]:
        return self._after(self.engine.command(name, t_s))

    def finish(self, t_s: float) -> list[dict[str, Any]]:
        return self._after(self.engine.finish(t_s))

    def _open(self, t_s: float, lines: list[dict[str, Any]]) -> None:
        from psoas_sense.store import HistoryStore

        e = self.engine
        started = self.started_at or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        try:
            self._store = HistoryStore(self.store_path)
            self.session_id = self._store.begin_session(
                started_at=started,
                protocol=e.requested_protocol,
                practised=e.protocol,
                safety=e.safety.status,
                settings=dataclasses.asdict(e.settings),
                source=self.source,
                t_start=float(t_s),
            )
        except Exception as exc:  # noqa: BLE001 - history must never stop a session
            self._fail(lines, t_s, exc)

    def _fail(self, lines: list[dict[str, Any]], t_s: float, exc: BaseException) -> None:
        self._disabled = True
        if self._store is not None:
            try:
                self._store.close()
            except Exception:  # noqa: BLE001
                pass
        self._store = None
        lines.append({"event": "error", "t": round(float(t_s), 3), "message": f"history not saved: {exc}"})

    def _after(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.session_id is None and not self._disabled and self.engine.t_start_s is not None:
            self._open(self.engine.t_start_s, lines)
        if self._store is None or not lines:
            return lines
        self._pending.extend(lines)
        if any(ln.get("event") in COMMIT_EVENTS for ln in lines):
            self._commit(lines)
        return lines

    def _commit(self, lines: list[dict[str, Any]]) -> None:
        e = self.engine
        n = self._n
        end = next((ln for ln in reversed(lines) if ln.get("event") == "session_end"), None)
        t_last = max(float(ln["t"]) for ln in lines)
        try:
            assert self.session_id is not None
            self._store.commit_progress(
                self.session_id,
                t_last=t_last,
                holds=e.holds[n["holds"]:],
                sides=e.sides[n["sides"]:],
                pain_stops=e.pain_stops[n["pain_stops"]:],
                breaths=e.breaths[n["breaths"]:],
                lines=[ln for ln in self._pending if ln.get("event") != "session_end"],
                end=end,
            )
        except Exception as exc:  # noqa: BLE001
            self._fail(lines, t_last, exc)
            return
        n.update(holds=len(e.holds), sides=len(e.sides), pain_stops=len(e.pain_stops), breaths=len(e.breaths))
        self._pending = []
        if end is not None:
            self._store.close()
            self._store = None


# --------------------------------------------------------------------------- history / report


def add_parsers(subparsers: Any) -> None:
    """Add the ``history`` and ``report`` subcommands."""
    h = subparsers.add_parser("history", help="list saved sessions", description="List saved sessions, newest first.")
    h.add_argument("--json", action="store_true", help="one JSON object per session")
    h.add_argument("--limit", type=int, default=None, metavar="N", help="show only the newest N sessions")
    h.set_defaults(func=cmd_history)

    sc = subparsers.add_parser(
        "safety",
        help="the safety check: questions to answer before deep abdominal work",
        description="Show the safety check. On a terminal it asks each question; otherwise it prints them. "
                    "Answer it for a headless session with --confirm-safety (none apply) or --condition NAME.",
    )
    sc.add_argument("--json", action="store_true", help="print the check as JSON")
    sc.set_defaults(func=cmd_safety)

    r = subparsers.add_parser(
        "report",
        help="breath-by-breath report of a session (history ID, 'last', or a recording file)",
        description="A breath-by-breath report per hold and side, from the history (ID or 'last') or from a "
                    "recording file (its hold and side markers; or, with --protocol, the coach run over it).",
    )
    r.add_argument("target", metavar="ID|FILE", help="session ID from 'psoas-sense history', 'last', or a recording")
    fmt = r.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the report as one JSON object")
    fmt.add_argument("--csv", action="store_true", help="one CSV row per breath in a hold")
    r.add_argument("--png", metavar="OUT.png", default=None,
                   help="also plot breathing with exhales, cues and holds (needs the 'plot' extra: matplotlib)")
    r.add_argument("--signal", choices=["auto", "resp", "acc", "rr"], default="auto", help="signal for a recording")
    r.add_argument("--protocol", choices=PROTOCOLS, default=None,
                   help="for a recording without coach markers: run this coach protocol over it")
    r.add_argument("--confirm-safety", action="store_true", help="with --protocol: as for 'session'")
    r.set_defaults(func=cmd_report)


def cmd_safety(args: argparse.Namespace) -> int:
    from psoas_sense.coach.texts import NOT_MEDICAL_ADVICE

    if args.json:
        print(json.dumps({"conditions": dict(CONDITIONS), "notice": NOT_MEDICAL_ADVICE}))
        return 0
    print("Safety check before deep abdominal work.")
    print(NOT_MEDICAL_ADVICE)
    interactive = sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty()
    applies: list[str] = []
    for key, question in CONDITIONS.items():
        if not interactive:
            print(f"  - {question}  (--condition {key})")
            continue
        answer = input(f"  {question} [y/N] ").strip().lower()
        if answer in ("y", "yes"):
            applies.append(key)
    if not interactive:
        print("If none of these apply, start a session with --confirm-safety. If any applies, "
              "practise breathing only (--protocol breathing) and ask a healthcare professional first.")
        return 0
    check = SafetyCheck.answered(applies)
    if check.cleared:
        print("Nothing applies: you can start a session with --confirm-safety.")
    else:
        print(check.blocked_text())
        print("Start a session with " + " ".join(f"--condition {c}" for c in applies) + " (breathing practice).")
    return 0


def _fmt_dur(s: float | None) -> str:
    if s is None:
        return "-"
    s = max(0.0, float(s))
    return f"{int(s // 60)}:{int(round(s % 60)):02d}" if s < 3600 else f"{int(s // 3600)}h{int(s % 3600 // 60):02d}"


def cmd_history(args: argparse.Namespace) -> int:
    from psoas_sense.store import HistoryStore, default_path

    path = default_path()
    if not path.exists():
        if args.json:
            return 0
        print("No sessions saved yet.")
        return 0
    with HistoryStore(path, create=False) as store:
        rows = store.sessions(limit=args.limit)
    if args.json:
        for r in rows:
            out = {k: r[k] for k in ("id", "started_at", "protocol", "practised", "safety", "ended_by", "interrupted")}
            end = r["t_end"] if r["t_end"] is not None else r["t_last"]
            out.update(duration_s=round(end - r["t_start"], 3), sides=r["n_sides"], holds=r["n_holds"],
                       breaths=r["n_breaths"], pain_stops=r["n_pain"], source=r["source"])
            print(json.dumps(out))
        return 0
    if not rows:
        print("No sessions saved yet.")
        return 0
    head = f"{'ID':>4}  {'started (UTC)':<19}  {'protocol':<9}  {'practised':<9}  {'time':>6}  {'sides':>5}  {'holds':>5}  {'breaths':>7}  {'pain':>4}  ended"
    print(head)
    for r in rows:
        end = r["t_end"] if r["t_end"] is not None else r["t_last"]
        ended = r["ended_by"] or "interrupted"
        started = str(r["started_at"]).replace("T", " ")[:19]
        print(
            f"{r['id']:>4}  {started:<19}  {r['protocol']:<9}  {r['practised']:<9}  {_fmt_dur(end - r['t_start']):>6}  "
            f"{r['n_sides']:>5}  {r['n_holds']:>5}  {r['n_breaths']:>7}  {r['n_pain']:>4}  {ended}"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from psoas_sense import report as rep

    target = str(args.target)
    path = Path(target)
    if path.exists() and not target.isdigit():
        if args.protocol is not None:
            ns = argparse.Namespace(**{**vars(args), "no_history": True, "file": target})
            for attr in ("condition", "coach_set"):
                setattr(ns, attr, getattr(ns, attr, []) or [])
            coach_factory = lambda header: make_coach(ns, header)  # noqa: E731
        else:
            coach_factory = None
        data = rep.from_recording(path, signal=args.signal, coach_factory=coach_factory)
    elif target.isdigit() or target == "last":
        data = rep.from_history(None if target == "last" else int(target))
    else:
        raise PsoasError(f"{target}: no such recording, and not a session ID (see 'psoas-sense history')")
    report = rep.build_report(data)
    if args.json:
        print(json.dumps(report))
    elif args.csv:
        rep.write_csv(report, sys.stdout)
    else:
        sys.stdout.write(rep.render_text(report))
    if args.png:
        rep.plot_png(data, report, Path(args.png))
        print(f"plot written to {args.png}", file=sys.stderr)
    return 0
