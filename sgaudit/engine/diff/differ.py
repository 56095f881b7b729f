"""The differ: a group's actual rules against the wanted grants, into findings."""

from __future__ import annotations

import weakref
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence

from sgaudit.engine.diff.fast import FastPath
from sgaudit.engine.diff.reasons import describe_pieces
from sgaudit.engine.diff.rects import (
    FULL,
    OTHER,
    SELF_SOURCE,
    AddrSpan,
    MissingGaps,
    Outside,
    Rect,
    Source,
    finding_key,
    gcp_key,
    remember,
)
from sgaudit.engine.diff.severity import rule_severity
from sgaudit.engine.diff.uncovered import _meets, may_touch, rect_covers, uncovered, uncovered_contained
from sgaudit.engine.resolve import SELF, UNKNOWN_VPC
from sgaudit.model import (
    DesiredState,
    Finding,
    Grant,
    Group,
    Kind,
    Rule,
    Severity,
    make_finding,
)
from sgaudit.net import addresses, intervals, ports


class Differ:
    """Diffs groups against desired states.

    A rule is judged by the fast path (``FastPath``) from the envelope's spans: a binary search,
    whether or not its source repeats elsewhere in the fleet (a verdict is remembered per span
    and source, for those that do); where an unknown VPC is near, the general path (set
    subtraction, summarised reasons) decides, cached per state.  ``fast_paths = False`` takes
    the general path alone: the tests check that both report the same."""

    def __init__(self, prefix_lists: Mapping[tuple[str, str], tuple[str, ...]] | None = None):
        self._prefix_lists = prefix_lists or {}
        self._sources: dict[tuple[str, str], Source] = {}
        self._candidate_cache: dict[tuple[object, ...], list[Rect]] = {}
        self._envelopes: dict[tuple[int, str], tuple[DesiredState, dict[str, list[Rect]]]] = {}
        #: (envelope, region, rule signature) -> what _classify says of it
        self._rule_cache: dict[tuple[object, ...], tuple[tuple[str, Severity] | None, bool]] = {}
        self._reach: dict[int, tuple[DesiredState, dict[str, intervals.IntervalSet]]] = {}
        self._missing_cache: dict[tuple[object, ...], MissingGaps] = {}
        self._piece_spans: dict[tuple[int, str, intervals.IntervalSet],
                                tuple[Mapping[str, list[Rect]], AddrSpan]] = {}
        self._required: dict[tuple[int, str], tuple[DesiredState, list[tuple[str, Rect]]]] = {}
        #: (envelope, region, rule signature) -> (that envelope, which required rules it covers)
        self._covers: dict[tuple[object, ...], tuple[Mapping[str, list[Rect]], frozenset[int]]] = {}
        self._rects: dict[tuple[object, ...], Rect] = {}
        # through a weak reference: a differ that held itself through its fast path would keep
        # every cache alive until the collector's next full pass (at exit, seconds on a fleet)
        me = weakref.proxy(self)
        self._fast = FastPath(lambda source, group: me.source_of(source, group))
        #: the fast paths; the general path alone gives the same findings (tests compare them)
        self.fast_paths = True

    # -- sources -------------------------------------------------------------------------
    def source_of(self, source: str, group: Group) -> Source:
        if source == SELF or source == group.group_id:
            return SELF_SOURCE
        key = (group.region, source)
        found = self._sources.get(key)
        if found is None:
            found = self._resolve_source(source, group.region)
            remember(self._sources, key, found)
        return found

    def _resolve_source(self, source: str, region: str) -> Source:
        parsed = addresses.PARSED.get(source)  # a CIDR as the snapshot's reader left it
        if parsed is not None:
            return Source(addrs=(parsed,))
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
            env.setdefault(grant.protocol, []).append(self._rect(axis, self.source_of(grant.source, group)))
        self._envelopes[cache_key] = (desired, env)
        return env

    def _rect(self, axis: intervals.IntervalSet, source: Source) -> Rect:
        """One Rect per distinct axis and source (until the cache starts over): envelopes that
        permit the same (most of a fleet's, whatever their VPC) share them, and so do the fast
        path's cuts of them; a second Rect for the same grant costs a cut, never a verdict."""
        key = (axis, source.addrs, source.token)
        found = self._rects.get(key)
        if found is None:
            found = Rect(axis, source)
            remember(self._rects, key, found)
        return found

    # -- the diff ------------------------------------------------------------------------
    def diff(self, group: Group, desired: DesiredState) -> tuple[Finding, ...]:
        env = self._envelope(desired, group)
        reach = self._required_reach(desired)
        unresolved = desired.unresolved is not None
        entries = (self._fast.judge_all(group, env, reach, unresolved) if self.fast_paths
                   else [None] * len(group.rules))
        findings: list[Finding] = []
        touching = []
        touching_rules: list[Rule] = []
        account, region, gid, name = group.account, group.region, group.group_id, group.group_name
        prefix = f"extra|{account}|{region}|{gid}|"  # see finding_key
        head, at_protocol, at_from, at_to = prefix, "", 0, 0  # the key up to the source, for these
        for rule, entry in zip(group.rules, entries, strict=True):
            protocol, from_port, to_port, source, rule_id, description, _, _ = rule
            if entry is None:
                entry = self._cached_classify(rule, SELF if source == gid else source, group, env,
                                              reach, desired)
            verdict, touches = entry
            if touches:
                touching.append((protocol, from_port, to_port, SELF if source == gid else source))
                touching_rules.append(rule)
            if verdict is not None:  # extra_finding's record, its fields in order, made inline
                if from_port != at_from or to_port != at_to or protocol != at_protocol:
                    head = f"{prefix}{protocol}|{from_port}|{to_port}|"
                    at_protocol, at_from, at_to = protocol, from_port, to_port
                findings.append(make_finding((
                    head + source, Kind.EXTRA, verdict[1], account, region, gid, name, protocol,
                    from_port, to_port, source, (rule_id,) if rule_id else (), verdict[0], description,
                    False, None, False, None)))
        missing: MissingGaps | None = (self._missing_fast(group, desired, env, touching,
                                                          touching_rules) if self.fast_paths else None)
        if missing is None:
            missing_key = (id(env), group.region, frozenset(touching))
            missing = self._missing_cache.get(missing_key)
            if missing is None:
                missing = self._missing(group, desired, touching_rules)
                remember(self._missing_cache, missing_key, missing)
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
            entry = self._classify(rule, group, env, may_touch(sig, reach),
                                   desired.unresolved is not None)
            remember(self._rule_cache, cache_key, entry)
        return entry

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
                          if rect_covers(have, protocol, want))
        remember(self._covers, key, (env, found))
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
            pieces = [(p, FULL, self._candidates(env, p, FULL)) for p in ports.NAMED]
            pieces.append((OTHER, FULL, list(env.get(ports.ALL, []))))
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

    def _missing(self, group: Group, desired: DesiredState, rules: Sequence[Rule]) -> MissingGaps:
        """The required grants that ``rules`` leave uncovered: the rules that may touch one
        (``may_touch``), as the cache of this answer is keyed; no other rule can cover any."""
        by_protocol = self.rule_rects(rules, group)
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
                   axis: intervals.IntervalSet) -> AddrSpan:
        """The envelope on (protocol, ports) in addresses, as ``Span`` holds it: what covers
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
            key = (gcp_key("extra", group, rule.protocol, rule.from_port, rule.to_port, rule.source,
                           rule.rule_id) if gcp else
                   finding_key("extra", group.account, group.region, group.group_id, rule.protocol,
                               rule.from_port, rule.to_port, rule.source))
            out.append(extra_finding(key, group, rule, reason, severity))
        for grant, reason in missing:
            gap_key = (gcp_key("missing", group, grant.protocol, grant.from_port, grant.to_port,
                               grant.source, None) if gcp else None)
            out.append(self._missing_finding(group, grant, (), reason, gap_key))
        return tuple(out)


def extra_finding(key: str, group: Group, rule: Rule, reason: str, severity: Severity) -> Finding:
    """The extra finding of ``rule`` (made by the hundred thousand: its fields in order)."""
    return Finding(key, Kind.EXTRA, severity, group.account, group.region, group.group_id,
                   group.group_name, rule.protocol, rule.from_port, rule.to_port, rule.source,
                   (rule.rule_id,) if rule.rule_id else (), reason, rule.description)
