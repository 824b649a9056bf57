"""The history screen: saved sessions, newest first, in local time; Enter opens one's summary.

The history database is read in a thread (:mod:`psoas_sense.store` loads NumPy), so opening
the screen never blocks the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from psoas_sense.ui.chart import Chart
from psoas_sense.ui.keybar import KeyBar, KeyHint

if TYPE_CHECKING:
    from psoas_sense.store import SessionRow

COLUMNS = ("Started", "Source", "Protocol", "Time", "Holds", "Ended", "Device or file")
"""The table's columns (the last, widest one may scroll out of sight on a narrow terminal)."""
DETAIL_WIDTH = 40
"""Longest device or file name shown (longer ones end in an ellipsis)."""
ENDED_WORDS = {"done": "finished", "quit": "quit", "pain": "pain stop", "end_of_input": "end of input",
               "link_lost": "sensor lost", "signal": "stopped by the system", "input_error": "bad input line",
               "interrupt": "interrupted (Ctrl-C)", "output_closed": "output closed"}
"""How a session ended, in words (``None`` in the history: interrupted)."""
HISTORY_KEYS: tuple[KeyHint, ...] = (("Enter", "open a summary", "open"), ("Esc", "back", "back"),
                                     ("q", "leave (asks)", "leave"))
"""The history's keys."""
EMPTY = (
    "No sessions saved yet. Sessions on a strap or a phone are saved here; "
    "demo and replay runs only when asked (--save)."
)


def source_words(source: Mapping[str, Any] | None) -> tuple[str, str]:
    """What a session ran on: its kind (``demo``, ``replay``, ``session``...) and the device or file.

    The kind is the saved ``kind``, else ``file`` or ``device`` by what was saved.
    """
    source = source or {}
    device = source.get("device")
    if isinstance(device, Mapping):
        device = device.get("name") or device.get("address")
    file = source.get("file")
    detail = str(device) if device else Path(str(file)).name if file else ""
    kind = str(source.get("kind") or ("file" if file else "device" if device else "?"))
    if len(detail) > DETAIL_WIDTH:
        detail = detail[: DETAIL_WIDTH - 1] + "…"
    return kind, detail


def session_cells(row: SessionRow) -> tuple[str, ...]:
    """One history row (as :meth:`HistoryStore.sessions` gives it) as the table's cells."""
    from psoas_sense.localtime import fmt_duration, local_time

    protocol = row.protocol
    if row.practised and row.practised != protocol:
        protocol = f"{protocol} → {row.practised}"
    ended = row.ended_by
    kind, detail = source_words(row.source)
    return (
        local_time(row.started_at)[:16],
        kind,
        protocol,
        fmt_duration(row.duration_s),
        str(row.holds),
        ENDED_WORDS.get(ended, str(ended)) if ended else "interrupted",
        detail,
    )


def read_history(path: Path | None, limit: int | None = None) -> list[tuple[int, tuple[str, ...]]]:
    """(session id, cells) for every saved session, newest first; [] when there is no history.

    Raises:
        StoreError: the database cannot be read.
    """
    from psoas_sense.store import HistoryStore, default_path

    path = path if path is not None else default_path()
    if not path.exists():
        return []
    with HistoryStore(path, create=False) as store:
        return [(r.id, session_cells(r)) for r in store.sessions(limit=limit)]


class SessionTable(DataTable[str]):
    """The sessions table; Enter opens the session under the cursor (shown in the footer)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Open summary")]


class HistoryScreen(Screen[int | None]):
    """The saved sessions; dismisses with the id of the one chosen, or None to go back.

    Args:
        path: the history database (default: :func:`psoas_sense.store.default_path`).
        limit: show only the newest this many sessions.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,b", "back", "Back"),
        Binding("enter", "open", "Open summary", show=False),
    ]
    DEFAULT_CSS = """
    HistoryScreen #history-title { text-style: bold; color: $text-primary; padding: 0 1; }
    HistoryScreen #history-note { padding: 0 1; }
    HistoryScreen SessionTable { height: 1fr; }
    HistoryScreen #trend { height: auto; }
    HistoryScreen #trend-title { text-style: bold; padding: 0 1; }
    HistoryScreen .trend-name { padding: 0 1; }
    HistoryScreen .trend { height: 6; margin: 0 1; }
    """

    def __init__(self, path: Path | None = None, *, limit: int | None = None) -> None:
        super().__init__()
        self._path = path
        self._limit = limit

    def compose(self) -> ComposeResult:
        yield Static("Past sessions, newest first (local time)", id="history-title")
        yield Static("Reading the history...", id="history-note")
        table = SessionTable(id="history-table", cursor_type="row", zebra_stripes=True)
        table.display = False
        yield table
        trend = Vertical(id="trend")
        trend.display = False
        yield trend
        yield KeyBar(HISTORY_KEYS, id="keys")

    def on_mount(self) -> None:
        """Read the history."""
        self._load()

    @work(exclusive=True, group="history")
    async def _load(self) -> None:
        note = self.query_one("#history-note", Static)
        try:
            rows = await asyncio.to_thread(read_history, self._path, self._limit)
        except Exception as exc:  # noqa: BLE001 - a StoreError names the file; anything else in words
            note.update(f"The history cannot be read: {exc}")
            return
        if not rows:
            note.update(EMPTY)
            return
        table = self.query_one("#history-table", SessionTable)
        table.add_columns(*COLUMNS)
        for session_id, cells in rows:
            table.add_row(*cells, key=str(session_id))
        n = len(rows)
        note.update(f"{n} session{'s' if n != 1 else ''}. Enter opens a summary; b or Escape goes back.")
        table.display = True
        table.focus()
        await self._plot_trend()

    async def _plot_trend(self) -> None:
        """Breathing rate and RMSSD day by day (local time), when there are two days or more."""
        from psoas_sense.report.trend import trend_days

        try:
            days = await asyncio.to_thread(trend_days, self._path)
        except Exception:  # noqa: BLE001 - the table is there; the plot is a bonus
            return
        rows = [d.row() for d in days]
        if len(rows) < 2:
            return
        xs = [float(i) for i in range(len(rows))]
        rates = [(x, r.rate_bpm) for x, r in zip(xs, rows, strict=True) if r.rate_bpm is not None]
        rmssds = [(x, r.rmssd_ms) for x, r in zip(xs, rows, strict=True) if r.rmssd_ms is not None]
        if len(rates) < 2 and len(rmssds) < 2:
            return  # nothing to draw a trend of yet

        def day(x: float) -> str:
            return rows[min(len(rows) - 1, max(0, int(round(x))))].day[5:]

        charts: list[Static | Chart] = [Static("Day by day (oldest left)", id="trend-title")]
        for name, pts, unit in (("breathing rate, /min", rates, ""), ("RMSSD, ms", rmssds, "")):
            if len(pts) >= 2:
                charts.append(Static(name, classes="trend-name"))
                charts.append(Chart(pts, x_label=day, unit=unit, min_span_y=1.0, classes="trend"))
        trend = self.query_one("#trend", Vertical)
        await trend.mount_all(charts)
        trend.display = True

    @on(DataTable.RowSelected, "#history-table")
    def on_session_selected(self, event: DataTable.RowSelected) -> None:
        """Open the session chosen."""
        if event.row_key.value is not None:
            self.dismiss(int(event.row_key.value))

    def action_open(self) -> None:
        """Open the session under the cursor."""
        table = self.query_one("#history-table", SessionTable)
        if table.display and table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            if key.value is not None:
                self.dismiss(int(key.value))

    def action_back(self) -> None:
        """Go back without choosing."""
        self.dismiss(None)
