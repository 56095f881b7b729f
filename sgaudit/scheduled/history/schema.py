"""The history's tables: created on first use, migrated forward, opened under one lock discipline.

Every scan is one transaction that takes the database's write lock before it reads (SQLite:
``BEGIN IMMEDIATE`` in WAL mode; PostgreSQL: an advisory lock, see pg.py): writers queue
for up to the busy timeout, readers never block them; two scans recording at once are
serialised and both are kept. The semantics are in this package, once; db.py holds what
differs between the two databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

from sgaudit.scheduled.history.db import HistoryConnection, HistoryError, connect

SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 60.0

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
