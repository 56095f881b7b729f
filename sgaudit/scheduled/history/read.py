"""Reading the history back: the scans with what each opened and resolved, what is open now,
the trend, and what one scan resolved."""

from __future__ import annotations

from dataclasses import dataclass

from sgaudit.model import SEVERITIES, Resolved, TrendPoint
from sgaudit.scheduled.history.db import HistoryConnection

TREND_SCANS = 30
#: LIMIT for "every row" that both databases accept (PostgreSQL refuses SQLite's -1)
ALL_ROWS = 2**62


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
