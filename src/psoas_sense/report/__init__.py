"""Breath-by-breath session reports per hold and side: text, JSON, CSV and a PNG plot.

A report is built from :class:`SessionData`, which comes from the history
(:func:`from_history`) or from a recording (:func:`from_recording`); :func:`build_report` is pure.
"""

from psoas_sense.report.build import CSV_COLUMNS, build_report
from psoas_sense.report.data import SessionData, from_history, from_recording
from psoas_sense.report.render import plot_png, render_text, write_csv

__all__ = [
    "CSV_COLUMNS",
    "SessionData",
    "build_report",
    "from_history",
    "from_recording",
    "plot_png",
    "render_text",
    "write_csv",
]
