"""The progress line of an organization scan, and rule ids read for drifted groups only."""

from __future__ import annotations

import functools
import io
import json
from typing import Any

import pytest
from moto_support import COILED, DEFAULT_INGRESS, aws_env, ec2, make_group, make_vpc, moto_url

from sgaudit.cli.progress import Progress
from sgaudit.sources import aws

__all__ = ["aws_env", "moto_url"]  # fixtures, imported for pytest


def test_progress_line_shows_accounts_done_and_errors_so_far() -> None:
    progress = Progress("scanning AWS", enabled=False, stream=io.StringIO())
    progress.update(3, 10, 42, accounts_done=2, accounts_total=5, errors=1)
    assert progress.line(0, 7.2) == ("sgaudit: scanning AWS | 2/5 account(s), 3/10 region(s), "
                                     "1 error(s), 42 group(s) read, 7s")
    plain = Progress("scanning AWS", enabled=False, stream=io.StringIO())
    plain.update(1, 2, 5)
    assert plain.line(1, 0.4) == "sgaudit: scanning AWS / 1/2 region(s), 5 group(s) read, 0s"


def test_rule_ids_are_read_for_drifted_groups_only(aws_env: str, sgaudit: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    client = ec2(aws_env)
    vpc = make_vpc(client)
    for i in range(5):
        make_group(client, vpc, f"coiled-ok-{i}", COILED, DEFAULT_INGRESS)
    drifted = [make_group(client, vpc, f"coiled-bad-{i}", COILED,
                          [*DEFAULT_INGRESS, ("tcp", 5432, 5432, "0.0.0.0/0"),
                           ("udp", 53, 53, "10.9.0.0/16")]) for i in range(2)]
    asked: list[list[str]] = []

    def hook(client: Any) -> None:
        def params(params: dict[str, Any], **_: Any) -> None:
            asked.append([v for f in params["Filters"] for v in f["Values"]])
        client.meta.events.register("provide-client-params.ec2.DescribeSecurityGroupRules", params)

    monkeypatch.setattr(aws, "AwsSource", functools.partial(aws.AwsSource, client_hook=hook))
    run = sgaudit("check", "--regions", "us-east-1", "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert [sorted(a) for a in asked] == [sorted(drifted)]
    found = {(f["group_id"], f["protocol"], f["from_port"]): f["rule_ids"]
             for f in doc["findings"] if f["kind"] == "extra"}
    assert set(found) == {(g, p, port) for g in drifted for p, port in (("tcp", 5432), ("udp", 53))}
    for (group_id, protocol, port), ids in found.items():
        rules = client.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
        assert ids == [r["SecurityGroupRuleId"] for r in rules
                       if not r["IsEgress"] and r["IpProtocol"] == protocol and r["FromPort"] == port]
        assert len(ids) == 1
