"""Scan history in SQLite: evidence of when each finding appeared and disappeared.

Every scan is one transaction (``BEGIN IMMEDIATE``: writers queue on the database lock and
wait up to the busy timeout), in WAL mode so readers never block writers; two scans recording
at once are serialised and both are kept.

A finding is open from the first scan of an unbroken run of scans that found it.  A scan ends
a run only for findings of the account/regions it read completely: a scan of another region,
or of a region that failed, says nothing about them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sgaudit.engine.summary import summarize
from sgaudit.errors import SgauditError
from sgaudit.model import SEVERITIES, Finding, Report, TrendPoint
from sgaudit.scheduled.baseline import complete_scope

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60.0
TREND_SCANS = 30

_SCHEMA = """
CREATE TABLE scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scanned_at TEXT NOT NULL,
    complete INTEGER NOT NULL,
    policy TEXT,
    policy_sha256 TEXT,
    sources TEXT NOT NULL,          -- JSON list: files or account/regions read
    scope TEXT NOT NULL,            -- JSON list of [account, region] read completely
    groups INTEGER NOT NULL,
    open INTEGER NOT NULL,          -- every finding present, accepted or not
    active INTEGER NOT NULL,
    waived INTEGER NOT NULL,
    baselined INTEGER NOT NULL,
    critical INTEGER NOT NULL, high INTEGER NOT NULL, medium INTEGER NOT NULL, low INTEGER NOT NULL,
    opened INTEGER NOT NULL DEFAULT 0,
    resolved INTEGER NOT NULL DEFAULT 0
);
-- every finding key ever seen, with its latest state
CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    group_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,           -- active | waived | baselined
    open INTEGER NOT NULL,
    first_seen TEXT NOT NULL,       -- start of the current (or last) run of scans that found it
    opened_scan INTEGER NOT NULL,
    resolved_scan INTEGER
);
CREATE INDEX findings_open ON findings (open) WHERE open = 1;
CREATE INDEX findings_opened ON findings (opened_scan);
-- the set of findings open in each scan (ids: a 10,000-finding scan costs ~100 kB)
CREATE TABLE scan_findings (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    status TEXT NOT NULL,
    PRIMARY KEY (scan_id, finding_id)
) WITHOUT ROWID;
CREATE TABLE events (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    event TEXT NOT NULL CHECK (event IN ('opened', 'resolved')),
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    severity TEXT NOT NULL,
    PRIMARY KEY (scan_id, event, finding_id)
) WITHOUT ROWID;
-- for people querying the evidence with the sqlite3 shell
CREATE VIEW scan_keys AS
    SELECT s.scan_id, f.key, s.status FROM scan_findings s JOIN findings f ON f.id = s.finding_id;
"""


class HistoryError(SgauditError):
    """The history database cannot be opened, is not ours, or is from a newer sgaudit."""


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    severity: str


@dataclass(frozen=True, slots=True)
class ScanSummary:
    id: int
    scanned_at: str
    complete: bool
    policy: str | None
    groups: int
    open: int
    active: int
    waived: int
    baselined: int
    by_severity: dict[str, int]
    opened: tuple[Change, ...]
    resolved: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class OpenFinding:
    key: str
    severity: str
    status: str
    first_seen: str


# -- connections ---------------------------------------------------------------------------
@contextmanager
def open_history(path: str | Path, *, create: bool,
                 timeout: float = BUSY_TIMEOUT_S) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode (transactions are explicit), WAL, with a busy timeout."""
    if not create and not os.path.exists(path):
        raise HistoryError(f"{path}: no such history database (a check with --history creates it)")
    try:
        conn = sqlite3.connect(os.fspath(path), timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: cannot open history database: {exc}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        try:
            _prepare(conn, path, timeout)
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{path}: not a usable history database: {exc}") from None
        try:
            yield conn
        except sqlite3.Error as exc:  # locked past the timeout, disk full, damaged by hand …
            raise HistoryError(f"{path}: history database error: {exc}") from None
    finally:
        conn.close()


def _prepare(conn: sqlite3.Connection, path: str | Path, timeout: float) -> None:
    """WAL mode and the schema. When two processes create the database at the same moment,
    switching to WAL can answer "database is locked" at once, without waiting on the busy
    timeout; such a setup is retried until the timeout, so neither scan is lost."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA foreign_keys = ON")
            _ensure_schema(conn, path)
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def _ensure_schema(conn: sqlite3.Connection, path: str | Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise HistoryError(f"{path}: history database version {version} was written by a newer "
                           f"sgaudit; this one reads version {SCHEMA_VERSION} (upgrade sgaudit)")
    with transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:  # another process created it while we waited
            return
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version != 0 or tables:
            raise HistoryError(f"{path}: not an sgaudit history database "
                               f"(has tables {', '.join(sorted(tables)) or 'none'}, version {version})")
        _create(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _create(conn: sqlite3.Connection) -> None:
    # executescript would COMMIT the open transaction; run the statements one by one instead.
    for statement in _statements(_SCHEMA):
        conn.execute(statement)


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE: take the write lock up front, so a read-modify-write cannot interleave."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# -- recording -----------------------------------------------------------------------------
def status_of(finding: Finding) -> str:
    if finding.waived:
        return "waived"
    if finding.baselined:
        return "baselined"
    return "active"


def record_scan(conn: sqlite3.Connection, report: Report, scanned_at: str,
                policy_sha256: str = "") -> tuple[int, dict[str, str]]:
    """Record one scan; returns its id and the first_seen time of each of its findings."""
    findings = {f.key: f for f in report.findings}
    scope = complete_scope(report)
    counts = summarize(report)
    with transaction(conn):
        latest = conn.execute("SELECT max(scanned_at) FROM scans").fetchone()[0]
        late = latest is not None and scanned_at < latest
        scan_id = conn.execute(
            "INSERT INTO scans (scanned_at, complete, policy, policy_sha256, sources, scope, groups,"
            " open, active, waived, baselined, critical, high, medium, low)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (scanned_at, int(report.complete), report.policy_path, policy_sha256,
             json.dumps(list(report.scanned)), json.dumps(sorted(scope)), len(report.results),
             counts.findings, counts.active, counts.waived, counts.baselined,
             *counts.by_severity.values()),
        ).lastrowid
        assert scan_id is not None
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
            ids[key], first_seen[key] = row[0], row[6]
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
                    if key not in findings and (row[2], row[3]) in scope]
        conn.executemany("UPDATE findings SET open = 0, resolved_scan = ? WHERE id = ?",
                         [(scan_id, row[0]) for row in resolved])
        conn.executemany(
            "INSERT INTO events (scan_id, event, finding_id, severity) VALUES (?, ?, ?, ?)",
            [(scan_id, "opened", ids[f.key], f.severity) for f in opened]
            + [(scan_id, "resolved", row[0], row[4]) for row in resolved])
        conn.executemany("INSERT INTO scan_findings (scan_id, finding_id, status) VALUES (?, ?, ?)",
                         [(scan_id, ids[key], status_of(f)) for key, f in findings.items()])
        conn.execute("UPDATE scans SET opened = ?, resolved = ? WHERE id = ?",
                     (len(opened), len(resolved), scan_id))
    return scan_id, first_seen


def _record_late_scan(conn: sqlite3.Connection, scan_id: int, findings: Mapping[str, Finding],
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
    conn.executemany("INSERT INTO scan_findings (scan_id, finding_id, status) VALUES (?, ?, ?)",
                     [(scan_id, ids[key], status_of(f)) for key, f in findings.items()])
    conn.execute("UPDATE scans SET opened = 0, resolved = 0 WHERE id = ?", (scan_id,))
    return first_seen


def with_first_seen(report: Report, first_seen: Mapping[str, str]) -> Report:
    """Pure: the report with each finding's first_seen filled in."""
    results = tuple(
        replace(r, findings=tuple(replace(f, first_seen=first_seen.get(f.key, f.first_seen))
                                  for f in r.findings))
        for r in report.results)
    return replace(report, results=results)


# -- reading -------------------------------------------------------------------------------
def trend(conn: sqlite3.Connection, limit: int = TREND_SCANS) -> tuple[TrendPoint, ...]:
    """Open (and active) findings per scan, oldest first: the report's trend chart."""
    rows = conn.execute("SELECT scanned_at, open, active FROM scans ORDER BY id DESC LIMIT ?",
                        (limit,)).fetchall()
    return tuple(TrendPoint(at, n, a) for at, n, a in reversed(rows))


def scans(conn: sqlite3.Connection, limit: int = 0) -> list[ScanSummary]:
    """The last ``limit`` scans (all when 0), oldest first, with what each opened and resolved."""
    rows = conn.execute(
        "SELECT id, scanned_at, complete, policy, groups, open, active, waived, baselined,"
        " critical, high, medium, low FROM scans ORDER BY id DESC LIMIT ?",
        (limit if limit > 0 else -1,)).fetchall()
    rows.reverse()
    if not rows:
        return []
    changes: dict[tuple[int, str], list[Change]] = {}
    for scan_id, event, key, severity in conn.execute(
            "SELECT e.scan_id, e.event, f.key, e.severity FROM events e"
            " JOIN findings f ON f.id = e.finding_id WHERE e.scan_id >= ?"
            " ORDER BY e.scan_id, e.event, f.key", (rows[0][0],)):
        changes.setdefault((scan_id, event), []).append(Change(key, severity))
    out = []
    for (scan_id, at, complete, policy, groups, n_open, active, waived, baselined,
         *by_sev) in rows:
        out.append(ScanSummary(
            id=scan_id, scanned_at=at, complete=bool(complete), policy=policy, groups=groups,
            open=n_open, active=active, waived=waived, baselined=baselined,
            by_severity=dict(zip(SEVERITIES, by_sev, strict=True)),
            opened=tuple(changes.get((scan_id, "opened"), ())),
            resolved=tuple(changes.get((scan_id, "resolved"), ()))))
    return out


def open_findings(conn: sqlite3.Connection) -> list[OpenFinding]:
    """Every finding open now, oldest first."""
    return [OpenFinding(*row) for row in conn.execute(
        "SELECT key, severity, status, first_seen FROM findings WHERE open = 1"
        " ORDER BY first_seen, key")]


def scan_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM scans").fetchone()[0])


# -- the `sgaudit history` output ----------------------------------------------------------
HISTORY_SCHEMA = "sgaudit.history/v1"


def render(conn: sqlite3.Connection, fmt: str, limit: int = 0) -> str:
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


def history_table(summaries: list[ScanSummary], still_open: list[OpenFinding], total: int) -> str:
    from tabulate import tabulate

    if not summaries:
        return "No scans recorded yet.\n"
    out: list[str] = []
    if total > len(summaries):
        out.append(f"Last {len(summaries)} of {total} scans.")
    rows = [(s.id, s.scanned_at, "yes" if s.complete else "NO", s.groups, s.open, s.active,
             s.waived, s.baselined, f"+{len(s.opened)}", f"-{len(s.resolved)}") for s in summaries]
    out.append(tabulate(rows, headers=("scan", "scanned at", "complete", "groups", "open", "active",
                                       "waived", "baselined", "opened", "resolved"),
                        disable_numparse=True))
    for s in summaries:
        if not (s.opened or s.resolved):
            continue
        out.append("")
        out.append(f"scan {s.id} at {s.scanned_at}:")
        out.extend(_capped([f"  opened    {c.severity:<8}  {c.key}" for c in s.opened], "  "))
        out.extend(_capped([f"  resolved  {c.severity:<8}  {c.key}" for c in s.resolved], "  "))
    out.append("")
    if still_open:
        out.append(f"Open now ({len(still_open)}):")
        shown = still_open[:TABLE_OPEN_LINES]
        out.append(tabulate([(o.first_seen, o.severity, o.status, o.key) for o in shown],
                            headers=("open since", "severity", "status", "key")))
        if len(still_open) > len(shown):
            out.append(f"... and {len(still_open) - len(shown)} more (--format json lists all)")
    else:
        out.append("Nothing open now.")
    return "\n".join(out) + "\n"
