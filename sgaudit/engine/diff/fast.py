"""The differ's fast path: a rule's verdict read off the envelope's spans, as the general path
would give it, with no set arithmetic per rule and no cache of rules.

A span is what the envelope permits on one protocol and port interval (``Span``).  Its
stretches of the address line depend on the envelope's rects on that axis alone, so they are
cut once per distinct set of rects and shared by every desired state that has the same ones
(a fleet in many VPCs differs only in the rects from its VPC, and only on the ports those
open).  A rule then costs a binary search, and its pieces, reason and severity are made by
the general path's own functions (``describe_pieces``, ``rule_severity``) from the same pieces.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from functools import lru_cache

from sgaudit.engine.diff.reasons import describe_pieces
from sgaudit.engine.diff.rects import FULL, OTHER, Outside, Rect, Source, Span, Stretches, remember
from sgaudit.engine.diff.severity import axis_severities, interval_severity, rule_severity, span_severity
from sgaudit.engine.diff.stretches import cut, pieces, token_pieces
from sgaudit.engine.diff.uncovered import may_touch
from sgaudit.engine.resolve import UNKNOWN_VPC
from sgaudit.model import Group, Rule, Severity
from sgaudit.net import addresses, intervals, ports

#: (reason and severity if the rule reaches outside the envelope, else None; whether it may
#: cover a required rule)
Entry = tuple[tuple[str, Severity] | None, bool]
Envelope = Mapping[str, list[Rect]]
#: the stretches, token rects and unknown-VPC flag of one axis and set of rects
_Cut = tuple[Stretches, dict[str, intervals.IntervalSet], bool]


class FastPath:
    """Verdicts of single rules from spans: every rule whose envelope has no unknown VPC near it
    (the general path's remembered answers serve the rest)."""

    def __init__(self, source_of: Callable[[str, Group], Source]) -> None:
        self._source_of = source_of
        #: (envelope, protocol, FromPort, ToPort) -> that envelope and its span there
        self._spans: dict[tuple[int, str, int, int], tuple[Envelope, Span]] = {}
        #: (axis, the rects on it) -> those rects and what ``_cut`` made of them: shared by
        #: envelopes
        self._cuts: dict[tuple[object, ...], tuple[tuple[Rect, ...], _Cut]] = {}
        #: envelope -> that envelope and its spans on every protocol (for protocol -1)
        self._every_protocol: dict[int, tuple[Envelope, tuple[tuple[str, Span], ...]]] = {}

    def classify(self, rule: Rule, src: str, group: Group, env: Envelope,
                 reach: Mapping[str, intervals.IntervalSet], unresolved: bool) -> Entry | None:
        """The verdict of ``rule`` (its source ``src``, ``self`` for the group's own), or None
        when only the general path can tell (an unknown VPC near it)."""
        if rule.protocol == ports.ALL:
            return None if unresolved else self._all_protocols(rule, group, env, reach)
        span = self.span(env, rule.protocol, rule.from_port, rule.to_port, reach)
        parsed = addresses.PARSED.get(src)
        if parsed is not None:  # an IPv4 CIDR as parsing left it: its own canonical text
            return self._one_range(rule, span, *parsed, src)
        source = self._source_of(rule.source, group)
        if source.token is not None:
            outside = token_pieces(rule.protocol, span.axis, source.token, span.tokens.get(source.token))
        elif len(source.addrs) == 1:
            return self._one_range(rule, span, *source.addrs[0], None)
        elif span.vpc:
            return None
        else:
            outside = pieces(rule.protocol, span.stretches, source.addrs)
        return _verdict(rule, source, outside, None), span.touches

    def _one_range(self, rule: Rule, span: Span, lo: int, hi: int, text: str | None) -> Entry | None:
        """A source of one address range (``text``: its CIDR, when known): inside one stretch
        (the usual case) it is covered or outside whole, and said from integers; otherwise its
        pieces are read off the stretches.  None when an unknown VPC could cover some of it."""
        starts = span.stretches.starts
        i = bisect_right(starts, lo) - 1
        if i + 1 == len(starts) or starts[i + 1] > hi:
            rest = span.stretches.rests[i]
            if not rest:
                return None, span.touches
            if rest == span.axis and not span.vpc:
                origin = text or addresses.interval_text(lo, hi) or addresses.describe(((lo, hi),))
                severity = span_severity(span, lo, hi) or rule_severity(rule, Source(addrs=((lo, hi),)))
                return ((f"outside the envelope: {rule.protocol} {span.ports_text}from {origin}",
                         severity), span.touches)
        if span.vpc:
            return None
        outside = pieces(rule.protocol, span.stretches, ((lo, hi),))
        return _verdict(rule, Source(addrs=((lo, hi),)), outside, span.severities), span.touches

    def _all_protocols(self, rule: Rule, group: Group, env: Envelope,
                       reach: Mapping[str, intervals.IntervalSet]) -> Entry | None:
        """Protocol -1: the pieces of each named protocol on all its ports, then of every other
        protocol, as ``Differ._outside_of_envelope`` lists them."""
        source = self._source_of(rule.source, group)
        found = self._every_protocol.get(id(env))
        if found is None or found[0] is not env:
            found = self._every_protocol[id(env)] = (env, tuple(
                (protocol, self.span(env, protocol, -1, -1, reach)) for protocol in (*ports.NAMED, OTHER)))
        outside: list[Outside] = []
        token = source.token
        for protocol, span in found[1]:
            if token is not None:
                outside += token_pieces(protocol, FULL, token, span.tokens.get(token))
            elif span.vpc:
                return None
            else:
                outside += pieces(protocol, span.stretches, source.addrs)
        return _verdict(rule, source, outside, _ALL_SEVERITIES), bool(reach)

    def span(self, env: Envelope, protocol: str, from_port: int, to_port: int,
             reach: Mapping[str, intervals.IntervalSet]) -> Span:
        """The envelope on (protocol, ports); ``OTHER``: the rects of protocol -1 alone, on
        the whole axis (what covers the protocols that are not named)."""
        key = (id(env), protocol, from_port, to_port)
        found = self._spans.get(key)
        if found is not None and found[0] is env:
            return found[1]
        if protocol == OTHER:
            axis, rects, touches = FULL, env.get(ports.ALL, ()), False
        else:
            axis = (ports.axis_interval(protocol, from_port, to_port),)
            rects = (*env.get(protocol, ()), *env.get(ports.ALL, ()))
            touches = may_touch((protocol, from_port, to_port, ""), reach)
        (lo, hi), = axis
        # an envelope's rects have one port interval each (``Differ._envelope``)
        stretches, tokens, vpc = self._cut(tuple(r for r in rects if r.axis[0][0] <= hi
                                                 and lo <= r.axis[0][1]), axis)
        text, severities = _axis_facts(protocol, axis)
        span = Span(axis, text, stretches, tokens, vpc, touches, severities)
        remember(self._spans, key, (env, span))
        return span

    def _cut(self, rects: tuple[Rect, ...], axis: intervals.IntervalSet) -> _Cut:
        """The stretches of ``rects`` on ``axis``, the ports each token's rects cover, and
        whether a rect comes from an unknown VPC; made once per axis and set of rects (the
        differ makes one Rect per distinct grant, so they are told apart by identity, and the
        entry holds them, so that no other object can take their ids)."""
        key = (axis, *map(id, rects))
        found = self._cuts.get(key)
        if found is not None:
            return found[1]
        covered: dict[str, list[intervals.Interval]] = {}
        for r in rects:
            if r.source.token is not None:
                covered.setdefault(r.source.token, []).extend(r.axis)
        tokens = {token: intervals.normalize(ivs) for token, ivs in covered.items()}
        addressed = [r for r in rects if r.source.token is None and r.source.addrs]
        made = (cut(axis, addressed), tokens, UNKNOWN_VPC in tokens)
        remember(self._cuts, key, (rects, made))
        return made


#: what protocol -1 from addresses rates, by ``axis_severities``
_ALL_SEVERITIES = axis_severities(OTHER, FULL)


@lru_cache(maxsize=4096)
def _axis_facts(protocol: str, axis: intervals.IntervalSet) -> tuple[str, tuple[Severity, Severity, bool]]:
    """How a reason names these ports ("" for all of them: ``describe_pieces`` names a protocol
    wholly outside without its ports), and what they imply for severity."""
    text = "" if axis == FULL or protocol == OTHER else ports.format_axis(protocol, axis) + " "
    return text, axis_severities(protocol, axis)


def _verdict(rule: Rule, source: Source, outside: list[Outside],
             severities: tuple[Severity, Severity, bool] | None) -> tuple[str, Severity] | None:
    """The general path's reason and severity for these pieces (None when there are none);
    ``severities``: the rule's ``axis_severities``, to rate one address range from integers."""
    if not outside:
        return None
    reason = "outside the envelope: " + describe_pieces(outside, source)
    severity = None
    if severities is not None and len(source.addrs) == 1 and source.token is None:
        severity = interval_severity(severities, *source.addrs[0])
    return reason, severity or rule_severity(rule, source)
