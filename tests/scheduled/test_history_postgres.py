"""The history in PostgreSQL beyond what every history test checks on both backends: URLs and
where the password comes from (never printed), the faults of a server (wrong password, nothing
listening, a user without write rights, a server gone mid-write, a held lock), the driver
missing, --copy-to, and the same `sgaudit history` document from either database."""

from __future__ import annotations

import json
import socket
import sqlite3
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import FIXTURES, Run
from history_samples import finding, report_of
from pg_support import PASSWORD, PgServer, free_port, recorded_scans
from test_history_clock import V1_SCHEMA
from test_history_nightly import edited_fixture

from sgaudit.scheduled.history import pg as history_pg
from sgaudit.scheduled.history.db import HistoryError
from sgaudit.scheduled.history.read import scans
from sgaudit.scheduled.history.record import record_scan
from sgaudit.scheduled.history.render import render
from sgaudit.scheduled.history.schema import SCHEMA_VERSION, _statements, open_history
from sgaudit.scheduled.history.url import display

POLICY = FIXTURES / "policy.yaml"
T1, T2, T3 = (f"2026-03-0{d}T02:00:00Z" for d in (1, 2, 3))


def check(sgaudit: Callable[..., Run], target: str | None, snapshot: Path = FIXTURES / "security-groups.json",
          *extra: object) -> Run:
    where = ("--history", target) if target else ()
    return sgaudit("check", "--policy", POLICY, "--snapshot", snapshot, "--snapshot",
                   FIXTURES / "vpcs.json", *where, "--record-what-if", "-q", "-f", "json", *extra)


def counts(url: str) -> tuple[int, ...]:
    with psycopg.connect(url, autocommit=True) as conn:
        return tuple(int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                     for t in ("scans", "findings", "scan_findings", "events"))


# -- URLs and passwords ----------------------------------------------------------------------
@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://sg:pw@db.example:5433/hist", "postgresql://sg@db.example:5433/hist"),
    ("postgres://sg:p%40ss@db/hist?sslmode=require", "postgres://sg@db/hist?sslmode=require"),
    ("postgresql://sg@db/hist?password=pw&sslmode=verify-full",
     "postgresql://sg@db/hist?sslmode=verify-full"),
    ("postgresql://db/hist", "postgresql://db/hist"),
    ("postgresql://sg:pw@h1:5432,h2:5433/hist", "postgresql://sg@h1:5432,h2:5433/hist"),
    ("history.db", "history.db"),
])
def test_messages_show_a_url_without_its_password(url: str, shown: str) -> None:
    assert display(url) == shown


def test_the_password_is_never_printed(sgaudit: Callable[..., Run], pg_server: PgServer) -> None:
    url = pg_server.url("postgres", password="wrong-" + PASSWORD)
    run = check(sgaudit, url)
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [
        f"sgaudit: error: postgresql://postgres@127.0.0.1:{pg_server.port}/postgres: cannot connect "
        f"to the history database: connection failed: connection to server at \"127.0.0.1\", port "
        f"{pg_server.port} failed: FATAL:  password authentication failed for user \"postgres\""]
    assert "wrong-" not in run.err and PASSWORD not in run.err


def test_the_password_from_pgpassword_and_a_pgpass_file(sgaudit: Callable[..., Run], pg_url: str,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bare = pg_url.replace(f":{PASSWORD}@", "@")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    assert check(sgaudit, bare).code == 0
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:*:*:postgres:{PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    assert check(sgaudit, bare).code == 0
    assert recorded_scans(pg_url) == 2


def test_sgaudit_history_is_the_default_target(sgaudit: Callable[..., Run], pg_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGAUDIT_HISTORY", pg_url)
    monkeypatch.setenv("SGAUDIT_NOW", T1)
    assert check(sgaudit, None).code == 0
    doc = json.loads(sgaudit("history", "-f", "json").out)
    assert [(s["scanned_at"], len(s["opened"])) for s in doc["scans"]] == [(T1, 6)]


def test_another_scheme_is_refused_in_one_line(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("history", "--history", "mysql://u:secret@127.0.0.1/db")
    assert (run.code, run.err_lines) == (2, [
        "sgaudit: error: mysql://u@127.0.0.1/db: a history is a SQLite file path or a postgresql:// "
        "URL, not a mysql:// URL"])


def test_without_the_driver_one_line_says_what_to_install(sgaudit: Callable[..., Run],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` now fails
    run = sgaudit("history", "--history", "postgresql://sg:secret@127.0.0.1:1/hist")
    assert (run.code, run.out, run.err_lines) == (2, "", [
        "sgaudit: error: postgresql://sg@127.0.0.1:1/hist: a PostgreSQL history needs the psycopg "
        "driver: pip install 'sgaudit[postgres]'"])


# -- faults ----------------------------------------------------------------------------------
def test_nothing_listening_is_one_line_before_the_scan(sgaudit: Callable[..., Run]) -> None:
    port = free_port()
    run = check(sgaudit, f"postgresql://sg:secret@127.0.0.1:{port}/hist")
    assert (run.code, run.out, run.err_lines) == (2, "", [
        f"sgaudit: error: postgresql://sg@127.0.0.1:{port}/hist: cannot connect to the history "
        f"database: connection failed: connection to server at \"127.0.0.1\", port {port} failed: "
        "Connection refused"])


def test_the_connect_timeout_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts the connection and never answers: the default timeout applies
    when the URL names none (shortened here), and the URL's own when it does."""
    monkeypatch.setattr(history_pg, "CONNECT_TIMEOUT_S", 1)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        for query, limit in (("", 1), ("?connect_timeout=2", 2)):
            started = time.monotonic()
            with pytest.raises(HistoryError) as raised, open_history(
                    f"postgresql://sg:pw@127.0.0.1:{port}/hist{query}", create=True):
                pass
            took = time.monotonic() - started
            assert str(raised.value) == (f"postgresql://sg@127.0.0.1:{port}/hist{query}: cannot "
                                         "connect to the history database: connection timeout expired")
            assert limit - 0.1 < took < limit + 5


def test_a_user_without_write_rights_is_refused_before_the_scan(
        sgaudit: Callable[..., Run], pg_server: PgServer, pg_url: str) -> None:
    assert check(sgaudit, pg_url).code == 0
    database = pg_url.rsplit("/", 1)[1]
    pg_server.admin("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reader')"
                    " THEN CREATE ROLE reader LOGIN PASSWORD 'reader-pw'; END IF; END $$")
    pg_server.admin("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader", database)
    reader = pg_server.url(database, "reader", "reader-pw")
    run = check(sgaudit, reader)
    assert (run.code, run.out, run.err_lines) == (2, "", [
        f"sgaudit: error: {display(reader)}: user reader may not write the history (INSERT and "
        "UPDATE on scans, findings, scan_findings, events): grant them, or use another user"])
    with pytest.raises(HistoryError) as raised, open_history(reader, create=True) as conn:
        record_scan(conn, report_of(finding(22)), T2)  # past the check: the database refuses
    assert str(raised.value) == (f"{display(reader)}: history database error: permission denied "
                                 "for table scans")
    assert recorded_scans(pg_url) == 1
    assert sgaudit("history", "--history", reader).code == 0  # reading is all it may do


def test_a_server_gone_mid_write_leaves_no_half_recorded_scan(pg_server: PgServer, pg_url: str) -> None:
    with open_history(pg_url, create=True) as conn:
        record_scan(conn, report_of(finding(22), finding(80)), T1)
    before = counts(pg_url)
    with pytest.raises(HistoryError) as raised, open_history(pg_url, create=True) as conn:
        plain = conn.insert_rows

        def dropped_midway(table: str, columns: Any, rows: Any) -> None:
            if table == "scan_findings":  # the scan row, the findings and events are written
                pg_server.admin(f"SELECT pg_terminate_backend({conn.raw.info.backend_pid})")
            plain(table, columns, rows)

        conn.insert_rows = dropped_midway  # type: ignore[method-assign]
        record_scan(conn, report_of(finding(22), finding(443)), T2)
    assert str(raised.value).startswith(f"{display(pg_url)}: history database error: ")
    assert "\n" not in str(raised.value)
    assert counts(pg_url) == before == (1, 2, 2, 2)
    with open_history(pg_url, create=True) as conn:  # the next scan records as if nothing happened
        record_scan(conn, report_of(finding(22), finding(443)), T2)
        assert [(s.id, [c.key for c in s.opened], [c.key for c in s.resolved])
                for s in scans(conn)] == [
            (1, [finding(22).key, finding(80).key], []), (3, [finding(443).key], [finding(80).key])]


def test_a_server_restarting(sgaudit: Callable[..., Run], pg_server: PgServer, pg_url: str) -> None:
    assert check(sgaudit, pg_url).code == 0
    pg_server.stop()
    try:
        run = check(sgaudit, pg_url)
        assert (run.code, len(run.err_lines)) == (2, 1)
        assert run.err_lines[0].startswith(f"sgaudit: error: {display(pg_url)}: cannot connect to the "
                                           "history database: connection failed: ")
        assert PASSWORD not in run.err
    finally:
        pg_server.start()
    assert check(sgaudit, pg_url).code == 0
    assert recorded_scans(pg_url) == 2


def test_a_held_write_lock_is_waited_for_then_one_line(pg_url: str) -> None:
    with open_history(pg_url, create=True):
        pass
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (history_pg.LOCK_KEY,))  # a scan recording
        with pytest.raises(HistoryError) as raised, open_history(pg_url, create=True, timeout=0.2) as conn:
            record_scan(conn, report_of(finding(22)), T1)
    assert str(raised.value) == (f"{display(pg_url)}: history database error: canceling statement "
                                 "due to lock timeout")


def test_reading_a_database_without_a_history_creates_nothing(sgaudit: Callable[..., Run],
                                                              pg_url: str) -> None:
    run = sgaudit("history", "--history", pg_url)
    assert (run.code, run.out, run.err_lines) == (2, "", [
        f"sgaudit: error: {display(pg_url)}: no history in this database (a check with --history "
        "creates it)"])
    assert recorded_scans(pg_url) is None


def test_someone_elses_database_is_refused(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    with pytest.raises(HistoryError) as raised, open_history(pg_url, create=True):
        pass
    assert str(raised.value) == (f"{display(pg_url)}: not an sgaudit history database (has tables "
                                 "notes, version 0)")


# -- one document whichever database holds the scans ---------------------------------------------
def test_both_databases_print_the_same_history(pg_url: str, tmp_path: Path) -> None:
    """Keys whose order differs between byte order and a language's collation, a late scan, a
    what-if ahead of the clock, a NUL and a lone surrogate from a hostile snapshot."""
    odd = [replace_group(finding(p), g) for p, g in ((1, "sg-B"), (2, "sg-a"), (3, "sg-é"), (4, "sg-_"),
                                                   (5, "sg-\x00x"), (6, "sg-\udcff"))]
    scans = [(report_of(*odd[:4]), T2, {}), (report_of(*odd[2:]), T3, {}),
             (report_of(*odd[:2]), T1, {}),  # late
             (report_of(odd[0]), "2099-01-01T00:00:00Z", {"what_if": True})]
    documents = []
    for target in (str(tmp_path / "h.db"), pg_url):
        with open_history(target, create=True) as conn:
            for report, at, flags in scans:
                record_scan(conn, report, at, recorded_at=T3, **flags)
            documents.append((render(conn, "json"), render(conn, "table")))
    assert documents[0] == documents[1]
    doc = json.loads(documents[0][0])
    assert [[c["key"].split("|")[3] for c in s["opened"]] for s in doc["scans"]] == [
        ["sg-B", "sg-_", "sg-a", "sg-é"], ["sg-\ufffdx", "sg-\ufffd"], [], ["sg-B"]]  # byte order
    assert [o["key"].split("|")[3] for o in doc["open"]] == ["sg-B"]  # the what-if resolved the rest


def replace_group(f: Any, group: str) -> Any:
    return f._replace(key=f.key.replace("sg-1", group), group_id=group)


# -- --copy-to -----------------------------------------------------------------------------------
def nightly_history(sgaudit: Callable[..., Run], target: str, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Scans that open, resolve, arrive late and run ahead of the clock."""
    with_9999 = edited_fixture(tmp_path / "new.json", add_9999=True)
    for day, snapshot in ((T2, FIXTURES / "security-groups.json"), (T3, with_9999),
                          (T1, FIXTURES / "security-groups.json"),  # late
                          ("2026-03-04T02:00:00Z", FIXTURES / "security-groups.json")):
        monkeypatch.setenv("SGAUDIT_NOW", day)
        assert check(sgaudit, target, snapshot).code == 0


def test_copy_to_moves_a_sqlite_history_into_postgresql(sgaudit: Callable[..., Run], pg_url: str,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "h.db")
    nightly_history(sgaudit, db, tmp_path, monkeypatch)
    run = sgaudit("history", "--history", db, "--copy-to", pg_url)
    assert (run.code, run.out) == (0, f"copied 4 scan(s), 7 finding(s), 25 scan finding(s) and 8 "
                                      f"event(s) from {db} to {display(pg_url)}\n")
    assert PASSWORD not in run.out + run.err
    for fmt in ("json", "table"):
        assert (sgaudit("history", "--history", db, "-f", fmt, "-n", "0").out
                == sgaudit("history", "--history", pg_url, "-f", fmt, "-n", "0").out)
    with closing(sqlite3.connect(db)) as conn, psycopg.connect(pg_url) as pg:
        for table, columns in (("scans", "*"), ("findings", "*"), ("scan_findings", "*"), ("events", "*")):
            order = "1, 2, 3" if table != "scans" else "1"
            assert (conn.execute(f"SELECT {columns} FROM {table} ORDER BY {order}").fetchall()
                    == pg.execute(f"SELECT {columns} FROM {table} ORDER BY {order}").fetchall()), table
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-05T02:00:00Z")  # both go on the same way
    assert check(sgaudit, db).code == check(sgaudit, pg_url).code == 0
    after = [json.loads(sgaudit("history", "--history", where, "-f", "json").out) for where in (db, pg_url)]
    for doc in after:  # recorded a second apart, maybe
        assert doc["scans"][-1].pop("recorded_at") is not None
    assert after[0] == after[1]


def test_copy_to_refuses_a_target_that_holds_scans(sgaudit: Callable[..., Run], pg_url: str,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "h.db")
    nightly_history(sgaudit, db, tmp_path, monkeypatch)
    monkeypatch.setenv("SGAUDIT_NOW", T1)
    assert check(sgaudit, pg_url).code == 0
    before = counts(pg_url)
    run = sgaudit("history", "--history", db, "--copy-to", pg_url)
    assert (run.code, run.out, run.err_lines) == (2, "", [
        f"sgaudit: error: {display(pg_url)}: --copy-to fills only an empty history; this one holds "
        "1 scan(s) and 6 finding(s)"])
    assert counts(pg_url) == before


def test_copy_to_itself_is_refused_at_once(sgaudit: Callable[..., Run], pg_url: str, tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with open_history(db, create=True):
        pass
    (tmp_path / "link.db").symlink_to(db)
    for source, target in ((db, tmp_path / "link.db"), (pg_url, pg_url)):
        run = sgaudit("history", "--history", source, "--copy-to", target)
        assert (run.code, run.err_lines) == (
            2, [f"sgaudit: error: --copy-to {display(str(target))}: that is the history being copied"])


def test_copy_to_takes_a_v1_file_and_goes_back_to_sqlite(sgaudit: Callable[..., Run], pg_url: str,
                                                       tmp_path: Path) -> None:
    """An old (v1) file is migrated on the way; PostgreSQL to SQLite works the same."""
    v1 = tmp_path / "v1.db"
    with closing(sqlite3.connect(v1, isolation_level=None)) as conn:
        for statement in _statements(V1_SCHEMA):
            conn.execute(statement)
        conn.execute("INSERT INTO scans (scanned_at, complete, policy, sources, scope, groups, open,"
                     " active, waived, baselined, critical, high, medium, low, opened, resolved)"
                     f" VALUES ('{T1}', 1, 'p.yaml', '[]', '[]', 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0)")
        conn.execute("INSERT INTO findings (key, account, region, group_id, severity, status, open,"
                     f" first_seen, opened_scan) VALUES ('k', 'a', 'r', 'sg-1', 'critical', 'baselined',"
                     f" 1, '{T1}', 1)")
        conn.execute("INSERT INTO scan_findings VALUES (1, 1, 'baselined')")
        conn.execute("INSERT INTO events VALUES (1, 'opened', 1, 'critical')")
        conn.execute("PRAGMA user_version = 1")
    assert sgaudit("history", "--history", v1, "--copy-to", pg_url).code == 0
    back = tmp_path / "back.db"
    assert sgaudit("history", "--history", pg_url, "--copy-to", back).code == 0
    outputs = {sgaudit("history", "--history", where, "-f", "json").out for where in (v1, pg_url, back)}
    assert len(outputs) == 1
    (scan,) = json.loads(outputs.pop())["scans"]
    assert (scan["open_by_severity"], scan["recorded_at"]) == (
        {"critical": 1, "high": 0, "medium": 0, "low": 0}, None)
    with open_history(pg_url, create=True) as conn:  # new ids continue after the copied ones
        assert record_scan(conn, report_of(finding(22)), T2)[0] == 2


def test_a_v1_schema_is_migrated_on_postgresql_too(sgaudit: Callable[..., Run], pg_url: str) -> None:
    """No v1 database was ever written to PostgreSQL; the migration runs there all the same."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in _statements(V1_SCHEMA):
            conn.execute(history_pg._ddl(statement))
        conn.execute("INSERT INTO scans (scanned_at, complete, policy, sources, scope, groups, open,"
                     " active, waived, baselined, critical, high, medium, low, opened, resolved)"
                     f" VALUES ('{T1}', 1, 'p.yaml', '[]', '[]', 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0)")
        conn.execute("CREATE TABLE sgaudit_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO sgaudit_schema VALUES (1)")
    with open_history(pg_url, create=False) as db:
        assert db.version() == 2 and {"recorded_at", "what_if", "open_low"} <= db.columns("scans")
        record_scan(db, report_of(finding(22)), T2)
    doc = json.loads(sgaudit("history", "--history", pg_url, "-f", "json").out)
    assert [(s["scan"], s["recorded_at"] is None, s["what_if"]) for s in doc["scans"]] == [
        (1, True, False), (2, False, False)]


def test_a_pg_database_has_its_schema_version(pg_url: str) -> None:
    with open_history(pg_url, create=True):
        pass
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM sgaudit_schema").fetchall() == [(SCHEMA_VERSION,)]
