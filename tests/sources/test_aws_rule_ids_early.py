"""Issue 23, live scans: the rule ids of a region's drifted groups are read by the job that read
the region, while the other regions are still being read, not in a series after the audit.

moto's server on loopback serves four regions; a test proxy (``DripProxy``, here) makes one
region's DescribeSecurityGroupRules answer one byte a second, as a stuck proxy would."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

import pytest
from moto_support import (
    ACCOUNT,
    COILED,
    DEFAULT_INGRESS,
    Fault,
    FaultProxy,
    aws_env,
    ec2,
    make_group,
    make_vpc,
    moto_url,
)

from sgaudit.cli import check
from sgaudit.model import Snapshot
from sgaudit.sources import aws

__all__ = ["aws_env", "moto_url"]  # fixtures, imported for pytest

REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1")
RDP = ("tcp", 3389, 3389, "0.0.0.0/0")
POSTGRES = ("tcp", 5432, 5432, "198.51.100.0/24")
RULES = "DescribeSecurityGroupRules"


def seed(url: str) -> dict[str, str]:
    """Drift in three of the four regions (us-west-2 is compliant); name -> group id."""
    ids: dict[str, str] = {}
    drifted = {"us-east-1": {"east-rdp": [RDP], "east-two": [RDP, POSTGRES]},
               "eu-west-1": {"west-rdp": [RDP]}, "us-west-2": {},
               "ap-southeast-1": {"ap-pg": [POSTGRES]}}
    for n, region in enumerate(REGIONS):
        client = ec2(url, region)
        vpc = make_vpc(client, f"10.{n}.0.0/16")
        ids[f"{region}-ok"] = make_group(client, vpc, f"coiled-ok-{region}", COILED, DEFAULT_INGRESS)
        for name, extra in drifted[region].items():
            ids[name] = make_group(client, vpc, f"coiled-{name}", COILED, [*DEFAULT_INGRESS, *extra])
    return ids


def ids_from_moto(url: str, finding: dict[str, Any]) -> list[str]:
    """The ids AWS (moto) gives the ingress rules of the finding's shape, asked here directly."""
    rules = ec2(url, finding["region"]).describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [finding["group_id"]]}])["SecurityGroupRules"]
    return sorted(r["SecurityGroupRuleId"] for r in rules
                  if not r["IsEgress"] and r["FromPort"] == finding["from_port"]
                  and r["ToPort"] == finding["to_port"] and r.get("CidrIpv4") == finding["source"])


def extras(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["kind"] == "extra"]


class Calls:
    """Every API call of the scan's clients, in the order made: (region, operation)."""

    def __init__(self) -> None:
        self.order: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def hook(self, client: Any) -> None:
        region = client.meta.region_name

        def record(model: Any, **_: Any) -> None:
            with self.lock:
                self.order.append((region, model.name))

        client.meta.events.register("before-call.*.*", record)

    def of(self, operation: str) -> list[str]:
        return [region for region, op in self.order if op == operation]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorded = Calls()
    monkeypatch.setattr(aws, "AwsSource", functools.partial(aws.AwsSource, client_hook=recorded.hook))
    return recorded


def scan_of(region: str, rules: bool) -> list[tuple[str, str]]:
    return [(region, "DescribeSecurityGroups"), (region, "DescribeVpcs"), *([(region, RULES)] * rules)]


def test_each_region_reads_its_rule_ids_before_the_next_region_is_read(
        aws_env: str, sgaudit: Any, calls: Calls) -> None:
    """One worker runs one job at a time: a region's rule ids come right after its own reads,
    before the next region's (after the audit, they came only once every region was read)."""
    seed(aws_env)
    run = sgaudit("check", "--regions", ",".join(REGIONS), "--max-workers", "1", "--format", "json")
    assert run.code == 0, run.err
    assert calls.order == [("us-east-1", "GetCallerIdentity"),
                           *scan_of("us-east-1", True), *scan_of("eu-west-1", True),
                           *scan_of("us-west-2", False), *scan_of("ap-southeast-1", True)]


def test_the_json_report_names_every_drifted_rule_by_its_id_in_every_region(
        aws_env: str, sgaudit: Any, calls: Calls) -> None:
    ids = seed(aws_env)
    run = sgaudit("check", "--regions", ",".join(REGIONS), "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["complete"] is True and doc["errors"] == []
    found = extras(doc)
    assert sorted((f["region"], f["group_id"], f["from_port"]) for f in found) == sorted([
        ("us-east-1", ids["east-rdp"], 3389), ("us-east-1", ids["east-two"], 3389),
        ("us-east-1", ids["east-two"], 5432), ("eu-west-1", ids["west-rdp"], 3389),
        ("ap-southeast-1", ids["ap-pg"], 5432)])
    for finding in found:
        assert len(finding["rule_ids"]) == 1 and finding["rule_ids"][0].startswith("sgr-")
        assert finding["rule_ids"] == ids_from_moto(aws_env, finding)
    # one call per drifted region, none in the compliant one, none after the audit
    assert sorted(calls.of(RULES)) == ["ap-southeast-1", "eu-west-1", "us-east-1"]
    # a table shows no ids: none are read
    calls.order.clear()
    table = sgaudit("check", "--regions", ",".join(REGIONS))
    assert table.code == 0, table.err
    assert calls.of(RULES) == [] and len(calls.of("DescribeSecurityGroups")) == 4


def test_a_drifted_group_the_early_read_missed_is_read_after_the_audit(
        aws_env: str, sgaudit: Any, calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the per-region audit does not name (it should name them all) still gets its ids."""
    ids = seed(aws_env)
    whole = check._drifted_groups

    def missing_one(*args: Any) -> Callable[[Snapshot], Collection[str]]:
        drifted = whole(*args)
        return lambda part: [g for g in drifted(part) if g != ids["east-two"]]

    monkeypatch.setattr(check, "_drifted_groups", missing_one)
    run = sgaudit("check", "--regions", ",".join(REGIONS), "--max-workers", "1", "--format", "json")
    assert run.code == 0, run.err
    for finding in extras(json.loads(run.out)):
        assert finding["rule_ids"] == ids_from_moto(aws_env, finding)
    assert calls.order[-2:] == [("ap-southeast-1", RULES), ("us-east-1", RULES)]
    assert calls.of(RULES) == ["us-east-1", "eu-west-1", "ap-southeast-1", "us-east-1"]


def test_a_denied_rule_read_is_a_warning_of_its_region_and_the_others_have_their_ids(
        aws_env: str, sgaudit: Any) -> None:
    """As before: the ids are not the verdict; the drift is reported in full, the scan complete,
    and the denied read is not tried again after the audit."""
    ids = seed(aws_env)
    denied = Fault.denied(RULES, region="eu-west-1")
    with FaultProxy(aws_env, [denied]) as proxy:
        args = ("check", "--regions", ",".join(REGIONS), "--endpoint-url", proxy.url,
                "--format", "json")
        run = sgaudit(*args)
        gate = sgaudit(*args, "--fail-on-drift")
    assert run.code == 0, run.err
    assert gate.code == 1
    doc = json.loads(run.out)
    assert doc["complete"] is True and doc["errors"] == []
    assert run.err_lines[0] == (
        f"sgaudit: warning: rule ids of 1 drifted group(s) in {ACCOUNT}/eu-west-1 could not be "
        "read: You are not authorized to perform this operation.")
    by_group = {(f["group_id"], f["from_port"]): f["rule_ids"] for f in extras(doc)}
    assert by_group[(ids["west-rdp"], 3389)] == []
    assert len(by_group) == 5
    for finding in extras(doc):
        if finding["region"] != "eu-west-1":
            assert finding["rule_ids"] == ids_from_moto(aws_env, finding)
    assert proxy.requests[("eu-west-1", RULES)] == 2  # once per run: never again after the audit


@pytest.fixture
def dripping_rules(aws_env: str) -> Iterator[str]:
    with FaultProxy(aws_env, [Fault.dripping(RULES, region="eu-west-1")]) as proxy:
        yield proxy.url


def test_a_stuck_rule_read_ends_at_its_deadline_as_a_warning_of_its_region(
        aws_env: str, dripping_rules: str, sgaudit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = seed(aws_env)
    monkeypatch.setattr("sgaudit.sources.aws.sessions.CALL_DEADLINE", 2.0)
    started = time.monotonic()
    run = sgaudit("check", "--regions", ",".join(REGIONS), "--endpoint-url", dripping_rules,
                  "--format", "json")
    elapsed = time.monotonic() - started
    assert run.code == 0, run.err
    assert run.err_lines[0] == (
        f"sgaudit: warning: rule ids of 1 drifted group(s) in {ACCOUNT}/eu-west-1 could not be "
        "read: timed out: no complete answer within the 2 s call deadline")
    doc = json.loads(run.out)
    assert doc["complete"] is True
    assert {(f["group_id"], f["from_port"]): f["rule_ids"] for f in extras(doc)}[
        (ids["west-rdp"], 3389)] == []
    for finding in extras(doc):
        if finding["region"] != "eu-west-1":
            assert finding["rule_ids"] == ids_from_moto(aws_env, finding)
    assert elapsed < 2.0 + 20.0  # the deadline and a watchdog tick, not a minute per byte
