"""A throwaway PostgreSQL server for the history tests: Debian's binaries, ``initdb`` and
``pg_ctl`` run as the ``postgres`` user when the tests run as root (initdb refuses root), a free
port on 127.0.0.1 only, password authentication over TCP, and a fresh database per test.

Without the server binaries or psycopg the PostgreSQL variants skip, except under CI=true,
where .ci/run installs both: there they fail, so a CI run never passes without them.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SUPERUSER, PASSWORD = "postgres", "s3cret-pw"
BACKENDS = ("sqlite", "postgresql")


def server_binaries() -> Path | None:
    """Debian's newest /usr/lib/postgresql/N/bin with initdb, else initdb on PATH."""
    def major(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """One running server; ``url(db)`` names a database on it."""

    bin: Path
    root: Path
    port: int
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A server binary, as the postgres user when we are root."""
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def url(self, database: str, user: str = SUPERUSER, password: str | None = PASSWORD) -> str:
        auth = f"{user}:{password}" if password is not None else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def new_database(self) -> str:
        name = f"history_{os.getpid()}_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name}")
        return name

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w",
                 "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)


def start_server(fsync: bool = False) -> PgServer:
    """initdb in a fresh folder owned by postgres, then start it on a free port."""
    binaries = server_binaries()
    if binaries is None:
        raise FileNotFoundError("no PostgreSQL server binaries (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="sgaudit-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = PgServer(binaries, root, free_port())
    (pwfile := root / "pw").write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    server.run("initdb", "-D", str(server.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
               "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync",
               "--locale=C.UTF-8" if Path("/usr/lib/locale/C.utf8").exists() else "--locale=C")
    if fsync:  # the benchmark: durable commits, as SQLite's
        options = f"-p {server.port} -c listen_addresses=127.0.0.1 -k {root}"
        server.run("pg_ctl", "-D", str(server.data), "-l", str(root / "log"), "-o", options, "-w",
                   "start")
    else:
        server.start()
    return server


def remove_server(server: PgServer) -> None:
    server.stop("immediate")
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One server per test process (each xdist worker starts its own)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install 'sgaudit[postgres]')")
    try:
        server = start_server()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        unavailable(f"cannot start a PostgreSQL server: {exc} {detail}".strip())
    try:
        yield server
    finally:
        remove_server(server)


@pytest.fixture(params=BACKENDS)
def history_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's history lives: a SQLite file, or a fresh database on the test server."""
    if request.param == "sqlite":
        return str(tmp_path / "h.db")
    server: PgServer = request.getfixturevalue("pg_server")
    return server.url(server.new_database())


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty PostgreSQL database (PostgreSQL-only tests)."""
    return pg_server.url(pg_server.new_database())


def recorded_scans(target: str) -> int | None:
    """How many scans a history holds; None when there is no history there at all."""
    from sgaudit.scheduled.history.url import is_url

    if not is_url(target):
        if not Path(target).exists():
            return None
        with closing(sqlite3.connect(target)) as conn:
            return int(conn.execute("SELECT count(*) FROM scans").fetchone()[0])
    import psycopg

    with psycopg.connect(target, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('scans')").fetchone()[0] is None:
            return None
        return int(conn.execute("SELECT count(*) FROM scans").fetchone()[0])
