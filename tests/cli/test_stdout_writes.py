"""Reports on stdout are whole or an error: a pipe whose reader left (``| head -c 100``) and a
file that cannot grow (a size limit, RLIMIT_FSIZE) are one line on stderr and exit 2, never a
truncated report with exit 0, and no "Exception ignored" noise from the interpreter's exit.

Every command runs in a real child process with real pipes and files."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, Run

#: a report far larger than a pipe's 64 KiB buffer
GROUPS = 400
LIMIT = 100 * 1024
VPC = "vpc-0c0ffee0000000001"


def big_snapshot(tmp_path: Path) -> Path:
    """GROUPS drifted Coiled groups: ssh from the world, each with a description of its own."""
    groups = [{"GroupId": f"sg-{i:017x}", "GroupName": f"coiled-dask-{i}", "VpcId": VPC,
               "OwnerId": "111122223333", "Tags": [{"Key": "owner", "Value": "coiled"}],
               "IpPermissions": [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                                  "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": f"rule {i} {port}"}],
                                  "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}
                                 for port in (22, 8786, 8787, 9000)]}
              for i in range(GROUPS)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"SecurityGroups": groups}))
    (tmp_path / "vpcs.json").write_text(json.dumps({"Vpcs": [{"VpcId": VPC, "CidrBlock": "10.0.0.0/16"}]}))
    return path


def args_for(tmp_path: Path) -> list[str]:
    label = "111122223333:us-east-1:"
    return ["--policy", str(FIXTURES / "policy.yaml"), "--snapshot", f"{label}{big_snapshot(tmp_path)}",
            "--snapshot", f"{label}{tmp_path / 'vpcs.json'}"]


def command(name: str, tmp_path: Path) -> list[str]:
    source = args_for(tmp_path)
    return {"check": ["check", *source, "-f", "json"],
            "baseline": ["check", *source, "--update-baseline", "-"],
            "explain": ["explain", *source, "-f", "json"],
            "history": ["history", "--history", str(tmp_path / "h.db"), "-f", "json", "-n", "0"]}[name]


def prepare(name: str, tmp_path: Path) -> None:
    if name == "history":  # a database whose listing is larger than a pipe buffer
        done = subprocess.run([sys.executable, "-m", "sgaudit", "check", *args_for(tmp_path), "-q",
                               "--history", str(tmp_path / "h.db"), "-o", str(tmp_path / "r.json")],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


LABELS = {"check": "report", "baseline": "baseline", "explain": "explanation", "history": "history"}


@pytest.mark.parametrize("name", sorted(LABELS))
def test_a_reader_that_leaves_early_is_exit_2_and_one_line(name: str, tmp_path: Path) -> None:
    prepare(name, tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "sgaudit", *command(name, tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(100)  # what `| head -c 100` reads before it exits
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 2
    assert len(head) == 100
    assert err == f"sgaudit: error: stdout: cannot write {LABELS[name]}: Broken pipe\n"


def _limited(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


@pytest.mark.parametrize("name", sorted(LABELS))
def test_stdout_on_a_file_that_cannot_grow_is_exit_2_and_one_line(name: str, tmp_path: Path) -> None:
    prepare(name, tmp_path)
    out = tmp_path / "out.txt"
    with open(out, "wb") as handle:
        run = subprocess.run([sys.executable, "-m", "sgaudit", *command(name, tmp_path)],
                             stdout=handle, stderr=subprocess.PIPE, text=True, timeout=120,
                             preexec_fn=_limited(LIMIT))
    assert run.returncode == 2
    assert run.stderr == f"sgaudit: error: stdout: cannot write {LABELS[name]}: File too large\n"
    assert out.stat().st_size == LIMIT


def test_the_same_report_within_the_limit_is_written_whole(tmp_path: Path) -> None:
    """The control: the limit is what fails the tests above, not the command."""
    out = tmp_path / "out.json"
    with open(out, "wb") as handle:
        run = subprocess.run([sys.executable, "-m", "sgaudit", *command("check", tmp_path)],
                             stdout=handle, stderr=subprocess.PIPE, text=True, timeout=120,
                             preexec_fn=_limited(64 << 20))
    assert run.returncode == 0, run.stderr
    assert len(json.loads(out.read_text())["findings"]) == GROUPS * 2  # 22 and 9000 from the world
    assert out.stat().st_size > LIMIT


def test_stdout_closed_at_start_is_one_line(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "sgaudit", *command("check", tmp_path)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
                         preexec_fn=lambda: os.close(1))
    assert run.returncode == 2
    assert run.stderr == "sgaudit: error: stdout: cannot write report: stdout is closed\n"


def test_a_stream_that_takes_part_of_a_write_is_an_error() -> None:
    """A stream without a descriptor whose write() takes less than it was given (and then
    nothing) is a failed write, not a finished one."""
    import io

    from sgaudit.errors import OutputError
    from sgaudit.fileio.files import write_stdout

    class Stingy(io.RawIOBase):
        taken = 0

        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            n = min(len(data), 10 - self.taken)  # type: ignore[arg-type]
            self.taken += n
            return n

    with pytest.raises(OutputError) as raised:
        write_stdout("x" * 100, stream=Stingy())  # type: ignore[arg-type]
    assert str(raised.value) == "stdout: cannot write report: short write (10 of 100 bytes)"


def test_a_whole_write_in_process_still_reaches_stdout(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    run = sgaudit(*command("check", tmp_path))
    assert run.code == 0
    assert len(json.loads(run.out)["findings"]) == GROUPS * 2
