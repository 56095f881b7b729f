"""History order under clock skew and what-if runs: one future-dated scan (SGAUDIT_NOW ahead of
the clock, or a machine whose clock runs fast) must not freeze the history; what-if runs are
not recorded unless asked; a scan recorded out of order says so; v1 databases are migrated."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FIXTURES, Run
from history_samples import finding, report_of
from pg_support import recorded_scans

from sgaudit.scheduled.history.read import open_findings, scans
from sgaudit.scheduled.history.record import iso, record_scan
from sgaudit.scheduled.history.schema import _statements, open_history
from sgaudit.scheduled.history.url import display

SNAPSHOTS = ("--snapshot", FIXTURES / "vpcs.json")
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def at(hours: float) -> str:
    return iso(NOW + timedelta(hours=hours))


def test_a_fast_clock_does_not_freeze_the_history(history_target: str) -> None:
    """Machine A's clock runs a day fast; machine B (right) scans after it: B is not "late",
    it resolves the fixed critical and opens the new one, and says why it ignored A's date."""
    fixed, new = finding(22, severity="critical"), finding(3389, severity="critical")
    said: list[str] = []
    with open_history(history_target, create=True) as db:
        record_scan(db, report_of(fixed), at(0), recorded_at=at(0))
        record_scan(db, report_of(fixed), at(24), recorded_at=at(24))   # machine A, a day fast
        record_scan(db, report_of(new), at(2), recorded_at=at(2), warn=said.append)  # machine B
        assert [(o.key, o.first_seen) for o in open_findings(db)] == [(new.key, at(2))]
        last = scans(db)[-1]
        assert ([c.key for c in last.opened], [c.key for c in last.resolved]) == ([new.key], [fixed.key])
    assert said == [f"history: scan 2 is dated {at(24)}, after this machine's clock ({at(2)}; a "
                    "what-if run or a clock running fast); it is not used to order this scan"]


def test_a_slow_concurrent_scan_is_still_late_and_says_so(history_target: str) -> None:
    a, b = finding(22), finding(80)
    said: list[str] = []
    with open_history(history_target, create=True) as db:
        record_scan(db, report_of(a), at(1), recorded_at=at(1.1))
        record_scan(db, report_of(b), at(0.9), recorded_at=at(1.2), warn=said.append)
        assert [o.key for o in open_findings(db)] == [a.key]  # b opened nothing
        assert (scans(db)[-1].opened, scans(db)[-1].resolved) == ((), ())
    assert said == [f"history: this scan ({at(0.9)}) is older than scan 1 ({at(1)}), already "
                    "recorded: it is kept out of order, and opens and resolves nothing"]


def test_a_scan_dated_ahead_of_its_own_clock_says_so(history_target: str) -> None:
    said: list[str] = []
    with open_history(history_target, create=True) as db:
        record_scan(db, report_of(finding(22)), at(48), recorded_at=at(0), what_if=True,
                    warn=said.append)
        assert scans(db)[0].what_if
    assert said == [f"history: this scan is dated {at(48)}, after this machine's clock ({at(0)}); "
                    "it is recorded, but later scans will not be ordered by its date"]


def _check(sgaudit: Callable[..., Run], db: str, snapshot: Path, *extra: object) -> Run:
    return sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snapshot, *SNAPSHOTS,
                   "--history", db, "-f", "json", *extra)


def test_sgaudit_now_is_not_recorded_unless_asked(sgaudit: Callable[..., Run], history_target: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = history_target
    monkeypatch.setenv("SGAUDIT_NOW", "2099-01-01")  # "which waivers will have expired by then?"
    run = _check(sgaudit, db, FIXTURES / "security-groups.json")
    assert run.code == 0
    assert (f"sgaudit: warning: SGAUDIT_NOW is set, so this what-if scan is not recorded in "
            f"{display(db)} (--record-what-if records it)") in run.err_lines
    assert recorded_scans(db) is None
    assert "trend" not in json.loads(run.out)


def test_a_recorded_what_if_in_the_future_does_not_freeze_later_scans(
        sgaudit: Callable[..., Run], tmp_path: Path, history_target: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: a what-if far ahead, recorded; then real scans (the real clock) still
    open what is new and resolve what was fixed."""
    from test_history_nightly import NEW, edited_fixture

    db = history_target
    plain = FIXTURES / "security-groups.json"
    with_9999 = edited_fixture(tmp_path / "new.json", add_9999=True)
    monkeypatch.setenv("SGAUDIT_NOW", "2099-01-01")
    assert _check(sgaudit, db, plain, "--record-what-if").code == 0
    monkeypatch.delenv("SGAUDIT_NOW")
    run = _check(sgaudit, db, with_9999)
    assert run.code == 0
    warned = [line for line in run.err_lines if line.startswith("sgaudit: warning: history:")]
    assert len(warned) == 1
    assert "scan 1 is dated 2099-01-01T00:00:00Z, after this machine's clock" in warned[0]
    first_seen = {f["key"]: f["first_seen"] for f in json.loads(run.out)["findings"]}
    assert first_seen[NEW] != "2099-01-01T00:00:00Z" and first_seen[NEW][:4] < "2099"
    # every finding the what-if saw is seen now, so none starts in the future any more
    assert all(v[:4] < "2099" for v in first_seen.values())
    fixed = _check(sgaudit, db, plain)  # 9999 closed again: resolved, not "open now" forever
    assert fixed.code == 0
    doc = json.loads(sgaudit("history", "--history", db, "-f", "json").out)
    assert [(len(s["opened"]), [c["key"] for c in s["resolved"]], s["what_if"]) for s in doc["scans"]] == [
        (6, [], True), (1, [], False), (0, [NEW], False)]
    assert NEW not in {o["key"] for o in doc["open"]}


V1_SCHEMA = """
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


def test_a_v1_database_is_migrated_in_place(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _statements(V1_SCHEMA):
        conn.execute(statement)
    conn.execute("INSERT INTO scans (scanned_at, complete, policy, sources, scope, groups, open, active,"
                 " waived, baselined, critical, high, medium, low, opened, resolved)"
                 " VALUES ('2026-03-01T02:00:00Z', 1, 'p.yaml', '[]', '[]', 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0)")
    conn.execute("INSERT INTO findings (key, account, region, group_id, severity, status, open,"
                 " first_seen, opened_scan) VALUES ('k', 'a', 'r', 'sg-1', 'critical', 'baselined', 1,"
                 " '2026-03-01T02:00:00Z', 1)")
    conn.execute("INSERT INTO scan_findings VALUES (1, 1, 'baselined')")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with open_history(path, create=False) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        (old,) = scans(db)
        assert (old.open, old.by_severity["critical"], old.open_by_severity) == (
            1, 0, {"critical": 1, "high": 0, "medium": 0, "low": 0})  # counted from its findings
        assert (old.recorded_at, old.what_if) == (None, False)
        record_scan(db, report_of(finding(22)), "2026-03-02T02:00:00Z")
        assert [s.id for s in scans(db)] == [1, 2]
    table = sgaudit("history", "--history", path)
    assert table.code == 0 and "0/1" in table.out


def test_history_shows_active_and_open_by_severity(sgaudit: Callable[..., Run], tmp_path: Path,
                                                    history_target: str) -> None:
    """After a baseline, 0 active criticals beside 6 open findings: both counts are shown."""
    db, baseline = history_target, tmp_path / "b.json"
    args = ("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", FIXTURES / "security-groups.json",
            *SNAPSHOTS)
    assert sgaudit(*args, "--update-baseline", baseline).code == 0
    assert sgaudit(*args, "--baseline", baseline, "--history", db).code == 0
    (scan,) = json.loads(sgaudit("history", "--history", db, "-f", "json").out)["scans"]
    assert (scan["open"], scan["active"]) == (6, 0)
    assert scan["by_severity"] == {"critical": 0, "high": 0, "medium": 0, "low": 0}
    assert scan["open_by_severity"] == {"critical": 2, "high": 1, "medium": 3, "low": 0}
    table = sgaudit("history", "--history", db).out
    assert "(severity columns: active/open; open also counts waived and baselined findings)" in table
    row = table.splitlines()[2].split()
    assert row[-6:-2] == ["0/2", "0/1", "0/3", "0/0"]
    assert recorded_scans(db) == 1
