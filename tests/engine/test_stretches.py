"""The envelope cut along the address line (``diff.stretches``) and the fast path built on it
(``diff.fast``) against the general path, on random inputs.

The stretches of a set of rects must give, for any source, exactly the pieces ``uncovered``
gives; and a fleet in many VPCs whose drifted rules overlap the envelope in part (a /16
around the VPC's block, /24s inside it, a port range around a permitted port, protocol -1,
other groups, prefix lists) must get the same findings, in the same order, with the same
keys, reasons and severities, from the fast path (cuts shared by envelopes) as from the
general path alone.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgaudit.engine.diff import Differ
from sgaudit.engine.diff import rects as rect_module
from sgaudit.engine.diff.rects import Rect, Source
from sgaudit.engine.diff.stretches import cut, pieces
from sgaudit.engine.diff.uncovered import uncovered
from sgaudit.engine.resolve import SELF_GRANT
from sgaudit.model import DesiredState, Grant, Group, Rule
from sgaudit.net import addresses, intervals

ACCOUNT = "111122223333"

#: a small address line and port axis, so that random rects and sources overlap often
points = st.integers(0, 64)


@st.composite
def interval_sets(draw: st.DrawFn, limit: int = 3) -> intervals.IntervalSet:
    found = []
    for _ in range(draw(st.integers(0, limit))):
        lo = draw(points)
        found.append((lo, lo + draw(st.integers(0, 20))))
    return intervals.normalize(found)


@st.composite
def rects(draw: st.DrawFn) -> Rect:
    lo = draw(st.integers(0, 40))
    return Rect(((lo, lo + draw(st.integers(0, 20))),), Source(addrs=draw(interval_sets())))


@settings(max_examples=500, deadline=None)
@given(rect_list=st.lists(rects(), max_size=8), axis=interval_sets(limit=2),
       addrs=interval_sets(), protocol=st.sampled_from(("tcp", "icmp")))
def test_stretches_give_the_pieces_uncovered_gives(rect_list: list[Rect], axis: intervals.IntervalSet,
                                                   addrs: intervals.IntervalSet, protocol: str) -> None:
    if not axis:
        return
    meeting = [r for r in rect_list if intervals.intersect(r.axis, axis)]
    addressed = [r for r in meeting if r.source.addrs]
    want = uncovered(protocol, axis, Source(addrs=addrs), meeting)
    assert pieces(protocol, cut(axis, addressed), addrs) == want


def test_stretches_cover_the_line_and_neighbours_differ() -> None:
    """Covered stretches are kept (rest ``()``) and no two neighbours have the same rest."""
    made = cut(((22, 22),), [Rect(((22, 22),), Source(addrs=((10, 19),))),
                              Rect(((0, 100),), Source(addrs=((20, 29),)))])
    assert made.starts == (0, 10, 30)
    assert made.rests == (((22, 22),), (), ((22, 22),))
    assert pieces("tcp", made, ((5, 12),))[0].addrs == ((5, 9),)


# -- a fleet in many VPCs ----------------------------------------------------------------

def vpc_block(k: int) -> str:
    return f"10.{k >> 4}.{(k & 15) << 4}.0/20"


def state_for(k: int, option: int) -> DesiredState:
    """Coiled's three option sets of the benchmark's shape, in VPC number k."""
    block = vpc_block(k)
    allow = (Grant("tcp", 443, 443, "198.51.100.0/24", "allow"),
             Grant("tcp", 5432, 5432, "10.0.0.0/8", "allow"), Grant("tcp", 9090, 9100, "10.0.0.0/8", "allow"),
             # tokens allowed on some ports: a rule from them is outside on the others
             Grant("tcp", 9000, 9100, "sg-0other", "allow"), Grant("udp", 53, 53, "pl-unread", "allow"),
             # addresses on another protocol: protocol -1 meets its stretches too
             Grant("udp", 500, 600, "11.0.0.0/9", "allow"))
    if option == 0:  # public ingress disabled: everything from the VPC
        return DesiredState((Grant("tcp", 22, 22, block, "ssh"), Grant("tcp", 8786, 8787, block, "dask")),
                            (SELF_GRANT, *allow))
    if option == 1:  # a firewall CIDR
        return DesiredState((Grant("tcp", 8786, 8787, "10.1.0.0/16", "firewall"),),
                            (SELF_GRANT, Grant("tcp", 22, 22, block, "ssh from the VPC"), *allow))
    return DesiredState((Grant("tcp", 8786, 8787, "0.0.0.0/0", "dask"),),
                        (SELF_GRANT, Grant("tcp", 22, 22, block, "ssh from the VPC"), *allow))


@st.composite
def overlapping_sources(draw: st.DrawFn, k: int) -> list[str]:
    """A /16, /24s and a /32 inside it and one of them twice; or the VPC's own block with its
    /16 and a /24 inside it; or tokens and IPv6 beside them."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        a, b = draw(st.sampled_from((11, 10, 198))), draw(st.integers(0, 255))
        found = [f"{a}.{b}.0.0/16", f"{a}.{b}.{draw(st.integers(0, 255))}.0/24",
                 f"{a}.{b}.{draw(st.integers(0, 255))}.{draw(st.integers(0, 255))}/32"]
    elif kind == 1:
        block = vpc_block(k)
        a, b, c = (int(x) for x in block.split(".")[:3])
        found = [f"{a}.{b}.0.0/16", block, f"{a}.{b}.{c + draw(st.integers(0, 15))}.0/24",
                 f"{a}.{b}.{(c + 16) & 255}.0/28"]
    elif kind == 2:
        found = [f"2001:db8:{draw(st.integers(0, 3)):x}::/48", "2001:db8::/32", "::/0", "0.0.0.0/1"]
    else:
        found = ["sg-0other", "pl-known", "pl-unread", "sg-0g0", "198.51.100.0/25"]
    chosen = draw(st.lists(st.sampled_from(found), min_size=1, max_size=5))
    return [addresses.canonical_cidr(s) if s[:1].isdigit() or ":" in s else s for s in chosen]


PORTS = (("tcp", 22, 22), ("tcp", 20, 25), ("tcp", 0, 65535), ("tcp", 5000, 9999), ("tcp", 443, 443),
         ("tcp", 8786, 8786), ("tcp", 9090, 9100), ("udp", 0, 65535), ("icmp", 8, -1), ("icmp", -1, -1),
         ("-1", -1, -1), ("47", -1, -1))


@st.composite
def group_rules(draw: st.DrawFn, k: int) -> list[Rule]:
    out = []
    for _ in range(draw(st.integers(1, 4))):  # permissions: one protocol and ports, many sources
        protocol, lo, hi = draw(st.sampled_from(PORTS))
        out += [Rule(protocol, lo, hi, s) for s in draw(overlapping_sources(k))]
    return out


@st.composite
def fleets(draw: st.DrawFn) -> list[tuple[int, int, list[Rule]]]:
    out = []
    for _ in range(draw(st.integers(1, 8))):
        k, option = draw(st.integers(0, 40)), draw(st.integers(0, 2))
        out.append((k, option, draw(group_rules(k))))
    return out


PREFIX_LISTS = {("eu-west-1", "pl-known"): ("10.0.0.0/9", "198.51.100.0/25")}


def run(differ: Differ, fleet: list[tuple[int, int, list[Rule]]]) -> list[object]:
    """Every group diffed by one differ (its caches and cuts carry over from group to group),
    with one desired state per VPC and option set, as the audit makes them."""
    states: dict[tuple[int, int], DesiredState] = {}
    out = []
    for i, (k, option, rules) in enumerate(fleet):
        state = states.setdefault((k, option), state_for(k, option))
        out.append(differ.diff(Group(f"sg-0g{i % 2}", f"g{i}", f"vpc-{k}", "eu-west-1", ACCOUNT,
                                     rules=tuple(rules)), state))
    return out


@settings(max_examples=300, deadline=None)
@given(fleet=fleets())
def test_a_fleet_in_many_vpcs_gets_from_the_fast_path_what_the_general_path_gives(
        fleet: list[tuple[int, int, list[Rule]]]) -> None:
    general = Differ(PREFIX_LISTS)
    general.fast_paths = False
    assert run(Differ(PREFIX_LISTS), fleet) == run(general, fleet)


@settings(max_examples=150, deadline=None)
@given(fleet=fleets(), limit=st.integers(1, 6))
def test_caches_that_start_over_when_full_change_no_finding(
        fleet: list[tuple[int, int, list[Rule]]], limit: int) -> None:
    """A cache that reaches ``CACHE_LIMIT`` is emptied and fills again (a large fleet in many
    VPCs would otherwise miss for every group after the first few thousand): with a limit of a
    few entries, every cache starts over again and again mid-fleet, and what an entry keyed by
    an object's id holds must still be that object's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rect_module, "CACHE_LIMIT", limit)
        small = run(Differ(PREFIX_LISTS), fleet)
    assert small == run(Differ(PREFIX_LISTS), fleet)


def test_overlapping_sources_around_a_vpc_are_said_as_the_general_path_says_them() -> None:
    """A /16 around the VPC's block on ssh is outside except the block; the block itself is
    inside; protocol -1 from a /24 in the VPC is outside on every port but ssh's (and covers
    the required dask ports from that /24 only)."""
    state = state_for(5, 2)  # the VPC 10.0.80.0/20
    rules = (Rule("tcp", 22, 22, "10.0.0.0/16"), Rule("tcp", 22, 22, "10.0.80.0/20"),
             Rule("-1", -1, -1, "10.0.81.0/24"), Rule("tcp", 20, 25, "10.0.80.0/20"))
    fast, general = Differ(), Differ()
    general.fast_paths = False
    group = Group("sg-0a", "a", "vpc-5", "eu-west-1", ACCOUNT, rules=rules)
    found = fast.diff(group, state)
    assert found == general.diff(group, state)
    assert [(f.source, f.reason, f.severity) for f in found] == [
        ("10.0.0.0/16", "outside the envelope: tcp 22 from 10.0.0.0/16 except 10.0.80.0/20", "medium"),
        ("10.0.81.0/24", "outside the envelope: tcp 0-21, 23-5431, 5433-8785, 8788-9089, 9101-65535 "
         "from 10.0.81.0/24; udp, icmp, icmpv6, all other protocols from 10.0.81.0/24", "medium"),
        ("10.0.80.0/20", "outside the envelope: tcp 20-21, 23-25 from 10.0.80.0/20", "medium"),
        ("0.0.0.0/0", "only partly allowed; not covered: tcp 8786-8787 from 0.0.0.0/0 except "
         "10.0.81.0/24; required because dask", "medium")]


def test_tokens_allowed_on_some_ports_are_outside_on_the_others_as_the_general_path_says() -> None:
    """A group or prefix list that the envelope allows on a few ports: a rule from it over a
    wider range, or over every protocol, is outside on the ports its own grant leaves."""
    state = state_for(5, 2)
    rules = (Rule("tcp", 0, 65535, "sg-0other"), Rule("-1", -1, -1, "sg-0other"),
             Rule("udp", 50, 60, "pl-unread"), Rule("tcp", 9050, 9060, "sg-0other"))
    fast, general = Differ(), Differ()
    general.fast_paths = False
    group = Group("sg-0a", "a", "vpc-5", "eu-west-1", ACCOUNT, rules=rules)
    found = fast.diff(group, state)
    assert found == general.diff(group, state)
    assert [(f.protocol, f.source, f.reason, f.severity) for f in found] == [
        ("tcp", "sg-0other", "outside the envelope: tcp 0-8999, 9101-65535 from sg-0other", "medium"),
        ("-1", "sg-0other", "outside the envelope: tcp 0-8999, 9101-65535 from sg-0other; udp, icmp, "
         "icmpv6, all other protocols from sg-0other", "medium"),
        ("udp", "pl-unread", "outside the envelope: udp 50-52, 54-60 from pl-unread", "medium"),
        ("tcp", "0.0.0.0/0", "no rule allows it; required because dask", "medium")]


def test_a_group_allowing_itself_everything_is_inside_only_where_the_envelope_allows_that() -> None:
    """Protocol -1 from the group itself is inside an envelope that permits the group all its
    own traffic (every Coiled envelope does), and outside one that does not."""
    rule = Rule("-1", -1, -1, "sg-0a")
    group = Group("sg-0a", "a", "vpc-5", "eu-west-1", ACCOUNT, rules=(rule,))
    allowing = DesiredState((), (SELF_GRANT, Grant("tcp", 443, 443, "198.51.100.0/24", "allow")))
    not_allowing = DesiredState((), (Grant("tcp", 0, 65535, "sg-0a", "its own tcp"),))
    general = Differ()
    general.fast_paths = False
    fast = Differ()
    assert fast.diff(group, allowing) == general.diff(group, allowing) == ()
    found = fast.diff(group, not_allowing)
    assert found == general.diff(group, not_allowing)
    assert [(f.source, f.reason) for f in found] == [
        ("sg-0a", "outside the envelope: udp, icmp, icmpv6, all other protocols from self")]
