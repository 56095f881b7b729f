"""The differ's fast paths against its general path, on random inputs.

A fast path (a one-CIDR rule the envelope covers whole or does not meet at all; a required
rule covered by one actual rule) must report exactly what the general path reports: the same
findings, in the same order, with the same keys, reasons and severities.  ``fast_paths =
False`` runs the general path alone.
"""

from __future__ import annotations

import ipaddress

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sgaudit.engine.diff import Differ
from sgaudit.engine.resolve import SELF, SELF_GRANT, UNKNOWN_VPC
from sgaudit.model import DesiredState, Finding, Grant, Group, Rule
from sgaudit.net import addresses

ACCOUNT = "111122223333"
REGIONS = ("eu-west-1", "us-east-1")
PREFIX_LISTS = {("eu-west-1", "pl-known"): ("10.0.0.0/9", "203.0.113.0/25"),
                ("us-east-1", "pl-known"): ("0.0.0.0/1",),
                ("eu-west-1", "pl-empty"): ()}


@st.composite
def v4_source(draw: st.DrawFn) -> str:
    """IPv4 CIDRs that often nest or overlap: a few bases, every prefix length."""
    base = draw(st.sampled_from(("10.0.0.0", "10.1.0.0", "192.168.1.0", "203.0.113.0", "8.8.8.0",
                                 "11.22.33.44", "0.0.0.0", "128.0.0.0", "100.64.0.0")))
    length = draw(st.sampled_from((0, 1, 2, 8, 9, 10, 12, 16, 17, 24, 25, 28, 32)))
    return str(ipaddress.IPv4Network(f"{base}/{length}", strict=False))


@st.composite
def v6_source(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(("::", "2001:db8::", "fc00::", "fe80::", "2600:1f18::")))
    length = draw(st.sampled_from((0, 1, 7, 10, 32, 33, 48, 64, 128)))
    return str(ipaddress.IPv6Network(f"{base}/{length}", strict=False))


sources = st.one_of(v4_source(), v4_source(), v6_source(),
                    st.sampled_from(("sg-0other", "sg-0g0", "pl-known", "pl-unread", "pl-empty")))
grant_sources = st.one_of(sources, st.just(UNKNOWN_VPC), st.just(SELF))
PROTOCOLS = ("tcp", "tcp", "udp", "icmp", "icmpv6", "-1", "47")


@st.composite
def ports_of(draw: st.DrawFn, protocol: str) -> tuple[int, int]:
    if protocol in ("-1", "47"):
        return (-1, -1)
    if protocol in ("icmp", "icmpv6"):
        return draw(st.sampled_from(((-1, -1), (8, -1), (8, 0), (3, 4), (0, 0))))
    lo = draw(st.sampled_from((-1, 0, 1, 22, 80, 443, 3389, 8000, 8786, 8787)))
    if lo == -1:
        return (-1, -1)
    return (lo, lo + draw(st.sampled_from((0, 0, 1, 2, 100, 65535 - lo))))


@st.composite
def grant(draw: st.DrawFn) -> Grant:
    protocol = draw(st.sampled_from(PROTOCOLS))
    lo, hi = draw(ports_of(protocol))
    return Grant(protocol, lo, hi, draw(grant_sources), "model")


@st.composite
def rule(draw: st.DrawFn) -> Rule:
    protocol = draw(st.sampled_from(PROTOCOLS))
    lo, hi = draw(ports_of(protocol))
    rule_id = draw(st.one_of(st.none(), st.just("sgr-1")))
    return Rule(protocol, lo, hi, draw(sources), rule_id, draw(st.one_of(st.none(), st.just("d"))))


states = st.builds(lambda req, perm, unresolved: DesiredState(
    tuple(dict.fromkeys(req)), (*perm, SELF_GRANT), unresolved=unresolved),
    st.lists(grant(), max_size=4), st.lists(grant(), max_size=4),
    st.one_of(st.none(), st.just("the VPC's CIDR is unknown")))


def run(differ: Differ, cases: list[tuple[DesiredState, list[Rule], str]]) -> list[tuple[Finding, ...]]:
    """Diff every case with one differ (its caches carry over from group to group)."""
    out = []
    for i, (state, rules, region) in enumerate(cases):
        me = f"sg-0g{i % 2}"
        out.append(differ.diff(Group(me, f"g{i}", "vpc-1", region, ACCOUNT, rules=tuple(rules)), state))
    return out


@settings(max_examples=400, deadline=None)
@given(cases=st.lists(st.tuples(states, st.lists(rule(), max_size=6), st.sampled_from(REGIONS)),
                      min_size=1, max_size=4))
def test_fast_paths_report_exactly_what_the_general_path_reports(
        cases: list[tuple[DesiredState, list[Rule], str]]) -> None:
    general = Differ(PREFIX_LISTS)
    general.fast_paths = False
    assert run(Differ(PREFIX_LISTS), cases) == run(general, cases)


@settings(max_examples=200, deadline=None)
@given(state=states, rules=st.lists(rule(), max_size=8))
def test_a_fresh_differ_agrees_with_the_general_path_on_each_group(
        state: DesiredState, rules: list[Rule]) -> None:
    general = Differ(PREFIX_LISTS)
    general.fast_paths = False
    cases = [(state, rules, "eu-west-1")]
    assert run(Differ(PREFIX_LISTS), cases) == run(general, cases)


@settings(max_examples=300, deadline=None)
@given(state=states, base=st.lists(rule(), max_size=5),
       own=st.lists(st.lists(rule(), max_size=4), min_size=2, max_size=5), region=st.sampled_from(REGIONS))
def test_shared_base_rules_with_each_groups_own_drift_agree_with_the_general_path(
        state: DesiredState, base: list[Rule], own: list[list[Rule]], region: str) -> None:
    """A fleet's shape: the same base rules in every group, drifted rules of its own beside
    them, before or after (the missing-rule check remembers what each rule covers, and stops
    asking once every required rule is covered)."""
    general = Differ(PREFIX_LISTS)
    general.fast_paths = False
    cases = [(state, [*base, *extra] if i % 2 else [*extra, *base], region)
             for i, extra in enumerate(own)]
    assert run(Differ(PREFIX_LISTS), cases) == run(general, cases)


def test_an_icmp_type_rule_inside_the_envelope_is_seen_by_the_missing_rule_check() -> None:
    """An icmp rule of one type, covered by the envelope, takes part in the missing-rule check
    (the fast path once read its ports as already mapped to the port axis, so icmp rules never
    "touched" a required one, and the answer of a group without them was reused)."""
    state = DesiredState((Grant("icmp", -1, -1, "0.0.0.0/0", "model"),), (SELF_GRANT,))
    cases = [(state, [], "eu-west-1"), (state, [Rule("icmp", 8, -1, "0.0.0.0/0")], "eu-west-1")]
    general = Differ(PREFIX_LISTS)
    general.fast_paths = False
    found = run(Differ(PREFIX_LISTS), cases)
    assert found == run(general, cases)
    assert found[1][0].reason == ("only partly allowed; not covered: icmp types 0-7, types 9-255 "
                                  "from 0.0.0.0/0; required because model")


def test_drifted_rules_beside_covering_base_rules_share_one_missing_check() -> None:
    """Each group's own drifted rule on a required port is not even asked by the missing-rule
    check: the base rule before it covers every required rule."""
    state = DesiredState((Grant("tcp", 8786, 8787, "10.0.0.0/16", "dask"),), (SELF_GRANT,))
    differ = Differ()
    for i in range(20):
        rules = (Rule("tcp", 8786, 8787, "10.0.0.0/16"), Rule("tcp", 8786, 8786, f"11.0.{i}.0/24"))
        findings = differ.diff(Group(f"sg-{i}", "a", "vpc-1", "eu-west-1", ACCOUNT, rules=rules), state)
        assert [f.reason for f in findings] == [f"outside the envelope: tcp 8786 from 11.0.{i}.0/24"]
    assert len(differ._covers) == 1  # the base rule's: it covers all, the drifted rule is not asked


def test_distinct_cidrs_take_the_fast_path_and_fill_no_cache() -> None:
    """Rules from their own CIDRs, wholly outside or wholly inside the envelope, are judged
    without the general path, so nothing is remembered per rule (memory stays flat)."""
    state = DesiredState((Grant("tcp", 8786, 8787, "0.0.0.0/0", "dask"),),
                         (Grant("tcp", 22, 22, "10.0.0.0/16", "ssh from the VPC"), SELF_GRANT))
    rules = [Rule("tcp", 8786, 8787, "0.0.0.0/0"), Rule("tcp", 22, 22, "10.0.5.0/24"),
             *(Rule("tcp", 22, 22, f"11.0.{i}.0/24", f"sgr-{i}") for i in range(50)),
             *(Rule("tcp", 443, 443, f"2001:db8:{i:x}::/48") for i in range(50))]
    differ = Differ()
    findings = differ.diff(Group("sg-0a", "a", "vpc-1", "eu-west-1", ACCOUNT, rules=tuple(rules)), state)
    assert differ._rule_cache == {} and differ._missing_cache == {}
    assert [f.reason for f in findings[:2]] == ["outside the envelope: tcp 22 from 11.0.0.0/24",
                                                "outside the envelope: tcp 22 from 11.0.1.0/24"]
    assert findings[50].reason == "outside the envelope: tcp 443 from 2001:db8::/48"
    assert findings[0].rule_ids == ("sgr-0",) and len(findings) == 100


@settings(max_examples=300, deadline=None)
@given(lo=st.integers(0, (1 << 32) + (1 << 128) - 1), size=st.integers(0, 1 << 40))
def test_to_cidrs_spells_ranges_as_ipaddress_does(lo: int, size: int) -> None:
    hi = min(lo + size, addresses.INTERNET[0][1])
    want: list[str] = []
    for a, b, version in addresses._split_family(lo, hi):
        cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        want.extend(str(n) for n in ipaddress.summarize_address_range(cls(a), cls(b)))
    assert addresses.to_cidrs(((lo, hi),)) == tuple(want)
    single = addresses.interval_text(lo, hi)
    assert single == (want[0] if len(want) == 1 else None)


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(
    st.builds(lambda a, b, c, d, p: f"{a}.{b}.{c}.{d}" + ("" if p is None else f"/{p}"),
              *(st.integers(0, 300) for _ in range(4)), st.one_of(st.none(), st.integers(0, 40))),
    st.from_regex(r"[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}(/[0-9]{1,3})?", fullmatch=True),
    st.text(alphabet="0123456789./²٣ x:", max_size=20)))
@example(text="0.0.0.0/00")
@example(text="10.0.0.0/08")
def test_ipv4_parsing_agrees_with_ipaddress(text: str) -> None:
    """The regex fast path accepts only what ipaddress accepts, and reads it the same way; but
    a prefix length with a leading zero ("/00", "/08"), which ipaddress takes, is refused (a
    prefix length is written without one: issue 19, item 11)."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        net = None
    _, slash, length = text.strip().partition("/")
    if slash and len(length) > 1 and length.startswith("0"):
        net = None
    try:
        got = addresses.parse_cidr(text)
    except addresses.CidrError:
        got = None
    assert got == (None if net is None else (str(net), str(net) == text.strip()))
    if net is not None:
        lo, hi = addresses.cidr_interval(str(net))
        offset = addresses.V6_OFFSET if net.version == 6 else 0
        assert (lo - offset, hi - offset) == (int(net.network_address), int(net.broadcast_address))
        if str(net) in addresses.PARSED:  # what parsing leaves for the differ is the same interval
            assert addresses.PARSED[str(net)] == (lo, hi)


@st.composite
def any_cidr(draw: st.DrawFn) -> str:
    """Any CIDR: random addresses (often near private ranges, so some straddle them)."""
    if draw(st.booleans()):
        base = draw(st.sampled_from((0, 10 << 24, 100 << 24 | 64 << 16, 127 << 24, 172 << 24 | 16 << 16,
                                     192 << 24 | 168 << 16, 169 << 24 | 254 << 16)))
        value = (base + draw(st.integers(-(1 << 20), 1 << 20))) % (1 << 32)
        return str(ipaddress.IPv4Network((value, draw(st.integers(0, 32))), strict=False))
    base = draw(st.sampled_from((0, 0xFC << 120, 0xFE80 << 112, 1, 0x2001_0DB8 << 96)))
    value = (base + draw(st.integers(-(1 << 100), 1 << 100))) % (1 << 128)
    return str(ipaddress.IPv6Network((value, draw(st.integers(0, 128))), strict=False))


@settings(max_examples=600, deadline=None)
@given(cidr=any_cidr(), protocol=st.sampled_from(("tcp", "tcp", "udp", "icmp", "icmpv6", "47")),
       data=st.data())
def test_interval_severity_is_rule_severity(cidr: str, protocol: str, data: st.DataObject) -> None:
    """The severity spelled from integers is the general one; it declines only for a source that
    straddles private space."""
    from sgaudit.engine import diff
    from sgaudit.engine.diff import severity
    from sgaudit.net import intervals, ports

    from_port, to_port = data.draw(ports_of(protocol))
    axis = (ports.axis_interval(protocol, from_port, to_port),)
    lo, hi = addresses.cidr_interval(cidr)
    general = diff.rule_severity(Rule(protocol, from_port, to_port, cidr),
                                 diff.Source(addrs=((lo, hi),)))
    fast = severity.interval_severity(severity.axis_severities(protocol, axis), lo, hi)
    public = intervals.subtract(((lo, hi),), addresses.private_space())
    straddles = public not in ((), ((lo, hi),))
    assert fast == (None if straddles else general)


def test_remembered_protocol_and_ports_still_refuse_what_parsing_refuses() -> None:
    """``true`` equals 1 as a dict key: after a (tcp, 1, 1) permission was parsed and remembered,
    a ``"FromPort": true`` one must still be refused, and a spelling parsed once reads the same."""
    import pytest

    from sgaudit.sources.awsjson import ShapeError, permission_rules

    def perm(from_port: object, to_port: object) -> dict[str, object]:
        return {"IpProtocol": "tcp", "FromPort": from_port, "ToPort": to_port,
                "IpRanges": [{"CidrIp": "203.0.113.7/32"}]}

    first = permission_rules(perm(1, 1), "p[0]")
    assert permission_rules(perm(1, 1), "p[1]") == first == [Rule("tcp", 1, 1, "203.0.113.7/32")]
    with pytest.raises(ShapeError, match=r"p\[2\]\.FromPort: expected an integer"):
        permission_rules(perm(True, 1), "p[2]")
    with pytest.raises(ShapeError, match=r"p\[3\]\.ToPort: expected an integer"):
        permission_rules(perm(1, 1.0), "p[3]")
    with pytest.raises(ShapeError, match=r"p\[4\]: FromPort 2 and ToPort 1 are not a port range"):
        permission_rules(perm(2, 1), "p[4]")
    with pytest.raises(ShapeError, match=r"p\[5\]: FromPort 2 and ToPort 1 are not a port range"):
        permission_rules(perm(2, 1), "p[5]")  # a refusal is not remembered as an answer


@settings(max_examples=300, deadline=None)
@given(lo=st.integers(0, (1 << 32) + (1 << 128) - 1), size=st.integers(0, 1 << 100))
def test_world_scale_of_one_interval_by_arithmetic(lo: int, size: int) -> None:
    from sgaudit.engine.diff import severity

    hi = min(lo + size, (1 << 32) + (1 << 128) - 1)
    assert severity._world_scale_interval(lo, hi) == severity._world_scale(((lo, hi),))
