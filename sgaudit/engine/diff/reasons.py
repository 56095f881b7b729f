"""Reason texts: the addresses and ports of a finding's pieces, said in a line."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sgaudit.engine.diff.rects import FULL, OTHER, Outside, Source
from sgaudit.net import addresses, intervals, ports


def describe_pieces(pieces: Sequence[Outside], whole: Source, limit: int = 3) -> str:
    """What of a rule is not covered, shortest first: protocols wholly outside are named
    together; at most ``limit`` partial pieces are spelled out."""
    wholly: list[Outside] = []
    partial: list[Outside] = []
    for p in pieces:  # a piece equal to a wholly one is wholly itself: one pass sorts them
        if p.axis == FULL and p.token == whole.token and p.addrs == whole.addrs:
            wholly.append(p)
        else:
            partial.append(p)
    origin = "" if not wholly else whole.token if whole.token is not None else _whole_text(whole.addrs)
    return joined([describe_outside(p, whole) for p in partial[:limit]], len(partial),
                  [protocol_name(p.protocol) for p in wholly], origin, limit)


def joined(partial: list[str], partial_count: int, wholly: list[str], origin: str,
           limit: int = 3) -> str:
    """The reason's line: the first ``limit`` partial pieces (``partial``: their texts, of
    ``partial_count`` in all), then the protocols wholly outside, named together."""
    texts = partial[:limit]
    if partial_count > limit:
        texts.append(f"and {partial_count - limit} more range(s)")
    if wholly:
        texts.append(f"{', '.join(wholly)} from {origin}")
    return "; ".join(texts)


def protocol_name(protocol: str) -> str:
    return "all other protocols" if protocol == OTHER else protocol


def protocol_words(protocol: str, axis: intervals.IntervalSet) -> str:
    """"tcp 22, 8786-8787", "all other protocols": a piece's protocol and ports."""
    if protocol == OTHER:
        return "all other protocols"
    return f"{protocol} {_ports_text(protocol, axis)}"


def describe_outside(piece: Outside, whole: Source) -> str:
    """"tcp 22 from 0.0.0.0/0 except 10.0.0.0/16" — what part of a rule is not covered."""
    what = protocol_words(piece.protocol, piece.axis)
    if piece.token is not None:
        return f"{what} from {piece.token}"
    addrs = piece.addrs
    text = _whole_text(addrs) if addrs == whole.addrs else describe_addrs(addrs, whole.addrs)
    return f"{what} from {text}"


def _whole_text(addrs: intervals.IntervalSet) -> str:
    """``describe_addrs(addrs, addrs)``: one aligned block (a rule's one CIDR) is spelled from
    integers, without a cache that a fleet's distinct CIDRs would only churn."""
    return (len(addrs) == 1 and addresses.interval_text(*addrs[0])) or describe_addrs(addrs, addrs)


@lru_cache(maxsize=4096)
def _ports_text(protocol: str, axis: intervals.IntervalSet) -> str:
    return ports.format_axis(protocol, axis)


@lru_cache(maxsize=16384)
def describe_addrs(part: intervals.IntervalSet, whole: intervals.IntervalSet) -> str:
    if part == whole:  # one aligned block (a rule's one CIDR) is spelled from integers
        return (len(whole) == 1 and addresses.interval_text(*whole[0])) or addresses.describe(whole)
    rest = intervals.subtract(whole, part)
    if len(addresses.to_cidrs(rest)) < len(addresses.to_cidrs(part)):
        return f"{addresses.describe(whole)} except {addresses.describe(rest)}"
    return addresses.describe(part)
