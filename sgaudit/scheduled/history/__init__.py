"""Scan history in SQLite or PostgreSQL: evidence of when each finding appeared and disappeared.

``schema`` creates, migrates and opens the tables; ``record`` writes a scan (what it opens and
resolves, in what order); ``read`` reads scans and open findings back; ``render`` is the
``sgaudit history`` output and ``copy`` its ``--copy-to``. ``db`` holds what differs between
the two databases (``pg``: PostgreSQL's side); ``url`` reads targets without a driver.
Callers import from here: what the scheduled stage, the CLI and the benchmarks use, and the
records these return.
"""

from __future__ import annotations

from sgaudit.scheduled.history.copy import copy_history
from sgaudit.scheduled.history.db import HistoryConnection, HistoryError
from sgaudit.scheduled.history.read import (
    Change,
    OpenFinding,
    ScanSummary,
    open_findings,
    resolved_by,
    scan_count,
    scans,
    trend,
)
from sgaudit.scheduled.history.record import record_scan, stored_text, with_first_seen
from sgaudit.scheduled.history.render import render
from sgaudit.scheduled.history.schema import open_history
from sgaudit.scheduled.history.url import display, is_url

__all__ = [
    "Change",
    "HistoryConnection",
    "HistoryError",
    "OpenFinding",
    "ScanSummary",
    "copy_history",
    "display",
    "is_url",
    "open_findings",
    "open_history",
    "record_scan",
    "render",
    "resolved_by",
    "scan_count",
    "scans",
    "stored_text",
    "trend",
    "with_first_seen",
]
