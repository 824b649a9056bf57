"""Breath-by-breath session records per hold and side: text, JSON, CSV and a PNG plot.

One typed record (:class:`Report`) is built by one fold (:mod:`psoas_sense.report.fold`) from a
session's events, whether they come live from the session, from the history
(:func:`from_history`) or from a recording (:func:`from_recording`).
"""

from psoas_sense.report.data import from_history, from_recording, read_recording
from psoas_sense.report.fold import Origin, RecordFold, RecordSink, build_record
from psoas_sense.report.record import Report
from psoas_sense.report.render import CSV_COLUMNS, plot_png, render_text, to_json, write_csv

__all__ = [
    "CSV_COLUMNS",
    "Origin",
    "RecordFold",
    "RecordSink",
    "Report",
    "build_record",
    "from_history",
    "from_recording",
    "plot_png",
    "read_recording",
    "render_text",
    "to_json",
    "write_csv",
]
