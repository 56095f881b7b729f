"""Scan history in SQLite or PostgreSQL: evidence of when each finding appeared and disappeared.

Every scan is one transaction that takes the database's write lock before it reads (SQLite:
``BEGIN IMMEDIATE`` in WAL mode; PostgreSQL: an advisory lock, see history_pg.py): writers queue
for up to the busy timeout, readers never block them; two scans recording at once are
serialised and both are kept. The semantics are here, once; history_db.py holds what differs
between the two databases.

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
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sgaudit.engine.summary import summarize
from sgaudit.model import SEVERITIES, Finding, Report, Resolved, TrendPoint
from sgaudit.scheduled.history_db import HistoryConnection, HistoryError, connect
from sgaudit.scheduled.history_url import display
from sgaudit.scheduled.scope import complete_scope, network_in_key
from sgaudit.text import clean

SCHEMA_VERSION = 2
#: a scan dated more than this after the recording machine's clock is "from the future"
CLOCK_TOLERANCE = timedelta(minutes=5)
BUSY_TIMEOUT_S = 60.0
TREND_SCANS = 30
#: LIMIT for "every row" that both databases accept (PostgreSQL refuses SQLite's -1)
ALL_ROWS = 2**62

_SCHEMA = """
CREATE TABLE scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scanned_at TEXT NOT NULL,
    complete INTEGER NOT NULL,
    policy TEXT,
    policy_sha256 TEXT,
    sources TEXT NOT NULL,          -- JSON list: files or account/regions read
    scope TEXT NOT NULL,            -- JSON list of [account, region] (AWS) and
                                    -- [project, "global", network] (GCP) read completely
    groups INTEGER NOT NULL,
    open INTEGER NOT NULL,          -- every finding present, accepted or not
    active INTEGER NOT NULL,
    waived INTEGER NOT NULL,
    baselined INTEGER NOT NULL,
    critical INTEGER NOT NULL, high INTEGER NOT NULL, medium INTEGER NOT NULL, low INTEGER NOT NULL,
    opened INTEGER NOT NULL DEFAULT 0,
    resolved INTEGER NOT NULL DEFAULT 0,
    recorded_at TEXT,               -- v2: the recording machine's clock (NULL before v2)
    what_if INTEGER NOT NULL DEFAULT 0,   -- v2: the scan time was fixed by SGAUDIT_NOW
    open_critical INTEGER, open_high INTEGER, open_medium INTEGER, open_low INTEGER  -- v2
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


__all__ = ["HistoryConnection", "HistoryError", "display"]


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
    #: every finding present (accepted or not) by severity; ``by_severity`` counts active ones
    open_by_severity: dict[str, int] | None = None
    recorded_at: str | None = None
    what_if: bool = False


@dataclass(frozen=True, slots=True)
class OpenFinding:
    key: str
    severity: str
    status: str
    first_seen: str


# -- connections ---------------------------------------------------------------------------
@contextmanager
def open_history(target: str | Path, *, create: bool,
                 timeout: float = BUSY_TIMEOUT_S) -> Iterator[HistoryConnection]:
    """A connection to the history at ``target`` (a SQLite file path or a PostgreSQL URL), its
    schema checked (created or migrated forward); the driver's errors become one line."""
    conn = connect(target, create=create, timeout=timeout)
    try:
        try:
            conn.prepare(lambda: _ensure_schema(conn), timeout)
        except conn.errors as exc:
            raise HistoryError(conn.unusable(exc)) from None
        try:
            yield conn
        except conn.errors as exc:  # locked past the timeout, disk full, server gone …
            raise HistoryError(f"{conn.label}: history database error: {conn.describe(exc)}") from None
    finally:
        with suppress(*conn.errors):  # closing a connection the server already dropped
            conn.close()


def _ensure_schema(conn: HistoryConnection) -> None:
    version = conn.version()
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise HistoryError(f"{conn.label}: history database version {version} was written by a "
                           f"newer sgaudit; this one reads version {SCHEMA_VERSION} (upgrade sgaudit)")
    with transaction(conn):
        version = conn.version()
        if version == SCHEMA_VERSION:  # another process created it while we waited
            return
        if version == 1:
            _migrate_v1(conn)
            return
        tables = conn.tables()
        if version != 0 or tables:
            raise HistoryError(f"{conn.label}: not an sgaudit history database "
                               f"(has tables {', '.join(sorted(tables)) or 'none'}, version {version})")
        _create(conn)
        conn.set_version(SCHEMA_VERSION)


def _create(conn: HistoryConnection) -> None:
    # executescript would COMMIT the open transaction; run the statements one by one instead.
    for statement in _statements(_SCHEMA):
        conn.create(statement)


#: v1 -> v2: columns added (old scans keep NULL / 0); nothing is rewritten or dropped
_V2_COLUMNS = ("recorded_at TEXT", "what_if INTEGER NOT NULL DEFAULT 0", "open_critical INTEGER",
               "open_high INTEGER", "open_medium INTEGER", "open_low INTEGER")


def _migrate_v1(conn: HistoryConnection) -> None:
    """Inside the caller's transaction: a v1 database gains the v2 columns of ``scans``."""
    have = conn.columns("scans")
    for column in _V2_COLUMNS:
        if column.split()[0] not in have:
            conn.create(f"ALTER TABLE scans ADD COLUMN {column}")
    conn.set_version(SCHEMA_VERSION)


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def transaction(conn: HistoryConnection) -> AbstractContextManager[None]:
    """Take the write lock up front, so a read-modify-write cannot interleave."""
    return conn.transaction()


# -- recording -----------------------------------------------------------------------------
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
        return replace(f, key=_SURROGATES.sub("\ufffd", f.key),
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
        replace(r, findings=tuple(replace(f, first_seen=first_seen.get(f.key, f.first_seen))
                                  for f in r.findings))
        for r in report.results)
    return replace(report, results=results)


# -- reading -------------------------------------------------------------------------------
def resolved_by(conn: HistoryConnection, scan_id: int) -> tuple[Resolved, ...]:
    """The findings scan ``scan_id`` resolved, by key (the OCSF report's Close events)."""
    rows = conn.execute(
        "SELECT f.key, f.severity, f.account, f.region, f.group_id, f.first_seen FROM events e"
        " JOIN findings f ON f.id = e.finding_id WHERE e.scan_id = ? AND e.event = 'resolved'"
        " ORDER BY f.key", (scan_id,)).fetchall()
    return tuple(Resolved(key, key.partition("|")[0], severity, account, region, group_id, first_seen)
                 for key, severity, account, region, group_id, first_seen in rows)


def trend(conn: HistoryConnection, limit: int = TREND_SCANS) -> tuple[TrendPoint, ...]:
    """Open (and active) findings per scan, oldest first: the report's trend chart."""
    rows = conn.execute("SELECT scanned_at, open, active FROM scans ORDER BY id DESC LIMIT ?",
                        (limit,)).fetchall()
    return tuple(TrendPoint(at, n, a) for at, n, a in reversed(rows))


def scans(conn: HistoryConnection, limit: int = 0) -> list[ScanSummary]:
    """The last ``limit`` scans (all when 0), oldest first, with what each opened and resolved."""
    rows = conn.execute(
        "SELECT id, scanned_at, complete, policy, groups, open, active, waived, baselined,"
        " critical, high, medium, low, recorded_at, what_if,"
        " open_critical, open_high, open_medium, open_low FROM scans ORDER BY id DESC LIMIT ?",
        (limit if limit > 0 else ALL_ROWS,)).fetchall()
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
        recorded_at, was_what_if, *open_sev = by_sev[4:]
        by_sev = by_sev[:4]
        out.append(ScanSummary(
            open_by_severity=_open_by_severity(conn, scan_id, open_sev),
            recorded_at=recorded_at, what_if=bool(was_what_if),
            id=scan_id, scanned_at=at, complete=bool(complete), policy=policy, groups=groups,
            open=n_open, active=active, waived=waived, baselined=baselined,
            by_severity=dict(zip(SEVERITIES, by_sev, strict=True)),
            opened=tuple(changes.get((scan_id, "opened"), ())),
            resolved=tuple(changes.get((scan_id, "resolved"), ()))))
    return out


def _open_by_severity(conn: HistoryConnection, scan_id: int,
                      stored: list[int | None]) -> dict[str, int]:
    """A scan's open findings by severity: stored since v2; for older scans counted from its
    finding set (with each finding's latest severity)."""
    if all(n is not None for n in stored):
        return dict(zip(SEVERITIES, stored, strict=True))  # type: ignore[arg-type]
    counted = dict(conn.execute(
        "SELECT f.severity, count(*) FROM scan_findings s JOIN findings f ON f.id = s.finding_id"
        " WHERE s.scan_id = ? GROUP BY f.severity", (scan_id,)).fetchall())
    return {s: int(counted.get(s, 0)) for s in SEVERITIES}


def open_findings(conn: HistoryConnection) -> list[OpenFinding]:
    """Every finding open now, oldest first."""
    return [OpenFinding(*row) for row in conn.execute(
        "SELECT key, severity, status, first_seen FROM findings WHERE open = 1"
        " ORDER BY first_seen, key")]


def scan_count(conn: HistoryConnection) -> int:
    return int(conn.execute("SELECT count(*) FROM scans").fetchone()[0])


# -- the `sgaudit history` output ----------------------------------------------------------
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
