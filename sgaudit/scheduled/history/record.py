"""Recording a scan: which findings it opens, keeps open and resolves, and when each was first seen.

A finding is open from the first scan of an unbroken run of scans that found it.  A scan ends
a run only for findings of the places it read completely (AWS account/regions, GCP
project/networks: see ``scope``): a scan of another region or network, or of one that failed,
says nothing about them.  A finding's GCP network is the one its key names, so rows written
before places had a network are placed alike.

Order: scans are ordered by when they are recorded, and the scan time is checked against the
recording machine's own clock.  A scan dated before the latest recorded one is *late* (a slow
concurrent run): kept as evidence, it opens and resolves nothing.  But a recorded scan dated
after this machine's clock (a what-if run with SGAUDIT_NOW, a machine whose clock runs fast)
is not trusted to date what comes after it, so one bad clock cannot freeze the history; both
cases are said on stderr.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sgaudit.engine.summary import summarize
from sgaudit.model import Finding, Report
from sgaudit.scheduled.history.db import HistoryConnection
from sgaudit.scheduled.history.schema import transaction
from sgaudit.scheduled.scope import complete_scope, network_in_key

#: a scan dated more than this after the recording machine's clock is "from the future"
CLOCK_TOLERANCE = timedelta(minutes=5)


def status_of(finding: Finding) -> str:
    if finding.waived:
        return "waived"
    if finding.baselined:
        return "baselined"
    return "active"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _order_check(conn: HistoryConnection, scanned_at: str, recorded_at: str,
                 warn: Callable[[str], None]) -> bool:
    """Is this scan late?  Only scans dated no later than this machine's clock (plus a
    tolerance) can make it late; the others are said on stderr and not trusted for order."""
    cutoff = iso(datetime.fromisoformat(recorded_at.replace("Z", "+00:00")) + CLOCK_TOLERANCE)
    latest = conn.execute("SELECT id, scanned_at FROM scans WHERE scanned_at <= ?"
                          " ORDER BY scanned_at DESC, id DESC LIMIT 1", (cutoff,)).fetchone()
    ahead = conn.execute("SELECT id, scanned_at, what_if FROM scans WHERE scanned_at > ?"
                         " ORDER BY scanned_at DESC, id DESC LIMIT 1", (cutoff,)).fetchone()
    if ahead is not None:
        why = "a what-if run" if ahead[2] else "a what-if run or a clock running fast"
        warn(f"history: scan {ahead[0]} is dated {ahead[1]}, after this machine's clock "
             f"({recorded_at}; {why}); it is not used to order this scan")
    if scanned_at > cutoff:
        warn(f"history: this scan is dated {scanned_at}, after this machine's clock "
             f"({recorded_at}); it is recorded, but later scans will not be ordered by its date")
    if latest is not None and scanned_at < latest[1]:
        warn(f"history: this scan ({scanned_at}) is older than scan {latest[0]} ({latest[1]}), "
             "already recorded: it is kept out of order, and opens and resolves nothing")
        return True
    return False


def record_scan(conn: HistoryConnection, report: Report, scanned_at: str,
                policy_sha256: str = "", *, what_if: bool = False,
                recorded_at: str | None = None,
                warn: Callable[[str], None] | None = None) -> tuple[int, dict[str, str]]:
    """Record one scan; returns its id and the first_seen time of each of its findings.
    ``recorded_at`` is this machine's real clock (default: now), the second witness of order;
    ``warn`` hears about scans out of order and clocks that disagree."""
    storable = _storable(report)
    if storable is not report:  # lone surrogates from a snapshot's ids: SQLite takes UTF-8 only
        stored_id, seen = record_scan(conn, storable, scanned_at, policy_sha256, what_if=what_if,
                                      recorded_at=recorded_at, warn=warn)
        return stored_id, {f.key: seen[_SURROGATES.sub("\ufffd", f.key)] for f in report.findings}
    findings = {f.key: f for f in report.findings}
    scope = complete_scope(report)
    counts = summarize(report)
    recorded_at = recorded_at or iso(datetime.now(UTC))
    with transaction(conn):
        late = _order_check(conn, scanned_at, recorded_at, warn or (lambda _message: None))
        scan_id = conn.insert_id(
            "INSERT INTO scans (scanned_at, complete, policy, policy_sha256, sources, scope, groups,"
            " open, active, waived, baselined, critical, high, medium, low, recorded_at, what_if,"
            " open_critical, open_high, open_medium, open_low)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (scanned_at, int(report.complete), report.policy_path, policy_sha256,
             json.dumps(list(report.scanned)), _scope_json(scope), len(report.results),
             counts.findings, counts.active, counts.waived, counts.baselined,
             *counts.by_severity.values(), recorded_at, int(what_if),
             *counts.open_by_severity.values()))
        was_open = {row[1]: row for row in conn.execute(
            "SELECT id, key, account, region, severity, status, first_seen FROM findings WHERE open = 1")}
        if late:
            return scan_id, _record_late_scan(conn, scan_id, findings, was_open, scanned_at)
        ids: dict[str, int] = {}
        first_seen: dict[str, str] = {}
        changed: list[tuple[str, str, int]] = []
        opened: list[Finding] = []
        for key, f in findings.items():
            row = was_open.get(key)
            if row is None:
                opened.append(f)
                first_seen[key] = scanned_at
                continue
            ids[key], first_seen[key] = row[0], min(row[6], scanned_at)
            if row[6] > scanned_at:  # opened by a scan dated ahead of the clocks: seen now
                conn.execute("UPDATE findings SET first_seen = ? WHERE id = ?", (scanned_at, row[0]))
            if (row[4], row[5]) != (f.severity, status_of(f)):
                changed.append((f.severity, status_of(f), row[0]))
        # new keys, or keys that were resolved before and are back (no RETURNING: SQLite < 3.35)
        conn.executemany(
            "INSERT INTO findings (key, account, region, group_id, severity, status, open,"
            " first_seen, opened_scan) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET severity = excluded.severity,"
            " status = excluded.status, open = 1, first_seen = excluded.first_seen,"
            " opened_scan = excluded.opened_scan, resolved_scan = NULL",
            [(f.key, f.account, f.region, f.group_id, f.severity, status_of(f), scanned_at, scan_id)
             for f in opened])
        if opened:
            ids.update(conn.execute("SELECT key, id FROM findings WHERE opened_scan = ?", (scan_id,)))
        conn.executemany("UPDATE findings SET severity = ?, status = ? WHERE id = ?", changed)
        resolved = [row for key, row in was_open.items()
                    if key not in findings and (row[2], row[3], network_in_key(*row[1:4])) in scope]
        conn.executemany("UPDATE findings SET open = 0, resolved_scan = ? WHERE id = ?",
                         [(scan_id, row[0]) for row in resolved])
        conn.insert_rows("events", ("scan_id", "event", "finding_id", "severity"),
                         [(scan_id, "opened", ids[f.key], f.severity) for f in opened]
                         + [(scan_id, "resolved", row[0], row[4]) for row in resolved])
        conn.insert_rows("scan_findings", SCAN_FINDINGS,
                         [(scan_id, ids[key], status_of(f)) for key, f in findings.items()])
        conn.execute("UPDATE scans SET opened = ?, resolved = ? WHERE id = ?",
                     (len(opened), len(resolved), scan_id))
    return scan_id, first_seen


def _scope_json(scope: frozenset[tuple[str, str, str]]) -> str:
    """[account, region] for AWS (as before places had a network), [project, region, network]
    for GCP."""
    return json.dumps([[a, r, n] if n else [a, r] for a, r, n in sorted(scope)])


SCAN_FINDINGS = ("scan_id", "finding_id", "status")
#: what neither database stores as text: lone surrogates (SQLite and PostgreSQL take UTF-8
#: only) and NUL (PostgreSQL refuses it); replaced by U+FFFD on both, so both keep the same keys
_SURROGATES = re.compile("[\x00\ud800-\udfff]")


def stored_text(text: str) -> str:
    """Text as the history stores it (what a key read back from it is compared with)."""
    return _SURROGATES.sub("\ufffd", text)


def _storable(report: Report) -> Report:
    """The report with lone surrogates in finding keys and places replaced by U+FFFD (the same
    report when there are none, which is always but for hostile snapshots)."""
    if not any(_SURROGATES.search(f.key + f.account + f.region + f.group_id) for f in report.findings):
        return report

    def fixed(f: Finding) -> Finding:
        return f._replace(key=_SURROGATES.sub("\ufffd", f.key),
                          account=_SURROGATES.sub("\ufffd", f.account),
                          region=_SURROGATES.sub("\ufffd", f.region),
                          group_id=_SURROGATES.sub("\ufffd", f.group_id))

    return replace(report, results=tuple(replace(r, findings=tuple(map(fixed, r.findings)))
                                         for r in report.results))


def _record_late_scan(conn: HistoryConnection, scan_id: int, findings: Mapping[str, Finding],
                      was_open: Mapping[str, Any], scanned_at: str) -> dict[str, str]:
    """A scan older than the latest recorded one (a replayed snapshot, or a scan that finished
    after a later one started) is kept as evidence, but the newer scans decide what is open:
    it opens and resolves nothing. It can only show that an open finding existed earlier."""
    first_seen: dict[str, str] = {}
    for key in findings:
        row = was_open.get(key)
        if row is not None and scanned_at < row[6]:
            conn.execute("UPDATE findings SET first_seen = ? WHERE id = ?", (scanned_at, row[0]))
        first_seen[key] = min(row[6], scanned_at) if row is not None else scanned_at
    conn.executemany(
        "INSERT INTO findings (key, account, region, group_id, severity, status, open, first_seen,"
        " opened_scan) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (key) DO NOTHING",
        [(f.key, f.account, f.region, f.group_id, f.severity, status_of(f), scanned_at, scan_id)
         for key, f in findings.items() if key not in was_open])
    ids = {key: fid for key, fid in conn.execute("SELECT key, id FROM findings") if key in findings}
    conn.insert_rows("scan_findings", SCAN_FINDINGS,
                     [(scan_id, ids[key], status_of(f)) for key, f in findings.items()])
    conn.execute("UPDATE scans SET opened = 0, resolved = 0 WHERE id = ?", (scan_id,))
    return first_seen


def with_first_seen(report: Report, first_seen: Mapping[str, str]) -> Report:
    """Pure: the report with each finding's first_seen filled in."""
    results = tuple(
        replace(r, findings=tuple(f._replace(first_seen=first_seen.get(f.key, f.first_seen))
                                  for f in r.findings))
        for r in report.results)
    return replace(report, results=results)

