"""The ``sgaudit history`` output: per-scan counts, what each scan opened and resolved, and what
is open now, as a table for people or a JSON document."""

from __future__ import annotations

import json
from typing import Any

from sgaudit.model import SEVERITIES
from sgaudit.scheduled.history.db import HistoryConnection
from sgaudit.scheduled.history.read import OpenFinding, ScanSummary, open_findings, scan_count, scans
from sgaudit.text import clean

HISTORY_SCHEMA = "sgaudit.history/v1"


def render(conn: HistoryConnection, fmt: str, limit: int = 0) -> str:
    """Per-scan counts, what each scan opened and resolved, and what is open now."""
    summaries = scans(conn, limit)
    still_open = open_findings(conn)
    if fmt == "json":
        return json.dumps(history_document(summaries, still_open, scan_count(conn)), indent=2) + "\n"
    return history_table(summaries, still_open, scan_count(conn))


def history_document(summaries: list[ScanSummary], still_open: list[OpenFinding],
                     total: int) -> dict[str, Any]:
    return {
        "schema": HISTORY_SCHEMA,
        "total_scans": total,
        "scans": [
            {"scan": s.id, "scanned_at": s.scanned_at, "complete": s.complete, "policy": s.policy,
             "groups": s.groups, "open": s.open, "active": s.active, "waived": s.waived,
             "baselined": s.baselined, "by_severity": s.by_severity,
             "open_by_severity": s.open_by_severity, "recorded_at": s.recorded_at,
             "what_if": s.what_if,
             "opened": [{"key": c.key, "severity": c.severity} for c in s.opened],
             "resolved": [{"key": c.key, "severity": c.severity} for c in s.resolved]}
            for s in summaries
        ],
        "open": [{"key": o.key, "severity": o.severity, "status": o.status,
                  "first_seen": o.first_seen} for o in still_open],
    }


#: the table is for people; --format json lists everything
TABLE_CHANGE_LINES = 20
TABLE_OPEN_LINES = 50


def _capped(lines: list[str], indent: str) -> list[str]:
    if len(lines) <= TABLE_CHANGE_LINES:
        return lines
    return [*lines[:TABLE_CHANGE_LINES],
            f"{indent}... and {len(lines) - TABLE_CHANGE_LINES} more (--format json lists all)"]


def _both(s: ScanSummary, severity: str) -> str:
    """"active/open" of one severity: after a baseline, 0 active criticals can be 2 open ones."""
    opened = (s.open_by_severity or {}).get(severity, 0)
    return f"{s.by_severity.get(severity, 0)}/{opened}"


def history_table(summaries: list[ScanSummary], still_open: list[OpenFinding], total: int) -> str:
    from tabulate import tabulate

    if not summaries:
        return "No scans recorded yet.\n"
    out: list[str] = []
    if total > len(summaries):
        out.append(f"Last {len(summaries)} of {total} scans.")
    rows = [(s.id, clean(s.scanned_at) + (" (what-if)" if s.what_if else ""),
             "yes" if s.complete else "NO", s.groups, s.open, s.active, s.waived, s.baselined,
             *(_both(s, sev) for sev in SEVERITIES), f"+{len(s.opened)}", f"-{len(s.resolved)}")
            for s in summaries]
    out.append(tabulate(rows, headers=("scan", "scanned at", "complete", "groups", "open", "active",
                                       "waived", "baselined", *SEVERITIES, "opened", "resolved"),
                        disable_numparse=True))
    out.append("(severity columns: active/open; open also counts waived and baselined findings)")
    for s in summaries:
        if not (s.opened or s.resolved):
            continue
        out.append("")
        out.append(f"scan {s.id} at {s.scanned_at}:")
        out.extend(_capped([f"  opened    {c.severity:<8}  {clean(c.key)}" for c in s.opened], "  "))
        out.extend(_capped([f"  resolved  {c.severity:<8}  {clean(c.key)}" for c in s.resolved], "  "))
    out.append("")
    if still_open:
        out.append(f"Open now ({len(still_open)}):")
        shown = still_open[:TABLE_OPEN_LINES]
        out.append(tabulate([(clean(o.first_seen), o.severity, o.status, clean(o.key)) for o in shown],
                            headers=("open since", "severity", "status", "key")))
        if len(still_open) > len(shown):
            out.append(f"... and {len(still_open) - len(shown)} more (--format json lists all)")
    else:
        out.append("Nothing open now.")
    return "\n".join(out) + "\n"
