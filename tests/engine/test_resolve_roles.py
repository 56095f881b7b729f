"""Two kinds of Coiled group (issue 15): the scheduler's, opened by the firewall options, and the
cluster-wide one, which must allow all traffic from itself and nothing else but the policy's
``allow`` list.

Expected findings are written from that rule, not copied from what the engine prints.
"""

from __future__ import annotations

from typing import Any

import pytest

from sgaudit.engine.audit import audit
from sgaudit.engine.resolve import SELF
from sgaudit.errors import PolicyError
from sgaudit.model import Group, GroupResult, Rule, Snapshot, Vpc
from sgaudit.policy.loader import parse_policy
from sgaudit.policy.yamlsource import load_yaml

ACCOUNT = "111122223333"
REGION = "eu-west-1"
VPC = Vpc("vpc-1", REGION, ACCOUNT, "10.0.0.0/16", ("10.0.0.0/16",))
WORLD = "0.0.0.0/0"
OWN_REASON = ("no rule allows it; required because the group is cluster-wide (role cluster): "
              "the cluster's machines reach each other on every port")

POLICY = """
roles:
  cluster: {names: ["coiled-*-cluster"]}
clusters:
  - match: {tags: {coiled-role: workers}}
    role: cluster
allow:
  - {protocol: tcp, ports: [443], source: 198.51.100.0/24}
"""


def group(gid: str, name: str, *rules: Rule, tags: dict[str, str] | None = None) -> Group:
    return Group(gid, name, "vpc-1", REGION, ACCOUNT,
                 tags=tuple({"owner": "coiled", **(tags or {})}.items()), rules=rules)


def own(gid: str) -> Rule:
    return Rule("-1", -1, -1, gid)


def tcp(port: int, source: str) -> Rule:
    return Rule("tcp", port, port, source)


def run(policy_text: str, *groups: Group) -> dict[str, GroupResult]:
    policy = parse_policy(load_yaml(policy_text), "policy.yaml")
    snapshot = Snapshot(groups=groups, vpcs={(REGION, "vpc-1"): VPC})
    report = audit(policy, snapshot, "2026-03-01T00:00:00Z")
    return {r.group.group_id: r for r in report.results}


def brief(result: GroupResult) -> list[tuple[Any, ...]]:
    return sorted((f.kind, f.severity, f.protocol, f.from_port, f.to_port, f.source, f.reason)
                  for f in result.findings)


def test_a_cluster_group_holding_only_its_self_reference_is_clean() -> None:
    got = run(POLICY, group("sg-c1", "coiled-etl-cluster", own("sg-c1")))["sg-c1"]
    assert got.role == "cluster"
    assert got.findings == ()
    assert got.status == "ok"


def test_a_cluster_group_opened_to_the_world_reports_the_extra_rule() -> None:
    got = run(POLICY, group("sg-c1", "coiled-ml-cluster", own("sg-c1"), tcp(8786, WORLD)))["sg-c1"]
    assert brief(got) == [("extra", "high", "tcp", 8786, 8786, WORLD,
                           "outside the envelope: tcp 8786 from 0.0.0.0/0")]
    assert got.findings[0].key == f"extra|{ACCOUNT}|{REGION}|sg-c1|tcp|8786|8786|{WORLD}"


def test_a_cluster_group_without_its_self_reference_reports_it_missing() -> None:
    got = run(POLICY, group("sg-c1", "coiled-bi-cluster"))["sg-c1"]
    # the missing rule names the group itself, as AWS would write the rule
    assert brief(got) == [("missing", "medium", "-1", -1, -1, "sg-c1", OWN_REASON)]
    assert got.findings[0].key == f"missing|{ACCOUNT}|{REGION}|sg-c1|-1|-1|-1|sg-c1"


def test_the_firewall_options_ports_are_not_required_of_a_cluster_group() -> None:
    """The false alarm of the issue: a cluster group was reported missing 22/8786/8787."""
    got = run(POLICY, group("sg-c1", "coiled-etl-cluster", own("sg-c1"), tcp(443, "198.51.100.0/24")))
    assert got["sg-c1"].findings == ()
    assert [(g.protocol, g.source) for g in got["sg-c1"].desired.required] == [("-1", SELF)]
    assert [(g.protocol, g.from_port, g.source) for g in got["sg-c1"].desired.permitted] == [
        ("tcp", 443, "198.51.100.0/24")]


def test_private_ingress_and_other_groups_are_extra_on_a_cluster_group() -> None:
    """Nothing from outside: not the VPC (which a scheduler's group may allow), not another group."""
    got = run(POLICY, group("sg-c1", "coiled-x-cluster", own("sg-c1"), tcp(22, "10.0.0.0/16"),
                            Rule("-1", -1, -1, "sg-other")))["sg-c1"]
    assert brief(got) == [
        ("extra", "medium", "-1", -1, -1, "sg-other",
         "outside the envelope: tcp, udp, icmp, icmpv6, all other protocols from sg-other"),
        ("extra", "medium", "tcp", 22, 22, "10.0.0.0/16",
         "outside the envelope: tcp 22 from 10.0.0.0/16")]


def test_a_role_given_by_tag_in_a_clusters_entry() -> None:
    got = run(POLICY, group("sg-w", "gpu-workers", tags={"coiled-role": "workers"}))["sg-w"]
    assert got.role == "cluster"
    assert brief(got) == [("missing", "medium", "-1", -1, -1, "sg-w", OWN_REASON)]
    assert [str(o) for o in got.desired.required[0].origins] == ["role=cluster (policy.yaml:5)"]


def test_scheduler_groups_are_judged_as_before() -> None:
    """The same group under a policy with and without roles: the same findings, role scheduler."""
    sched = group("sg-s1", "coiled-etl-scheduler", tcp(22, WORLD), tcp(8786, WORLD),
                  Rule("tcp", 0, 65535, "10.0.0.0/16"))
    with_roles = run(POLICY, sched)["sg-s1"]
    without = run("allow:\n  - {protocol: tcp, ports: [443], source: 198.51.100.0/24}\n", sched)["sg-s1"]
    assert with_roles.role == without.role == "scheduler"
    assert with_roles.findings == without.findings
    assert brief(with_roles) == [
        ("extra", "medium", "tcp", 0, 65535, "10.0.0.0/16",
         # 22, 8786 and 8787 are required from the world, which holds the VPC
         "outside the envelope: tcp 0-21, 23-8785, 8788-65535 from 10.0.0.0/16"),
        ("missing", "medium", "tcp", 8787, 8787, WORLD,
         # the VPC's part of it comes through the 0-65535 rule
         "only partly allowed; not covered: tcp 8787 from 0.0.0.0/0 except 10.0.0.0/16; required "
         "because enable_public_http is true: Dask ports open to the world")]


def test_a_group_matched_to_both_roles_is_refused_naming_both_entries() -> None:
    text = POLICY.replace("allow:", "  - match: {names: [\"coiled-etl-*\"]}\n    role: scheduler\nallow:")
    with pytest.raises(PolicyError) as err:
        run(text, group("sg-c1", "coiled-etl-cluster", own("sg-c1")))
    assert str(err.value) == ("policy.yaml: sg-c1 is matched to both roles: clusters[1] "
                              "(policy.yaml:7) says scheduler, roles.cluster (policy.yaml:3) "
                              "says cluster; give each group one role")
    # a group only one of them matches is fine
    assert run(text, group("sg-c2", "coiled-ml-cluster", own("sg-c2")))["sg-c2"].role == "cluster"


def test_two_cluster_claims_agree() -> None:
    text = POLICY.replace("{tags: {coiled-role: workers}}", '{names: ["coiled-etl-cluster"]}')
    got = run(text, group("sg-c1", "coiled-etl-cluster", own("sg-c1")))["sg-c1"]
    assert got.role == "cluster" and got.findings == ()


def test_options_of_a_matching_entry_without_a_role_are_said_not_to_apply() -> None:
    text = POLICY.replace("allow:", "  - match: {names: [\"coiled-etl-*\"]}\n"
                                    "    backend_options: {enable_public_ssh: false}\nallow:")
    got = run(text, group("sg-c1", "coiled-etl-cluster", own("sg-c1")))["sg-c1"]
    assert got.findings == ()
    assert got.desired.warnings == (
        "policy.yaml:7: the firewall options of clusters[1] do not apply to the cluster-wide "
        "groups it matches (role cluster, policy.yaml:3)",)


def test_a_cluster_group_needs_no_vpc_cidr() -> None:
    """Its desired state names no VPC block, so an unknown VPC leaves it resolved (and the scan
    complete), while a scheduler's group whose options need the VPC is unresolved as before."""
    policy = parse_policy(load_yaml(POLICY + "backend_options: {enable_public_ssh: false}\n"),
                          "policy.yaml")
    lost = [Group(gid, name, "vpc-gone", REGION, ACCOUNT, tags=(("owner", "coiled"),),
                  rules=(own(gid), tcp(8786, WORLD)))
            for gid, name in (("sg-c1", "coiled-a-cluster"), ("sg-s1", "coiled-a-scheduler"))]
    report = audit(policy, Snapshot(groups=tuple(lost)), "2026-03-01T00:00:00Z")
    by_id = {r.group.group_id: r for r in report.results}
    assert by_id["sg-c1"].status == "drift" and by_id["sg-c1"].desired.unresolved is None
    assert brief(by_id["sg-c1"]) == [("extra", "high", "tcp", 8786, 8786, WORLD,
                                      "outside the envelope: tcp 8786 from 0.0.0.0/0")]
    assert by_id["sg-s1"].status == "unresolved"
    assert [e.message.split(":")[0] for e in report.errors] == ["sg-s1"]
