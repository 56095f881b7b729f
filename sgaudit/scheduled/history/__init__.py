"""Scan history in SQLite or PostgreSQL: evidence of when each finding appeared and disappeared.

``schema`` creates, migrates and opens the tables; ``record`` writes a scan (what it opens and
resolves, in what order); ``read`` reads scans and open findings back; ``render`` is the
``sgaudit history`` output and ``copy`` its ``--copy-to``. ``db`` holds what differs between
the two databases (``pg``: PostgreSQL's side); ``url`` reads targets without a driver.
Callers import from here.
"""

from __future__ import annotations

from sgaudit.scheduled.history.copy import copy_history
from sgaudit.scheduled.history.db import HistoryConnection, HistoryError
from sgaudit.scheduled.history.read import (
    ALL_ROWS,
    TREND_SCANS,
    Change,
    OpenFinding,
    ScanSummary,
    open_findings,
    resolved_by,
    scan_count,
    scans,
    trend,
)
from sgaudit.scheduled.history.record import (
    CLOCK_TOLERANCE,
    iso,
    record_scan,
    status_of,
    stored_text,
    with_first_seen,
)
from sgaudit.scheduled.history.render import HISTORY_SCHEMA, history_document, history_table, render
from sgaudit.scheduled.history.schema import (
    BUSY_TIMEOUT_S,
    SCHEMA_VERSION,
    open_history,
    transaction,
)
from sgaudit.scheduled.history.url import display, is_url

__all__ = [
    "ALL_ROWS",
    "BUSY_TIMEOUT_S",
    "CLOCK_TOLERANCE",
    "HISTORY_SCHEMA",
    "SCHEMA_VERSION",
    "TREND_SCANS",
    "Change",
    "HistoryConnection",
    "HistoryError",
    "OpenFinding",
    "ScanSummary",
    "copy_history",
    "display",
    "history_document",
    "history_table",
    "is_url",
    "iso",
    "open_findings",
    "open_history",
    "record_scan",
    "render",
    "resolved_by",
    "scan_count",
    "scans",
    "status_of",
    "stored_text",
    "transaction",
    "trend",
    "with_first_seen",
]
