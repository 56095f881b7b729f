"""The fast path remembers a verdict per shared span and source: what it must never share.

A span is shared by every envelope with the same rects on its ports, and a verdict by every
rule there with the same source.  A prefix list's contents depend on its region, and the
answer to "may this rule cover a required one" on the desired state, so neither may leak from
one group to the next; each test fails when the memo ignores what it names.
"""

from __future__ import annotations

from sgaudit.engine.diff import Differ
from sgaudit.engine.resolve import SELF_GRANT
from sgaudit.model import DesiredState, Finding, Grant, Group, Rule

ACCOUNT = "111122223333"


def diff_all(differ: Differ, cases: list[tuple[DesiredState, Rule, str]]) -> list[tuple[Finding, ...]]:
    return [differ.diff(Group(f"sg-0{i}", f"g{i}", "vpc-1", region, ACCOUNT, rules=(rule,)), state)
            for i, (state, rule, region) in enumerate(cases)]


def general_differ(prefix_lists: dict[tuple[str, str], tuple[str, ...]] | None = None) -> Differ:
    differ = Differ(prefix_lists)
    differ.fast_paths = False
    return differ


def test_one_prefix_list_id_in_two_regions_is_judged_by_each_regions_entries() -> None:
    lists = {("eu-west-1", "pl-1"): ("10.0.0.0/8",), ("us-east-1", "pl-1"): ("0.0.0.0/0",)}
    state = DesiredState((), (Grant("tcp", 443, 443, "10.0.0.0/8", "office"), SELF_GRANT))
    cases = [(state, Rule("tcp", 443, 443, "pl-1"), "eu-west-1"),
             (state, Rule("tcp", 443, 443, "pl-1"), "us-east-1")]
    found = diff_all(Differ(lists), cases)
    assert found == diff_all(general_differ(lists), cases)
    assert found[0] == ()
    assert [(f.region, f.reason, f.severity.value) for f in found[1]] == [
        ("us-east-1", "outside the envelope: tcp 443 from 0.0.0.0/0 except 10.0.0.0/8", "high")]


def test_a_source_judged_under_one_desired_state_is_judged_again_under_another() -> None:
    """Same source and ports; one state requires tcp 22 (the rule may cover it), the other
    does not: the later groups must see their required rule covered (no missing finding)."""
    loose = DesiredState((), (Grant("tcp", 0, 65535, "0.0.0.0/0", "anything"), SELF_GRANT))
    strict = DesiredState((Grant("tcp", 22, 22, "0.0.0.0/0", "ssh"),), (SELF_GRANT,))
    cases = [(loose, Rule("-1", -1, -1, "0.0.0.0/0"), "eu-west-1"),
             (strict, Rule("-1", -1, -1, "0.0.0.0/0"), "eu-west-1"),
             (strict, Rule("tcp", 0, 65535, "0.0.0.0/0"), "eu-west-1")]
    found = diff_all(Differ(), cases)
    assert found == diff_all(general_differ(), cases)
    assert [[(f.kind.value, f.reason) for f in one] for one in found] == [
        [("extra", "outside the envelope: udp, icmp, icmpv6, all other protocols from 0.0.0.0/0")],
        [("extra", "outside the envelope: tcp 0-21, 23-65535 from 0.0.0.0/0; udp, icmp, icmpv6, all "
                   "other protocols from 0.0.0.0/0")],
        [("extra", "outside the envelope: tcp 0-21, 23-65535 from 0.0.0.0/0")]]


def test_protocol_minus_one_from_one_range_is_said_per_protocol_as_the_general_path_says() -> None:
    """The fast reading of protocol -1 (one range inside one stretch of every protocol's span):
    partial protocols first with the ports left, then the wholly outside ones named together."""
    state = DesiredState((), (Grant("tcp", 22, 22, "203.0.113.0/24", "ssh"),
                              Grant("icmp", 8, 0, "203.0.113.0/24", "ping"),
                              Grant("47", -1, -1, "203.0.113.0/24", "gre"), SELF_GRANT))
    cases = [(state, Rule("-1", -1, -1, source), "eu-west-1")
             for source in ("203.0.113.0/25", "203.0.113.7/32", "198.51.100.0/24", "203.0.112.0/23")]
    found = diff_all(Differ(), cases)
    assert found == diff_all(general_differ(), cases)
    assert [f.reason for one in found for f in one] == [
        "outside the envelope: tcp 0-21, 23-65535 from 203.0.113.0/25; icmp types 0-7, type 8 code "
        "1 - type 255 code 255 from 203.0.113.0/25; udp, icmpv6, all other protocols from "
        "203.0.113.0/25",
        "outside the envelope: tcp 0-21, 23-65535 from 203.0.113.7/32; icmp types 0-7, type 8 code "
        "1 - type 255 code 255 from 203.0.113.7/32; udp, icmpv6, all other protocols from "
        "203.0.113.7/32",
        "outside the envelope: tcp, udp, icmp, icmpv6, all other protocols from 198.51.100.0/24",
        # across two stretches: read off the pieces, as before
        "outside the envelope: tcp all ports from 203.0.112.0/24; tcp 0-21, 23-65535 from "
        "203.0.113.0/24; icmp all types from 203.0.112.0/24; and 1 more range(s); udp, icmpv6, "
        "all other protocols from 203.0.112.0/23"]


def test_the_same_rects_required_in_one_state_and_permitted_in_another_are_told_apart() -> None:
    """Both states give the envelope the same rect (tcp 22 from 10.0.0.0/8); only one requires
    it.  A span made for the first group must not tell the second that its rule covers nothing
    required, or the second group would report its required rule missing."""
    permitted = DesiredState((), (Grant("tcp", 22, 22, "10.0.0.0/8", "ssh"), SELF_GRANT))
    required = DesiredState((Grant("tcp", 22, 22, "10.0.0.0/8", "ssh"),), (SELF_GRANT,))
    cases = [(permitted, Rule("tcp", 22, 22, "10.0.0.0/8"), "eu-west-1"),
             (required, Rule("tcp", 22, 22, "10.0.0.0/8"), "eu-west-1"),
             (required, Rule("tcp", 22, 22, "10.1.0.0/16"), "eu-west-1")]
    found = diff_all(Differ(), cases)
    assert found == diff_all(general_differ(), cases)
    assert found[:2] == [(), ()]
    assert [(f.kind.value, f.reason) for f in found[2]] == [
        ("missing", "only partly allowed; not covered: tcp 22 from 10.0.0.0/8 except 10.1.0.0/16; "
                    "required because ssh")]


def test_a_differ_and_its_caches_are_freed_as_soon_as_it_is_dropped() -> None:
    """No reference cycle: a differ that held itself through its fast path kept every cache
    alive until the collector's next full pass (at exit: seconds of CPU on a large fleet)."""
    import gc
    import weakref
    differ = Differ()
    state = DesiredState((), (Grant("tcp", 443, 443, "10.0.0.0/8", "office"), SELF_GRANT))
    diff_all(differ, [(state, Rule("tcp", 443, 443, "pl-1"), "eu-west-1"),
                      (state, Rule("-1", -1, -1, "203.0.113.0/24"), "eu-west-1")])
    gone = weakref.ref(differ)
    was = gc.isenabled()
    gc.disable()
    try:
        del differ
        assert gone() is None
    finally:
        if was:
            gc.enable()
