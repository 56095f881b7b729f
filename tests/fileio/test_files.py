"""Writing reports, backups, baselines, snapshots and the history where -o points: through
symlinks (atomically, at the target), directly into character devices and FIFOs, '-' for stdout,
and a failed write (a full disk) as one line and exit 2.  Reading inputs: only regular files.

Device nodes, FIFOs and links are made inside each test's own tmp_path (a char device with the
major/minor of /dev/null or /dev/full); no test touches the system's /dev entries.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, Run

from sgaudit.errors import OutputError, PolicyError
from sgaudit.fileio.files import atomic_write, ensure_writable

DEMO = ["--policy", FIXTURES / "policy.yaml", "--snapshot", FIXTURES / "security-groups.json",
        "--snapshot", FIXTURES / "vpcs.json"]
NULL, FULL, ZERO = (1, 3), (1, 7), (1, 5)  # Linux's mem devices: null, full, zero

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a char device needs root")


def char_device(path: Path, major_minor: tuple[int, int]) -> Path:
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*major_minor))
    return path


class FifoReader:
    """Reads a FIFO in a thread, as `cat fifo` would."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path, self.data = path, b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with open(self.path, "rb") as handle:
            self.data = handle.read()

    def result(self) -> bytes:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        return self.data


# -- atomic_write -------------------------------------------------------------------------------
def test_a_symlink_stays_a_link_and_its_target_gets_the_text(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    target = tmp_path / "reports" / "2026-12-01.html"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "latest.html"
    link.symlink_to(Path("reports") / "2026-12-01.html")  # relative, as people make them
    atomic_write(link, "new report")
    assert link.is_symlink() and os.readlink(link) == "reports/2026-12-01.html"
    assert target.read_text() == "new report"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["2026-12-01.html"]  # no temp left


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "latest.json"
    link.symlink_to(tmp_path / "new.json")
    atomic_write(link, "{}")
    assert link.is_symlink() and (tmp_path / "new.json").read_text() == "{}"


@needs_root
def test_a_char_device_is_written_not_replaced(tmp_path: Path) -> None:
    null = char_device(tmp_path / "null", NULL)
    ensure_writable(null, label="report")
    atomic_write(null, "into the void")
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert null.lstat().st_rdev == os.makedev(*NULL)


@needs_root
def test_a_symlink_to_a_char_device_is_followed(tmp_path: Path) -> None:
    null = char_device(tmp_path / "null", NULL)
    link = tmp_path / "stdout"
    link.symlink_to(null)
    atomic_write(link, "text")
    assert link.is_symlink() and stat.S_ISCHR(null.lstat().st_mode)


@needs_root
def test_a_full_device_is_one_line_error(tmp_path: Path) -> None:
    full = char_device(tmp_path / "full", FULL)
    with pytest.raises(OutputError) as raised:
        atomic_write(full, "x" * 100_000, label="report")
    assert str(raised.value) == f"{full}: cannot write report: No space left on device"
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_fifo_gets_the_whole_text(tmp_path: Path) -> None:
    reader = FifoReader(tmp_path / "pipe")
    text = "line\n" * 50_000  # more than a pipe buffer
    atomic_write(reader.path, text)
    assert reader.result() == text.encode()
    assert stat.S_ISFIFO(reader.path.lstat().st_mode)


def test_dash_is_stdout(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    atomic_write("-", "to stdout\n")
    assert capfdbinary.readouterr().out == b"to stdout\n"


def test_a_lone_surrogate_is_written_as_replacement_character(tmp_path: Path) -> None:
    atomic_write(tmp_path / "r.txt", "name \ud800 end")
    assert (tmp_path / "r.txt").read_text(encoding="utf-8") == "name \ufffd end"


@needs_root
def test_stdout_on_a_full_device_is_one_line(tmp_path: Path) -> None:
    from sgaudit.fileio.files import write_stdout

    full = char_device(tmp_path / "full", FULL)
    with open(full, "wb") as stream, pytest.raises(OutputError) as raised:
        write_stdout("x" * 100_000, stream=stream)
    assert str(raised.value) == "stdout: cannot write report: No space left on device"


def test_ensure_writable_refuses_a_socket_and_a_folder(tmp_path: Path) -> None:
    import socket

    sock_path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(OutputError) as raised:
            ensure_writable(sock_path, label="report")
    assert str(raised.value) == f"{sock_path}: cannot write report: it is a socket"
    with pytest.raises(OutputError) as raised:
        ensure_writable(tmp_path, label="report")
    assert str(raised.value) == f"{tmp_path}: cannot write report: it is a folder"


# -- the command line ---------------------------------------------------------------------------
def test_check_o_through_a_symlink(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    target = tmp_path / "reports" / "today.json"
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    run = sgaudit("check", *DEMO, "-o", link)
    assert run.code == 0
    assert link.is_symlink()
    assert json.loads(target.read_text())["schema"] == "sgaudit.report/v1"
    assert f"sgaudit: json report written to {link}" in run.err_lines


def test_check_o_dash_is_stdout(sgaudit: Callable[..., Run], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = sgaudit("check", *DEMO, "-o", "-", "-f", "json")
    assert run.code == 0 and json.loads(run.out)["schema"] == "sgaudit.report/v1"
    assert list(tmp_path.iterdir()) == []


def test_check_o_fifo(tmp_path: Path) -> None:
    """A FIFO as -o (what `-o >(gzip > r.gz)` hands over) is written, not replaced by a file."""
    reader = FifoReader(tmp_path / "pipe")
    run = subprocess.run([sys.executable, "-m", "sgaudit", "check", *map(str, DEMO), "-f", "json",
                          "-o", str(reader.path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(reader.result())["schema"] == "sgaudit.report/v1"
    assert stat.S_ISFIFO(reader.path.lstat().st_mode)


@needs_root
def test_check_o_char_device(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    null = char_device(tmp_path / "devnull", NULL)
    run = sgaudit("check", *DEMO, "-o", null)
    assert run.code == 0
    assert stat.S_ISCHR(null.lstat().st_mode) and null.lstat().st_rdev == os.makedev(*NULL)


@needs_root
def test_check_o_full_device_is_exit_2(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    full = char_device(tmp_path / "full", FULL)
    run = sgaudit("check", *DEMO, "-o", full, "-f", "html")
    assert (run.code, run.err_lines[-1:]) == (2, [f"sgaudit: error: {full}: cannot write report: "
                                                  "No space left on device"])


@needs_root
def test_stdout_on_a_full_device_is_exit_2_one_line(tmp_path: Path) -> None:
    full = char_device(tmp_path / "full", FULL)
    with open(full, "wb") as stdout:
        run = subprocess.run([sys.executable, "-m", "sgaudit", "check", *map(str, DEMO)],
                             stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.splitlines() == ["sgaudit: error: stdout: cannot write report: "
                                       "No space left on device"]


def test_a_closed_pipe_on_stdout_is_exit_2_one_line() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sgaudit", "check", *map(str, DEMO), "-f", "html"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # `sgaudit check | head -0`
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.decode().splitlines() == ["sgaudit: error: stdout: cannot write report: Broken pipe"]


def test_update_baseline_and_history_through_symlinks(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    baseline, db = tmp_path / "baseline.json", tmp_path / "scans.db"
    baseline.symlink_to(tmp_path / "store" / "baseline.json")
    db.symlink_to(tmp_path / "store" / "scans.db")
    run = sgaudit("check", *DEMO, "--update-baseline", baseline, "--history", db)
    assert run.code == 0
    assert baseline.is_symlink() and db.is_symlink()
    assert json.loads((tmp_path / "store" / "baseline.json").read_text())["sgaudit_baseline"] == 1
    again = sgaudit("history", "--history", db, "-f", "json")
    assert json.loads(again.out)["total_scans"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "scans.db", "store"]


def test_history_database_must_be_a_file(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "db")
    run = sgaudit("check", *DEMO, "--history", tmp_path / "db")
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {tmp_path / 'db'}: cannot write history "
                                             "database: it is not a regular file (a FIFO)"])


def test_backup_through_a_symlink(tmp_path: Path) -> None:
    from sgaudit.remediate.aws.backup import BackupWriter
    from sgaudit.remediate.aws.changes import Plan
    from sgaudit.remediate.documents import check_target

    (tmp_path / "store").mkdir()
    link = tmp_path / "backup.json"
    link.symlink_to(tmp_path / "store" / "fix.json")
    check_target(link)  # the target does not exist yet: allowed
    writer = BackupWriter(link, Plan(groups=()), {"created_at": "2026-12-02T00:00:00Z"})
    writer.write()
    writer.write()
    assert link.is_symlink()
    assert json.loads((tmp_path / "store" / "fix.json").read_text())["sgaudit_backup"] == 1


def test_snapshot_writer_through_a_symlink(tmp_path: Path) -> None:
    from sgaudit.model import Matcher
    from sgaudit.sources.snapshot_writer import write_snapshot

    link = tmp_path / "latest.json"
    link.symlink_to(tmp_path / "2026-12-02.json")
    write_snapshot(link, [], "2026-12-02T00:00:00Z", Matcher())
    assert link.is_symlink() and json.loads((tmp_path / "2026-12-02.json").read_text())


# -- special files as input ---------------------------------------------------------------------
def test_read_input_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    from sgaudit.fileio.files import read_input

    os.mkfifo(tmp_path / "p")
    with pytest.raises(PolicyError) as raised:
        read_input(tmp_path / "p", label="policy file", error=PolicyError)
    assert str(raised.value) == (f"{tmp_path / 'p'}: cannot read policy file: it is not a regular "
                                 "file (a device, FIFO or socket); give a file")


def test_read_input_bounds_what_it_reads(tmp_path: Path) -> None:
    from sgaudit.fileio.files import read_input

    (tmp_path / "big").write_bytes(b"x" * (3 << 20))
    with pytest.raises(PolicyError) as raised:
        read_input(tmp_path / "big", label="policy file", error=PolicyError, limit=2 << 20)
    assert str(raised.value) == f"{tmp_path / 'big'}: cannot read policy file: larger than 2 MiB"


def test_a_fifo_as_policy(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "policy.yaml")
    run = sgaudit("check", "--policy", tmp_path / "policy.yaml", *DEMO[2:])
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {tmp_path / 'policy.yaml'}: cannot read "
                                             "policy file: it is not a regular file (a device, FIFO "
                                             "or socket); give a file"])


@needs_root
def test_a_char_device_as_snapshot(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    zero = char_device(tmp_path / "zero", ZERO)
    run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", zero)
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {zero}: cannot read snapshot: it is not "
                                             "a regular file (a device, FIFO or socket); give a file"])


@needs_root
def test_dask_config_pointing_at_a_char_device(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    zero = char_device(tmp_path / "zero", ZERO)
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"dask_config: {zero}\n")
    run = sgaudit("check", "--policy", policy, *DEMO[2:])
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {zero}: cannot read dask config: it is "
                                             "not a regular file (a device, FIFO or socket); give a file"])


def test_a_fifo_as_baseline(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "b.json")
    run = sgaudit("check", *DEMO, "--baseline", tmp_path / "b.json")
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {tmp_path / 'b.json'}: cannot read "
                                             "baseline: it is not a regular file (a device, FIFO or "
                                             "socket); give a file"])


def test_o_through_a_link_to_this_process_stdout(tmp_path: Path) -> None:
    """`-o /dev/stdout` as CI writes it, with stdout a pipe: the report reaches the pipe (the
    link points at /proc's fd link of the process itself, made in tmp_path)."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    run = subprocess.run([sys.executable, "-m", "sgaudit", "check", *map(str, DEMO), "-f", "json",
                          "-o", str(link)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["schema"] == "sgaudit.report/v1"
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["stdout"]


def test_backup_to_stdout_is_refused() -> None:
    from sgaudit.errors import UsageError
    from sgaudit.remediate.documents import check_target

    with pytest.raises(UsageError) as raised:
        check_target("-")
    assert str(raised.value) == ("--backup -: a backup is a file (it is rewritten around every change); "
                                 "give a path")


@needs_root
@pytest.mark.parametrize("command", [["explain"], ["history", "--history", "DB"]])
def test_explain_and_history_on_a_full_stdout(tmp_path: Path, sgaudit: Callable[..., Run],
                                              command: list[str]) -> None:
    db = tmp_path / "h.db"
    assert sgaudit("check", *DEMO, "--history", db, "-q").code == 0
    args = [str(db) if a == "DB" else a for a in command]
    if command == ["explain"]:
        args += [str(a) for a in DEMO]
    full = char_device(tmp_path / "full", FULL)
    with open(full, "wb") as stdout:
        run = subprocess.run([sys.executable, "-m", "sgaudit", *args], stdout=stdout,
                             stderr=subprocess.PIPE, text=True, timeout=60)
    assert (run.returncode, len(run.stderr.splitlines())) == (2, 1), run.stderr
    assert run.stderr.endswith(": No space left on device\n")
