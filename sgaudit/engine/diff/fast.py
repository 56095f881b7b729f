"""The differ's fast path: a rule's verdict read off the envelope's spans, as the general path
would give it, with no set arithmetic per rule.

A span is what the envelope permits on one protocol and port interval (``Span``).  Its
stretches of the address line depend on the envelope's rects on that axis alone, so they are
cut once per distinct set of rects, and one Span serves every envelope that has the same rects
there (a fleet in many VPCs differs only in the rects from its VPC, and only on the ports those
open).  A rule then costs a binary search, and its pieces, reason and severity are made by
the general path's own functions (``describe_pieces``, ``rule_severity``) or said from integers
as they would say them.  The verdict is remembered per span and source: a source that recurs
across a fleet (the world, a VPC's range, a private block) is judged once per span.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import cast

from sgaudit.engine.diff import rects as rect_module
from sgaudit.engine.diff.reasons import describe_pieces, joined, protocol_name, protocol_words
from sgaudit.engine.diff.rects import FULL, OTHER, Outside, Rect, Source, Span, Stretches, remember
from sgaudit.engine.diff.severity import axis_severities, interval_severity, rule_severity
from sgaudit.engine.diff.stretches import cut, pieces
from sgaudit.engine.resolve import SELF, UNKNOWN_VPC
from sgaudit.model import Group, Rule, Severity
from sgaudit.net import addresses, intervals, ports

#: (reason and severity if the rule reaches outside the envelope, else None; whether it may
#: cover a required rule)
Entry = tuple[tuple[str, Severity] | None, bool]
Envelope = Mapping[str, list[Rect]]
#: the stretches, token rects and unknown-VPC flag of one axis and set of rects
_Cut = tuple[Stretches, dict[str, intervals.IntervalSet], bool]
#: an envelope's rects on one protocol, what identifies them, and the ports its required rules
#: occupy there, and each rect's ports with its id (see ``FastPath._side``)
Side = tuple[tuple[Rect, ...], tuple[object, ...], intervals.IntervalSet | None,
             tuple[tuple[int, int, int], ...]]
#: an envelope's spans on all ports of every named protocol and of the others (protocol -1)
EverySpan = tuple[tuple[str, Span], ...]
#: a span, its verdicts by source, its stretches' starts and rests, whether an unknown VPC is
#: near, the last stretch's index and the verdict of a covered source
SpanRun = tuple[Span, dict[object, Entry | None], tuple[int, ...], tuple[intervals.IntervalSet, ...],
                bool, int, Entry]
#: what a span's remembered verdicts give for a source they do not hold (no verdict is it)
_UNKNOWN = cast(Entry, object())
#: a rule's protocol and ports: a run of rules with the same is one permission's sources
_PORTS_OF = itemgetter(0, 1, 2)


class FastPath:
    """Verdicts of single rules from spans: every rule whose envelope has no unknown VPC near it
    (the general path's remembered answers serve the rest)."""

    def __init__(self, source_of: Callable[[str, Group], Source]) -> None:
        self._source_of = source_of
        #: (envelope, protocol) -> that envelope and its side there (see ``_side``), and the
        #: sides by what they hold
        self._sides: dict[tuple[int, str], tuple[Envelope, Side]] = {}
        self._shared_sides: dict[tuple[object, ...], Side] = {}
        #: (side, FromPort, ToPort) -> that side and its span there
        self._spans: dict[tuple[int, int, int], tuple[Side, Span]] = {}
        #: (axis, the rects on it) -> those rects and what ``_cut`` made of them: shared by
        #: envelopes
        self._cuts: dict[tuple[object, ...], tuple[tuple[Rect, ...], _Cut]] = {}
        #: (protocol, ports, touches, the rects there) -> those rects and the span: one Span for
        #: every envelope with the same rects there (most of a fleet's, whatever their VPC)
        self._shared: dict[tuple[object, ...], tuple[tuple[Rect, ...], Span]] = {}
        #: envelope -> that envelope and its spans on every protocol (for protocol -1), as the
        #: first envelope with the same spans made them (so that they stand for them)
        self._every_protocol: dict[int, tuple[Envelope, EverySpan]] = {}
        self._every_shared: dict[tuple[object, ...], EverySpan] = {}
        #: a shared span or every-protocol tuple -> it and the verdicts there by source ((source,
        #: region) for a prefix list): a source that recurs across a fleet (the world, a VPC's
        #: range, a private block, a managed prefix list) is judged once per span
        self._verdicts: dict[int, tuple[EverySpan, dict[object, Entry | None]]] = {}
        #: a span -> it, its verdicts by source (as above), and what a run of rules on it reads
        #: (``_judge_on_span``): looked up once per run
        self._span_runs: dict[int, SpanRun] = {}
        self._remembered = 0  # verdicts in all (see judge_all)

    def judge_all(self, group: Group, env: Envelope, reach: Mapping[str, intervals.IntervalSet],
                  unresolved: bool) -> list[Entry | None]:
        """Each of the group's rules' verdict, in order, or None when only the general path can
        tell (an unknown VPC near it): the loop that a large fleet runs half a million times,
        one run of rules on the same protocol and ports (one permission's sources) at a time.
        A verdict is remembered per span and source, and for a prefix list its region too (what
        the list holds depends on the region); they start over, all together, before a group
        when they hold ``CACHE_LIMIT`` or more (read where the tests can lower it)."""
        if self._remembered >= rect_module.CACHE_LIMIT:
            self._verdicts.clear()
            self._span_runs.clear()
            self._remembered = 0
        out: list[Entry | None] = []
        for (protocol, from_port, to_port), run in groupby(group.rules, _PORTS_OF):
            if protocol != ports.ALL:
                span = self.span(env, protocol, from_port, to_port, reach)
                self._remembered += self._judge_on_span(run, group, span, out)
            elif unresolved:  # an unknown VPC near every protocol: the general path's
                out.extend(None for _ in run)
            else:
                self._remembered += self._judge_every_protocol(run, group, env, reach, out)
        return out

    def _judge_on_span(self, run: Iterable[Rule], group: Group, span: Span,
                       out: list[Entry | None]) -> int:
        """The verdicts of a run of rules on one span, appended to ``out``; how many were
        remembered.  A range inside one stretch (the usual case) is judged here."""
        ctx = self._span_runs.get(id(span))
        if ctx is None or ctx[0] is not span:  # it holds ``span``: the id stays its
            starts = span.stretches.starts
            ctx = (span, {}, starts, span.stretches.rests, span.vpc, len(starts) - 1, (None, span.touches))
            self._span_runs[id(span)] = ctx
        _, verdicts, starts, rests, vpc, last, covered = ctx
        gid, region, parsed_of, append = group.group_id, group.region, addresses.PARSED.get, out.append
        remembered = 0
        for rule in run:
            source = SELF if rule[3] == gid else rule[3]
            key = (source, region) if source.startswith("pl-") else source
            entry = verdicts.get(key, _UNKNOWN)
            if entry is _UNKNOWN:
                parsed = parsed_of(source)
                if parsed is None:
                    entry = self._on_span(rule, group, span)
                else:
                    lo, hi = parsed
                    i = bisect_right(starts, lo) - 1
                    if (i < last and starts[i + 1] <= hi) or (vpc and rests[i]):
                        entry = self._one_range(rule, span, lo, hi, source)
                    else:
                        entry = _inside(rule, span, rests[i], lo, hi, source) if rests[i] else covered
                verdicts[key] = entry
                remembered += 1
            append(entry)
        return remembered

    def _judge_every_protocol(self, run: Iterable[Rule], group: Group, env: Envelope,
                              reach: Mapping[str, intervals.IntervalSet], out: list[Entry | None]) -> int:
        """The verdicts of a run of protocol -1 rules, appended to ``out``; how many were
        remembered (the envelope's spans on every protocol stand for one span, made when a rule
        needs them: every Coiled group allows itself everything, which its envelope allows)."""
        every: EverySpan | None = None
        verdicts: dict[object, Entry | None] = {}
        gid, region = group.group_id, group.region
        parsed_of, append, touches = addresses.PARSED.get, out.append, bool(reach)
        self_allowed = any(r.source.token == SELF and r.axis == FULL for r in env.get(ports.ALL, ()))
        remembered = 0
        for rule in run:
            source = SELF if rule[3] == gid else rule[3]
            if self_allowed and source == SELF:
                append((None, touches))
                continue
            if every is None:
                every = self._every_protocol_spans(env, reach)[1]
                verdicts = self._verdicts_on(every)
            key = (source, region) if source.startswith("pl-") else source
            entry = verdicts.get(key, _UNKNOWN)
            if entry is _UNKNOWN:
                parsed = parsed_of(source)
                entry = _all_one_range(rule, every, parsed[0], parsed[1], source, touches) \
                    if parsed is not None else None
                if entry is None:
                    entry = self._all_protocols(rule, group, every, touches)
                verdicts[key] = entry
                remembered += 1
            append(entry)
        return remembered

    def _verdicts_on(self, where: EverySpan) -> dict[object, Entry | None]:
        found = self._verdicts.get(id(where))
        if found is None or found[0] is not where:
            found = self._verdicts[id(where)] = (where, {})  # it holds ``where``: the id stays its
        return found[1]

    def _on_span(self, rule: Rule, group: Group, span: Span) -> Entry | None:
        """A source that parsing did not leave as one address range (``addresses.PARSED``)."""
        source = self._source_of(rule.source, group)
        token = source.token
        if token is not None:  # the ports its own rects leave, said as describe_pieces says them
            covered = span.tokens.get(token)
            rest = span.axis if covered is None else intervals.subtract(span.axis, covered)
            if not rest:
                return None, span.touches
            said = span.ports_text if rest == span.axis else _axis_facts(rule.protocol, rest)[0]
            return ((f"outside the envelope: {rule.protocol} {said}from {token}",
                     rule_severity(rule, source)), span.touches)
        if len(source.addrs) == 1:
            return self._one_range(rule, span, *source.addrs[0], None)
        if span.vpc:
            return None
        return _verdict(rule, source, pieces(rule.protocol, span.stretches, source.addrs), None), span.touches

    def _one_range(self, rule: Rule, span: Span, lo: int, hi: int, text: str | None) -> Entry | None:
        """A source of one address range (``text``: its CIDR, when known): inside one stretch
        (the usual case) it is covered, or outside on the ports that stretch leaves, and said
        from integers; otherwise its pieces are read off the stretches.  None when an unknown
        VPC could cover some of it."""
        starts = span.stretches.starts
        i = bisect_right(starts, lo) - 1
        if i + 1 == len(starts) or starts[i + 1] > hi:
            rest = span.stretches.rests[i]
            if not rest:
                return None, span.touches
            if not span.vpc:
                return _inside(rule, span, rest, lo, hi, text)
        if span.vpc:
            return None
        outside = pieces(rule.protocol, span.stretches, ((lo, hi),))
        return _verdict(rule, Source(addrs=((lo, hi),)), outside, span.severities), span.touches

    def _every_protocol_spans(self, env: Envelope, reach: Mapping[str, intervals.IntervalSet]
                              ) -> tuple[Envelope, EverySpan]:
        """The envelope's spans on all ports of every protocol, as the first envelope with the
        same spans (and the same answer to "may it cover a required rule") made them: the one
        tuple stands for them all."""
        found = self._every_protocol.get(id(env))
        if found is None or found[0] is not env:
            spans = tuple((protocol, self.span(env, protocol, -1, -1, reach))
                          for protocol in (*ports.NAMED, OTHER))
            key = (bool(reach), *(id(span) for _, span in spans))
            shared = self._every_shared.get(key)
            if shared is None:  # it holds its spans, so that their ids in the key stay theirs
                shared = spans
                remember(self._every_shared, key, spans)
            found = (env, shared)
            remember(self._every_protocol, id(env), found)
        return found

    def _all_protocols(self, rule: Rule, group: Group, spans: EverySpan,
                       touches: bool) -> Entry | None:
        """Protocol -1: the pieces of each named protocol on all its ports, then of every other
        protocol, as ``Differ._outside_of_envelope`` lists them."""
        source = self._source_of(rule.source, group)
        if source.token is not None:
            return _all_token(rule, spans, source), touches
        outside: list[Outside] = []
        for protocol, span in spans:
            if span.vpc:
                return None
            outside += pieces(protocol, span.stretches, source.addrs)
        return _verdict(rule, source, outside, _ALL_SEVERITIES), touches

    def span(self, env: Envelope, protocol: str, from_port: int, to_port: int,
             reach: Mapping[str, intervals.IntervalSet]) -> Span:
        """The envelope on (protocol, ports); ``OTHER``: the rects of protocol -1 alone, on
        the whole axis (what covers the protocols that are not named)."""
        side = self._side(env, protocol, reach)
        key = (id(side), from_port, to_port)
        found = self._spans.get(key)
        if found is not None and found[0] is side:
            return found[1]
        lo, hi = FULL[0] if protocol == OTHER else ports.axis_interval(protocol, from_port, to_port)
        # what the span is made of: the side's rects that meet these ports, by identity (see
        # ``_side``), and whether a required rule's ports are among them (``may_touch``; none
        # for OTHER); an envelope's rects have one port interval each (``Differ._envelope``)
        ids = tuple(ident for a, b, ident in side[3] if a <= hi and lo <= b)
        touches = side[2] is not None and any(a <= hi and lo <= b for a, b in side[2])
        shared_key = (protocol, lo, hi, touches, ids)
        shared = self._shared.get(shared_key)
        if shared is None:
            axis = ((lo, hi),)
            rects = tuple(r for r in side[0] if r.axis[0][0] <= hi and lo <= r.axis[0][1])
            stretches, tokens, vpc = self._cut(rects, axis, ids)
            text, severities = _axis_facts(protocol, axis)
            shared = (rects, Span(axis, text, stretches, tokens, vpc, touches, severities))
            remember(self._shared, shared_key, shared)  # it holds the rects: their ids stay theirs
        remember(self._spans, key, (side, shared[1]))
        return shared[1]

    def _side(self, env: Envelope, protocol: str, reach: Mapping[str, intervals.IntervalSet]) -> Side:
        """The envelope's rects on ``protocol`` (with protocol -1's; ``OTHER``: those alone), as
        every envelope with the same rects there and the same required ports shares them: a
        fleet's envelopes differ by VPC on a few tcp ports, and spans are made per side."""
        key = (id(env), protocol)
        found = self._sides.get(key)
        if found is not None and found[0] is env:
            return found[1]
        every = env.get(ports.ALL, ())
        rects = every if protocol == OTHER else (*env.get(protocol, ()), *every)
        occupied = None if protocol == OTHER else reach.get(protocol)
        ident = (protocol, occupied, *map(id, rects))
        side = self._shared_sides.get(ident)
        if side is None:  # it holds its rects, so that their ids in ``ident`` stay theirs
            bounds = tuple((r.axis[0][0], r.axis[0][1], id(r)) for r in rects)
            side = (tuple(rects), ident, occupied, bounds)
            remember(self._shared_sides, ident, side)
        remember(self._sides, key, (env, side))
        return side

    def _cut(self, rects: tuple[Rect, ...], axis: intervals.IntervalSet, ids: tuple[int, ...]) -> _Cut:
        """The stretches of ``rects`` (``ids``: theirs) on ``axis``, the ports each token's rects
        cover, and whether a rect comes from an unknown VPC; made once per axis and set of rects
        (the differ makes one Rect per distinct grant, so they are told apart by identity, and
        the entry holds them, so that no other object can take their ids)."""
        key = (axis, ids)
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


def _inside(rule: Rule, span: Span, rest: intervals.IntervalSet, lo: int, hi: int,
            text: str | None) -> Entry:
    """A range inside one stretch that leaves ports ``rest`` (no unknown VPC near): one piece,
    the whole range on those ports, said from integers as describe_pieces says it."""
    said = span.ports_text if rest == span.axis else _axis_facts(rule.protocol, rest)[0]
    origin = text or addresses.interval_text(lo, hi) or addresses.describe(((lo, hi),))
    severity = interval_severity(span.severities, lo, hi) or rule_severity(rule, Source(addrs=((lo, hi),)))
    return (f"outside the envelope: {rule.protocol} {said}from {origin}", severity), span.touches


def _all_one_range(rule: Rule, spans: EverySpan, lo: int, hi: int, text: str,
                   touches: bool) -> Entry | None:
    """Protocol -1 from one address range that lies inside one stretch on every protocol's
    span (the usual case): ``_all_protocols``'s verdict from integers, without its pieces.
    None when the range crosses a stretch or an unknown VPC is near (``_all_protocols`` then
    tells)."""
    partial: list[str] = []
    wholly: list[str] = []
    for protocol, span in spans:
        starts = span.stretches.starts
        i = bisect_right(starts, lo) - 1
        if span.vpc or (i + 1 < len(starts) and starts[i + 1] <= hi):
            return None
        rest = span.stretches.rests[i]
        if rest == FULL:
            wholly.append(protocol_name(protocol))
        elif rest:
            partial.append(f"{protocol_words(protocol, rest)} from {text}")
    if not partial and not wholly:
        return None, touches
    reason = "outside the envelope: " + joined(partial, len(partial), wholly, text)
    severity = interval_severity(_ALL_SEVERITIES, lo, hi) or rule_severity(rule, Source(addrs=((lo, hi),)))
    return (reason, severity), touches


def _all_token(rule: Rule, spans: EverySpan, source: Source) -> tuple[str, Severity] | None:
    """Protocol -1 from a token (``sg-…``, an unread ``pl-…``, the group itself): on each
    protocol, the ports that the token's own rects leave (a token covers only itself), said as
    ``describe_pieces`` says them, without the pieces."""
    token = cast(str, source.token)
    partial: list[str] = []
    wholly: list[str] = []
    for protocol, span in spans:
        covered = span.tokens.get(token)
        rest = FULL if covered is None else intervals.subtract(FULL, covered)
        if rest == FULL:
            wholly.append(protocol_name(protocol))
        elif rest:
            partial.append(f"{protocol_words(protocol, rest)} from {token}")
    if not partial and not wholly:
        return None
    reason = "outside the envelope: " + joined(partial, len(partial), wholly, token)
    return reason, rule_severity(rule, source)


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
