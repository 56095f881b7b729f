"""Google Cloud: findings judged by what is effectively reachable, as GCP evaluates its rules.

Every case builds the records a GCP source hands the engine (``GcpState``) and runs the real
``audit``; each asserts the exact findings (kind, protocol, ports, source, rules, severity) and,
where a rule decides, that the reason names it.  The default options require tcp 22, 8786 and
8787 from 0.0.0.0/0; ``OK`` is a rule that grants exactly that to the cluster's tag.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from sgaudit.engine.audit import audit
from sgaudit.model import (
    FirewallMatch,
    FirewallPolicy,
    FirewallRule,
    GcpInstance,
    GcpNetwork,
    GcpState,
    Report,
    Snapshot,
)
from sgaudit.policy.loader import parse_policy

PROJECT = "proj-a"
TAG = "coiled-c1"
NET = GcpNetwork(PROJECT, "net", subnet_ranges=("10.0.0.0/16", "10.8.0.0/20", "fd20:1::/64"),
                 policies=())


def tcp(*ports: int | tuple[int, int]) -> FirewallMatch:
    return FirewallMatch("tcp", tuple(p if isinstance(p, tuple) else (p, p) for p in ports))


def fw(name: str, *matches: FirewallMatch, priority: int = 1000, action: str = "allow",
       sources: tuple[str, ...] = ("0.0.0.0/0",), tags: tuple[str, ...] = (TAG,),
       **kw: Any) -> FirewallRule:
    return FirewallRule(name=name, project=kw.pop("project", PROJECT), network=kw.pop("network", "net"),
                        priority=priority, action=action, matches=matches or (tcp(22),),
                        source_ranges=sources, target_tags=tags, **kw)


OK = fw("coiled-c1-ingress", tcp(22, 8786, 8787))
SA = "worker@proj-a.iam.gserviceaccount.com"


def run(*rules: FirewallRule, policy: str | None = None, network: GcpNetwork = NET,
        instances: tuple[GcpInstance, ...] | None = None) -> Report:
    state = GcpState(networks={(network.project, network.name): network}, firewalls=rules,
                     instances={} if instances is None else {(network.project, network.name): instances})
    import yaml
    pol = parse_policy(yaml.safe_load(policy) if policy else None, "policy.yaml")
    return audit(pol, Snapshot(groups=(), gcp=state), "2026-01-02T03:04:05Z")


def found(report: Report) -> list[tuple[str, str, int, int, str, tuple[str, ...], str]]:
    return sorted((f.kind, f.protocol, f.from_port, f.to_port, f.source, f.rule_ids, f.severity)
                  for f in report.findings)


def reason(report: Report, kind: str, from_port: int) -> str:
    (f,) = [f for f in report.findings if f.kind == kind and f.from_port == from_port]
    return f.reason


def missing(port: int) -> tuple[str, str, int, int, str, tuple[str, ...], str]:
    return ("missing", "tcp", port, port, "0.0.0.0/0", (), "medium")


# -- VPC rules: priority, ties, disabled, targets ---------------------------------------------
def test_the_exact_rule_is_no_drift() -> None:
    report = run(OK)
    assert found(report) == [] and report.complete
    (result,) = report.results
    g = result.group
    assert (g.group_id, g.group_name, g.vpc_id, g.account, g.region, g.cloud) == (
        TAG, TAG, "net", PROJECT, "global", "gcp")
    assert result.status == "ok"


def test_a_higher_priority_deny_takes_a_required_rule_away_and_is_named() -> None:
    report = run(OK, fw("deny-ssh", tcp(22), priority=900, action="deny"))
    assert found(report) == [missing(22)]
    assert "taken away by deny-ssh (deny, priority 900)" in reason(report, "missing", 22)


def test_a_lower_priority_deny_changes_nothing() -> None:
    assert found(run(OK, fw("deny-ssh", tcp(22), priority=1100, action="deny"))) == []


def test_at_equal_priority_deny_beats_allow() -> None:
    report = run(OK, fw("deny-ssh", tcp(22), priority=1000, action="deny"))
    assert found(report) == [missing(22)]


def test_a_disabled_deny_does_not_exist() -> None:
    assert found(run(OK, fw("deny-ssh", tcp(22), priority=1, action="deny", disabled=True))) == []


def test_a_disabled_allow_does_not_exist_and_its_tag_is_still_audited() -> None:
    report = run(fw("coiled-c1-ingress", tcp(22, 8786, 8787), disabled=True))
    assert found(report) == [missing(22), missing(8786), missing(8787)]
    assert reason(report, "missing", 22).startswith("no rule allows it")


def test_egress_rules_are_ignored() -> None:
    assert found(run(OK, fw("egress-deny", tcp(22), priority=1, action="deny",
                            direction="EGRESS"))) == []


def test_an_untargeted_rule_applies_to_every_tag_and_another_tag_s_rule_does_not() -> None:
    report = run(OK, fw("mysql-all", tcp(3306), tags=()),
                 fw("web-80", tcp(80), tags=("web",)))
    assert found(report) == [("extra", "tcp", 3306, 3306, "0.0.0.0/0", ("mysql-all",), "high")]
    assert [r.group.group_id for r in report.results] == [TAG]  # "web" is not selected


def test_a_world_open_rule_made_harmless_by_a_higher_priority_deny_is_not_reported() -> None:
    report = run(OK, fw("open-9000", tcp(9000)), fw("block-9000", tcp(9000), priority=500,
                                                     action="deny"))
    assert found(report) == []
    # the target's ingress lists what is reachable; the blocked rule shows only in the order
    assert [(r.rule_id, r.from_port) for r in report.results[0].group.rules] == [
        ("coiled-c1-ingress", 22), ("coiled-c1-ingress", 8786), ("coiled-c1-ingress", 8787)]
    assert [a.name for a in report.results[0].applied] == ["block-9000", "coiled-c1-ingress",
                                                           "open-9000"]


def test_a_partly_denied_rule_reports_only_the_reachable_part_and_names_the_deny() -> None:
    report = run(OK, fw("open-9000", tcp(9000)),
                 fw("block-low-half", tcp(9000), priority=500, action="deny",
                    sources=("0.0.0.0/1",)))
    assert found(report) == [("extra", "tcp", 9000, 9000, "0.0.0.0/0", ("open-9000",), "high")]
    assert reason(report, "extra", 9000) == (
        "outside the envelope: tcp 9000 from 128.0.0.0/1; the rest is blocked by "
        "block-low-half (deny, priority 500)")


def test_redundant_allows_are_each_reported() -> None:
    report = run(OK, fw("open-9000-a", tcp(9000)), fw("open-9000-b", tcp(9000), priority=900))
    assert found(report) == [
        ("extra", "tcp", 9000, 9000, "0.0.0.0/0", ("open-9000-a",), "high"),
        ("extra", "tcp", 9000, 9000, "0.0.0.0/0", ("open-9000-b",), "high")]
    assert len({f.key for f in report.findings}) == 2


def test_an_allow_after_an_allow_and_a_deny_is_not_exposure() -> None:
    """open-a decides first; the deny then blocks open-b whatever happens to open-a."""
    report = run(OK, fw("open-a", tcp(9000), priority=100), fw("deny", tcp(9000), priority=200,
                                                               action="deny"),
                 fw("open-b", tcp(9000), priority=300))
    assert found(report) == [("extra", "tcp", 9000, 9000, "0.0.0.0/0", ("open-a",), "high")]


def test_rules_of_another_network_or_project_do_not_apply() -> None:
    other = GcpNetwork("proj-b", "net", subnet_ranges=("10.0.0.0/16",), policies=())
    state = GcpState(networks={(PROJECT, "net"): NET, ("proj-b", "net"): other},
                     firewalls=(OK, fw("open-b", tcp(9000), project="proj-b")))
    report = audit(parse_policy(None, "p.yaml"), Snapshot(groups=(), gcp=state), "t")
    assert sorted((r.group.account, r.group.vpc_id, r.status) for r in report.results) == [
        (PROJECT, "net", "ok"), ("proj-b", "net", "drift")]
    assert found(report) == [("extra", "tcp", 9000, 9000, "0.0.0.0/0", ("open-b",), "high"),
                             missing(22), missing(8786), missing(8787)]
    assert len({f.key for f in report.findings}) == 4


# -- protocols, ports, IPv6 ---------------------------------------------------------------------
@pytest.mark.parametrize(("match", "sources", "expected"), [
    (FirewallMatch("tcp"), ("0.0.0.0/0",), ("tcp", 0, 65535, "0.0.0.0/0", "critical")),
    (FirewallMatch("-1"), ("10.20.0.0/16",), ("-1", -1, -1, "10.20.0.0/16", "medium")),
    (FirewallMatch("udp", ((53, 53),)), ("8.8.8.8/32",), ("udp", 53, 53, "8.8.8.8/32", "high")),
    (FirewallMatch("icmp"), ("10.20.0.0/16",), ("icmp", -1, -1, "10.20.0.0/16", "low")),
    (FirewallMatch("132", ((5000, 5000),)), ("0.0.0.0/0",), ("132", 5000, 5000, "0.0.0.0/0", "high")),
    (tcp(22), ("::/0",), ("tcp", 22, 22, "::/0", "critical")),
])
def test_protocols_ports_and_ipv6(match: FirewallMatch, sources: tuple[str, ...],
                                  expected: tuple[object, ...]) -> None:
    report = run(OK, fw("extra-rule", match, sources=sources))
    protocol, lo, hi, source, severity = expected
    assert found(report) == [("extra", protocol, lo, hi, source, ("extra-rule",), severity)]


def test_all_protocols_minus_a_denied_protocol() -> None:
    report = run(OK, fw("all-in", FirewallMatch("-1"), sources=("10.20.0.0/16",)),
                 fw("no-udp", FirewallMatch("udp"), sources=("10.20.0.0/16",), priority=10,
                    action="deny"))
    assert found(report) == [("extra", "-1", -1, -1, "10.20.0.0/16", ("all-in",), "medium")]
    text = reason(report, "extra", -1)
    assert text == ("outside the envelope: tcp 0-21, 23-8785, 8788-65535 from 10.20.0.0/16; icmp, "
                    "icmpv6, all other protocols from 10.20.0.0/16; the rest is blocked by no-udp "
                    "(deny, priority 10)")
    assert "blocked by no-udp (deny, priority 10)" in text


def test_inside_the_network_means_any_subnet_range_ipv4_or_ipv6() -> None:
    policy = "backend_options: {enable_public_ssh: false}\n"
    inside = [fw(f"ssh-{i}", tcp(22), sources=(c,)) for i, c in
              enumerate(("10.0.3.0/24", "10.8.0.0/20", "fd20:1::/64"))]
    outside = fw("ssh-out", tcp(22), sources=("10.9.0.0/16",))
    http = fw("http", tcp(8786, 8787))
    report = run(http, *inside, outside, policy=policy)
    assert found(report) == [("extra", "tcp", 22, 22, "10.9.0.0/16", ("ssh-out",), "medium")]


def test_required_from_the_network_uses_the_first_ipv4_subnet_range() -> None:
    policy = "backend_options: {disable_public_ingress: true}\n"
    report = run(fw("private", tcp(22, 8786, 8787), sources=("10.0.0.0/16",)), policy=policy)
    assert found(report) == []
    report = run(fw("private", tcp(22, 8786, 8787), sources=("10.8.0.0/20",)), policy=policy)
    assert [f[:5] for f in found(report)] == [("missing", "tcp", p, p, "10.0.0.0/16")
                                              for p in (22, 8786, 8787)]


def test_subnets_not_read_leave_a_network_dependent_target_unresolved() -> None:
    net = GcpNetwork(PROJECT, "net", subnet_ranges=None, policies=())
    report = run(fw("http", tcp(8786, 8787)), fw("world-ssh", tcp(22)), network=net,
                 policy="backend_options: {enable_public_ssh: false}\n")
    assert not report.complete
    (error,) = report.errors
    assert error.code == "Unresolved" and "subnet ranges are needed" in error.message
    assert report.results[0].status == "unresolved"
    # ssh from the world is outside whatever the subnets are
    assert ("extra", "tcp", 22, 22, "0.0.0.0/0", ("world-ssh",), "critical") in found(report)


def test_policies_not_read_make_the_scan_incomplete() -> None:
    net = GcpNetwork(PROJECT, "net", subnet_ranges=("10.0.0.0/16",), policies=None)
    report = run(OK, network=net)
    assert not report.complete and [e.code for e in report.errors] == ["PoliciesNotRead"]
    assert found(report) == []


# -- sources: tags, self, service accounts -----------------------------------------------------
def test_source_tag_of_the_target_itself_is_self_and_another_tag_is_extra() -> None:
    report = run(OK, fw("internal", FirewallMatch("-1"), sources=(), source_tags=(TAG,)),
                 fw("from-web", tcp(9000), sources=(), source_tags=("web",)))
    assert found(report) == [("extra", "tcp", 9000, 9000, "tag:web", ("from-web",), "medium")]


def test_ranges_and_tags_combine_with_or() -> None:
    report = run(OK, fw("mixed", tcp(9000), sources=("203.0.113.0/24",), source_tags=(TAG, "web")))
    assert found(report) == [
        ("extra", "tcp", 9000, 9000, "203.0.113.0/24", ("mixed",), "high"),
        ("extra", "tcp", 9000, 9000, "tag:web", ("mixed",), "medium")]


def test_service_account_allow_without_instances_is_exposure_but_never_satisfies() -> None:
    sa_rule = fw("sa-ingress", tcp(22, 8786, 8787, 9000), tags=(), target_service_accounts=(SA,))
    old = fw("old", tcp(22), disabled=True)  # only names the tag, so that it is a target
    report = run(sa_rule, old)
    assert found(report) == [("extra", "tcp", 9000, 9000, "0.0.0.0/0", ("sa-ingress",), "high"),
                             missing(22), missing(8786), missing(8787)]
    assert "possibly applies" in reason(report, "extra", 9000)
    assert "not counted (only possibly applies): sa-ingress" in reason(report, "missing", 22)


def test_service_account_deny_without_instances_takes_required_away_but_blocks_no_exposure() -> None:
    deny = fw("sa-deny", tcp(22, 9000), tags=(), priority=10, action="deny",
              target_service_accounts=(SA,))
    report = run(OK, fw("open-9000", tcp(9000)), deny)
    assert found(report) == [("extra", "tcp", 9000, 9000, "0.0.0.0/0", ("open-9000",), "high"),
                             missing(22)]
    assert "taken away by sa-deny (deny, priority 10, possibly applies)" in reason(report, "missing", 22)


@pytest.mark.parametrize(("accounts", "expected"), [
    ((SA,), []),  # every instance with the tag runs as it: the rule applies
    (("other@x.iam.gserviceaccount.com",), [missing(22), missing(8786), missing(8787)]),
])
def test_service_account_rules_are_decided_from_instances(accounts: tuple[str, ...],
                                                          expected: list[object]) -> None:
    sa_rule = fw("sa-ingress", tcp(22, 8786, 8787), tags=(), target_service_accounts=(SA,))
    vm = GcpInstance(PROJECT, "vm-1", ("net",), (TAG,), accounts)
    report = run(sa_rule, instances=(vm,))
    assert found(report) == expected
    assert [r.group.group_id for r in report.results] == [TAG]  # found through the instance


# -- firewall policies --------------------------------------------------------------------------
def policy_rule(policy: str, priority: int, action: str, *matches: FirewallMatch,
                sources: tuple[str, ...] = ("0.0.0.0/0",), **kw: Any) -> FirewallRule:
    return FirewallRule(name=f"{policy}/{priority}", project=PROJECT, network="net",
                        priority=priority, action=action, matches=matches or (tcp(22),),
                        source_ranges=sources, **kw)


def with_policies(*policies: FirewallPolicy, order: str = "AFTER_CLASSIC_FIREWALL") -> GcpNetwork:
    return GcpNetwork(PROJECT, "net", enforcement_order=order, subnet_ranges=("10.0.0.0/16",),
                      policies=policies)


def test_a_hierarchical_deny_takes_a_required_rule_away_and_the_reason_names_it() -> None:
    org = FirewallPolicy("org-policy", "hierarchical", (policy_rule("org-policy", 100, "deny"),))
    report = run(OK, network=with_policies(org))
    assert found(report) == [missing(22)]
    assert ("taken away by org-policy/100 (deny, priority 100 of hierarchical policy org-policy)"
            in reason(report, "missing", 22))
    (result,) = report.results
    assert [(a.name, a.action, a.decides) for a in result.applied] == [
        ("org-policy/100", "deny", tuple(f.key for f in report.findings)),
        ("coiled-c1-ingress", "allow", ())]


def test_goto_next_passes_traffic_past_the_rest_of_its_policy() -> None:
    org = FirewallPolicy("org", "hierarchical", (policy_rule("org", 10, "goto_next"),
                                                 policy_rule("org", 20, "deny")))
    assert found(run(OK, network=with_policies(org))) == []


def test_goto_next_in_one_policy_does_not_skip_the_next_policy() -> None:
    org = FirewallPolicy("org", "hierarchical", (policy_rule("org", 10, "goto_next"),), order=0)
    folder = FirewallPolicy("folder", "hierarchical", (policy_rule("folder", 5, "deny"),), order=1)
    report = run(OK, network=with_policies(folder, org))
    assert found(report) == [missing(22)]
    assert "folder/5" in reason(report, "missing", 22)


def test_a_hierarchical_allow_is_exposure_named_by_policy_and_priority() -> None:
    org = FirewallPolicy("org", "hierarchical", (policy_rule("org", 300, "allow", tcp(3306)),))
    report = run(OK, network=with_policies(org))
    assert found(report) == [("extra", "tcp", 3306, 3306, "0.0.0.0/0", ("org/300",), "high")]
    assert reason(report, "extra", 3306).endswith("(hierarchical policy org)")


def test_a_hierarchical_allow_beats_a_vpc_deny() -> None:
    org = FirewallPolicy("org", "hierarchical", (policy_rule("org", 300, "allow", tcp(22)),))
    report = run(OK, fw("deny-ssh", tcp(22), priority=0, action="deny"), network=with_policies(org))
    assert found(report) == []


@pytest.mark.parametrize(("order", "expected"), [
    ("AFTER_CLASSIC_FIREWALL", []),
    ("BEFORE_CLASSIC_FIREWALL", [missing(22)]),
])
def test_enforcement_order_of_network_policies(order: str, expected: list[object]) -> None:
    net_policy = FirewallPolicy("net-fw", "network", (policy_rule("net-fw", 1, "deny"),))
    report = run(OK, network=with_policies(net_policy, order=order))
    assert found(report) == expected


@pytest.mark.parametrize(("order", "vpc_deny", "expected"), [
    ("AFTER_CLASSIC_FIREWALL", False, [("extra", "tcp", 3306, 3306, "0.0.0.0/0", ("reg/7",), "high")]),
    ("AFTER_CLASSIC_FIREWALL", True, []),
    ("BEFORE_CLASSIC_FIREWALL", True, [("extra", "tcp", 3306, 3306, "0.0.0.0/0", ("reg/7",), "high")]),
])
def test_network_policy_allow_reached_only_when_vpc_rules_do_not_decide(
        order: str, vpc_deny: bool, expected: list[object]) -> None:
    regional = FirewallPolicy("reg", "regional", (policy_rule("reg", 7, "allow", tcp(3306)),))
    rules = [OK] + ([fw("deny-mysql", tcp(3306), tags=(), action="deny")] if vpc_deny else [])
    assert found(run(*rules, network=with_policies(regional, order=order))) == expected


def test_secure_tag_policy_rules_possibly_apply() -> None:
    org = FirewallPolicy("org", "hierarchical", (
        policy_rule("org", 1, "deny", target_secure_tags=("tagValues/1",)),
        policy_rule("org", 2, "allow", tcp(3306), target_secure_tags=("tagValues/1",))))
    report = run(OK, network=with_policies(org))
    assert found(report) == [("extra", "tcp", 3306, 3306, "0.0.0.0/0", ("org/2",), "high"),
                             missing(22)]


# -- selection ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("policy", "selected"), [
    (None, ["coiled-c1", "coiled-c2"]),
    ("select: {network_tags: ['*-c2']}\n", ["coiled-c2"]),
    ("select: {tags: {owner: coiled}}\n", ["coiled-c1", "coiled-c2"]),  # GCP default kept
    ("select: {names: [x], network_tags: [web]}\n", ["web"]),
    ("select: {}\n", ["coiled-c1", "coiled-c2", "web"]),
])
def test_selection_by_network_tag_globs(policy: str | None, selected: list[str]) -> None:
    rules = [fw("a", tags=("coiled-c1",)), fw("b", tags=("coiled-c2", "web"))]
    report = run(*rules, policy=policy)
    assert [r.group.group_id for r in report.results] == selected


def test_cluster_entries_match_network_tags() -> None:
    policy = ("clusters:\n  - match: {network_tags: [coiled-c2]}\n"
              "    backend_options: {enable_public_ssh: false}\n")
    report = run(fw("a", tcp(22, 8786, 8787), tags=("coiled-c1", "coiled-c2")), policy=policy)
    assert found(report) == [("extra", "tcp", 22, 22, "0.0.0.0/0", ("a",), "critical")]
    assert report.findings[0].group_id == "coiled-c2"


def test_aws_only_cluster_entries_do_not_match_gcp_targets() -> None:
    policy = ("clusters:\n  - match: {names: ['coiled-*']}\n"
              "    backend_options: {enable_public_ssh: false}\n")
    assert found(run(OK, policy=policy)) == []


def test_targets_sharing_policies_do_not_share_their_own_rules() -> None:
    """The policies' part of the sweep is done once per network: each tag's own rules must
    still be judged apart, whichever tag comes first."""
    org = FirewallPolicy("org", "hierarchical", (policy_rule("org", 100, "deny"),
                                                 policy_rule("org", 200, "allow", tcp(3306)),
                                                 policy_rule("org", 300, "goto_next", FirewallMatch("-1"))))
    rules = (fw("c1", tcp(8786, 8787, 9000), tags=("coiled-c1",)),
             fw("c2", tcp(8786, 8787), tags=("coiled-c2",)),
             fw("c2-block", tcp(8787), tags=("coiled-c2",), priority=10, action="deny"))
    report = run(*rules, network=with_policies(org))
    by_tag = {r.group.group_id: sorted((f.kind, f.from_port, f.rule_ids) for f in r.findings)
              for r in report.results}
    assert by_tag == {
        "coiled-c1": [("extra", 3306, ("org/200",)), ("extra", 9000, ("c1",)), ("missing", 22, ())],
        "coiled-c2": [("extra", 3306, ("org/200",)), ("missing", 22, ()), ("missing", 8787, ())]}


def test_a_service_account_rule_applies_to_one_tag_and_possibly_to_another() -> None:
    sa_rule = fw("sa-ingress", tcp(22, 8786, 8787), tags=(), target_service_accounts=(SA,))
    seen = fw("names-tags", tcp(9999), action="deny", tags=("coiled-c1", "coiled-c2", "coiled-c3"))
    vms = (GcpInstance(PROJECT, "vm-1", ("net",), ("coiled-c1",), (SA,)),
           GcpInstance(PROJECT, "vm-2", ("net",), ("coiled-c2",), (SA,)),
           GcpInstance(PROJECT, "vm-3", ("net",), ("coiled-c2",), ("other@x",)))
    report = run(sa_rule, seen, instances=vms)
    applies = {r.group.group_id: [a.applies for a in r.applied if a.name == "sa-ingress"]
               for r in report.results}
    assert applies == {
        "coiled-c1": ["yes"],
        "coiled-c2": ["possibly: targets service account " + SA + " (1 of 2 instances run as it)"],
        "coiled-c3": ["possibly: targets service account " + SA + " (no instance carries the tag)"]}
    assert {r.group.group_id: r.status for r in report.results} == {
        "coiled-c1": "ok", "coiled-c2": "drift", "coiled-c3": "drift"}


# -- severity describes what the rule lets in, whatever the policy permits ---------------------
@pytest.mark.parametrize("policy", [None, "backend_options: {enable_public_http: false}",
                                    "backend_options: {disable_public_ingress: true}"])
def test_severity_describes_the_rule_whatever_the_policy_permits(policy: str | None) -> None:
    """tcp 0-65535 from a public /24 lets in every port from public addresses: critical under
    every policy, even where the policy permits some of those ports (as on AWS)."""
    every_port = fw("wide", FirewallMatch("tcp", ((0, 65535),)), sources=("203.0.113.0/24",))
    report = run(OK, every_port, policy=policy)
    (extra,) = [f for f in report.findings if f.kind == "extra" and f.rule_ids == ("wide",)]
    assert extra.severity == "critical"


def test_severity_of_a_partly_denied_rule_is_what_still_gets_through() -> None:
    """A world-open ssh rule whose public part a higher-priority deny blocks lets in only the
    private range: medium, not critical."""
    ssh = fw("ssh-anywhere", tcp(22), sources=("0.0.0.0/0",), priority=1000)
    deny = fw("deny-public-ssh", tcp(22), sources=("0.0.0.0/5", "8.0.0.0/7", "11.0.0.0/8",
                                                   "12.0.0.0/6", "16.0.0.0/4", "32.0.0.0/3",
                                                   "64.0.0.0/2", "128.0.0.0/1"),
              action="deny", priority=900)
    report = run(fw("dask", tcp(8786, 8787)), ssh, deny,
                 policy="backend_options: {enable_public_ssh: false, disable_public_ingress: true}")
    (ssh_finding,) = [f for f in report.findings if f.rule_ids == ("ssh-anywhere",)]
    assert ssh_finding.severity == "medium"
    assert "the rest is blocked by deny-public-ssh (deny, priority 900)" in ssh_finding.reason


# -- cluster-wide tags (issue 15): only their own traffic ---------------------------------------
CLUSTER_TAG = "coiled-c1-cluster"
CLUSTER_POLICY = "roles: {cluster: {network_tags: ['coiled-*-cluster']}}"


def _own_traffic(name: str = "c1-internal") -> FirewallRule:
    """All traffic among the cluster's machines: from the cluster tag to the cluster tag."""
    return fw(name, FirewallMatch("-1"), sources=(), source_tags=(CLUSTER_TAG,), tags=(CLUSTER_TAG,))


def test_a_cluster_tag_with_only_its_own_traffic_is_clean() -> None:
    report = run(OK, _own_traffic(), policy=CLUSTER_POLICY)
    assert found(report) == []
    assert {r.group.group_id: r.role for r in report.results} == {TAG: "scheduler", CLUSTER_TAG: "cluster"}


def test_a_cluster_tag_opened_to_the_world_is_extra_and_judged_as_scheduler_otherwise() -> None:
    opened = fw("c1-dask-world", tcp(8786), tags=(CLUSTER_TAG,))
    report = run(OK, _own_traffic(), opened, policy=CLUSTER_POLICY)
    assert found(report) == [("extra", "tcp", 8786, 8786, "0.0.0.0/0", ("c1-dask-world",), "high")]


def test_a_cluster_tag_without_its_own_traffic_misses_it() -> None:
    report = run(OK, fw("c1-ssh-vpc", tcp(22), sources=("10.0.0.0/16",), tags=(CLUSTER_TAG,)),
                 policy=CLUSTER_POLICY)
    kinds = sorted((f.kind, f.protocol, f.source) for f in report.findings)
    assert kinds == [("extra", "tcp", "10.0.0.0/16"), ("missing", "-1", CLUSTER_TAG)]


# -- regional network policies: a policy of region R applies only to instances in R ------------
REGION = "us-east1"


def regional(*rules: FirewallRule, region: str = REGION) -> FirewallPolicy:
    return FirewallPolicy("reg-fw", "regional", tuple(replace(r, region=region) for r in rules),
                          region=region)


def vms(*zones: str, tag: str = TAG) -> tuple[GcpInstance, ...]:
    return tuple(GcpInstance(PROJECT, f"vm-{i}", ("net",), (tag,), (), zone=z)
                 for i, z in enumerate(zones))


REG_DENY = policy_rule("reg-fw", 5, "deny", tcp(22), target_tags=(TAG,))
REG_ALLOW = policy_rule("reg-fw", 9, "allow", tcp(3306), target_tags=(TAG,))
ORDER = "BEFORE_CLASSIC_FIREWALL"  # policies before the VPC rules: a regional deny decides


@pytest.mark.parametrize(("zones", "expected", "applies"), [
    # every carrier in the region: the deny certainly applies and takes 22 away
    (("us-east1-b", "us-east1-c"), [missing(22)], "yes"),
    # carriers elsewhere only: the policy does not apply at all
    (("europe-west4-a",), [], None),
    # mixed: possibly - a possible deny still takes a required rule away
    (("us-east1-b", "europe-west4-a"), [missing(22)],
     "possibly: belongs to a regional policy of us-east1: 1 of 2 instances are in us-east1"),
    # a zone that was not given: possibly
    (("",), [missing(22)],
     "possibly: belongs to a regional policy of us-east1: 0 of 1 instances are in us-east1, "
     "1 in an unknown zone"),
])
def test_a_regional_deny_applies_by_the_region_of_the_tag_s_instances(
        zones: tuple[str, ...], expected: list[object], applies: str | None) -> None:
    report = run(OK, network=with_policies(regional(REG_DENY), order=ORDER), instances=vms(*zones))
    assert found(report) == expected
    (result,) = report.results
    assert [a.applies for a in result.applied if a.name == "reg-fw/5"] == ([applies] if applies else [])
    if expected:
        assert ("taken away by reg-fw/5 (deny, priority 5 of regional network policy reg-fw "
                "(us-east1)") in reason(report, "missing", 22)


def test_a_regional_deny_takes_away_a_required_rule_by_name_when_all_carriers_are_in_its_region() -> None:
    report = run(OK, network=with_policies(regional(REG_DENY), order=ORDER),
                 instances=vms("us-east1-b"))
    assert found(report) == [missing(22)]
    assert reason(report, "missing", 22).count("reg-fw/5") == 1
    assert "possibly" not in reason(report, "missing", 22)


def test_regional_rules_without_instances_possibly_apply() -> None:
    """An allow in it does not satisfy a required rule; a deny in it blocks no exposure."""
    allow_22 = policy_rule("reg-fw", 9, "allow", tcp(22, 8786, 8787), target_tags=(TAG,))
    names_tag = fw("coiled-c1-old", disabled=True)  # a disabled rule still makes the tag a target
    report = run(names_tag, network=with_policies(regional(allow_22)))
    assert found(report) == [missing(22), missing(8786), missing(8787)]
    (result,) = report.results
    assert [a.applies for a in result.applied] == [
        "possibly: belongs to a regional policy of us-east1; instances not read"]
    deny_3306 = policy_rule("reg-fw", 1, "deny", tcp(3306), target_tags=(TAG,))
    report = run(OK, fw("open-mysql", tcp(3306)), network=with_policies(regional(deny_3306), order=ORDER))
    assert found(report) == [("extra", "tcp", 3306, 3306, "0.0.0.0/0", ("open-mysql",), "high")]


def test_a_regional_allow_is_exposure_only_where_it_can_reach_an_instance() -> None:
    network = with_policies(regional(REG_ALLOW))
    extra = ("extra", "tcp", 3306, 3306, "0.0.0.0/0", ("reg-fw/9",), "high")
    assert found(run(OK, network=network, instances=vms("us-east1-d"))) == [extra]
    assert found(run(OK, network=network, instances=vms("us-west1-a"))) == []
    assert found(run(OK, network=network, instances=vms("us-west1-a", "us-east1-b"))) == [extra]
    assert found(run(OK, network=network)) == [extra]  # instances not read: possibly, counted


def test_a_regional_rule_targeting_another_tag_does_not_apply() -> None:
    other = policy_rule("reg-fw", 5, "deny", tcp(22), target_tags=("coiled-other",))
    report = run(OK, network=with_policies(regional(other), order=ORDER), instances=vms("us-east1-b"))
    assert found(report) == []
    (result,) = report.results
    assert [a.name for a in result.applied] == ["coiled-c1-ingress"]


def test_regional_service_account_reasons_combine() -> None:
    sa_allow = policy_rule("reg-fw", 9, "allow", tcp(3306), target_service_accounts=(SA,))
    instances = (GcpInstance(PROJECT, "a", ("net",), (TAG,), (SA,), zone="us-east1-b"),
                 GcpInstance(PROJECT, "b", ("net",), (TAG,), ("other@x",), zone="us-east1-b"),
                 GcpInstance(PROJECT, "c", ("net",), (TAG,), (SA,), zone="europe-west4-a"))
    report = run(OK, network=with_policies(regional(sa_allow)), instances=instances)
    (result,) = report.results
    assert [a.applies for a in result.applied if a.name == "reg-fw/9"] == [
        "possibly: targets service account worker@proj-a.iam.gserviceaccount.com (2 of 3 instances "
        "run as it); belongs to a regional policy of us-east1: 1 of 3 instances are in us-east1"]
    # the one instance in the region that runs as the account is gone: nothing it can reach
    report = run(OK, network=with_policies(regional(sa_allow)), instances=instances[1:])
    assert [a.name for a in report.results[0].applied] == ["coiled-c1-ingress"]


def test_a_regional_policy_of_an_unknown_region_possibly_applies() -> None:
    report = run(OK, network=with_policies(regional(REG_DENY, region="unknown"), order=ORDER),
                 instances=vms("us-east1-b"))
    assert found(report) == [missing(22)]
    assert [a.applies for a in report.results[0].applied if a.name == "reg-fw/5"] == [
        "possibly: belongs to a regional policy of an unknown region"]


# -- issue 19: system policies, narrowing match fields, cluster tags ----------------------------
def system(*rules: FirewallRule, region: str = REGION) -> FirewallPolicy:
    return FirewallPolicy("gke-sys", "system", tuple(replace(r, region=region) for r in rules), region=region)


SYS_ALLOW = policy_rule("gke-sys", 7, "allow", tcp(3306))


@pytest.mark.parametrize("order", ["AFTER_CLASSIC_FIREWALL", "BEFORE_CLASSIC_FIREWALL"])
def test_a_regional_system_policy_comes_right_after_the_hierarchical_ones(order: str) -> None:
    """Before the VPC rules and the network policies, whatever the enforcement order: its
    allow beats a VPC deny and a network-policy deny of higher priority."""
    vpc_deny = fw("deny-mysql", tcp(3306), priority=0, action="deny")
    net_deny = FirewallPolicy("net-fw", "network", (policy_rule("net-fw", 0, "deny", tcp(3306)),))
    report = run(OK, vpc_deny, network=with_policies(net_deny, system(SYS_ALLOW), order=order),
                 instances=vms("us-east1-b"))
    assert found(report) == [("extra", "tcp", 3306, 3306, "0.0.0.0/0", ("gke-sys/7",), "high")]
    (result,) = report.results
    assert [(a.level, a.name, a.applies) for a in result.applied][:1] == [
        ("regional system policy gke-sys (us-east1)", "gke-sys/7", "yes")]


def test_a_hierarchical_deny_still_comes_before_a_system_allow() -> None:
    org = FirewallPolicy("org", "hierarchical", (policy_rule("org", 1, "deny", tcp(3306)),))
    report = run(OK, network=with_policies(system(SYS_ALLOW), org), instances=vms("us-east1-b"))
    assert found(report) == []


def test_a_certain_system_deny_takes_required_ingress_away_by_name() -> None:
    deny = policy_rule("gke-sys", 3, "deny", tcp(22))
    report = run(OK, network=with_policies(system(deny)), instances=vms("us-east1-b"))
    assert found(report) == [missing(22)]
    assert reason(report, "missing", 22).startswith(
        "not effectively allowed; taken away by gke-sys/3 (deny, priority 3 of regional system "
        "policy gke-sys (us-east1))")


def test_a_narrowed_rule_shows_why_it_only_possibly_applies() -> None:
    org = FirewallPolicy("org", "hierarchical", (policy_rule(
        "org", 5, "deny", tcp(3389), conditions=("srcNetworkType:VPC_NETWORKS",)),))
    report = run(OK, fw("rdp", tcp(3389)), network=with_policies(org))
    assert found(report) == [("extra", "tcp", 3389, 3389, "0.0.0.0/0", ("rdp",), "critical")]
    assert [a.applies for a in report.results[0].applied if a.name == "org/5"] == [
        "possibly: is narrowed by srcNetworkType:VPC_NETWORKS"]


def test_a_cluster_tag_with_no_rule_for_its_own_traffic_says_no_rule_allows_it() -> None:
    """As on AWS (before: "only partly effectively allowed", a "-1" rule being one piece per
    protocol)."""
    report = run(OK, fw("c1-ssh-vpc", tcp(22), sources=("10.0.0.0/16",), tags=(CLUSTER_TAG,)),
                 policy=CLUSTER_POLICY)
    (text,) = [f.reason for f in report.findings if f.kind == "missing"]
    assert text.startswith("no rule allows it; required because")
