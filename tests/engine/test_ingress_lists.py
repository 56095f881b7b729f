"""``ingress: [{ports, cidr}, ...]`` in backend options: each entry requires tcp on its ports from
its CIDR (IPv4 or IPv6), and the list is the cluster's whole firewall (legacy flags warned about).
Desired states and findings are written from those rules."""

from __future__ import annotations

from typing import Any

import pytest

from sgaudit.engine.diff import Differ
from sgaudit.engine.resolve import SELF, effective_options, resolve
from sgaudit.errors import PolicyError
from sgaudit.model import Group, Vpc
from sgaudit.policy.loader import parse_policy
from sgaudit.policy.options import Where, collect
from sgaudit.policy.yamlsource import load_yaml
from sgaudit.sources.awsjson import parse_group

ACCOUNT = "111122223333"
REGION = "eu-west-1"
VPC = Vpc("vpc-1", REGION, ACCOUNT, "10.0.0.0/16", ("10.0.0.0/16", "2600:1f18:aa::/56"))


def state_of(yaml_text: str) -> Any:
    return resolve(collect(load_yaml(yaml_text), Where("policy.yaml")).options, VPC)


def required(state: Any) -> set[tuple[str, int, int, str]]:
    return {(g.protocol, g.from_port, g.to_port, g.source) for g in state.required}


def test_each_entry_requires_its_ports_from_its_cidr_ipv4_and_ipv6() -> None:
    state = state_of("ingress:\n"
                     "  - {ports: [443, 8786], cidr: 203.0.113.0/24}\n"
                     "  - {ports: [443], cidr: '2001:db8:1::/48'}\n"
                     "  - {ports: [22], cidr: '2001:DB8:2::1/64'}\n")
    assert required(state) == {("tcp", 443, 443, "203.0.113.0/24"), ("tcp", 8786, 8786, "203.0.113.0/24"),
                               ("tcp", 443, 443, "2001:db8:1::/48"), ("tcp", 22, 22, "2001:db8:2::/64")}
    assert [(g.protocol, g.source) for g in state.permitted] == [("-1", SELF)]
    assert state.warnings == ()


def test_ipv6_non_canonical_cidr_is_normalised_with_a_warning() -> None:
    got = collect(load_yaml("ingress:\n  - {ports: [22], cidr: '2001:DB8:2::1/64'}\n"), Where("p.yaml"))
    assert got.warnings == ["p.yaml:2: ingress[0].cidr: '2001:DB8:2::1/64' is not canonical; "
                            "using 2001:db8:2::/64"]


def test_legacy_flags_do_not_apply_and_are_warned_about() -> None:
    state = state_of("enable_public_ssh: true\nfirewall: {ports: [9000], cidr: 10.0.0.0/16}\n"
                     "ingress: [{ports: [443], cidr: 10.0.0.0/8}]\n")
    assert required(state) == {("tcp", 443, 443, "10.0.0.0/8")}
    assert state.warnings == (
        "ingress (policy.yaml:3) defines the whole firewall; enable_public_ssh (policy.yaml:1) "
        "does not apply",
        "ingress (policy.yaml:3) defines the whole firewall; firewall (policy.yaml:2) does not apply",
    )


def test_cluster_ingress_replaces_account_flags_for_that_cluster_only() -> None:
    policy = parse_policy(load_yaml(
        "backend_options:\n  enable_public_ssh: false\n  firewall: {ports: [9000], cidr: 10.0.0.0/16}\n"
        "clusters:\n  - match: {names: [modern]}\n"
        "    backend_options:\n      ingress: [{ports: [443], cidr: '2001:db8::/32'}]\n"), "policy.yaml")
    modern = Group("sg-1", "modern", "vpc-1", REGION, ACCOUNT)
    legacy = Group("sg-2", "legacy", "vpc-1", REGION, ACCOUNT)
    modern_state = resolve(effective_options(policy, modern)[0], VPC)
    legacy_state = resolve(effective_options(policy, legacy)[0], VPC)
    assert required(modern_state) == {("tcp", 443, 443, "2001:db8::/32")}
    assert required(legacy_state) == {("tcp", p, p, "10.0.0.0/16") for p in (8786, 8787, 9000)}
    assert modern_state.warnings == (
        "ingress (policy.yaml:7) defines the whole firewall; enable_public_ssh (policy.yaml:2) "
        "does not apply",
        "ingress (policy.yaml:7) defines the whole firewall; firewall (policy.yaml:3) does not apply")


def test_firewall_and_ingress_at_account_level_are_refused() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(load_yaml("backend_options:\n  ingress: [{ports: [443], cidr: '::/0'}]\n"
                               "  firewall: {ports: [1], cidr: 10.0.0.0/8}\n"), "policy.yaml")
    assert str(err.value) == ("policy.yaml:2: backend_options.ingress cannot be combined with "
                              "backend_options.firewall (policy.yaml:3): Coiled refuses both at "
                              "account level (set_backend_options)")


@pytest.mark.parametrize(("text", "message"), [
    ("ingress: {ports: [443], cidr: 10.0.0.0/8}\n",
     "p.yaml:1: ingress: expected a list of {ports, cidr} entries, got "
     "{'ports': [443], 'cidr': '10.0.0.0/8'}"),
    ("ingress: [{ports: [443]}]\n", "p.yaml:1: ingress[0]: missing 'cidr'"),
    ("ingress: [{ports: [443], cidr: '2001:db8::/129'}]\n",
     "p.yaml:1: ingress[0].cidr: invalid CIDR '2001:db8::/129'"),
    ("ingress: [{ports: [0], cidr: '::/0'}]\n", "p.yaml:1: ingress[0].ports[0]: port 0 is outside 1-65535"),
    ("ingress: [{ports: [443], cidr: '::/0', protocol: udp}]\n",
     "p.yaml:1: ingress[0].protocol: unknown key 'protocol'; known keys: ports, cidr"),
])
def test_bad_ingress_entries_are_refused(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        collect(load_yaml(text), Where("p.yaml"))
    assert str(err.value) == message


def _perm(port: int, *, cidrs: tuple[str, ...] = (), v6: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "IpRanges": [{"CidrIp": c} for c in cidrs], "Ipv6Ranges": [{"CidrIpv6": c} for c in v6],
            "UserIdGroupPairs": [], "PrefixListIds": []}


def test_ipv6_ingress_findings_are_exact() -> None:
    state = state_of("ingress:\n  - {ports: [443], cidr: '2001:db8::/32'}\n"
                     "  - {ports: [22], cidr: '2001:db8:5::/48'}\n")
    group = parse_group({"GroupId": "sg-0a1", "GroupName": "coiled-v6", "VpcId": "vpc-1",
                         "OwnerId": ACCOUNT,
                         "IpPermissions": [
                             # two halves of the required /32 cover it
                             _perm(443, v6=("2001:db8::/33", "2001:db8:8000::/33")),
                             # wider than the required /48: the rest is extra
                             _perm(22, v6=("2001:db8::/32",)),
                             # IPv4 anywhere was never asked for
                             _perm(443, cidrs=("0.0.0.0/0",)),
                         ]}, "$", REGION, None)
    findings = Differ().diff(group, state)
    assert [(f.kind, f.severity, f.from_port, f.source, f.reason) for f in findings] == [
        # ssh from a whole public /32 of IPv6: world-scale, so critical (the rule is rated as it
        # stands, not by the part outside the envelope)
        ("extra", "critical", 22, "2001:db8::/32",
         "outside the envelope: tcp 22 from 2001:db8::/32 except 2001:db8:5::/48"),
        ("extra", "high", 443, "0.0.0.0/0", "outside the envelope: tcp 443 from 0.0.0.0/0"),
    ]
    missing = Differ().diff(parse_group({"GroupId": "sg-0a2", "GroupName": "coiled-v6b", "VpcId": "vpc-1",
                                         "OwnerId": ACCOUNT, "IpPermissions": [
                                             _perm(443, v6=("2001:db8::/33",))]}, "$", REGION, None), state)
    assert [(f.kind, f.from_port, f.source, f.reason) for f in missing] == [
        ("missing", 443, "2001:db8::/32", "only partly allowed; not covered: tcp 443 from "
         "2001:db8:8000::/33; required because ingress[0] opens [443] to 2001:db8::/32"),
        ("missing", 22, "2001:db8:5::/48",
         "no rule allows it; required because ingress[1] opens [22] to 2001:db8:5::/48"),
    ]
