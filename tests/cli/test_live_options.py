"""The live options on the command line: refusals (exit 2, one line), missing credentials, the
progress display, and that snapshot runs never load boto3.  No AWS endpoint is ever reached:
each run here stops before the first call, or talks to a closed loopback port."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from moto_support import FAKE_ENV, closed_port_url, isolate_env

from sgaudit.cli import progress
from sgaudit.errors import CredentialsError
from sgaudit.sources import aws

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with no AWS set up; any endpoint is a closed loopback port."""
    isolate_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url())


@pytest.fixture
def fake_keys(no_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)


def test_missing_credentials_is_one_line_and_exit_2(no_aws: None, sgaudit: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for command in ("check", "explain", "snapshot -o never.json"):
        run = sgaudit(*command.split(), "--regions", "us-east-1")
        assert run.code == 2, command
        assert run.out == ""
        assert run.err_lines == [f"sgaudit: error: {aws.CREDENTIALS_HELP}"]
    assert list(tmp_path.iterdir()) == []


def test_no_region_configured(no_aws: None, monkeypatch: pytest.MonkeyPatch, sgaudit: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    run = sgaudit("check")
    assert run.code == 2
    assert run.err_lines == ["sgaudit: error: no AWS region configured: pass --regions "
                             "REGION[,REGION...] (or 'all'), or set AWS_REGION"]


@pytest.mark.parametrize(("args", "message"), [
    (["--regions", "us-east-1;eu-west-1"],
     "--regions 'us-east-1;eu-west-1': expected region names like us-east-1,eu-west-1 or 'all' "
     "(bad: 'us-east-1;eu-west-1')"),
    (["--regions", ","], "--regions ',': expected region names like us-east-1,eu-west-1 or 'all'"),
    (["--external-id", "x"], "--external-id needs --role-arn"),
    (["--role-arn", "arn:aws:iam::111111111111:role/a", "--external-id", "x"],
     "--external-id 'x': expected 2-1224 characters of letters, digits and +=,.@:/-_ (as "
     "sts:AssumeRole requires)"),
    (["--role-arn", "audit"], "--role-arn 'audit': expected arn:aws:iam::ACCOUNT_ID:role/NAME"),
    (["--role-arn", "arn:aws:iam::111111111111:role/a", "--profile", "a", "--profile", "b"],
     "with --role-arn, give at most one --profile (the credentials that assume the roles)"),
    (["--endpoint-url", "localhost:4566"], "--endpoint-url 'localhost:4566': expected http(s)://HOST[:PORT]"),
])
def test_bad_live_options(fake_keys: None, sgaudit: Any, args: list[str], message: str) -> None:
    run = sgaudit("check", *args)
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {message}"]


def test_live_options_are_refused_with_snapshots(fake_keys: None, sgaudit: Any) -> None:
    run = sgaudit("check", "--snapshot", FIXTURES / "security-groups.json", "--profile", "p",
                  "--regions", "all")
    assert run.code == 2
    assert run.err_lines == ["sgaudit: error: --profile, --regions apply to live scans; not with "
                             "--snapshot"]


def test_snapshot_needs_an_output_file(fake_keys: None, sgaudit: Any) -> None:
    run = sgaudit("snapshot", "--regions", "us-east-1")
    assert run.code == 2
    assert run.err_lines == ["sgaudit: error: Missing option '-o' / '--output'."]


def test_ec2_client_for_fix(fake_keys: None) -> None:
    client = aws.ec2_client(aws.Sessions("http://127.0.0.1:9"), aws.AwsTarget(), "eu-west-1")
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": aws.MAX_ATTEMPTS}
    assert client.meta.config.connect_timeout == aws.CONNECT_TIMEOUT


def test_ec2_client_without_credentials(no_aws: None) -> None:
    with pytest.raises(CredentialsError, match="no AWS credentials found"):
        aws.ec2_client(aws.Sessions(), aws.AwsTarget(), "eu-west-1")


def test_snapshot_runs_never_load_boto3() -> None:
    code = ("import sys\nfrom sgaudit.cli import main\n"
            "try:\n    main(['check', '-q', '--snapshot', sys.argv[1], '--snapshot', sys.argv[2]])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))")
    done = subprocess.run([sys.executable, "-c", code, str(FIXTURES / "security-groups.json"),
                           str(FIXTURES / "vpcs.json")], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_erases_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    stream = Tty()
    with progress.Progress("scanning AWS", stream=stream) as shown:
        shown.update(1, 2, 40)
        for _ in range(200):  # until the ticker has drawn the update
            if "1/2 region(s), 40 group(s) read" in stream.getvalue():
                break
            time.sleep(0.01)
    text = stream.getvalue()
    assert "sgaudit: scanning AWS" in text and "1/2 region(s), 40 group(s) read" in text
    assert text.endswith("\r\x1b[K")


def test_progress_is_silent_off_a_terminal_or_when_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    for stream, enabled in ((io.StringIO(), None), (Tty(), False)):
        with progress.Progress(stream=stream, enabled=enabled) as shown:
            shown.update(1, 1, 1)
        assert stream.getvalue() == ""


def test_progress_waits_a_moment_before_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Tty()
    with progress.Progress(stream=stream) as shown:  # the real delay: a quick scan shows nothing
        shown.update(1, 1, 1)
    assert stream.getvalue() == ""
