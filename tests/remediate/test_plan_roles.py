"""The fix plan of a cluster-wide group (issue 15): its self-reference is authorized first and
every revoke of the group waits for it; a group that already has it only loses what is extra."""

from __future__ import annotations

from sgaudit.engine.audit import audit
from sgaudit.model import Group, Rule, Snapshot, Vpc
from sgaudit.policy.loader import parse_policy
from sgaudit.policy.yamlsource import load_yaml
from sgaudit.remediate.aws.changes import RESTORED_DESCRIPTION, Plan
from sgaudit.remediate.aws.plan import plan_fix

VPC = Vpc("vpc-1", "eu-west-1", "111122223333", "10.0.0.0/16", ("10.0.0.0/16",))
POLICY = 'roles:\n  cluster: {names: ["*-cluster"]}\n'


def plan(*groups: Group, policy: str = POLICY) -> Plan:
    report = audit(parse_policy(load_yaml(policy), "policy.yaml"),
                   Snapshot(groups=groups, vpcs={("eu-west-1", "vpc-1"): VPC}), "2026-03-01T00:00:00Z")
    return plan_fix(report.results, {(g.account, g.region, g.group_id): g.rules for g in groups})


def group(gid: str, name: str, *rules: Rule) -> Group:
    return Group(gid, name, "vpc-1", "eu-west-1", "111122223333", tags=(("owner", "coiled"),),
                 rules=rules)


def steps(p: Plan) -> list[tuple[object, ...]]:
    return [(c.seq, c.action, c.rule.protocol, c.rule.from_port, c.rule.to_port, c.rule.source,
             c.rule.rule_id, c.depends_on) for c in p.changes]


def test_the_self_reference_goes_first_and_every_revoke_waits_for_it() -> None:
    p = plan(group("sg-c1", "etl-cluster", Rule("-1", -1, -1, "10.0.0.0/16", "sgr-1"),
                   Rule("tcp", 8786, 8786, "0.0.0.0/0", "sgr-2")))
    assert steps(p) == [
        (1, "authorize", "-1", -1, -1, "sg-c1", None, ()),
        (2, "revoke", "-1", -1, -1, "10.0.0.0/16", "sgr-1", (1,)),
        (3, "revoke", "tcp", 8786, 8786, "0.0.0.0/0", "sgr-2", (1,))]
    assert p.changes[0].rule.description == RESTORED_DESCRIPTION
    assert p.changes[0].reason.endswith("added before the revokes below, so the machines keep talking")


def test_a_cluster_group_with_its_self_reference_only_loses_the_extra() -> None:
    p = plan(group("sg-c1", "etl-cluster", Rule("-1", -1, -1, "sg-c1", "sgr-0"),
                   Rule("tcp", 8786, 8786, "0.0.0.0/0", "sgr-2")))
    assert steps(p) == [(1, "revoke", "tcp", 8786, 8786, "0.0.0.0/0", "sgr-2", ())]


def test_a_cluster_group_missing_only_its_self_reference_gets_it() -> None:
    p = plan(group("sg-c1", "etl-cluster"))
    assert steps(p) == [(1, "authorize", "-1", -1, -1, "sg-c1", None, ())]


def test_a_scheduler_group_beside_it_is_planned_as_before() -> None:
    """8787 is required from the world; the scheduler's group is not given a self-reference."""
    sched = group("sg-s1", "etl-scheduler", Rule("tcp", 22, 22, "0.0.0.0/0", "sgr-3"),
                  Rule("tcp", 8786, 8786, "0.0.0.0/0", "sgr-4"))
    assert steps(plan(sched)) == steps(plan(sched, policy="{}")) == [
        (1, "authorize", "tcp", 8787, 8787, "0.0.0.0/0", None, ())]
