"""Where the history lives: a SQLite file or a PostgreSQL database, behind one small connection
interface, so that the history package states the semantics once and only the dialect differs here
(placeholders, ids of inserted rows, bulk inserts, the write lock, the schema version, errors).

A target is a file path (SQLite) or a ``postgresql://`` / ``postgres://`` URL (pg.py).
Every message shows the target through ``display``: a URL without its password.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sgaudit.errors import SgauditError
from sgaudit.scheduled.history.url import POSTGRES_SCHEMES, display, url_scheme


class HistoryError(SgauditError):
    """The history database cannot be opened, is not ours, or is from a newer sgaudit."""


class HistoryConnection:
    """One connection to a history database, in autocommit mode: transactions are explicit
    (``transaction``), and each takes the database's write lock before it reads anything."""

    dialect = "sqlite"
    #: the driver's errors: raised while the history is used, they become one-line HistoryErrors
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, raw: Any, label: str) -> None:
        self.raw = raw
        self.label = label

    # -- statements (SQL written with ``?`` placeholders) -----------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.raw.executemany(sql, rows)

    def insert_id(self, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT of one row into a table with an ``id`` column; the row's id."""
        row_id = self.raw.execute(sql, params).lastrowid
        assert row_id is not None
        return int(row_id)

    def insert_rows(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Plain inserts of many rows (PostgreSQL: COPY)."""
        if rows:
            marks = ", ".join("?" for _ in columns)
            self.raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def create(self, statement: str) -> None:
        """One statement of the schema (written for SQLite)."""
        self.raw.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE: take the write lock up front, so a read-modify-write cannot interleave."""
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Several reads that see one state of the history, without taking the write lock (a
        deferred transaction in WAL mode reads one snapshot)."""
        self.raw.execute("BEGIN")
        try:
            yield
        finally:
            self.raw.execute("COMMIT")

    # -- the schema's identity ------------------------------------------------------------------
    def version(self) -> int:
        return int(self.raw.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, version: int) -> None:
        self.raw.execute(f"PRAGMA user_version = {int(version)}")

    def tables(self) -> set[str]:
        return {r[0] for r in self.raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def columns(self, table: str) -> set[str]:
        return {row[1] for row in self.raw.execute(f"PRAGMA table_info({table})")}

    def reset_ids(self, tables: Sequence[str]) -> None:
        """After rows were copied in with their ids: new rows continue after them (SQLite's
        AUTOINCREMENT already does)."""

    def refuse_read_only(self) -> None:
        """SQLite: the file's folder was checked before the scan (files.ensure_writable)."""

    def prepare(self, ensure_schema: Callable[[], None], timeout: float) -> None:
        """WAL mode and the schema. When two processes create the database at the same moment,
        switching to WAL can answer "database is locked" at once, without waiting on the busy
        timeout; such a setup is retried until the timeout, so neither scan is lost."""
        deadline = time.monotonic() + timeout
        pause = 0.01
        while True:
            try:
                self.raw.execute("PRAGMA journal_mode = WAL").fetchone()
                self.raw.execute("PRAGMA foreign_keys = ON")
                ensure_schema()
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def describe(self, exc: BaseException) -> str:
        return str(exc)

    def unusable(self, exc: BaseException) -> str:
        """The message for an error met while checking or creating the schema."""
        return f"{self.label}: not a usable history database: {self.describe(exc)}"

    def close(self) -> None:
        self.raw.close()


def connect(target: str | Path, *, create: bool, timeout: float) -> HistoryConnection:
    """A connection to the history at ``target`` (a path or a PostgreSQL URL)."""
    scheme = url_scheme(target)
    if scheme in POSTGRES_SCHEMES:
        from sgaudit.scheduled.history.pg import connect_postgres

        return connect_postgres(str(target), create=create, timeout=timeout)
    if scheme is not None:
        raise HistoryError(f"{display(target)}: a history is a SQLite file path or a "
                           f"postgresql:// URL, not a {scheme}:// URL")
    return _connect_sqlite(target, create=create, timeout=timeout)


def _connect_sqlite(path: str | Path, *, create: bool, timeout: float) -> HistoryConnection:
    if not create and not os.path.exists(path):
        raise HistoryError(f"{path}: no such history database (a check with --history creates it)")
    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO, a device, a folder
        raise HistoryError(f"{path}: cannot use as a history database: it is not a regular file")
    try:  # through a symlink: SQLite's -wal and -shm files belong beside the database itself
        raw = sqlite3.connect(os.path.realpath(path), timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: cannot open history database: {exc}") from None
    raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return HistoryConnection(raw, str(path))
