"""Reason texts: the addresses and ports of a finding's pieces, said in a line."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sgaudit.engine.diff.rects import FULL, OTHER, Outside, Source
from sgaudit.net import addresses, intervals, ports


def describe_pieces(pieces: Sequence[Outside], whole: Source, limit: int = 3) -> str:
    """What of a rule is not covered, shortest first: protocols wholly outside are named
    together; at most ``limit`` partial pieces are spelled out."""
    wholly = [p for p in pieces if p.token == whole.token and p.addrs == whole.addrs
              and p.axis == FULL]
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
