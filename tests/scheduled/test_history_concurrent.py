"""Two processes writing the same history database at once: nothing corrupt, no scan lost."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from sgaudit.scheduled.history.schema import open_history
from sgaudit.scheduled.history.url import is_url

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SCANS_PER_WRITER = 25

#: one writer: waits for the start signal, then records scans as fast as it can
WRITER = r"""
import os, sqlite3, sys, time
from pathlib import Path
from sgaudit.scheduled.history import open_history, record_scan
from sgaudit.model import DesiredState, Finding, Group, GroupResult, Report

db, go, name, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
region = f"region-{name}"
group = Group("sg-1", "g", None, region, "111122223333")

def report(i):
    findings = tuple(
        Finding(key=f"extra|111122223333|{region}|sg-1|tcp|{p}|{p}|0.0.0.0/0", kind="extra",
                severity="high", account="111122223333", region=region, group_id="sg-1",
                group_name="g", protocol="tcp", from_port=p, to_port=p, source="0.0.0.0/0",
                rule_ids=(), reason="r")
        for p in range(1, 200 + (i % 3)))  # 199-201 findings: some open, some resolve
    return Report(True, (), (GroupResult(group, DesiredState((), ()), findings),), (), "t",
                  f"writer-{name}", ())

other = "writer-" + ("b" if name == "a" else "a")
watcher = None
if db.startswith("postgresql://"):
    import psycopg
    watcher = psycopg.connect(db, autocommit=True)

def others_done():
    # a plain read (no schema check, no write lock): how many scans the other has recorded
    if watcher is not None:  # PostgreSQL: one connection, kept (a new one per poll is slow)
        if watcher.execute("SELECT to_regclass('scans')").fetchone()[0] is None:
            return 0
        return watcher.execute("SELECT count(*) FROM scans WHERE policy = %s", (other,)).fetchone()[0]
    try:  # read-only: never create the database before the writers do
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
    except sqlite3.OperationalError:
        return 0
    try:
        return conn.execute("SELECT count(*) FROM scans WHERE policy = ?", (other,)).fetchone()[0]
    except sqlite3.OperationalError:  # no table yet: the other has not recorded anything
        return 0
    finally:
        conn.close()

while not go.exists():
    time.sleep(0.001)
for i in range(count):
    # keep step with the other writer (never more than one scan ahead), so the two really
    # interleave however the machine schedules them; both then write at the same moments
    deadline = time.monotonic() + 60
    while i and others_done() < i and time.monotonic() < deadline:
        time.sleep(0.002)
    with open_history(db, create=True) as conn:
        record_scan(conn, report(i), f"2026-03-01T02:{i // 60:02d}:{i % 60:02d}Z")
print("done", name)
"""


def rows_of(target: str, sql: str) -> list[tuple[Any, ...]]:
    with open_history(target, create=False) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


def test_two_writers_record_every_scan(tmp_path: Path, history_target: str) -> None:
    db, go = history_target, tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(go), name,
                                 str(SCANS_PER_WRITER)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
               for name in ("a", "b")]
    time.sleep(0.5)  # let both import and wait at the start line: neither creates the db first
    go.touch()
    outputs = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], outputs
    assert sorted(out.strip() for out, _ in outputs) == ["done a", "done b"]

    if not is_url(db):
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows = rows_of(db, "SELECT id, policy, open, opened, resolved FROM scans ORDER BY id")
    assert len(rows) == 2 * SCANS_PER_WRITER
    assert [r[0] for r in rows] == list(range(1, 2 * SCANS_PER_WRITER + 1))
    order = "".join(r[1][-1] for r in rows)
    assert order.count("ab") + order.count("ba") > 1, f"the writers did not overlap: {order}"
    for name in ("a", "b"):
        mine = [r for r in rows if r[1] == f"writer-{name}"]
        assert [r[2] for r in mine] == [199 + i % 3 for i in range(SCANS_PER_WRITER)]
        # each writer's own region: scan i opens what scan i-1 lacked and resolves what it dropped
        expected = [(199, 0)] + [(max(0, (i % 3) - ((i - 1) % 3)), max(0, ((i - 1) % 3) - (i % 3)))
                                 for i in range(1, SCANS_PER_WRITER)]
        assert [(r[3], r[4]) for r in mine] == expected
    per_scan = dict(rows_of(db, "SELECT scan_id, count(*) FROM scan_findings GROUP BY scan_id"))
    assert per_scan == {r[0]: r[2] for r in rows}
    # every row names a scan and a finding (PostgreSQL declares no foreign keys on these two)
    for table in ("scan_findings", "events"):
        assert rows_of(db, f"SELECT count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM scans s"
                           " WHERE s.id = t.scan_id) OR NOT EXISTS (SELECT 1 FROM findings f"
                           " WHERE f.id = t.finding_id)") == [(0,)]
    assert rows_of(db, "SELECT count(*) FROM events") == [(sum(r[3] + r[4] for r in rows),)]


def test_two_concurrent_checks_both_land_in_the_history(history_target: str) -> None:
    db = history_target
    args = ["check", "--policy", str(FIXTURES / "policy.yaml"), "--snapshot",
            str(FIXTURES / "security-groups.json"), "--snapshot", str(FIXTURES / "vpcs.json"),
            "--history", str(db), "--record-what-if", "-q", "-f", "json"]
    runs = [subprocess.Popen([sys.executable, "-m", "sgaudit", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "SGAUDIT_NOW": f"2026-03-0{day}T02:00:00Z"})
            for day in (1, 2)]
    outputs = [r.communicate(timeout=120) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    docs = [json.loads(out) for out, _ in outputs]
    # whichever committed first opened every finding; the other continued it or, if it was the
    # older scan committing late, moved first_seen back to its own time
    assert all(len({f["first_seen"] for f in d["findings"]}) == 1 for d in docs)
    later = subprocess.run([sys.executable, "-m", "sgaudit", *args], capture_output=True, text=True,
                           env={**os.environ, "SGAUDIT_NOW": "2026-03-03T02:00:00Z"})
    assert {f["first_seen"] for f in json.loads(later.stdout)["findings"]} == {"2026-03-01T02:00:00Z"}
    history = subprocess.run([sys.executable, "-m", "sgaudit", "history", "--history", str(db),
                              "-f", "json"], capture_output=True, text=True, check=True)
    scans = json.loads(history.stdout)["scans"]
    assert sorted(s["scanned_at"] for s in scans) == ["2026-03-01T02:00:00Z", "2026-03-02T02:00:00Z",
                                                      "2026-03-03T02:00:00Z"]
    assert [len(s["opened"]) for s in scans] == [6, 0, 0]
