"""``sgaudit history --copy-to``: move a history to another database (a runner's SQLite file into
PostgreSQL), evidence intact: every row of every table with its ids, times and flags, into an
empty history, in one transaction; then both must print the same ``sgaudit history`` document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sgaudit.scheduled.history.db import HistoryConnection, HistoryError
from sgaudit.scheduled.history.read import open_findings, scan_count, scans
from sgaudit.scheduled.history.render import history_document
from sgaudit.scheduled.history.schema import transaction

#: every column of schema v2, parents before children (the foreign keys)
TABLES: dict[str, tuple[str, ...]] = {
    "scans": ("id", "scanned_at", "complete", "policy", "policy_sha256", "sources", "scope", "groups",
              "open", "active", "waived", "baselined", "critical", "high", "medium", "low", "opened",
              "resolved", "recorded_at", "what_if", "open_critical", "open_high", "open_medium",
              "open_low"),
    "findings": ("id", "key", "account", "region", "group_id", "severity", "status", "open",
                 "first_seen", "opened_scan", "resolved_scan"),
    "scan_findings": ("scan_id", "finding_id", "status"),
    "events": ("scan_id", "event", "finding_id", "severity"),
}
_ORDER = {"scans": "id", "findings": "id", "scan_findings": "scan_id, finding_id",
          "events": "scan_id, event, finding_id"}
#: rows held in memory at once while copying (a 10,000-finding scan is 10,000 scan_findings rows)
BATCH = 20_000


def _batches(source: HistoryConnection, table: str) -> Iterator[list[tuple[Any, ...]]]:
    cursor = source.execute(f"SELECT {', '.join(TABLES[table])} FROM {table} ORDER BY {_ORDER[table]}")
    while rows := cursor.fetchmany(BATCH):
        yield [tuple(row) for row in rows]


def copy_history(source: HistoryConnection, target: HistoryConnection) -> dict[str, int]:
    """Copy every row of ``source`` into ``target``, which must hold no scan and no finding;
    returns the rows copied per table. Writers of either wait until the copy is done."""
    copied = dict.fromkeys(TABLES, 0)
    with transaction(source), transaction(target):
        held = {t: int(target.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}
        if any(held.values()):
            raise HistoryError(f"{target.label}: --copy-to fills only an empty history; this one "
                               f"holds {held['scans']} scan(s) and {held['findings']} finding(s)")
        for table, columns in TABLES.items():
            for rows in _batches(source, table):
                target.insert_rows(table, columns, rows)
                copied[table] += len(rows)
        target.reset_ids(("scans", "findings"))
    if _document(source) != _document(target):  # never expected: then the copy is not evidence
        raise HistoryError(f"{target.label}: the copy does not read back as {source.label} does; "
                           "empty it before trying again")
    return copied


def _document(conn: HistoryConnection) -> dict[str, Any]:
    return history_document(scans(conn), open_findings(conn), scan_count(conn))
