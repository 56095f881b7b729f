"""Desired state x actual group -> findings. Pure: no I/O.

Rules are compared by what they allow.  Each rule is a rectangle in (port axis x address line)
for one protocol (see ``ports`` and ``addresses``); sources that are not addresses (another
security group, an unread prefix list) are tokens that only match themselves.  "Extra" is the
part of an actual rule outside the union of permitted rectangles; "missing" is the part of a
required rule outside the union of actual ones.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from sgaudit import addresses, intervals, ports
from sgaudit.engine.resolve import SELF, UNKNOWN_VPC
from sgaudit.model import (
    PUBLIC_SOURCE_KINDS,
    DesiredState,
    Finding,
    Grant,
    Group,
    Kind,
    Rule,
    Severity,
    quick_init,
)

#: required grants not (wholly) allowed, each with the pieces missing
MissingGaps = tuple[tuple[Grant, tuple["Outside", ...]], ...]

ADMIN_PORTS: intervals.IntervalSet = ((22, 22), (23, 23), (3389, 3389), (5985, 5986))
OTHER = "other"  # every protocol but the named ones
_FULL: intervals.IntervalSet = ((ports.PORT_MIN, ports.PORT_MAX),)


@quick_init
@dataclass(frozen=True, slots=True)
class Source:
    """A rule source as something comparable: addresses, or a token (sg-…, pl-…, self)."""

    addrs: intervals.IntervalSet = ()
    token: str | None = None


_SELF_SOURCE = Source(token=SELF)


@quick_init
@dataclass(frozen=True, slots=True)
class Rect:
    axis: intervals.IntervalSet
    source: Source


@quick_init
@dataclass(frozen=True, slots=True)
class Outside:
    """A piece of a rule not covered: one protocol, some ports, some sources."""

    protocol: str
    axis: intervals.IntervalSet
    addrs: intervals.IntervalSet = ()
    token: str | None = None


@dataclass(frozen=True, slots=True)
class _Span:
    """What an envelope permits on one protocol and port interval, as addresses, so that a
    rule with one CIDR is judged by two binary searches (no cache of it needed).

    ``axis``: the ports on the axis; ``ports_text``: how a reason names them ("22 ", or ""
    when they are all of the protocol's);
    ``cover``: addresses for which every one of these ports is permitted (merged);
    ``near``: addresses that some permitted rect meets on any of these ports (merged);
    ``vpc``: an unknown-VPC rect is among them (the general path handles those);
    ``touches``: a rule there may cover a required rule."""

    axis: intervals.IntervalSet
    ports_text: str
    cover: intervals.IntervalSet
    cover_starts: tuple[int, ...]
    near: intervals.IntervalSet
    near_starts: tuple[int, ...]
    vpc: bool
    touches: bool
    #: see ``_axis_severities``
    severities: tuple[Severity, Severity, bool]


#: what an envelope permits on one protocol and port axis: (cover, its starts, near, its
#: starts, an unknown VPC among them) - see ``_Span``
_AddrSpan = tuple[intervals.IntervalSet, tuple[int, ...], intervals.IntervalSet, tuple[int, ...], bool]

#: past this many entries a cache stops growing: a fleet whose rules are mostly distinct is
#: carried by the fast paths, which need no cache, and memory stays bounded
CACHE_LIMIT = 65536


def finding_key(kind: str, account: str, region: str, group_id: str, protocol: str,
                from_port: int, to_port: int, source: str) -> str:
    """Stable across runs: no rule ids, descriptions or times."""
    return f"{kind}|{account}|{region}|{group_id}|{protocol}|{from_port}|{to_port}|{source}"


def _gcp_key(kind: str, group: Group, protocol: str, from_port: int, to_port: int, source: str,
             rule_name: str | None) -> str:
    """A GCP target's key: a tag is unique only within its network, and unlike AWS two rules can
    grant the same ingress, so an extra also names its rule (a name people chose, stable across
    runs - not an id the cloud assigns)."""
    key = finding_key(kind, group.account, group.region, f"{group.vpc_id}/{group.group_id}",
                      protocol, from_port, to_port, source)
    return key + (f"|{rule_name}" if rule_name else "")


class Differ:
    """Diffs groups against desired states.

    A rule with one CIDR that the envelope covers whole or does not meet at all (most rules of
    a real fleet) is judged from integers, without a cache, so the cost per rule does not
    depend on rules repeating; the rest take the general path (set subtraction, summarised
    reasons), cached per state.  ``fast_paths = False`` takes the general path alone: the tests
    check that both report the same."""

    def __init__(self, prefix_lists: Mapping[tuple[str, str], tuple[str, ...]] | None = None):
        self._prefix_lists = prefix_lists or {}
        self._sources: dict[tuple[str, str], Source] = {}
        self._candidate_cache: dict[tuple[object, ...], list[Rect]] = {}
        self._envelopes: dict[tuple[int, str], tuple[DesiredState, dict[str, list[Rect]]]] = {}
        #: (envelope, region, rule signature) -> what _classify says of it
        self._rule_cache: dict[tuple[object, ...], tuple[tuple[str, Severity] | None, bool]] = {}
        self._reach: dict[int, tuple[DesiredState, dict[str, intervals.IntervalSet]]] = {}
        self._missing_cache: dict[tuple[object, ...], MissingGaps] = {}
        self._spans: dict[tuple[int, str, int, int], _Span] = {}
        self._piece_spans: dict[tuple[int, str, intervals.IntervalSet],
                                tuple[Mapping[str, list[Rect]], _AddrSpan]] = {}
        self._required: dict[tuple[int, str], tuple[DesiredState, list[tuple[str, Rect]]]] = {}
        #: (envelope, region, rule signature) -> (that envelope, which required rules it covers)
        self._covers: dict[tuple[object, ...], tuple[Mapping[str, list[Rect]], frozenset[int]]] = {}
        #: the fast paths; the general path alone gives the same findings (tests compare them)
        self.fast_paths = True

    # -- sources -------------------------------------------------------------------------
    def source_of(self, source: str, group: Group) -> Source:
        if source == SELF or source == group.group_id:
            return _SELF_SOURCE
        key = (group.region, source)
        found = self._sources.get(key)
        if found is None:
            found = self._resolve_source(source, group.region)
            if len(self._sources) < CACHE_LIMIT:
                self._sources[key] = found
        return found

    def _resolve_source(self, source: str, region: str) -> Source:
        if source.startswith("sg-") or source == UNKNOWN_VPC or addresses.is_gcp_token(source):
            return Source(token=source)  # a policy's allow can name a GCP tag:, sa: or token
        if source.startswith("pl-"):
            entries = self._prefix_lists.get((region, source))
            if entries is None:
                return Source(token=source)
            return Source(addrs=addresses.cidr_set(entries))
        return Source(addrs=(addresses.cidr_interval(source),))

    def envelope(self, desired: DesiredState, group: Group) -> dict[str, list[Rect]]:
        """The permitted envelope as rects per protocol (``-1``: every protocol)."""
        return self._envelope(desired, group)

    def _envelope(self, desired: DesiredState, group: Group) -> dict[str, list[Rect]]:
        cache_key = (id(desired), group.region)
        cached = self._envelopes.get(cache_key)
        if cached is not None and cached[0] is desired:
            return cached[1]
        env: dict[str, list[Rect]] = {}
        for grant in (*desired.required, *desired.permitted):
            axis = (ports.axis_interval(grant.protocol, grant.from_port, grant.to_port),)
            env.setdefault(grant.protocol, []).append(Rect(axis, self.source_of(grant.source, group)))
        self._envelopes[cache_key] = (desired, env)
        return env

    # -- the diff ------------------------------------------------------------------------
    def diff(self, group: Group, desired: DesiredState) -> tuple[Finding, ...]:
        env = self._envelope(desired, group)
        reach = self._required_reach(desired)
        fast = self.fast_paths
        findings: list[Finding] = []
        touching = []
        touching_rules: list[Rule] = []
        for rule in group.rules:
            src = SELF if rule.source == group.group_id else rule.source
            entry = self._fast_classify(rule, src, env, reach) if fast else None
            if entry is None:
                entry = self._cached_classify(rule, src, group, env, reach, desired)
            verdict, touches = entry
            if touches:
                touching.append((rule.protocol, rule.from_port, rule.to_port, src))
                touching_rules.append(rule)
            if verdict is not None:
                findings.append(self._extra_finding(group, rule, *verdict))
        missing: MissingGaps | None = (self._missing_fast(group, desired, env, touching,
                                                          touching_rules) if fast else None)
        if missing is None:
            missing_key = (id(env), group.region, frozenset(touching))
            missing = self._missing_cache.get(missing_key)
            if missing is None:
                missing = self._missing(group, desired)
                if len(self._missing_cache) < CACHE_LIMIT:
                    self._missing_cache[missing_key] = missing
        findings.extend(self._missing_finding(group, grant, gaps) for grant, gaps in missing)
        return tuple(findings)

    def _cached_classify(self, rule: Rule, src: str, group: Group, env: Mapping[str, list[Rect]],
                         reach: Mapping[str, intervals.IntervalSet],
                         desired: DesiredState) -> tuple[tuple[str, Severity] | None, bool]:
        """The general path, remembered per (envelope, region, rule signature)."""
        sig = (rule.protocol, rule.from_port, rule.to_port, src)
        cache_key = (id(env), group.region, sig)
        entry = self._rule_cache.get(cache_key)
        if entry is None:
            entry = self._classify(rule, group, env, _may_touch(sig, reach),
                                   desired.unresolved is not None)
            if len(self._rule_cache) < CACHE_LIMIT:
                self._rule_cache[cache_key] = entry
        return entry

    def _fast_classify(self, rule: Rule, src: str, env: Mapping[str, list[Rect]],
                       reach: Mapping[str, intervals.IntervalSet]
                       ) -> tuple[tuple[str, Severity] | None, bool] | None:
        """A rule with one CIDR on one protocol that the envelope either covers whole or does
        not meet at all: its verdict from integers, exactly as ``_classify`` gives it.  None
        when the rule needs the general path (a partial overlap, a token, protocol -1, an
        unknown VPC nearby)."""
        protocol = rule.protocol
        if protocol == ports.ALL or not (src[:1].isdigit() or ":" in src):  # not a CIDR
            return None
        key = (id(env), protocol, rule.from_port, rule.to_port)
        span = self._spans.get(key) or self._span(key, env, reach)
        parsed = addresses.PARSED.get(src)
        lo, hi = parsed or addresses.cidr_interval(src)
        i = bisect_right(span.cover_starts, lo) - 1  # inside one merged permitted range?
        if i >= 0 and span.cover[i][1] >= hi:
            return None, span.touches
        if span.vpc or _meets(span.near, span.near_starts, lo, hi):
            return None
        # a parsed IPv4 source is already its interval's canonical CIDR text
        origin = (src if parsed is not None else
                  addresses.interval_text(lo, hi) or addresses.describe(((lo, hi),)))
        severity = _span_severity(span, lo, hi) or rule_severity(rule, Source(addrs=((lo, hi),)))
        return ((f"outside the envelope: {protocol} {span.ports_text}from {origin}", severity),
                span.touches)

    def _span(self, key: tuple[int, str, int, int], env: Mapping[str, list[Rect]],
              reach: Mapping[str, intervals.IntervalSet]) -> _Span:
        """The envelope on (protocol, ports) in addresses; few distinct ports occur."""
        _, protocol, from_port, to_port = key
        axis = ports.axis_interval(protocol, from_port, to_port)
        cover, cover_starts, near, near_starts, vpc = self._addr_span(env, protocol, (axis,))
        # describe_pieces names a protocol wholly outside without its ports
        text = "" if (axis,) == _FULL else ports.format_axis(protocol, (axis,)) + " "
        span = _Span((axis,), text, cover, cover_starts, near, near_starts, vpc,
                     _may_touch((protocol, from_port, to_port, ""), reach),
                     _axis_severities(protocol, (axis,)))
        if len(self._spans) < CACHE_LIMIT:
            self._spans[key] = span
        return span

    def _missing_fast(self, group: Group, desired: DesiredState, env: Mapping[str, list[Rect]],
                      touching: list[tuple[str, int, int, str]],
                      rules: Sequence[Rule]) -> MissingGaps | None:
        """No missing rule when each required rule is covered by one actual rule on its own
        (the common case); None when the general path must decide.  What each rule covers is
        remembered per rule, and the rules are asked in turn until all are covered: a fleet's
        base rules, the same in every group, usually cover them before the group's own drifted
        rules (distinct everywhere: no cache of whole groups could hit) are reached."""
        required = self._required_rects(desired, group)
        if not required:
            return ()
        covered: set[int] = set()
        for sig, rule in zip(touching, rules, strict=True):
            covered.update(self._rule_covers(group, env, required, sig, rule))
            if len(covered) == len(required):
                return ()
        return None

    def _rule_covers(self, group: Group, env: Mapping[str, list[Rect]],
                     required: Sequence[tuple[str, Rect]], sig: tuple[str, int, int, str],
                     rule: Rule) -> frozenset[int]:
        """The indices of the required rules that ``rule`` alone covers, remembered per
        (envelope, region, signature); the envelope is kept with the answer (it stands for the
        desired state), so a recycled ``id`` can never return another state's."""
        key = (id(env), group.region, sig)
        seen = self._covers.get(key)
        if seen is not None and seen[0] is env:
            return seen[1]
        have = (rule.protocol, ports.axis_interval(rule.protocol, rule.from_port, rule.to_port),
                self.source_of(rule.source, group))
        found = frozenset(i for i, (protocol, want) in enumerate(required)
                          if _rect_covers(have, protocol, want))
        if len(self._covers) < CACHE_LIMIT:
            self._covers[key] = (env, found)
        return found

    def _required_rects(self, desired: DesiredState, group: Group) -> list[tuple[str, Rect]]:
        key = (id(desired), group.region)
        cached = self._required.get(key)
        if cached is not None and cached[0] is desired:
            return cached[1]
        rects = [(g.protocol, Rect((ports.axis_interval(g.protocol, g.from_port, g.to_port),),
                                   self.source_of(g.source, group))) for g in desired.required]
        self._required[key] = (desired, rects)
        return rects

    def _classify(self, rule: Rule, group: Group, env: Mapping[str, list[Rect]],
                  touches: bool, vpc_unknown: bool) -> tuple[tuple[str, Severity] | None, bool]:
        """(reason and severity if the rule reaches outside the envelope, else None;
        whether it may cover a required rule)."""
        outside = self._outside_of_envelope(rule, group, env)
        if not outside:
            return None, touches
        reason = "outside the envelope: " + describe_pieces(outside, self.source_of(rule.source, group))
        if vpc_unknown and self._vpc_mattered(rule, env, outside):
            reason += (" (the VPC's CIDR is unknown, but no VPC can hold all of this: it is outside "
                       "the envelope whatever the CIDR is)")
        return (reason, rule_severity(rule, self.source_of(rule.source, group))), touches

    @staticmethod
    def _vpc_mattered(rule: Rule, env: Mapping[str, list[Rect]], outside: Sequence[Outside]) -> bool:
        """Whether "inside the VPC" permits any of these ports, so that the VPC's unknown CIDR
        could have changed the verdict (the reason then says why it did not)."""
        protocols = {rule.protocol, ports.ALL} if rule.protocol != ports.ALL else set(env)
        vpc_axis = intervals.normalize(iv for p in protocols for r in env.get(p, ())
                                   if r.source.token == UNKNOWN_VPC for iv in r.axis)
        return any(piece.token is None and intervals.intersect(piece.axis, vpc_axis) for piece in outside)

    def _outside_of_envelope(self, rule: Rule, group: Group,
                             env: Mapping[str, list[Rect]]) -> tuple[Outside, ...]:
        source = self.source_of(rule.source, group)
        if rule.protocol == ports.ALL:
            pieces = [(p, _FULL, self._candidates(env, p, _FULL)) for p in ports.NAMED]
            pieces.append((OTHER, _FULL, list(env.get(ports.ALL, []))))
        else:
            axis: intervals.IntervalSet = (ports.axis_interval(rule.protocol, rule.from_port, rule.to_port),)
            pieces = [(rule.protocol, axis, self._candidates(env, rule.protocol, axis))]
        out: list[Outside] = []
        for protocol, axis, rects in pieces:
            out.extend(uncovered(protocol, axis, source, rects))
        return tuple(out)

    def _required_reach(self, desired: DesiredState) -> dict[str, intervals.IntervalSet]:
        """Per protocol, the port axis that required grants occupy: rules elsewhere cannot
        cover them, so they are left out of the cache key of the missing-rule check."""
        cached = self._reach.get(id(desired))
        if cached is not None and cached[0] is desired:
            return cached[1]
        reach: dict[str, list[intervals.Interval]] = {}
        for g in desired.required:
            reach.setdefault(g.protocol, []).append(
                ports.axis_interval(g.protocol, g.from_port, g.to_port))
        result = {p: intervals.normalize(ivs) for p, ivs in reach.items()}
        self._reach[id(desired)] = (desired, result)
        return result

    def _candidates(self, env: Mapping[str, list[Rect]], protocol: str,
                    axis: intervals.IntervalSet) -> list[Rect]:
        """The envelope's rects of a protocol whose ports meet ``axis`` (few distinct axes
        occur, so this filter is computed once per envelope and axis)."""
        key = (id(env), protocol, axis)
        found = self._candidate_cache.get(key)
        if found is None:
            found = [r for r in (*env.get(protocol, ()), *env.get(ports.ALL, ()))
                     if intervals.intersect(r.axis, axis)]
            self._candidate_cache[key] = found
        return found

    def _missing(self, group: Group, desired: DesiredState) -> MissingGaps:
        by_protocol = self.rule_rects(group.rules, group)
        out = []
        for grant in desired.required:
            gaps = self.gaps(grant, by_protocol, group)
            if gaps:
                out.append((grant, gaps))
        return tuple(out)

    def rule_rects(self, rules: Iterable[Rule], group: Group) -> dict[str, list[Rect]]:
        """Actual rules as rects per protocol."""
        by_protocol: dict[str, list[Rect]] = {}
        for rule in rules:
            axis = (ports.axis_interval(rule.protocol, rule.from_port, rule.to_port),)
            by_protocol.setdefault(rule.protocol, []).append(
                Rect(axis, self.source_of(rule.source, group)))
        return by_protocol

    def gaps(self, grant: Grant, by_protocol: Mapping[str, list[Rect]],
             group: Group) -> tuple[Outside, ...]:
        """The part of ``grant`` that the rules (as ``rule_rects``) do not allow."""
        rects = [*by_protocol.get(grant.protocol, ()), *by_protocol.get(ports.ALL, ())]
        axis = (ports.axis_interval(grant.protocol, grant.from_port, grant.to_port),)
        return tuple(uncovered(grant.protocol, axis, self.source_of(grant.source, group), rects))

    # -- findings ------------------------------------------------------------------------
    def _extra_finding(self, group: Group, rule: Rule, reason: str, severity: Severity,
                       key: str | None = None) -> Finding:
        return Finding(
            key=key or finding_key("extra", group.account, group.region, group.group_id,
                                   rule.protocol, rule.from_port, rule.to_port, rule.source),
            kind=Kind.EXTRA, severity=severity, account=group.account,
            region=group.region, group_id=group.group_id, group_name=group.group_name,
            protocol=rule.protocol, from_port=rule.from_port, to_port=rule.to_port,
            source=rule.source, rule_ids=(rule.rule_id,) if rule.rule_id else (),
            reason=reason, description=rule.description)

    def _missing_finding(self, group: Group, grant: Grant, gaps: tuple[Outside, ...],
                         reason: str | None = None, key: str | None = None) -> Finding:
        whole = self.source_of(grant.source, group)
        if reason is not None:
            pass  # given by the caller (effective ingress names the rule that took it away)
        elif len(gaps) == 1 and gaps[0].addrs == whole.addrs and gaps[0].axis == (
                (ports.axis_interval(grant.protocol, grant.from_port, grant.to_port),)):
            reason = f"no rule allows it; required because {grant.reason}"
        else:
            reason = ("only partly allowed; not covered: " + describe_pieces(gaps, whole)
                      + f"; required because {grant.reason}")
        source = group.group_id if grant.source == SELF else grant.source  # a cluster's own traffic
        return Finding(
            key=key or finding_key("missing", group.account, group.region, group.group_id,
                                   grant.protocol, grant.from_port, grant.to_port, source),
            kind=Kind.MISSING, severity=Severity.MEDIUM, account=group.account, region=group.region,
            group_id=group.group_id, group_name=group.group_name, protocol=grant.protocol,
            from_port=grant.from_port, to_port=grant.to_port, source=source, rule_ids=(),
            reason=reason)


    # -- effective ingress (Google Cloud) ------------------------------------------------
    def outside_envelope(self, pieces: Iterable[Outside],
                         env: Mapping[str, list[Rect]]) -> tuple[Outside, ...]:
        """The part of effectively reachable pieces (see ``gcp_effective``) outside the
        envelope: the same rect arithmetic as ``_outside_of_envelope``, for pieces that are
        already cut by the rules evaluated before them."""
        out: list[Outside] = []
        for piece in pieces:
            verdict = self._piece_fast(piece, env)
            if verdict is not None:  # wholly inside (empty) or wholly outside (the piece)
                out.extend(verdict)
                continue
            if piece.protocol == OTHER:
                rects = list(env.get(ports.ALL, ()))
            else:
                rects = self._candidates(env, piece.protocol, piece.axis)
            found = uncovered_contained(piece.protocol, piece.axis, piece.addrs, rects) \
                if piece.token is None and len(piece.addrs) == 1 else None
            if found is None:
                found = uncovered(piece.protocol, piece.axis, Source(addrs=piece.addrs, token=piece.token),
                                  rects)
            out.extend(found)
        return tuple(out)

    def _piece_fast(self, piece: Outside, env: Mapping[str, list[Rect]]) -> tuple[Outside, ...] | None:
        """A piece of one protocol, one port range and one address range that the envelope
        covers whole or does not meet: the answer of ``uncovered`` from two binary searches
        (None when only the general path can tell)."""
        if piece.token is not None or piece.protocol == OTHER or len(piece.axis) != 1 \
                or len(piece.addrs) != 1:
            return None
        key = (id(env), piece.protocol, piece.axis)
        entry = self._piece_spans.get(key)
        if entry is None or entry[0] is not env:
            entry = self._piece_spans[key] = (env, self._addr_span(env, piece.protocol, piece.axis))
        cover, cover_starts, near, near_starts, vpc = entry[1]
        lo, hi = piece.addrs[0]
        i = bisect_right(cover_starts, lo) - 1
        if i >= 0 and cover[i][1] >= hi:
            return ()
        if vpc or _meets(near, near_starts, lo, hi):
            return None
        return (piece,)

    def _addr_span(self, env: Mapping[str, list[Rect]], protocol: str,
                   axis: intervals.IntervalSet) -> _AddrSpan:
        """The envelope on (protocol, ports) in addresses, as ``_Span`` holds it: what covers
        all the ports, what meets any, and whether an unknown VPC is among them."""
        rects = self._candidates(env, protocol, axis)
        addr_rects = [r for r in rects if r.source.token is None]
        cover = intervals.normalize(iv for r in addr_rects if intervals.covers(r.axis, axis)
                                    for iv in r.source.addrs)
        near = intervals.normalize(iv for r in addr_rects for iv in r.source.addrs)
        return (cover, tuple(lo for lo, _ in cover), near, tuple(lo for lo, _ in near),
                any(r.source.token == UNKNOWN_VPC for r in rects))

    def effective_findings(self, group: Group, extras: Iterable[tuple[Rule, str, Severity]],
                           missing: Iterable[tuple[Grant, str]]) -> tuple[Finding, ...]:
        """Findings of a target whose ingress was judged by effect (rule order, denies): each
        extra names its actual rule with a reason, each missing its required rule."""
        gcp = group.cloud == "gcp"
        out = []
        for rule, reason, severity in extras:
            key = (_gcp_key("extra", group, rule.protocol, rule.from_port, rule.to_port, rule.source,
                            rule.rule_id) if gcp else None)
            out.append(self._extra_finding(group, rule, reason, severity, key))
        for grant, reason in missing:
            key = (_gcp_key("missing", group, grant.protocol, grant.from_port, grant.to_port,
                            grant.source, None) if gcp else None)
            out.append(self._missing_finding(group, grant, (), reason, key))
        return tuple(out)


#: The most any VPC can hold: AWS allows at most 50 IPv4 blocks of at most /16 and 5 IPv6
#: blocks of at most /44 per VPC (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html).
MAX_VPC_V4 = 50 * (1 << 16)
MAX_VPC_V6 = 5 * (1 << 84)


def could_be_inside_a_vpc(addrs: intervals.IntervalSet) -> bool:
    """Whether these addresses could all lie inside some VPC whose CIDR is unknown."""
    v4 = sum(hi - lo + 1 for lo, hi in intervals.intersect(addrs, addresses.V4_ALL))
    v6 = sum(hi - lo + 1 for lo, hi in intervals.intersect(addrs, addresses.V6_ALL))
    return v4 <= MAX_VPC_V4 and v6 <= MAX_VPC_V6


def uncovered(protocol: str, axis: intervals.IntervalSet, source: Source,
              rects: Sequence[Rect]) -> list[Outside]:
    """The part of (axis x source) that no rect covers, as pieces with merged address ranges.

    A rect from UNKNOWN_VPC (a VPC whose CIDR is unknown) covers a piece's ports only when the
    piece's addresses could all lie inside some VPC: what is reported is then outside the
    envelope whatever the VPC's CIDR is."""
    rects = [r for r in rects if intervals.intersect(r.axis, axis)]
    vpc_axis = intervals.normalize(iv for r in rects if r.source.token == UNKNOWN_VPC for iv in r.axis)
    pieces = _uncovered(protocol, axis, source, rects)
    if not vpc_axis or source.token is not None:
        return pieces
    out = []
    for piece in pieces:
        if could_be_inside_a_vpc(piece.addrs):
            rest = intervals.subtract(piece.axis, vpc_axis)
            if rest:
                out.append(Outside(protocol, rest, addrs=piece.addrs))
        else:
            out.append(piece)
    return out


def address_rects(rects: Sequence[Rect]) -> list[Rect] | None:
    """The rects that name addresses (another kind of source covers none), for the shortcuts of
    ``uncovered``; None when one comes from an unknown VPC, which only ``uncovered`` weighs."""
    out = []
    for r in rects:
        token = r.source.token
        if token is None:
            out.append(r)
        elif token == UNKNOWN_VPC:
            return None
    return out


def uncovered_contained(protocol: str, axis: intervals.IntervalSet, addrs: intervals.IntervalSet,
                        rects: Sequence[Rect]) -> list[Outside] | None:
    """``uncovered`` of one address range, without its cut-point sweep, when every rect's
    addresses either contain the range or miss it (a CIDR against rules from 0.0.0.0/0 or from
    other CIDRs): what is left is then the axis less the ports of the containing rects, for
    all of the range.  None when some rect covers only part of the range, or comes from an
    unknown VPC."""
    addr_rects = address_rects(rects)
    if addr_rects is None:
        return None
    ports_covered: list[intervals.Interval] = []
    for r in addr_rects:
        if intervals.covers(r.source.addrs, addrs):
            ports_covered.extend(r.axis)
        elif intervals.intersect(r.source.addrs, addrs):
            return None
    rest = intervals.subtract(axis, intervals.normalize(ports_covered))
    return [Outside(protocol, rest, addrs=addrs)] if rest else []


def _uncovered(protocol: str, axis: intervals.IntervalSet, source: Source,
               rects: Sequence[Rect]) -> list[Outside]:
    if source.token is not None:
        covered = intervals.normalize(iv for r in rects if r.source.token == source.token for iv in r.axis)
        rest = intervals.subtract(axis, covered)
        return [Outside(protocol, rest, token=source.token)] if rest else []
    addr_rects = [r for r in rects if r.source.token is None and r.source.addrs]
    if not addr_rects:  # an empty prefix list allows nothing, so nothing of it is outside
        return [Outside(protocol, axis, addrs=source.addrs)] if source.addrs else []
    by_axis: dict[intervals.IntervalSet, list[intervals.Interval]] = {}
    for lo, hi, rest in _uncovered_runs(axis, source.addrs, addr_rects):
        by_axis.setdefault(rest, []).append((lo, hi))
    return [Outside(protocol, rest, addrs=intervals.normalize(ivs)) for rest, ivs in by_axis.items()]


def _uncovered_runs(axis: intervals.IntervalSet, addrs: intervals.IntervalSet,
                    rects: Sequence[Rect]) -> list[tuple[int, int, intervals.IntervalSet]]:
    """(first, last address, ports not covered) over the source's addresses, cut where any
    rect's addresses start or end; neighbouring runs with the same ports are merged.

    One sweep along the address line: a rect's ports join the covered ports where its addresses
    start and leave where they end (``intervals.Coverage``), so the cost is near-linear in
    rects, not cut points x rects."""
    changes = _address_changes(rects)
    points = set(changes)
    for lo, hi in addrs:
        points.update((lo, hi + 1))
    coverage = intervals.Coverage(axis, (iv for r in rects for iv in r.axis))
    rest = axis
    runs: list[tuple[int, int, intervals.IntervalSet]] = []
    inside = 0  # the first of the source's intervals that does not end before the point
    for lo, nxt in pairwise(sorted(points)):
        change = changes.get(lo)
        if change:
            for ports_of, delta in change:
                for iv in ports_of:
                    coverage.add(iv, delta)
            rest = coverage.uncovered()
        while inside < len(addrs) and addrs[inside][1] < lo:
            inside += 1
        if not rest or inside == len(addrs) or addrs[inside][0] > lo:
            continue
        if runs and runs[-1][1] + 1 == lo and runs[-1][2] == rest:
            runs[-1] = (runs[-1][0], nxt - 1, rest)
        else:
            runs.append((lo, nxt - 1, rest))
    return runs


def _address_changes(rects: Sequence[Rect]) -> dict[int, list[tuple[intervals.IntervalSet, int]]]:
    """Where along the address line each rect's ports start (1) and stop (-1) being covered."""
    changes: dict[int, list[tuple[intervals.IntervalSet, int]]] = {}
    for r in rects:
        for lo, hi in r.source.addrs:
            changes.setdefault(lo, []).append((r.axis, 1))
            changes.setdefault(hi + 1, []).append((r.axis, -1))
    return changes


def _may_touch(sig: tuple[str, int, int, str], reach: Mapping[str, intervals.IntervalSet]) -> bool:
    protocol, from_port, to_port, _ = sig
    if protocol == ports.ALL:
        return bool(reach)
    occupied = reach.get(protocol)
    return occupied is not None and bool(occupied) and bool(
        intervals.intersect(occupied, (ports.axis_interval(protocol, from_port, to_port),)))


def _meets(merged: intervals.IntervalSet, starts: tuple[int, ...], lo: int, hi: int) -> bool:
    """``lo..hi`` shares an address with the merged interval set."""
    i = bisect_right(starts, hi) - 1
    return i >= 0 and merged[i][1] >= lo


def _rect_covers(rule: tuple[str, intervals.Interval, Source], protocol: str, want: Rect) -> bool:
    """Whether one actual rule (protocol, port interval, source) allows all of ``want``."""
    have_protocol, axis, have = rule
    if have_protocol != protocol and have_protocol != ports.ALL:
        return False
    if not intervals.covers((axis,), want.axis):
        return False
    if want.source.token is not None:
        return have.token == want.source.token
    return have.token is None and intervals.covers(have.addrs, want.source.addrs)


def describe_pieces(pieces: Sequence[Outside], whole: Source, limit: int = 3) -> str:
    """What of a rule is not covered, shortest first: protocols wholly outside are named
    together; at most ``limit`` partial pieces are spelled out."""
    wholly = [p for p in pieces if p.token == whole.token and p.addrs == whole.addrs
              and p.axis == _FULL]
    partial = [p for p in pieces if p not in wholly]
    texts = [describe_outside(p, whole) for p in partial[:limit]]
    if len(partial) > limit:
        texts.append(f"and {len(partial) - limit} more range(s)")
    if wholly:
        names = ["all other protocols" if p.protocol == OTHER else p.protocol for p in wholly]
        origin = whole.token if whole.token is not None else describe_addrs(whole.addrs, whole.addrs)
        texts.append(f"{', '.join(names)} from {origin}")
    return "; ".join(texts)


def describe_outside(piece: Outside, whole: Source) -> str:
    """"tcp 22 from 0.0.0.0/0 except 10.0.0.0/16" — what part of a rule is not covered."""
    if piece.protocol == OTHER:
        what = "all other protocols"
    else:
        what = f"{piece.protocol} {ports.format_axis(piece.protocol, piece.axis)}"
    if piece.token is not None:
        return f"{what} from {piece.token}"
    return f"{what} from {describe_addrs(piece.addrs, whole.addrs)}"


@lru_cache(maxsize=16384)
def describe_addrs(part: intervals.IntervalSet, whole: intervals.IntervalSet) -> str:
    if part == whole:  # one aligned block (a rule's one CIDR) is spelled from integers
        return (len(whole) == 1 and addresses.interval_text(*whole[0])) or addresses.describe(whole)
    rest = intervals.subtract(whole, part)
    if len(addresses.to_cidrs(rest)) < len(addresses.to_cidrs(part)):
        return f"{addresses.describe(whole)} except {addresses.describe(rest)}"
    return addresses.describe(part)


def extra_severity(outside: Sequence[Outside]) -> Severity:
    """The worst of the pieces' severities (low when there are none)."""
    if len(outside) == 1:
        return _one_piece_severity(outside[0])
    return Severity.worst(_one_piece_severity(piece) for piece in outside) or Severity.LOW


def _one_piece_severity(piece: Outside) -> Severity:
    """``_piece_severity``, from integers when the piece is one address range on one port
    axis (its protocol and ports decided once per axis, as for a ``_Span``)."""
    if piece.token is None and len(piece.addrs) == 1:
        lo, hi = piece.addrs[0]
        found = _severity_from(_cached_axis_severities(piece.protocol, piece.axis), lo, hi)
        if found is not None:
            return found
    return _piece_severity(piece)


@lru_cache(maxsize=4096)
def _cached_axis_severities(protocol: str, axis: intervals.IntervalSet) -> tuple[Severity, Severity, bool]:
    return _axis_severities(protocol, axis)


def rule_severity(rule: Rule, source: Source) -> Severity:
    """The severity of an extra rule as it stands, whole (the README's table): what the policy
    permits of it never lowers it, so the same rule rates the same under every policy."""
    if rule.protocol == ports.ALL:
        return _piece_severity(Outside(OTHER, _FULL, source.addrs, source.token))
    axis = (ports.axis_interval(rule.protocol, rule.from_port, rule.to_port),)
    return _piece_severity(Outside(rule.protocol, axis, source.addrs, source.token))


def _piece_severity(piece: Outside) -> Severity:
    """critical: all traffic from public addresses, or an admin port from a world-scale range;
    high: anything else from public addresses; medium: private ranges, other groups and
    prefix lists; low: icmp from private ranges."""
    if piece.token is not None:
        return _token_severity(piece)
    public = intervals.subtract(piece.addrs, addresses.private_space())
    if not public:
        return Severity.LOW if piece.protocol in ports.ICMP else Severity.MEDIUM
    all_traffic = piece.protocol == OTHER or ports.every_port(piece.protocol, piece.axis)
    if all_traffic:
        return Severity.CRITICAL
    if _world_scale(public) and piece.protocol == "tcp" and intervals.intersect(piece.axis, ADMIN_PORTS):
        return Severity.CRITICAL
    return Severity.HIGH


def _token_severity(piece: Outside) -> Severity:
    """Other groups, prefix lists, tags and service accounts are medium; a firewall-policy
    source that stands for internet addresses (a country, a threat list, a domain, an address
    group: ``PUBLIC_SOURCE_KINDS``) is public and, since its size is unknown, world-scale."""
    kind = piece.token.partition(":")[0] if piece.token else ""
    if kind not in PUBLIC_SOURCE_KINDS:
        return Severity.MEDIUM
    _, public, admin = _axis_severities(piece.protocol, piece.axis)
    return Severity.CRITICAL if admin else public


def _axis_severities(protocol: str, axis: intervals.IntervalSet) -> tuple[Severity, Severity, bool]:
    """What ``_piece_severity`` decides from the protocol and ports alone (a span's, computed
    once): the severity from private addresses, from public ones, and whether a world-scale
    public source raises the latter to critical (an admin port over tcp)."""
    private = Severity.LOW if protocol in ports.ICMP else Severity.MEDIUM
    if protocol == OTHER or ports.every_port(protocol, axis):
        return private, Severity.CRITICAL, False
    admin = protocol == "tcp" and bool(intervals.intersect(axis, ADMIN_PORTS))
    return private, Severity.HIGH, admin


def _span_severity(span: _Span, lo: int, hi: int) -> Severity | None:
    """``rule_severity`` of one CIDR ``lo..hi`` on the span's protocol and ports, from integers:
    a source wholly inside one private range or wholly outside all of them (the usual case);
    None when it straddles private space (the caller takes ``rule_severity``)."""
    return _severity_from(span.severities, lo, hi)


def _severity_from(severities: tuple[Severity, Severity, bool], lo: int, hi: int) -> Severity | None:
    """``_span_severity`` from a protocol and port axis's ``_axis_severities``."""
    private = addresses.private_space()
    i = bisect_right(_private_starts(), hi) - 1  # the last private range starting at or below hi
    if i >= 0 and private[i][1] >= lo:  # it meets that range (and no other can contain lo..hi)
        return severities[0] if private[i][0] <= lo and hi <= private[i][1] else None
    _, public, admin = severities
    return Severity.CRITICAL if admin and _world_scale_interval(lo, hi) else public


def _world_scale_interval(lo: int, hi: int) -> bool:
    """``_world_scale`` of the one interval ``lo..hi``, by arithmetic."""
    v4 = min(hi, addresses.V6_OFFSET - 1) - lo + 1 if lo < addresses.V6_OFFSET else 0
    v6 = hi - max(lo, addresses.V6_OFFSET) + 1 if hi >= addresses.V6_OFFSET else 0
    return v4 >= 1 << 24 or v6 >= 1 << 96


@lru_cache(maxsize=1)
def _private_starts() -> tuple[int, ...]:
    return tuple(lo for lo, _ in addresses.private_space())


def _world_scale(public: intervals.IntervalSet) -> bool:
    """At least a /8 of public IPv4 space or a /32 of IPv6: reachable by "the world"."""
    v4 = sum(hi - lo + 1 for lo, hi in intervals.intersect(public, addresses.V4_ALL))
    v6 = sum(hi - lo + 1 for lo, hi in intervals.intersect(public, addresses.V6_ALL))
    return v4 >= 1 << 24 or v6 >= 1 << 96
