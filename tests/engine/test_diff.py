"""The semantic differ: rules compared by what they allow, one finding per actual rule and source
(extra) or per required rule not covered (missing), with exact reasons, severities and keys.

Groups are built from AWS's own JSON shape (``parse_group``), so normalisation is part of what
is tested; desired states come from the resolver.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgaudit.engine.diff import Differ, finding_key
from sgaudit.engine.resolve import SELF, SELF_GRANT, resolve
from sgaudit.model import DesiredState, Finding, Grant, Group, Rule, Vpc
from sgaudit.policy.options import Where, collect
from sgaudit.sources.awsjson import parse_group

ACCOUNT = "111122223333"
REGION = "eu-west-1"
VPC = Vpc("vpc-1", REGION, ACCOUNT, "10.0.0.0/16", ("10.0.0.0/16",))
TWO_BLOCK_VPC = Vpc("vpc-1", REGION, ACCOUNT, "10.0.0.0/16", ("10.0.0.0/16", "10.1.0.0/16"))

WHY_SSH = "required because enable_public_ssh is true: ssh open to the world"
WHY_HTTP = "required because enable_public_http is true: Dask ports open to the world"
WHY_PRIVATE = "required because disable_public_ingress is true: ingress only from the VPC"


def desired(vpc: Vpc = VPC, allow: tuple[Grant, ...] = (), **values: Any) -> DesiredState:
    return resolve(collect(values, Where("policy.yaml")).options, vpc, allow)


def perm(protocol: str | int, ports: tuple[int, int] | None = None, *, cidrs: tuple[str, ...] = (),
         v6: tuple[str, ...] = (), groups: tuple[str, ...] = (), lists: tuple[str, ...] = (),
         ids: tuple[str, ...] = ()) -> dict[str, Any]:
    """An IpPermission as describe-security-groups prints it; ``ids`` become rule ids in order."""
    rule_ids = iter(ids)

    def extra() -> dict[str, str]:
        rid = next(rule_ids, None)
        return {"SecurityGroupRuleId": rid} if rid else {}

    out: dict[str, Any] = {
        "IpProtocol": str(protocol),
        "IpRanges": [{"CidrIp": c, **extra()} for c in cidrs],
        "Ipv6Ranges": [{"CidrIpv6": c, **extra()} for c in v6],
        "UserIdGroupPairs": [{"GroupId": g, "UserId": ACCOUNT, **extra()} for g in groups],
        "PrefixListIds": [{"PrefixListId": p, **extra()} for p in lists],
    }
    if ports is not None:
        out["FromPort"], out["ToPort"] = ports
    return out


def group(*perms: dict[str, Any], gid: str = "sg-0a1", name: str = "coiled-x") -> Group:
    raw = {"GroupId": gid, "GroupName": name, "VpcId": "vpc-1", "OwnerId": ACCOUNT,
           "IpPermissions": list(perms)}
    return parse_group(raw, "$", REGION, None)


SELF_PERM = perm("-1", groups=("sg-0a1",))
DEFAULT_OK = (perm("tcp", (22, 22), cidrs=("0.0.0.0/0",)), perm("tcp", (8786, 8787), cidrs=("0.0.0.0/0",)),
              SELF_PERM)


def diff(g: Group, state: DesiredState, prefix_lists: dict[tuple[str, str], tuple[str, ...]] | None = None
         ) -> list[Finding]:
    return list(Differ(prefix_lists).diff(g, state))


def brief(findings: list[Finding]) -> list[tuple[str, str, str, int, int, str, str]]:
    return [(f.kind, f.severity, f.protocol, f.from_port, f.to_port, f.source, f.reason) for f in findings]


# -- coverage by what rules allow -------------------------------------------------------------

def test_compliant_defaults_have_no_findings() -> None:
    assert diff(group(*DEFAULT_OK), desired()) == []


def test_two_slash_17_cover_a_required_slash_16() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("10.0.0.0/17", "10.0.128.0/17")),
              perm("tcp", (8786, 8787), cidrs=("10.0.0.0/16",)), SELF_PERM)
    assert diff(g, desired(disable_public_ingress=True)) == []


def test_one_slash_17_leaves_the_other_half_missing() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("10.0.0.0/17",)),
              perm("tcp", (8786, 8787), cidrs=("10.0.0.0/16",)))
    assert brief(diff(g, desired(disable_public_ingress=True))) == [
        ("missing", "medium", "tcp", 22, 22, "10.0.0.0/16",
         f"only partly allowed; not covered: tcp 22 from 10.0.128.0/17; {WHY_PRIVATE}"),
    ]


def test_two_halves_cover_the_internet() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("0.0.0.0/1", "128.0.0.0/1")),
              perm("tcp", (8786, 8786), cidrs=("0.0.0.0/1", "128.0.0.0/1")),
              perm("tcp", (8787, 8787), cidrs=("128.0.0.0/1", "0.0.0.0/1")))
    assert diff(g, desired()) == []


def test_separate_port_rules_cover_a_range_and_a_range_covers_separate_ports() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("0.0.0.0/0",)), perm("tcp", (8786, 8786), cidrs=("0.0.0.0/0",)),
              perm("tcp", (8787, 8787), cidrs=("0.0.0.0/0",)))
    assert diff(g, desired()) == []
    # firewall requires 8786, 8787, 100, 9012, 465 from 10.1.0.0/16; one wide rule covers them all
    g = group(perm("tcp", (1, 65535), cidrs=("10.1.0.0/16",)))
    state = desired(TWO_BLOCK_VPC, enable_public_ssh=False,
                    firewall={"ports": [100, 9012, 465], "cidr": "10.1.0.0/16"})
    findings = diff(g, state)
    assert [f.kind for f in findings] == ["extra"]
    assert findings[0].reason == ("outside the envelope: tcp 1-21, 23-99, 101-464, 466-8785, "
                                  "8788-9011, 9013-65535 from 10.1.0.0/16")


def test_all_traffic_rule_covers_required_rules() -> None:
    g = group(perm("-1", cidrs=("10.0.0.0/16",)))
    findings = diff(g, desired(disable_public_ingress=True))
    assert [f.kind for f in findings] == ["extra"]  # nothing missing


def test_protocol_number_is_the_protocol_name() -> None:
    g = group(perm(6, (22, 22), cidrs=("0.0.0.0/0",)), perm("6", (8786, 8787), cidrs=("0.0.0.0/0",)))
    assert g.rules[0].protocol == "tcp"
    assert diff(g, desired()) == []


def test_non_canonical_actual_cidr_is_compared_as_its_network() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("10.0.3.7/16",)),
              perm("tcp", (8786, 8787), cidrs=("10.0.0.0/16",)))
    assert g.rules[0].source == "10.0.0.0/16"
    assert diff(g, desired(disable_public_ingress=True)) == []


# -- extra: one finding per actual rule and source ----------------------------------------------

def test_shared_ip_permission_gives_one_finding_per_source() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("0.0.0.0/0", "203.0.113.0/24", "10.0.0.0/16"), v6=("::/0",),
                   groups=("sg-0other",), lists=("pl-0unknown",),
                   ids=("sgr-1", "sgr-2", "sgr-3", "sgr-4", "sgr-5", "sgr-6")),
              perm("tcp", (8786, 8787), cidrs=("0.0.0.0/0",)))
    findings = diff(g, desired(enable_public_ssh=False))
    assert brief(findings) == [
        ("extra", "critical", "tcp", 22, 22, "0.0.0.0/0",
         "outside the envelope: tcp 22 from 0.0.0.0/0 except 10.0.0.0/16"),
        ("extra", "high", "tcp", 22, 22, "203.0.113.0/24",
         "outside the envelope: tcp 22 from 203.0.113.0/24"),
        ("extra", "critical", "tcp", 22, 22, "::/0", "outside the envelope: tcp 22 from ::/0"),
        ("extra", "medium", "tcp", 22, 22, "pl-0unknown", "outside the envelope: tcp 22 from pl-0unknown"),
        ("extra", "medium", "tcp", 22, 22, "sg-0other", "outside the envelope: tcp 22 from sg-0other"),
    ]
    assert [f.rule_ids for f in findings] == [("sgr-1",), ("sgr-2",), ("sgr-4",), ("sgr-6",), ("sgr-5",)]


def test_each_half_of_the_internet_is_its_own_extra_finding() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("0.0.0.0/1", "128.0.0.0/1")),
              perm("tcp", (8786, 8787), cidrs=("0.0.0.0/0",)))
    assert brief(diff(g, desired(TWO_BLOCK_VPC, enable_public_ssh=False))) == [
        ("extra", "critical", "tcp", 22, 22, "0.0.0.0/1",
         "outside the envelope: tcp 22 from 0.0.0.0/1 except 10.0.0.0/15"),
        ("extra", "critical", "tcp", 22, 22, "128.0.0.0/1", "outside the envelope: tcp 22 from 128.0.0.0/1"),
    ]


@pytest.mark.parametrize(("ports", "severity"), [((22, 22), "critical"), ((8786, 8787), "high"),
                                                  ((3389, 3389), "critical"), ((443, 443), "high")])
def test_ipv6_world_is_as_public_as_ipv4_world(ports: tuple[int, int], severity: str) -> None:
    g = group(*DEFAULT_OK, perm("tcp", ports, v6=("::/0",)))
    lo, hi = ports
    text = str(lo) if lo == hi else f"{lo}-{hi}"
    assert brief(diff(g, desired())) == [
        ("extra", severity, "tcp", lo, hi, "::/0", f"outside the envelope: tcp {text} from ::/0")]


def test_ipv6_inside_the_vpc_is_extra_unless_permitted() -> None:
    g = group(*DEFAULT_OK, perm("tcp", (8786, 8786), v6=("fd00::/8",)))
    assert brief(diff(g, desired())) == [
        ("extra", "medium", "tcp", 8786, 8786, "fd00::/8", "outside the envelope: tcp 8786 from fd00::/8")]


def test_all_traffic_from_the_world_is_critical() -> None:
    g = group(*DEFAULT_OK, perm("-1", cidrs=("0.0.0.0/0",), v6=("::/0",)))
    assert brief(diff(g, desired())) == [
        ("extra", "critical", "-1", -1, -1, "0.0.0.0/0",
         "outside the envelope: tcp 0-21, 23-8785, 8788-65535 from 0.0.0.0/0; "
         "udp, icmp, icmpv6, all other protocols from 0.0.0.0/0"),
        ("extra", "critical", "-1", -1, -1, "::/0",
         "outside the envelope: tcp, udp, icmp, icmpv6, all other protocols from ::/0"),
    ]


def test_all_traffic_from_a_small_public_range_is_critical() -> None:
    g = group(*DEFAULT_OK, perm("-1", cidrs=("203.0.113.7/32",)))
    [finding] = diff(g, desired())
    assert finding.severity == "critical"


def test_all_traffic_from_another_group_names_every_protocol() -> None:
    g = group(*DEFAULT_OK, perm("-1", groups=("sg-0other",)))
    assert brief(diff(g, desired())) == [
        ("extra", "medium", "-1", -1, -1, "sg-0other",
         "outside the envelope: tcp, udp, icmp, icmpv6, all other protocols from sg-0other")]


NOTHING_PUBLIC = {"enable_public_ssh": False, "enable_public_http": False}  # only 22/8786/8787 from the VPC


@pytest.mark.parametrize(
    ("p", "cidr", "severity", "reason"),
    [
        (perm("tcp", (20, 9000)), "0.0.0.0/0", "critical",
         "outside the envelope: tcp 20-9000 from 0.0.0.0/0 except 10.0.0.0/16; "
         "tcp 20-21, 23-8785, 8788-9000 from 10.0.0.0/16"),
        (perm("tcp", (8000, 8800)), "0.0.0.0/0", "high",
         "outside the envelope: tcp 8000-8800 from 0.0.0.0/0 except 10.0.0.0/16; "
         "tcp 8000-8785, 8788-8800 from 10.0.0.0/16"),
        (perm("tcp", (8000, 8800)), "192.168.0.0/16", "medium",
         "outside the envelope: tcp 8000-8800 from 192.168.0.0/16"),
        (perm("tcp", (22, 22)), "198.51.100.0/24", "high",  # an admin port, but not world-scale
         "outside the envelope: tcp 22 from 198.51.100.0/24"),
        (perm("tcp", (22, 22)), "11.0.0.0/8", "critical",  # a public /8 is world-scale
         "outside the envelope: tcp 22 from 11.0.0.0/8"),
        (perm("tcp", (3389, 3389)), "0.0.0.0/0", "critical", "outside the envelope: tcp 3389 from 0.0.0.0/0"),
        (perm("tcp", (23, 23)), "0.0.0.0/0", "critical", "outside the envelope: tcp 23 from 0.0.0.0/0"),
        (perm("tcp", (5985, 5986)), "0.0.0.0/0", "critical",
         "outside the envelope: tcp 5985-5986 from 0.0.0.0/0"),
        (perm("tcp", (443, 443)), "0.0.0.0/0", "high", "outside the envelope: tcp 443 from 0.0.0.0/0"),
        (perm("tcp", (0, 65535)), "0.0.0.0/0", "critical",
         "outside the envelope: tcp all ports from 0.0.0.0/0 except 10.0.0.0/16; "
         "tcp 0-21, 23-8785, 8788-65535 from 10.0.0.0/16"),
        (perm("udp", (8786, 8787)), "0.0.0.0/0", "high",
         "outside the envelope: udp 8786-8787 from 0.0.0.0/0"),
        (perm("udp", (0, 65535)), "0.0.0.0/0", "critical", "outside the envelope: udp from 0.0.0.0/0"),
        (perm("udp", (53, 53)), "10.0.0.0/16", "medium", "outside the envelope: udp 53 from 10.0.0.0/16"),
        (perm("icmp", (-1, -1)), "0.0.0.0/0", "high", "outside the envelope: icmp from 0.0.0.0/0"),
        (perm("icmp", (8, -1)), "10.0.0.0/16", "low", "outside the envelope: icmp type 8 from 10.0.0.0/16"),
        (perm("icmp", (3, 4)), "10.0.0.0/16", "low",
         "outside the envelope: icmp type 3 code 4 from 10.0.0.0/16"),
        (perm("50"), "0.0.0.0/0", "high", "outside the envelope: 50 from 0.0.0.0/0"),
        (perm("-1"), "10.0.0.0/16", "medium",
         "outside the envelope: tcp 0-21, 23-8785, 8788-65535 from 10.0.0.0/16; "
         "udp, icmp, icmpv6, all other protocols from 10.0.0.0/16"),
    ],
)
def test_extra_reason_and_severity(p: dict[str, Any], cidr: str, severity: str, reason: str) -> None:
    g = group({**p, "IpRanges": [{"CidrIp": cidr}]})
    [finding] = diff(g, desired(**NOTHING_PUBLIC))
    got = (finding.kind, finding.severity, finding.source, finding.reason)
    assert got == ("extra", severity, cidr, reason)


@pytest.mark.parametrize("span", [(0, 65535), (1, 65535)])
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_every_port_is_all_traffic_whether_it_starts_at_0_or_1(protocol: str,
                                                                span: tuple[int, int]) -> None:
    [finding] = diff(group(perm(protocol, span, cidrs=("0.0.0.0/0",))), desired(**NOTHING_PUBLIC))
    assert finding.severity == "critical"


def test_every_tcp_port_from_a_small_public_range_is_critical() -> None:
    g = group(perm("tcp", (0, 65535), cidrs=("203.0.113.0/24",)))
    [finding] = diff(g, desired(**NOTHING_PUBLIC))
    assert finding.severity == "critical"


def test_partly_outside_names_only_the_outside_part() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("10.0.0.0/8",)), perm("tcp", (8786, 8787), cidrs=("0.0.0.0/0",)))
    assert brief(diff(g, desired(TWO_BLOCK_VPC, enable_public_ssh=False))) == [
        ("extra", "medium", "tcp", 22, 22, "10.0.0.0/8",
         "outside the envelope: tcp 22 from 10.0.0.0/8 except 10.0.0.0/15")]


def test_ssh_from_inside_any_vpc_block_is_permitted_when_ssh_is_off() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("10.0.0.0/16", "10.1.7.0/24")),
              perm("tcp", (8786, 8787), cidrs=("0.0.0.0/0",)))
    assert diff(g, desired(TWO_BLOCK_VPC, enable_public_ssh=False)) == []


# -- sources that are not addresses ------------------------------------------------------------

def test_self_reference_is_always_permitted() -> None:
    for state in (desired(), desired(disable_public_ingress=True), desired(enable_public_ssh=False,
                  enable_public_http=False)):
        g = group(perm("-1", groups=("sg-0a1",)), perm("tcp", (0, 65535), groups=("sg-0a1",)))
        assert [f for f in diff(g, state) if f.kind == "extra"] == []


def test_self_reference_does_not_satisfy_required_public_rules() -> None:
    g = group(perm("-1", groups=("sg-0a1",)))
    assert brief(diff(g, desired())) == [
        ("missing", "medium", "tcp", 22, 22, "0.0.0.0/0", f"no rule allows it; {WHY_SSH}"),
        ("missing", "medium", "tcp", 8786, 8786, "0.0.0.0/0", f"no rule allows it; {WHY_HTTP}"),
        ("missing", "medium", "tcp", 8787, 8787, "0.0.0.0/0", f"no rule allows it; {WHY_HTTP}"),
    ]


def test_security_group_reference_permitted_by_allow() -> None:
    allow = (Grant("tcp", 5432, 5432, "sg-0db", "listed in the policy's allow (p.yaml:3)"),)
    g = group(*DEFAULT_OK, perm("tcp", (5432, 5432), groups=("sg-0db",)),
              perm("tcp", (5433, 5433), groups=("sg-0db",)), perm("tcp", (5432, 5432), groups=("sg-0other",)))
    assert brief(diff(g, desired(allow=allow))) == [
        ("extra", "medium", "tcp", 5433, 5433, "sg-0db", "outside the envelope: tcp 5433 from sg-0db"),
        ("extra", "medium", "tcp", 5432, 5432, "sg-0other", "outside the envelope: tcp 5432 from sg-0other"),
    ]


def test_cidr_allow_permits_addresses_but_not_groups() -> None:
    allow = (Grant("tcp", 443, 443, "198.51.100.0/24", "listed in the policy's allow (p.yaml:3)"),)
    g = group(*DEFAULT_OK, perm("tcp", (443, 443), cidrs=("198.51.100.0/25",), groups=("sg-0other",)))
    assert brief(diff(g, desired(allow=allow))) == [
        ("extra", "medium", "tcp", 443, 443, "sg-0other", "outside the envelope: tcp 443 from sg-0other")]


def test_known_prefix_list_is_compared_by_its_entries() -> None:
    lists = {(REGION, "pl-0vpc"): ("10.0.0.0/17", "10.0.128.0/17"),
             (REGION, "pl-0public"): ("203.0.113.0/24", "10.0.0.0/24")}
    g = group(perm("tcp", (22, 22), lists=("pl-0vpc", "pl-0public")),
              perm("tcp", (8786, 8787), lists=("pl-0vpc",)))
    assert brief(diff(g, desired(disable_public_ingress=True), lists)) == [
        ("extra", "high", "tcp", 22, 22, "pl-0public", "outside the envelope: tcp 22 from 203.0.113.0/24")]


def test_known_prefix_list_of_another_region_is_unknown_here() -> None:
    lists = {("us-east-1", "pl-0vpc"): ("10.0.0.0/16",)}
    g = group(perm("tcp", (22, 22), lists=("pl-0vpc",)), perm("tcp", (8786, 8787), cidrs=("10.0.0.0/16",)))
    assert brief(diff(g, desired(disable_public_ingress=True), lists)) == [
        ("extra", "medium", "tcp", 22, 22, "pl-0vpc", "outside the envelope: tcp 22 from pl-0vpc"),
        ("missing", "medium", "tcp", 22, 22, "10.0.0.0/16", f"no rule allows it; {WHY_PRIVATE}"),
    ]


def test_unknown_prefix_list_is_extra_and_covers_nothing() -> None:
    g = group(perm("tcp", (22, 22), lists=("pl-0unknown",)),
              perm("tcp", (8786, 8787), cidrs=("10.0.0.0/16",)))
    assert brief(diff(g, desired(disable_public_ingress=True))) == [
        ("extra", "medium", "tcp", 22, 22, "pl-0unknown", "outside the envelope: tcp 22 from pl-0unknown"),
        ("missing", "medium", "tcp", 22, 22, "10.0.0.0/16", f"no rule allows it; {WHY_PRIVATE}"),
    ]


def test_empty_known_prefix_list_allows_nothing() -> None:
    lists = {(REGION, "pl-0empty"): ()}
    g = group(*DEFAULT_OK, perm("tcp", (5432, 5432), lists=("pl-0empty",)))
    assert diff(g, desired(), lists) == []


def test_unknown_prefix_list_permitted_by_allow() -> None:
    allow = (Grant("tcp", 443, 443, "pl-0vendor", "listed in the policy's allow (p.yaml:3)"),)
    g = group(*DEFAULT_OK, perm("tcp", (443, 443), lists=("pl-0vendor",)))
    assert diff(g, desired(allow=allow)) == []


# -- missing ---------------------------------------------------------------------------------

def test_missing_rules_of_an_empty_group() -> None:
    findings = diff(group(), desired())
    assert brief(findings) == [
        ("missing", "medium", "tcp", 22, 22, "0.0.0.0/0", f"no rule allows it; {WHY_SSH}"),
        ("missing", "medium", "tcp", 8786, 8786, "0.0.0.0/0", f"no rule allows it; {WHY_HTTP}"),
        ("missing", "medium", "tcp", 8787, 8787, "0.0.0.0/0", f"no rule allows it; {WHY_HTTP}"),
    ]
    assert all(f.rule_ids == () for f in findings)


def test_missing_when_only_part_of_the_world_is_allowed() -> None:
    g = group(perm("tcp", (22, 22), cidrs=("0.0.0.0/1",)), perm("tcp", (8786, 8787), cidrs=("0.0.0.0/0",)))
    assert brief(diff(g, desired())) == [
        ("missing", "medium", "tcp", 22, 22, "0.0.0.0/0",
         f"only partly allowed; not covered: tcp 22 from 128.0.0.0/1; {WHY_SSH}")]


def test_missing_firewall_port_and_extra_world_rule_for_it() -> None:
    g = group(perm("tcp", (8786, 8787), cidrs=("10.1.0.0/16",)),
              perm("tcp", (100, 100), cidrs=("10.1.0.0/16",)),
              perm("tcp", (465, 465), cidrs=("0.0.0.0/0",)))
    state = desired(TWO_BLOCK_VPC, enable_public_ssh=False,
                    firewall={"ports": [100, 9012, 465], "cidr": "10.1.0.0/16"})
    why = "required because firewall opens the Dask ports and [100, 9012, 465] to 10.1.0.0/16"
    assert brief(diff(g, state)) == [
        ("extra", "high", "tcp", 465, 465, "0.0.0.0/0",
         "outside the envelope: tcp 465 from 0.0.0.0/0 except 10.1.0.0/16"),
        ("missing", "medium", "tcp", 9012, 9012, "10.1.0.0/16", f"no rule allows it; {why}"),
    ]


# -- keys ------------------------------------------------------------------------------------

def test_keys_are_stable_and_leave_out_ids_descriptions_and_times() -> None:
    def build(ids: tuple[str, ...], description: str) -> Group:
        p = perm("tcp", (22, 22), cidrs=("0.0.0.0/0",), v6=("::/0",), ids=ids)
        for r in p["IpRanges"] + p["Ipv6Ranges"]:
            r["Description"] = description
        return group(p)

    first = diff(build(("sgr-1", "sgr-2"), "temp debug"), desired(enable_public_ssh=False))
    second = diff(build(("sgr-9", "sgr-8"), "changed"), desired(enable_public_ssh=False))
    assert [f.key for f in first] == [f.key for f in second]
    assert [f.key for f in first] == [
        f"extra|{ACCOUNT}|{REGION}|sg-0a1|tcp|22|22|0.0.0.0/0",
        f"extra|{ACCOUNT}|{REGION}|sg-0a1|tcp|22|22|::/0",
        f"missing|{ACCOUNT}|{REGION}|sg-0a1|tcp|8786|8786|0.0.0.0/0",
        f"missing|{ACCOUNT}|{REGION}|sg-0a1|tcp|8787|8787|0.0.0.0/0",
    ]
    assert first[0].description == "temp debug" and second[0].description == "changed"
    assert first[0].rule_ids == ("sgr-1",)


def test_keys_are_unique_within_a_group() -> None:
    g = group(perm("-1", cidrs=("0.0.0.0/0",)), perm("tcp", (22, 22), cidrs=("0.0.0.0/0", "1.2.3.4/32")),
              perm("udp", (22, 22), cidrs=("0.0.0.0/0",)), perm("tcp", (22, 23), cidrs=("0.0.0.0/0",)))
    keys = [f.key for f in diff(g, desired(disable_public_ingress=True))]
    assert len(keys) == len(set(keys))


def test_finding_key_format() -> None:
    key = finding_key("extra", "1", "r", "sg-1", "tcp", 22, 22, "0.0.0.0/0")
    assert key == "extra|1|r|sg-1|tcp|22|22|0.0.0.0/0"


def test_findings_of_identical_groups_belong_to_each_group() -> None:
    """The differ caches by rule shape; a cached answer must not leak one group into another."""
    differ = Differ()
    state = desired(enable_public_ssh=False)
    a = group(perm("tcp", (22, 22), cidrs=("0.0.0.0/0",), ids=("sgr-a",)), perm("-1", groups=("sg-0a1",)),
              gid="sg-0a1", name="a")
    b = group(perm("tcp", (22, 22), cidrs=("0.0.0.0/0",), ids=("sgr-b",)), perm("-1", groups=("sg-0b2",)),
              gid="sg-0b2", name="b")
    fa, fb = differ.diff(a, state), differ.diff(b, state)
    assert [(f.group_id, f.group_name) for f in fa] == [("sg-0a1", "a")] * 3
    assert [(f.group_id, f.group_name) for f in fb] == [("sg-0b2", "b")] * 3
    assert fa[0].rule_ids == ("sgr-a",) and fb[0].rule_ids == ("sgr-b",)
    # b references a: that is another group, not itself
    c = group(perm("-1", groups=("sg-0a1",)), gid="sg-0c3", name="c")
    assert [f.source for f in differ.diff(c, state) if f.kind == "extra"] == ["sg-0a1"]


def test_unresolved_state_reports_only_what_no_vpc_could_permit() -> None:
    """With the VPC unknown, "22 from inside the VPC" could be any VPC: at most 50 IPv4 /16s
    and 5 IPv6 /44s. A source that could fit is not judged; one that cannot is extra."""
    state = resolve(collect({"enable_public_ssh": False}, Where("p.yaml")).options, None)
    assert state.unresolved and [(g.from_port, g.source) for g in state.required] == [
        (8786, "0.0.0.0/0"), (8787, "0.0.0.0/0")]  # not from the VPC: still required
    g = group(perm("tcp", (22, 22), cidrs=("0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/16",
                                             "10.0.0.0/12")),
              perm("tcp", (22, 22), v6=("::/0", "2600:1f18::/44")),
              perm("tcp", (8786, 8787), cidrs=("0.0.0.0/0",)),
              perm("tcp", (23, 23), cidrs=("10.0.0.0/16",)))
    assert sorted((f.from_port, f.source, f.severity) for f in diff(g, state)) == [
        (22, "0.0.0.0/0", "critical"), (22, "10.0.0.0/8", "medium"), (22, "::/0", "critical"),
        (23, "10.0.0.0/16", "medium")]


# -- the differ against a brute-force model ------------------------------------------------------
#
# A tiny world: ports 1..8 (port 0 stands for "every other port"), the 16 addresses of
# 192.0.2.0/28 (-1 stands for "every other address"), tokens for another group and the group
# itself, and the protocols tcp, udp and "other" (only -1 rules reach "other").

BASE = "192.0.2."
WORLD_PORTS = range(0, 9)
WORLD_ADDRS = [*range(16), -1]


@st.composite
def small_cidr(draw: st.DrawFn) -> str:
    length = draw(st.integers(28, 32))
    start = draw(st.integers(0, 15)) & ~((1 << (32 - length)) - 1) & 15
    return f"{BASE}{start}/{length}"


sources = st.one_of(small_cidr(), st.just("0.0.0.0/0"), st.just("sg-0other"), st.just("sg-0g0"),
                    st.just("sg-0g1"))
grant_sources = st.one_of(small_cidr(), st.just("0.0.0.0/0"), st.just("sg-0other"))


@st.composite
def port_range(draw: st.DrawFn) -> tuple[int, int]:
    a, b = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    return (min(a, b), max(a, b))


@st.composite
def small_rule(draw: st.DrawFn) -> Rule:
    protocol = draw(st.sampled_from(["tcp", "udp", "-1"]))
    lo, hi = (-1, -1) if protocol == "-1" else draw(port_range())
    return Rule(protocol, lo, hi, draw(sources))


@st.composite
def small_grant(draw: st.DrawFn, protocols: tuple[str, ...], source: st.SearchStrategy[str]) -> Grant:
    protocol = draw(st.sampled_from(protocols))
    lo, hi = (-1, -1) if protocol == "-1" else draw(port_range())
    return Grant(protocol, lo, hi, draw(source), "model")


def model_points(protocol: str, lo: int, hi: int, source: str, me: str) -> set[tuple[str, int, object]]:
    if source in (me, SELF):
        addrs: list[object] = ["self"]
    elif source.startswith("sg-"):
        addrs = [source]
    elif source == "0.0.0.0/0":
        addrs = list(WORLD_ADDRS)
    else:
        start, length = source[len(BASE):].split("/")
        addrs = list(range(int(start), int(start) + (1 << (32 - int(length)))))
    if protocol == "-1":
        cells = [(p, port) for p in ("tcp", "udp") for port in WORLD_PORTS] + [("other", 0)]
    else:
        cells = [(protocol, port) for port in range(lo, hi + 1)]
    return {(p, port, a) for p, port in cells for a in addrs}


@settings(max_examples=200, deadline=None)
@given(required=st.lists(small_grant(("tcp",), st.one_of(small_cidr(), st.just("0.0.0.0/0"))),
                         max_size=3, unique_by=lambda g: (g.from_port, g.to_port, g.source)),
       permitted=st.lists(small_grant(("tcp", "udp", "-1"), grant_sources), max_size=3),
       groups=st.lists(st.lists(small_rule(), max_size=5), min_size=1, max_size=4))
def test_differ_agrees_with_brute_force(required: list[Grant], permitted: list[Grant],
                                        groups: list[list[Rule]]) -> None:
    state = DesiredState(tuple(required), (*permitted, SELF_GRANT))
    differ = Differ()  # one differ for every group: its caches must not mix them up
    for i, rules in enumerate(groups):
        me = f"sg-0g{i % 2}"  # groups share ids in pairs, and refer to each other
        envelope = set().union(*(model_points(g.protocol, g.from_port, g.to_port, g.source, me)
                                 for g in (*required, *permitted, SELF_GRANT)))
        g = Group(me, f"g{i}", "vpc-1", REGION, ACCOUNT, rules=tuple(rules))
        findings = differ.diff(g, state)
        actual = set().union(*(model_points(r.protocol, r.from_port, r.to_port, r.source, me)
                               for r in rules))
        want_extra = [(r.protocol, r.from_port, r.to_port, r.source) for r in rules
                      if model_points(r.protocol, r.from_port, r.to_port, r.source, me) - envelope]
        want_missing = [(q.protocol, q.from_port, q.to_port, q.source) for q in required
                        if model_points(q.protocol, q.from_port, q.to_port, q.source, me) - actual]
        got = [(f.kind, (f.protocol, f.from_port, f.to_port, f.source)) for f in findings]
        assert got == [("extra", r) for r in want_extra] + [("missing", q) for q in want_missing]


@pytest.mark.parametrize("policy", [{}, NOTHING_PUBLIC, {"enable_public_ssh": False}],
                         ids=["defaults", "nothing public", "no public ssh"])
@pytest.mark.parametrize(("p", "cidr", "severity"), [
    (perm("tcp", (0, 65535)), "203.0.113.0/24", "critical"),  # every port from public addresses
    (perm("tcp", (1, 65535)), "203.0.113.0/24", "critical"),
    (perm("-1"), "203.0.113.0/24", "critical"),
    (perm("tcp", (20, 30)), "0.0.0.0/0", "critical"),  # holds 22 and 23 from the world
    (perm("tcp", (8000, 8800)), "0.0.0.0/0", "high"),
    (perm("tcp", (0, 65535)), "10.0.0.0/8", "medium"),
])
def test_severity_describes_the_rule_whatever_the_policy_permits(
        policy: dict[str, Any], p: dict[str, Any], cidr: str, severity: str) -> None:
    """Issue 14 defect 8: the permitted ports used to be subtracted before the "every port"
    test, so the same rule was high under the defaults and critical when nothing was public."""
    g = group({**p, "IpRanges": [{"CidrIp": cidr}]})
    [finding] = [f for f in diff(g, desired(**policy)) if f.kind == "extra"]
    assert (finding.source, finding.severity) == (cidr, severity)
