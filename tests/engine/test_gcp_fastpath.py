"""The GCP engine's shortcuts never change a result.

``audit`` judges thousands of targets per network with shared steps, resumed hierarchical-policy
sweeps, memoised verdicts and texts, bounding-box and containment pre-filters, and the cyclic
GC paused.  Here the straightforward computation - every target on its own: its applicable rules
found by walking every level, a fresh sweep, a fresh memo, and the plain rect arithmetic of
``diff.uncovered`` - is compared with it on random rule sets (priorities, deny ties, goto_next,
disabled and egress rules, target tags, service accounts with and without instances, source tags,
both enforcement orders, IPv4 and IPv6, ``all`` and port-less protocols).  Every finding (key,
kind, severity, reason, rule ids), every applied-rule record and every listed allow rule must be
equal.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgaudit.engine import gcp_effective, gcp_findings, gcp_targets
from sgaudit.engine.audit import audit, desired_state
from sgaudit.engine.diff import OTHER, UNKNOWN_VPC, Differ, Outside, Rect, Source, severity, uncovered
from sgaudit.engine.gcp_effective import rect_index
from sgaudit.model import (
    FirewallMatch,
    FirewallPolicy,
    FirewallRule,
    GcpInstance,
    GcpNetwork,
    GcpState,
    GroupResult,
    Policy,
    Snapshot,
)
from sgaudit.net import addresses, intervals
from sgaudit.policy.loader import parse_policy

PROJECT, NETWORK = "proj", "net"
TAGS = ("coiled-a", "coiled-b", "coiled-c", "other")
ACCOUNTS = ("sa1@proj.iam.gserviceaccount.com", "sa2@proj.iam.gserviceaccount.com")
CIDRS = ("0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "192.168.0.0/16",
         "203.0.113.0/24", "0.0.0.0/1", "128.0.0.0/1", "::/0", "2001:db8::/32", "2001:db8:1::/48",
         "fd20:1::/64")
PORTS = (22, 80, 443, 8786, 8787, 8788, 9000)

ports_st = st.lists(st.sampled_from(PORTS).flatmap(
    lambda p: st.sampled_from(((p, p), (p, p + 1), (p - 10, p + 10), (0, 65535)))), max_size=3)
match_st = st.one_of(
    st.builds(FirewallMatch, st.sampled_from(("tcp", "udp")), ports_st.map(tuple)),
    st.builds(FirewallMatch, st.sampled_from(("-1", "icmp", "50", "132"))),
)


@st.composite
def rules_st(draw: st.DrawFn, name: str, policy: bool) -> FirewallRule:
    action = draw(st.sampled_from(("allow", "deny", "goto_next") if policy else ("allow", "deny")))
    sources = draw(st.lists(st.sampled_from(CIDRS), max_size=2, unique=True))
    source_tags = () if policy else tuple(draw(st.lists(st.sampled_from(TAGS), max_size=2, unique=True)))
    targets = draw(st.sampled_from(("tags", "tags", "tags", "none", "accounts")))
    return FirewallRule(
        name=name, project=PROJECT, network=NETWORK,
        priority=draw(st.sampled_from((0, 100, 500, 1000, 1000, 65535))), action=action,
        matches=tuple(draw(st.lists(match_st, min_size=1, max_size=2))),
        direction=draw(st.sampled_from(("INGRESS",) * 6 + ("EGRESS",))),
        disabled=draw(st.booleans()) and draw(st.booleans()),
        source_ranges=tuple(sources), source_tags=source_tags,
        target_tags=tuple(draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True)))
        if targets == "tags" else (),
        target_service_accounts=(draw(st.sampled_from(ACCOUNTS)),) if targets == "accounts" else (),
        conditions=("srcNetworkType:VPC_NETWORKS",) if policy and draw(st.integers(0, 4)) == 0 else ())


@st.composite
def states(draw: st.DrawFn) -> GcpState:
    n = draw(st.integers(1, 14))
    vpc = tuple(draw(rules_st(f"r{i}", policy=False)) for i in range(n))
    policies = []
    kinds = ("hierarchical", "network", "regional", "system", "system-global")
    for k, kind in enumerate(draw(st.lists(st.sampled_from(kinds), max_size=3))):
        region = draw(st.sampled_from(("r1", "r2"))) if kind in ("regional", "system") else None
        rules = tuple(draw(rules_st(f"p{k}/{i}", policy=True)) for i in range(draw(st.integers(0, 4))))
        policies.append(FirewallPolicy(f"p{k}", kind, tuple(replace(r, priority=r.priority + i, region=region)
                                                             for i, r in enumerate(rules)),
                                       order=k, region=region))
    network = GcpNetwork(PROJECT, NETWORK,
                         enforcement_order=draw(st.sampled_from(("AFTER_CLASSIC_FIREWALL",
                                                                 "BEFORE_CLASSIC_FIREWALL"))),
                         subnet_ranges=("10.0.0.0/16", "fd20:1::/64"), policies=tuple(policies))
    instances = draw(st.one_of(st.none(), st.lists(st.builds(
        GcpInstance, st.just(PROJECT), st.sampled_from(("i1", "i2", "i3")), st.just((NETWORK,)),
        st.lists(st.sampled_from(TAGS), max_size=2, unique=True).map(tuple),
        st.lists(st.sampled_from(ACCOUNTS), max_size=1).map(tuple),
        zone=st.sampled_from(("r1-a", "r1-b", "r2-a", ""))), max_size=3)))
    return GcpState(networks={(PROJECT, NETWORK): network}, firewalls=vpc,
                    instances={} if instances is None else {(PROJECT, NETWORK): tuple(instances)})


POLICIES = [parse_policy(None, "policy.yaml"),
            parse_policy({"backend_options": {"enable_public_ssh": False,
                                              "firewall": {"ports": [443, 9000], "cidr": "10.1.0.0/16"}},
                          "allow": [{"protocol": "udp", "ports": [8788], "source": "10.0.0.0/8"}]},
                         "policy.yaml")]


def straightforward(policy: Policy, state: GcpState) -> list[GroupResult]:
    """Every target on its own, with nothing shared, cached or filtered."""
    out = []
    for net in gcp_targets.networks(state):
        flat = [(level, rule) for level, rules in gcp_effective.levels(net.network, net.rules)
                for rule in rules]
        keys = gcp_effective.protocol_keys(rule for _, rule in flat)
        for group in gcp_targets.targets(net, policy.select):
            tag = group.group_id
            steps = []
            for level, rule in flat:
                applies, possibly = gcp_effective.applicability(rule, tag, net.instances)
                if applies:
                    steps.append(gcp_effective.Step(rule, level, possibly,
                                                    gcp_effective.units_of(rule, tag, keys)))
            effective = gcp_effective.evaluate(tuple(steps), keys, full=True)
            desired = desired_state(policy, group, gcp_targets.network_vpc(net.network), {}, {})
            findings, applied = gcp_findings.judge(group, desired, effective, Differ({}),
                                                   gcp_findings.Memo())
            out.append(GroupResult(replace(group, rules=gcp_findings.allow_rules(effective)),
                                   desired, findings, applied))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(), st.sampled_from(POLICIES))
def test_audit_equals_the_straightforward_computation(state: GcpState, policy: Policy) -> None:
    report = audit(policy, Snapshot(groups=(), gcp=state), "2026-01-01T00:00:00Z")
    expected = straightforward(policy, state)
    assert [r.group for r in report.results] == [r.group for r in expected]
    for got, want in zip(report.results, expected, strict=True):
        assert got.findings == want.findings
        assert got.applied == want.applied


rect_axis = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 8)), min_size=1, max_size=2).map(
    lambda ivs: tuple(sorted({(lo, lo + w) for lo, w in ivs})))
addrs_st = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 20)), min_size=1, max_size=2).map(
    lambda ivs: tuple(sorted({(lo, lo + w) for lo, w in ivs})))
src_st = st.one_of(addrs_st.map(lambda a: Source(addrs=_norm(a))),
                   st.sampled_from(("self", "tag:x", UNKNOWN_VPC)).map(lambda t: Source(token=t)))


def _norm(ivs: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    return intervals.normalize(ivs)


@settings(max_examples=600, deadline=None)
@given(rect_axis.map(_norm), src_st, st.lists(st.builds(Rect, rect_axis.map(_norm), src_st), max_size=6),
       st.lists(src_st, max_size=4), st.data())
def test_minus_equals_uncovered(axis: tuple[tuple[int, int], ...], src: Source, rects: list[Rect],
                                spanning: list[Source], data: st.DataObject) -> None:
    """The pre-filtered subtraction of the sweep and of the required check is the differ's,
    also when rects span the whole axis or more (the shortcuts' cases)."""
    wide = data.draw(st.sampled_from((axis, ((0, 65535),), _norm((*axis, (50, 60))))))
    if src.token is None and data.draw(st.booleans()):  # src in two halves: covered only together
        lo, hi = src.addrs[0][0], src.addrs[-1][1]
        cut = data.draw(st.integers(lo, hi))
        spanning += [Source(addrs=((lo, cut),)), Source(addrs=((cut + 1, hi + 1),))]
    rects = data.draw(st.permutations([*rects, *(Rect(wide, s) for s in spanning)]))
    want = uncovered("tcp", axis, src, rects)
    assert rect_index._cut("tcp", axis, src, rects) == want
    if all(r.source.token != UNKNOWN_VPC for r in rects):  # AWS's token: no GCP rule makes it
        assert rect_index.minus("tcp", axis, src, rects) == want


piece_st = st.builds(
    lambda protocol, axis, src: Outside(protocol, axis, addrs=src.addrs, token=src.token),
    st.sampled_from(("tcp", "udp", "other")), rect_axis.map(_norm),
    st.one_of(addrs_st.map(lambda a: Source(addrs=_norm(a))),
              st.sampled_from(("self", "tag:x")).map(lambda t: Source(token=t))))


@settings(max_examples=400, deadline=None)
@given(st.lists(piece_st, max_size=4),
       st.dictionaries(st.sampled_from(("tcp", "udp", "-1")),
                       st.lists(st.builds(Rect, rect_axis.map(_norm), src_st), max_size=5), max_size=3))
def test_outside_envelope_equals_uncovered(pieces: list[Outside], env: dict[str, list[Rect]]) -> None:
    """The envelope check of effective pieces (with its shortcut for one port range and one
    address range the envelope covers or misses whole) is the plain rect arithmetic, also when
    asked again (its per-envelope memory)."""
    want: list[Outside] = []
    for piece in pieces:
        src = Source(addrs=piece.addrs, token=piece.token)
        if piece.protocol == OTHER:
            rects = list(env.get("-1", ()))
        else:
            rects = [r for r in (*env.get(piece.protocol, ()), *env.get("-1", ()))
                     if intervals.intersect(r.axis, piece.axis)]
        want.extend(uncovered(piece.protocol, piece.axis, src, rects))
    differ = Differ({})
    assert differ.outside_envelope(pieces, env) == tuple(want)
    assert differ.outside_envelope(pieces, env) == tuple(want)


LEVELS = ("hierarchical policy h", gcp_effective.VPC_LEVEL, "network policy n")


@st.composite
def sweeps(draw: st.DrawFn) -> tuple[tuple[gcp_effective.Step, ...], tuple[str, ...]]:
    """Steps of one target in evaluation order: levels in order, each with rules that certainly
    or possibly apply (goto_next in policies only)."""
    rules = []
    for level in LEVELS:
        for i in range(draw(st.integers(0, 4))):
            rule = draw(rules_st(f"{level[:3]}{i}", policy=level != gcp_effective.VPC_LEVEL))
            possibly = draw(st.sampled_from((None, None, "targets secure tags t")))
            rules.append((level, replace(rule, direction="INGRESS", disabled=False), possibly))
    keys = gcp_effective.protocol_keys(r for _, r, _ in rules)
    steps = tuple(gcp_effective.Step(rule, level, possibly, gcp_effective.units_of(rule, "coiled-a", keys))
                  for level, rule, possibly in rules)
    return steps, keys


@settings(max_examples=800, deadline=None)
@given(sweeps(), st.sampled_from(("tcp", "udp", "-1", "50", "47")), st.sampled_from(PORTS),
       st.one_of(st.sampled_from(CIDRS).map(lambda c: Source(addrs=(addresses.cidr_interval(c),))),
                 st.just(Source(token="self"))))
def test_shortfall_equals_the_full_assurance_sweep(
        sweep: tuple[tuple[gcp_effective.Step, ...], tuple[str, ...]], protocol: str, port: int,
        src: Source) -> None:
    """A required rule's shortfall - walked over the rules that meet it, with its shortcut for
    an allow that covers it first - is what the assurance view over every rule gives: the same
    pieces left, the same rules named as taking them away."""
    steps, keys = sweep
    wanted = [(protocol, ((port, port),), src), ("tcp", ((22, 22),), src), ("udp", ((0, 65535),), src)]
    fast = gcp_effective.shortfalls(gcp_effective.evaluate(steps, keys), wanted)
    full = gcp_effective.shortfalls(gcp_effective.evaluate(steps, keys, full=True), wanted)
    assert fast == full


real_piece_st = st.builds(
    lambda protocol, axis, cidrs: Outside(protocol, axis, addrs=addresses.cidr_set(cidrs)),
    st.sampled_from(("tcp", "udp", "icmp", "50", "other")),
    st.sampled_from((((22, 22),), ((0, 65535),), ((80, 90),), ((3389, 3389), (8786, 8787)))),
    st.lists(st.sampled_from((*CIDRS, "8.8.8.0/24", "172.16.0.0/12", "100.64.0.0/10", "0.0.0.0/5")),
             min_size=1, max_size=2))


@settings(max_examples=400, deadline=None)
@given(st.lists(real_piece_st, min_size=1, max_size=3))
def test_severity_and_text_shortcuts_equal_the_general_ones(pieces: list[Outside]) -> None:
    """A piece's severity and its addresses' text, from integers for one address range, are
    what the general computations give."""
    from sgaudit.engine import diff
    from sgaudit.model import Severity
    assert diff.extra_severity(pieces) == Severity.worst(severity._piece_severity(p) for p in pieces)
    for p in pieces:
        assert diff.describe_addrs.__wrapped__(p.addrs, p.addrs) == addresses.describe(p.addrs)
