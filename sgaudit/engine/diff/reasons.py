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
    texts = [describe_outside(p, whole) for p in partial[:limit]]
    if len(partial) > limit:
        texts.append(f"and {len(partial) - limit} more range(s)")
    if wholly:
        names = ["all other protocols" if p.protocol == OTHER else p.protocol for p in wholly]
        origin = whole.token if whole.token is not None else _whole_text(whole.addrs)
        texts.append(f"{', '.join(names)} from {origin}")
    return "; ".join(texts)


def describe_outside(piece: Outside, whole: Source) -> str:
    """"tcp 22 from 0.0.0.0/0 except 10.0.0.0/16" — what part of a rule is not covered."""
    if piece.protocol == OTHER:
        what = "all other protocols"
    else:
        what = f"{piece.protocol} {_ports_text(piece.protocol, piece.axis)}"
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
