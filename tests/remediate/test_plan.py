"""The fix plan, a pure function of findings, desired states and the rules (with ids) read back:
exact changes, their order and dependencies, and what is left alone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sgaudit.engine.diff import Differ
from sgaudit.engine.resolve import resolve
from sgaudit.model import DesiredState, Group, GroupResult, Rule, Vpc
from sgaudit.policy.options import Where, collect
from sgaudit.remediate.aws import apply as aws_apply
from sgaudit.remediate.aws import text as plan_text
from sgaudit.remediate.aws.changes import RESTORED_DESCRIPTION, Plan, Ref
from sgaudit.remediate.aws.plan import candidates, plan_fix
from sgaudit.remediate.aws.rules import describe_rule
from sgaudit.sources.awsjson import parse_sgr

ACCOUNT = "111122223333"
REGION = "eu-west-1"
VPC = Vpc("vpc-1", REGION, ACCOUNT, "10.0.0.0/16", ("10.0.0.0/16",))
WORLD = "0.0.0.0/0"


def desired(**values: Any) -> DesiredState:
    return resolve(collect(values, Where("policy.yaml")).options, VPC)


def rule(protocol: str, ports: tuple[int, int], source: str, rid: str, desc: str | None = None) -> Rule:
    return Rule(protocol, ports[0], ports[1], source, rid, desc)


def result(rules: list[Rule], state: DesiredState, gid: str = "sg-1") -> GroupResult:
    """What the scan saw: the same rules without ids (DescribeSecurityGroups has none)."""
    group = Group(gid, f"coiled-{gid}", "vpc-1", REGION, ACCOUNT,
                  rules=tuple(r._replace(rule_id=None) for r in rules))
    return GroupResult(group, state, Differ().diff(group, state))


def ref(gid: str = "sg-1") -> Ref:
    return (ACCOUNT, REGION, gid)


def brief(plan: Plan) -> list[tuple[int, str, str, tuple[int, ...]]]:
    return [(c.seq, c.action, describe_rule(c.rule, with_id=True), c.depends_on)
            for c in plan.changes]


COMPLIANT = [rule("tcp", (22, 22), WORLD, "sgr-22"), rule("tcp", (8786, 8787), WORLD, "sgr-http")]


def test_a_compliant_group_is_not_planned() -> None:
    r = result(COMPLIANT, desired())
    assert candidates([r]) == []
    assert plan_fix([r], {ref(): COMPLIANT}).groups == ()


def test_shared_permission_revokes_only_the_world_source() -> None:
    # one IpPermission "tcp 22 from 0.0.0.0/0 and 10.0.0.0/16" is two rules with two ids
    rules = [rule("tcp", (22, 22), WORLD, "sgr-world"), rule("tcp", (22, 22), "10.0.0.0/16", "sgr-vpc"),
             rule("tcp", (8786, 8787), WORLD, "sgr-http")]
    plan = plan_fix([result(rules, desired(enable_public_ssh=False))], {ref(): rules})
    assert brief(plan) == [(1, "revoke", "sgr-world (tcp 22 from 0.0.0.0/0)", ())]
    assert plan.changes[0].reason.startswith("extra: outside the envelope: tcp 22 from 0.0.0.0/0")


def test_all_traffic_from_the_world_authorizes_the_narrow_rules_first() -> None:
    rules = [rule("-1", (-1, -1), WORLD, "sgr-all")]
    plan = plan_fix([result(rules, desired())], {ref(): rules})
    assert brief(plan) == [
        (1, "authorize", "tcp 22 from 0.0.0.0/0", ()),
        (2, "authorize", "tcp 8786 from 0.0.0.0/0", ()),
        (3, "authorize", "tcp 8787 from 0.0.0.0/0", ()),
        # the rule also let the cluster's machines talk to each other: that stays, from itself
        (4, "authorize", "all traffic from sg-1", ()),
        (5, "revoke", "sgr-all (all traffic from 0.0.0.0/0)", (1, 2, 3, 4)),
    ]
    added = plan.changes[0]
    assert added.rule.description == RESTORED_DESCRIPTION
    assert "now allowed only through sgr-all, revoked below" in added.reason


def test_a_broad_private_rule_keeps_vpc_access_until_the_narrow_rules_exist() -> None:
    rules = [rule("-1", (-1, -1), "10.0.0.0/8", "sgr-wide"), rule("tcp", (22, 22), "10.0.0.0/16", "sgr-22")]
    plan = plan_fix([result(rules, desired(disable_public_ingress=True))], {ref(): rules})
    # 22 from the VPC stays through sgr-22; 8786 and 8787 live only in the rule being revoked
    assert brief(plan) == [
        (1, "authorize", "tcp 8786 from 10.0.0.0/16", ()),
        (2, "authorize", "tcp 8787 from 10.0.0.0/16", ()),
        (3, "authorize", "all traffic from sg-1", ()),
        (4, "revoke", "sgr-wide (all traffic from 10.0.0.0/8)", (1, 2, 3)),
    ]


def test_required_rule_covered_partly_by_a_kept_rule_and_partly_by_a_revoked_one() -> None:
    rules = [rule("tcp", (22, 22), WORLD, "sgr-22"), rule("tcp", (8786, 8787), "0.0.0.0/1", "sgr-half"),
             rule("tcp", (0, 65535), WORLD, "sgr-every-port")]
    plan = plan_fix([result(rules, desired())], {ref(): rules})
    assert brief(plan) == [
        (1, "authorize", "tcp 8786 from 0.0.0.0/0", ()),
        (2, "authorize", "tcp 8787 from 0.0.0.0/0", ()),
        (3, "authorize", "all traffic from sg-1", ()),
        (4, "revoke", "sgr-every-port (tcp all ports from 0.0.0.0/0)", (1, 2, 3)),
    ]


def test_missing_rules_are_authorized_with_the_sgaudit_description() -> None:
    rules = [rule("tcp", (22, 22), WORLD, "sgr-22")]
    plan = plan_fix([result(rules, desired())], {ref(): rules})
    assert brief(plan) == [(1, "authorize", "tcp 8786 from 0.0.0.0/0", ()),
                           (2, "authorize", "tcp 8787 from 0.0.0.0/0", ())]
    assert all(c.reason.startswith("missing: no rule allows it") for c in plan.changes)
    assert {c.rule.description for c in plan.changes} == {"restored by sgaudit (required ingress)"}


def test_a_partly_missing_rule_is_authorized_whole() -> None:
    rules = [*COMPLIANT[:1], rule("tcp", (8786, 8787), "0.0.0.0/1", "sgr-half")]
    plan = plan_fix([result(rules, desired())], {ref(): rules})
    assert brief(plan) == [(1, "authorize", "tcp 8786 from 0.0.0.0/0", ()),
                           (2, "authorize", "tcp 8787 from 0.0.0.0/0", ())]
    assert plan.changes[0].reason.startswith("missing: only partly allowed")


def test_waived_or_baselined_findings_are_never_touched() -> None:
    rules = [rule("tcp", (22, 22), WORLD, "sgr-22"), rule("tcp", (3389, 3389), WORLD, "sgr-rdp"),
             rule("udp", (53, 53), "10.0.0.0/16", "sgr-dns")]
    r = result(rules, desired())
    accepted = {"extra|111122223333|eu-west-1|sg-1|tcp|3389|3389|0.0.0.0/0": "waived",
                "missing|111122223333|eu-west-1|sg-1|tcp|8786|8786|0.0.0.0/0": "baselined"}
    findings = tuple(f._replace(**{accepted[f.key]: True}) if f.key in accepted else f for f in r.findings)
    plan = plan_fix([replace(r, findings=findings)], {ref(): rules})
    assert brief(plan) == [(1, "authorize", "tcp 8787 from 0.0.0.0/0", ()),
                           (2, "revoke", "sgr-dns (udp 53 from 10.0.0.0/16)", ())]


def test_a_group_whose_findings_are_all_accepted_is_not_planned() -> None:
    rules = [*COMPLIANT, rule("tcp", (3389, 3389), WORLD, "sgr-rdp")]
    r = result(rules, desired())
    r = replace(r, findings=tuple(f._replace(waived=True) for f in r.findings))
    assert plan_fix([r], {ref(): rules}).groups == ()


def test_a_group_that_changed_between_scan_and_plan_is_skipped_as_stale() -> None:
    scanned = [*COMPLIANT, rule("tcp", (3389, 3389), WORLD, "sgr-rdp")]
    read_back = [*scanned, rule("tcp", (23, 23), WORLD, "sgr-telnet")]
    plan = plan_fix([result(scanned, desired())], {ref(): read_back})
    assert plan.changes == []
    assert [g.skipped for g in plan.groups] == [
        "stale: changed since the scan (+1 rule(s): tcp 23 from 0.0.0.0/0)"]


def test_unreadable_groups_are_skipped_and_others_planned() -> None:
    bad = [*COMPLIANT, rule("tcp", (3389, 3389), WORLD, "sgr-rdp")]
    other = [*COMPLIANT, rule("tcp", (3389, 3389), WORLD, "sgr-rdp2")]
    results = [result(bad, desired(), "sg-1"), result(other, desired(), "sg-2")]
    plan = plan_fix(results, {ref("sg-1"): "UnauthorizedOperation: denied", ref("sg-2"): other})
    assert [(g.group_id, g.skipped) for g in plan.groups] == [
        ("sg-1", "cannot read its rules: UnauthorizedOperation: denied"), ("sg-2", None)]
    assert brief(plan) == [(1, "revoke", "sgr-rdp2 (tcp 3389 from 0.0.0.0/0)", ())]


def test_sequence_numbers_run_across_groups_and_unresolved_groups_are_left_alone() -> None:
    a = [rule("-1", (-1, -1), WORLD, "sgr-a")]
    b = [*COMPLIANT, rule("udp", (53, 53), WORLD, "sgr-b")]
    unresolved = replace(result(a, desired(), "sg-3"), desired=DesiredState((), (), (), "no VPC"))
    plan = plan_fix([result(a, desired(), "sg-1"), unresolved, result(b, desired(), "sg-2")],
                        {ref("sg-1"): a, ref("sg-2"): b, ref("sg-3"): a})
    assert [(c.group_id, c.seq) for c in plan.changes] == [
        ("sg-1", 1), ("sg-1", 2), ("sg-1", 3), ("sg-1", 4), ("sg-1", 5), ("sg-2", 6)]


def test_ip_permission_holds_exactly_one_source() -> None:
    assert aws_apply.ip_permission(Rule("tcp", 22, 22, WORLD, None, "d")) == {
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": WORLD, "Description": "d"}]}
    assert aws_apply.ip_permission(Rule("-1", -1, -1, "::/0")) == {
        "IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
    assert aws_apply.ip_permission(Rule("icmp", 8, -1, "sg-9")) == {
        "IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "UserIdGroupPairs": [{"GroupId": "sg-9"}]}
    assert aws_apply.ip_permission(Rule("udp", 53, 53, "pl-1")) == {
        "IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "PrefixListIds": [{"PrefixListId": "pl-1"}]}


def test_parse_sgr_reads_every_source_kind_and_drops_egress() -> None:
    base = {"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IsEgress": False}
    assert parse_sgr({**base, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                          "CidrIpv4": "10.1.0.2/16", "Description": "x"}) == Rule(
        "tcp", 22, 22, "10.1.0.0/16", "sgr-1", "x")
    assert parse_sgr({**base, "IpProtocol": "-1", "CidrIpv6": "::/0"}) == Rule(
        "-1", -1, -1, "::/0", "sgr-1")
    assert parse_sgr({**base, "IpProtocol": "6", "FromPort": 1, "ToPort": 2,
                          "ReferencedGroupInfo": {"GroupId": "sg-2", "UserId": ACCOUNT}}) == Rule(
        "tcp", 1, 2, "sg-2", "sgr-1", peer_account=ACCOUNT)
    # a reference across accounts and a peering connection: who owns the group is kept
    assert parse_sgr({**base, "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                                "ReferencedGroupInfo": {"GroupId": "sg-9", "UserId": "999999999999",
                                                        "VpcPeeringConnectionId": "pcx-1",
                                                        "PeeringStatus": "active"}}) == Rule(
        "tcp", 5432, 5432, "sg-9", "sgr-1", peer_account="999999999999", peering_id="pcx-1")
    assert parse_sgr({**base, "IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
                          "PrefixListId": "pl-1"}) == Rule("udp", 53, 53, "pl-1", "sgr-1")
    assert parse_sgr({**base, "IsEgress": True, "IpProtocol": "-1", "CidrIpv4": WORLD}) is None


def test_the_plan_reads_as_a_reviewer_needs_it() -> None:
    rules = [rule("-1", (-1, -1), WORLD, "sgr-all")]
    stale = [*COMPLIANT, rule("udp", (53, 53), WORLD, "sgr-dns")]
    plan = plan_fix([result(rules, desired(enable_public_ssh=False)),
                             result(stale, desired(), "sg-2")],
                            {ref(): rules, ref("sg-2"): "UnauthorizedOperation: denied"})
    assert plan_text.render_plan(plan) == (
        "Fix plan: 5 change(s) in 1 group(s); 1 group(s) skipped\n"
        "\n"
        "sg-1 (coiled-sg-1)  account 111122223333  region eu-west-1\n"
        '  #1   authorize tcp 8786 from 0.0.0.0/0  "restored by sgaudit (required ingress)"\n'
        "        why: required (enable_public_http is true: Dask ports open to the world); now allowed "
        "only through sgr-all, revoked below: added first so access is never lost\n"
        '  #2   authorize tcp 8787 from 0.0.0.0/0  "restored by sgaudit (required ingress)"\n'
        "        why: required (enable_public_http is true: Dask ports open to the world); now allowed "
        "only through sgr-all, revoked below: added first so access is never lost\n"
        '  #3   authorize tcp 22 from 10.0.0.0/16  "kept by sgaudit: the permitted part of sgr-all"\n'
        "        why: the part of sgr-all (all traffic from 0.0.0.0/0) that the options permit; added "
        "first so that access stays\n"
        '  #4   authorize all traffic from sg-1  "kept by sgaudit: the permitted part of sgr-all"\n'
        "        why: sgr-all (all traffic from 0.0.0.0/0) also let the cluster's machines reach each "
        "other; this keeps that, from the group itself (always permitted)\n"
        "  #5   revoke    sgr-all (all traffic from 0.0.0.0/0)  (after #1, #2, #3, #4)\n"
        "        why: extra: outside the envelope: tcp 0-8785, 8788-65535 from 0.0.0.0/0 except "
        "10.0.0.0/16; tcp 0-21, 23-8785, 8788-65535 from 10.0.0.0/16; udp, icmp, icmpv6, all other "
        "protocols from 0.0.0.0/0\n"
        "\n"
        "sg-2 (coiled-sg-2)  account 111122223333  region eu-west-1\n"
        "  SKIPPED: cannot read its rules: UnauthorizedOperation: denied\n")


# -- what a revoke must not take away ----------------------------------------------------------

def test_revoking_a_broad_vpc_rule_keeps_what_the_options_permit_from_the_vpc() -> None:
    """Nothing is required (ssh and http off), 22/8786/8787 are permitted from the VPC: the
    only rule, -1 from the VPC, must not go without those ports and the cluster's own traffic."""
    rules = [rule("-1", (-1, -1), "10.0.0.0/16", "sgr-vpc")]
    plan = plan_fix([result(rules, desired(enable_public_ssh=False, enable_public_http=False))],
                        {ref(): rules})
    assert brief(plan) == [
        (1, "authorize", "tcp 22 from 10.0.0.0/16", ()),
        (2, "authorize", "tcp 8786 from 10.0.0.0/16", ()),
        (3, "authorize", "tcp 8787 from 10.0.0.0/16", ()),
        (4, "authorize", "all traffic from sg-1", ()),
        (5, "revoke", "sgr-vpc (all traffic from 10.0.0.0/16)", (1, 2, 3, 4)),
    ]
    assert {c.rule.description for c in plan.changes[:4]} == {
        "kept by sgaudit: the permitted part of sgr-vpc"}


def test_a_bastion_port_range_keeps_its_ssh() -> None:
    rules = [*COMPLIANT[1:], rule("tcp", (20, 25), "10.0.0.0/16", "sgr-bastion")]
    plan = plan_fix([result(rules, desired(enable_public_ssh=False))], {ref(): rules})
    assert brief(plan) == [
        (1, "authorize", "tcp 22 from 10.0.0.0/16", ()),
        (2, "revoke", "sgr-bastion (tcp 20-25 from 10.0.0.0/16)", (1,)),
    ]


def test_a_kept_part_already_allowed_by_a_staying_rule_is_not_added_again() -> None:
    rules = [*COMPLIANT[1:], rule("tcp", (22, 22), "10.0.0.0/16", "sgr-22"),
             rule("-1", (-1, -1), "10.0.0.0/16", "sgr-vpc"), rule("-1", (-1, -1), "sg-1", "sgr-self")]
    plan = plan_fix([result(rules, desired(enable_public_ssh=False))], {ref(): rules})
    assert brief(plan) == [(1, "revoke", "sgr-vpc (all traffic from 10.0.0.0/16)", ())]


def test_a_rule_from_an_unread_prefix_list_is_never_revoked() -> None:
    """Its entries could not be read, so whether it is extra is unknown: left alone."""
    rules = [*COMPLIANT, rule("tcp", (5000, 5000), "pl-0abc1234", "sgr-pl"),
             rule("tcp", (23, 23), WORLD, "sgr-telnet")]
    state = desired()
    plan = plan_fix([result(rules, state)], {ref(): rules})
    assert brief(plan) == [(1, "revoke", "sgr-telnet (tcp 23 from 0.0.0.0/0)", ())]
    read = plan_fix([result(rules, state)], {ref(): rules},
                        prefix_lists={(REGION, "pl-0abc1234"): ("203.0.113.0/24",)})
    assert brief(read) == [(1, "revoke", "sgr-pl (tcp 5000 from pl-0abc1234)", ()),
                           (2, "revoke", "sgr-telnet (tcp 23 from 0.0.0.0/0)", ())]
