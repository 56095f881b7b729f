"""Issue 19, item 5: a live GCP scan has deadlines - every call a total one on its whole answer
(retries and their waits included), the scan ``--timeout`` for every cloud - and a slow project
is an error of that project (exit 3) while the others are still read.

The compute fake (tests/gcp_fake.py, 127.0.0.1) drips the true answer one byte every 0.2 s: each
byte arrives well within the 30 s socket timeout, so without a deadline on the whole answer a
call of a few KB would take many minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, Run
from gcp_fake import TOKEN, ComputeFake, Fault, gcp_fake  # noqa: F401 - fixture

from sgaudit.sources.deadlines import DeadlineExceeded
from sgaudit.sources.gcp import limits
from sgaudit.sources.gcp.limits import Limits
from sgaudit.sources.gcp.source import GcpSource

GCP = FIXTURES / "gcp"
SLOW, FAST = "coiled-slow", "coiled-demo"
DRIP = 0.2
#: the deadline, a watchdog tick, and the time to wind down: generous, because a loaded CI machine
#: must not fail a test on time; without the deadline the dripped answer takes many minutes and
#: the timed-out error asserted beside each bound never comes
SLACK = 30.0


@pytest.fixture
def fake(gcp_fake: ComputeFake) -> ComputeFake:  # noqa: F811 - the fixture above
    gcp_fake.load_gcloud(FAST, GCP)
    gcp_fake.load_gcloud(SLOW, GCP)
    return gcp_fake


def _errors(snapshot: object) -> list[tuple[str, str, str, str]]:
    return [(e.account, e.operation, e.code, e.message) for e in snapshot.errors]  # type: ignore[attr-defined]


def _scan_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name != "sgaudit-deadline" and t.is_alive()]


def test_a_dripping_call_ends_at_its_deadline_as_an_error_of_its_project(fake: ComputeFake) -> None:
    fake.faults.append(Fault(SLOW, 200, "global/firewalls", drip=DRIP))
    before = len(_scan_threads())
    started = time.monotonic()
    snapshot = GcpSource([SLOW], call_deadline=1.5).read()
    elapsed = time.monotonic() - started
    assert _errors(snapshot) == [(SLOW, "compute.firewalls.list", "Timeout",
                                  "timed out: no complete answer within the 1.5 s call deadline")]
    assert snapshot.read == ()
    assert 1.5 <= elapsed < 1.5 + SLACK
    # the project stopped at its first failure; its connection was cut, not left open
    assert [c.split("?")[0] for c in fake.calls(SLOW)] == [f"projects/{SLOW}/global/networks",
                                                         f"projects/{SLOW}/global/firewalls"]
    _wait_for(lambda: [p.split("?")[0] for p in fake.hung_up] == [
        f"/compute/v1/projects/{SLOW}/global/firewalls"])
    assert len(_scan_threads()) == before  # no thread of the scan outlives it


def test_the_scan_timeout_makes_a_slow_project_its_error_and_the_others_are_read(
        sgaudit: Callable[..., Run], fake: ComputeFake) -> None:
    """Every call of the slow project drips; --timeout 2 ends its scan, the fast project is read
    and judged, and --timeout alone does not add an AWS scan."""
    fake.faults.append(Fault(SLOW, 200, drip=DRIP))
    started = time.monotonic()
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", SLOW,
                  "--gcp-project", FAST, "--timeout", "2", "-f", "json")
    elapsed = time.monotonic() - started
    assert run.code == 3, run.err
    report = json.loads(run.out)
    assert report["complete"] is False
    assert [(e["account"], e["operation"], e["code"], e["message"]) for e in report["errors"]] == [
        (SLOW, "compute.networks.list", "Timeout",
         "timed out: no complete answer within the scan's --timeout (2 s)")]
    assert {g["account"] for g in report["groups"]} == {FAST}
    assert len(report["groups"]) == 5
    assert 2.0 <= elapsed < 2.0 + SLACK


def test_calls_after_the_scan_s_end_do_not_go_out(fake: ComputeFake) -> None:
    """The scan ends while the second call drips: no third call is made."""
    fake.faults.append(Fault(SLOW, 200, "global/firewalls", drip=DRIP))
    source = GcpSource([SLOW], timeout=1.0)
    scans = source.scan()
    assert [(e.operation, e.code, e.message) for e in scans[0].errors] == [
        ("compute.firewalls.list", "Timeout", "timed out: no complete answer within the scan's "
         "--timeout (1 s)")]
    assert len(fake.calls(SLOW)) == 2
    ended = Limits(60.0, time.monotonic() - 1, 5.0)
    with pytest.raises(DeadlineExceeded, match=r"the scan's --timeout \(5 s\) ran out before this call"):
        ended.start()


def test_retry_waits_end_at_the_deadline(fake: ComputeFake, monkeypatch: pytest.MonkeyPatch) -> None:
    """Quota errors retried with real backoff (0.5, 1, 2, 4 s): the call still ends at its 1.2 s
    deadline, as a timeout, and no attempt goes out after it."""
    monkeypatch.setattr(limits, "BACKOFF", 0.5)
    fake.faults.append(Fault(SLOW, 429, "global/networks"))
    started = time.monotonic()
    snapshot = GcpSource([SLOW], call_deadline=1.2).read()
    elapsed = time.monotonic() - started
    assert _errors(snapshot) == [(SLOW, "compute.networks.list", "Timeout",
                                  "timed out: no complete answer within the 1.2 s call deadline")]
    assert len(fake.calls(SLOW)) == 2  # at 0 s and after 0.5 s; the next wait would pass 1.2 s
    assert 1.2 <= elapsed < 1.2 + SLACK


def test_the_timeout_bounds_gcp_and_aws_together(sgaudit: Callable[..., Run], fake: ComputeFake,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """GCP is read first; what it used of --timeout is not AWS's again: with the bound spent on
    GCP, every AWS call fails at once (an error of its region), the run stays within one bound."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", fake.url)  # never reached: no time is left for AWS
    fake.faults.append(Fault(SLOW, 200, drip=DRIP))
    started = time.monotonic()
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", SLOW,
                  "--regions", "us-east-1", "--timeout", "2", "-f", "json")
    elapsed = time.monotonic() - started
    assert run.code == 3, run.err
    errors = [(e["account"], e["region"], e["code"], e["message"]) for e in json.loads(run.out)["errors"]]
    assert errors[-1] == (SLOW, "global", "Timeout",
                          "timed out: no complete answer within the scan's --timeout (2 s)")
    assert [(region, code) for _, region, code, _ in errors[:-1]] == [("us-east-1", "Timeout")]
    assert "ran out before this call" in errors[0][3]
    assert elapsed < 2.0 + SLACK
    assert not [c for c in fake.requests if "compute" not in c[0]]  # no AWS call went out


def test_the_process_exits_promptly_after_a_timed_out_scan(fake: ComputeFake, tmp_path: Path) -> None:
    """``sgaudit check`` as its own process: no thread or socket keeps it alive past the bound."""
    fake.faults.append(Fault(SLOW, 200, drip=DRIP))
    env = {**os.environ, "CLOUDSDK_AUTH_ACCESS_TOKEN": TOKEN,
           "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": f"{fake.url}/compute/v1/",
           "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "no-adc.json"), "NO_GCE_CHECK": "True"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sgaudit", "check", "--policy", str(GCP / "policy.yaml"),
                           "--gcp-project", SLOW, "--gcp-project", FAST, "--timeout", "2", "-q"],
                          env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 3, done.stderr
    assert elapsed < 2.0 + SLACK + 3.0  # interpreter start and imports included


def _wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.05)
