"""``check --fix`` on cluster-wide groups (issue 15), end to end over real HTTP: moto on
127.0.0.1 behind moto_support's loopback proxy, which logs every change in order.

A cluster-wide group must allow all traffic from itself and nothing else (bar the policy's
``allow`` list); the fix authorizes that self-reference first and revokes what is extra only
after it succeeded, so the cluster's machines never lose each other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_support import COILED, FaultProxy, aws_env, ec2, make_group, make_vpc, moto_url

__all__ = ["aws_env", "moto_url"]  # pytest fixtures used by name

WORLD = "0.0.0.0/0"
RESTORED = "restored by sgaudit (required ingress)"
DENIED = "UnauthorizedOperation: You are not authorized to perform this operation."
AUTHORIZE, REVOKE = "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"


@pytest.fixture
def proxy(aws_env: str) -> Iterator[FaultProxy]:
    with FaultProxy(aws_env) as p:
        yield p


def ingress(client: Any, group_id: str) -> set[tuple[Any, ...]]:
    """A group's ingress as what each rule allows plus its description, one source a rule (from
    DescribeSecurityGroups: moto 5.2's DescribeSecurityGroupRules drops the description of a
    rule whose source is a group)."""
    [group] = client.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    out = set()
    for p in group["IpPermissions"]:
        ports = (p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1))
        for r in p.get("IpRanges", []):
            out.add((*ports, r["CidrIp"], r.get("Description")))
        for r in p.get("UserIdGroupPairs", []):
            out.add((*ports, r["GroupId"], r.get("Description")))
    return out


def self_reference(client: Any, group_id: str) -> None:
    client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id}]}])


class Clusters:
    """Two clusters, each with a scheduler's group (Coiled's defaults) and a cluster-wide one."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.client = c = ec2(url)
        vpc = make_vpc(c, "10.0.0.0/16")
        # a cluster-wide group whose machines talk only through "-1 from the VPC", with the
        # scheduler port opened to the world: its self-reference is missing
        self.bare = make_group(c, vpc, "coiled-etl-cluster", COILED,
                               [("-1", -1, -1, "10.0.0.0/16"), ("tcp", 8786, 8786, WORLD)])
        # a cluster-wide group as it should be, but opened to the world on the scheduler port
        self.opened = make_group(c, vpc, "coiled-ml-cluster", COILED, [("tcp", 8786, 8786, WORLD)])
        self_reference(c, self.opened)
        # a cluster-wide group as it should be
        self.clean = make_group(c, vpc, "coiled-bi-cluster", COILED)
        self_reference(c, self.clean)
        # a scheduler's group as Coiled's defaults make it: judged as before, untouched
        self.scheduler = make_group(c, vpc, "coiled-etl-scheduler", COILED,
                                    [("tcp", 22, 22, WORLD), ("tcp", 8786, 8787, WORLD)])
        self.policy = tmp_path / "policy.yaml"
        self.policy.write_text('roles:\n  cluster: {names: ["coiled-*-cluster"]}\n')
        self.backup = tmp_path / "backup.json"


@pytest.fixture
def clusters(aws_env: str, proxy: FaultProxy, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Clusters:
    monkeypatch.chdir(tmp_path)
    return Clusters(aws_env, tmp_path)


def fix_args(clusters: Clusters, proxy: FaultProxy, *more: object) -> list[object]:
    return ["check", "--policy", clusters.policy, "--endpoint-url", proxy.url, "--fix", "-q", *more]


def test_the_dry_run_plans_the_self_reference_before_the_revokes(
        clusters: Clusters, proxy: FaultProxy, sgaudit: Any) -> None:
    run = sgaudit(*fix_args(clusters, proxy, "--dry-run"))
    assert run.code == 0, run.out + run.err
    bare = run.out.split(f"{clusters.bare} (coiled-etl-cluster)")[1].split("\n\n")[0]
    lines = [line.strip() for line in bare.splitlines() if line.strip().startswith("#")]
    assert lines[0] == f'#1   authorize all traffic from {clusters.bare}  "{RESTORED}"'
    assert [line.split("  (after ")[1] for line in lines[1:]] == ["#1)", "#1)"]
    assert {line.split()[1] for line in lines[1:]} == {"revoke"}
    assert proxy.changes() == []


def test_fix_restores_cluster_groups_self_reference_first(
        clusters: Clusters, proxy: FaultProxy, sgaudit: Any) -> None:
    before_scheduler = ingress(clusters.client, clusters.scheduler)
    before_clean = ingress(clusters.client, clusters.clean)
    run = sgaudit(*fix_args(clusters, proxy, "--yes", "--backup", clusters.backup))
    assert run.code == 0, run.out + run.err
    assert "sgaudit: 4 applied; 2 of 2 group(s) verified" in run.out
    # the self-reference reached AWS before anything of that group was revoked
    assert [a for a, g in proxy.changes() if g == clusters.bare] == [AUTHORIZE, REVOKE, REVOKE]
    assert [a for a, g in proxy.changes() if g == clusters.opened] == [REVOKE]
    assert ingress(clusters.client, clusters.bare) == {("-1", -1, -1, clusters.bare, RESTORED)}
    assert ingress(clusters.client, clusters.opened) == {("-1", -1, -1, clusters.opened, None)}
    assert ingress(clusters.client, clusters.clean) == before_clean
    assert ingress(clusters.client, clusters.scheduler) == before_scheduler
    # and a new scan finds nothing
    again = sgaudit("check", "--policy", clusters.policy, "--endpoint-url", proxy.url, "-q",
                    "--format", "json")
    doc = json.loads(again.out)
    assert doc["findings"] == []
    assert {g["group_name"]: g["role"] for g in doc["groups"]} == {
        "coiled-etl-cluster": "cluster", "coiled-ml-cluster": "cluster",
        "coiled-bi-cluster": "cluster", "coiled-etl-scheduler": "scheduler"}


def test_a_failed_self_reference_cancels_the_revokes(
        clusters: Clusters, proxy: FaultProxy, sgaudit: Any) -> None:
    before = ingress(clusters.client, clusters.bare)
    proxy.deny(AUTHORIZE, group=clusters.bare)
    run = sgaudit(*fix_args(clusters, proxy, "--yes", "--backup", clusters.backup))
    assert run.code == 1
    doc = json.loads(clusters.backup.read_text())
    assert [(c["action"], c["result"], c["detail"]) for c in doc["changes"]
            if c["group_id"] == clusters.bare] == [
        ("authorize", "failed", DENIED),
        ("revoke", "skipped", "not attempted: needs change #1 to succeed first"),
        ("revoke", "skipped", "not attempted: needs change #1 to succeed first")]
    assert ingress(clusters.client, clusters.bare) == before  # the machines still talk
    assert ingress(clusters.client, clusters.opened) == {("-1", -1, -1, clusters.opened, None)}
