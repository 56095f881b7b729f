"""Scan history: first_seen across scans (fixed clock), findings resolving and coming back,
scope, and the database's own errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from history_samples import finding, report_of

from sgaudit.model import TrendPoint
from sgaudit.scheduled.history.db import HistoryError
from sgaudit.scheduled.history.read import open_findings, scans, trend
from sgaudit.scheduled.history.record import record_scan, with_first_seen
from sgaudit.scheduled.history.render import render
from sgaudit.scheduled.history.schema import SCHEMA_VERSION, open_history
from sgaudit.scheduled.history.url import display

T1, T2, T3, T4 = (f"2026-03-0{d}T02:00:00Z" for d in (1, 2, 3, 4))


@pytest.fixture
def db(history_target: str):
    """A history on each backend: every test that takes it runs on SQLite and on PostgreSQL."""
    with open_history(history_target, create=True) as conn:
        yield conn


def test_first_seen_is_stable_while_open_and_restarts_after_a_resolve(db) -> None:
    a, b = finding(22), finding(80)
    _, seen1 = record_scan(db, report_of(a, b), T1)
    _, seen2 = record_scan(db, report_of(a, b), T2)
    _, seen3 = record_scan(db, report_of(a), T3)
    _, seen4 = record_scan(db, report_of(a, b), T4)
    assert seen1 == {a.key: T1, b.key: T1}
    assert seen2 == {a.key: T1, b.key: T1}
    assert seen3 == {a.key: T1}
    assert seen4 == {a.key: T1, b.key: T4}  # a new run: b was resolved at T3
    got = [(s.id, s.scanned_at, s.open, [c.key for c in s.opened], [c.key for c in s.resolved])
           for s in scans(db)]
    assert got == [(1, T1, 2, [a.key, b.key], []), (2, T2, 2, [], []), (3, T3, 1, [], [b.key]),
                   (4, T4, 2, [b.key], [])]
    assert [(o.key, o.first_seen) for o in open_findings(db)] == [(a.key, T1), (b.key, T4)]


def test_a_scan_of_another_region_resolves_nothing(db) -> None:
    east, west = finding(22, "us-east-1"), finding(22, "eu-west-1")
    record_scan(db, report_of(east, west, regions=("us-east-1", "eu-west-1")), T1)
    record_scan(db, report_of(regions=("us-east-1",)), T2)  # east fixed, west not looked at
    _, seen = record_scan(db, report_of(west, regions=("eu-west-1",)), T3)
    assert seen == {west.key: T1}
    assert [[c.key for c in s.resolved] for s in scans(db)] == [[], [east.key], []]


def test_a_region_that_failed_resolves_nothing(db) -> None:
    west = finding(22, "eu-west-1")
    record_scan(db, report_of(west, regions=("eu-west-1",)), T1)
    # eu-west-1 answered with an error: its groups were not read, so west is not "fixed"
    record_scan(db, report_of(regions=("us-east-1",), failed=("eu-west-1",)), T2)
    _, seen = record_scan(db, report_of(west, regions=("eu-west-1",)), T3)
    assert seen == {west.key: T1}
    assert [s.complete for s in scans(db)] == [True, False, True]
    assert sum(len(s.resolved) for s in scans(db)) == 0


def test_counts_per_scan_by_status_and_severity(db) -> None:
    a, b, c = finding(22, severity="critical"), finding(80), finding(443, severity="medium")
    report = report_of(a._replace(waived=True, waiver_reason="w"), b._replace(baselined=True), c)
    record_scan(db, report, T1)
    (summary,) = scans(db)
    assert (summary.groups, summary.open, summary.active, summary.waived, summary.baselined) == (
        1, 3, 1, 1, 1)
    assert summary.by_severity == {"critical": 0, "high": 0, "medium": 1, "low": 0}
    assert [(o.key, o.status) for o in open_findings(db)] == [
        (a.key, "waived"), (c.key, "active"), (b.key, "baselined")]  # by time, then key
    rows = db.execute("SELECT key, status FROM scan_keys WHERE scan_id = 1 ORDER BY key").fetchall()
    assert rows == [(a.key, "waived"), (c.key, "active"), (b.key, "baselined")]


def test_trend_is_oldest_first_and_limited(db) -> None:
    for day in range(1, 10):
        record_scan(db, report_of(*(finding(p) for p in range(1, day + 1))), f"2026-03-0{day}T02:00:00Z")
    assert trend(db, limit=3) == (
        TrendPoint("2026-03-07T02:00:00Z", 7, 7),
        TrendPoint("2026-03-08T02:00:00Z", 8, 8),
        TrendPoint("2026-03-09T02:00:00Z", 9, 9))
    assert [s.id for s in scans(db, 2)] == [8, 9]


def test_a_late_scan_with_many_new_keys_opens_none_of_them(db) -> None:
    """Enough rows for PostgreSQL's batched insert, in the late scan's ON CONFLICT DO NOTHING."""
    kept = finding(22)
    record_scan(db, report_of(kept), T2)
    many = [finding(p) for p in range(1000, 1080)]
    _, seen = record_scan(db, report_of(kept, *many), T1)  # late
    assert seen == {f.key: T1 for f in (kept, *many)}
    assert [(o.key, o.first_seen) for o in open_findings(db)] == [(kept.key, T1)]
    assert db.execute("SELECT count(*) FROM scan_keys WHERE scan_id = 2").fetchone() == (81,)
    record_scan(db, report_of(kept, *many), T3)  # now they open, with this scan's time
    assert len(scans(db)[-1].opened) == 80
    assert {o.first_seen for o in open_findings(db)} == {T1, T3}


def test_with_first_seen_is_pure() -> None:
    report = report_of(finding(22), finding(80))
    filled = with_first_seen(report, {finding(22).key: T1})
    assert [f.first_seen for f in filled.findings] == [T1, None]
    assert [f.first_seen for f in report.findings] == [None, None]


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    with open_history(tmp_path / "h.db", create=True) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


# -- the database's errors -----------------------------------------------------------------
def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is a text file, not SQLite" * 100)
    with pytest.raises(HistoryError) as raised, open_history(path, create=True):
        pass
    assert str(raised.value) == f"{path}: not a usable history database: file is not a database"


def test_someone_elses_database(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE notes (x)")
    other.commit()
    other.close()
    with pytest.raises(HistoryError) as raised, open_history(path, create=True):
        pass
    assert str(raised.value) == f"{path}: not an sgaudit history database (has tables notes, version 0)"


def test_a_newer_database(history_target: str, sgaudit) -> None:
    with open_history(history_target, create=True) as conn:
        conn.set_version(3)
    with pytest.raises(HistoryError) as raised, open_history(history_target, create=True):
        pass
    shown = display(history_target)  # a URL without its password
    assert str(raised.value) == (f"{shown}: history database version 3 was written by a newer "
                                 "sgaudit; this one reads version 2 (upgrade sgaudit)")
    run = sgaudit("history", "--history", history_target)
    assert (run.code, run.out, run.err_lines) == (2, "", [f"sgaudit: error: {raised.value}"])
    assert "s3cret" not in run.err


def test_history_command_errors_are_one_line(sgaudit, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    run = sgaudit("history", "--history", missing)
    assert (run.code, run.out, run.err_lines) == (
        2, "", [f"sgaudit: error: {missing}: no such history database (a check with --history "
                "creates it)"])
    assert not missing.exists()
    junk = tmp_path / "junk.db"
    junk.write_text("x" * 1000)
    run = sgaudit("history", "--history", junk)
    assert (run.code, run.err_lines) == (
        2, [f"sgaudit: error: {junk}: not a usable history database: file is not a database"])


def test_an_empty_history(sgaudit, history_target: str) -> None:
    with open_history(history_target, create=True):
        pass
    run = sgaudit("history", "--history", history_target)
    assert (run.code, run.out) == (0, "No scans recorded yet.\n")
    run = sgaudit("history", "--history", history_target, "-f", "json")
    assert json.loads(run.out) == {"schema": "sgaudit.history/v1", "total_scans": 0, "scans": [],
                                   "open": []}


def test_the_table_caps_long_lists_and_json_lists_all(db) -> None:
    many = [finding(p) for p in range(1, 61)]
    record_scan(db, report_of(*many), T1)
    table = render(db, "table")
    assert "  ... and 40 more (--format json lists all)" in table.splitlines()
    assert table.splitlines()[-1] == "... and 10 more (--format json lists all)"
    assert sum(1 for line in table.splitlines() if line.startswith("  opened ")) == 20
    doc = json.loads(render(db, "json"))
    assert len(doc["scans"][0]["opened"]) == 60 and len(doc["open"]) == 60


def test_a_locked_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with open_history(path, create=True) as holder:
        holder.execute("BEGIN IMMEDIATE")  # another scan holds the write lock
        with pytest.raises(HistoryError) as raised, open_history(path, create=True, timeout=0.1) as conn:
            record_scan(conn, report_of(finding(22)), T1)
        holder.execute("ROLLBACK")
    assert str(raised.value) == f"{path}: history database error: database is locked"
