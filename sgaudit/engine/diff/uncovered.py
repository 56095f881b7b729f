"""Rect arithmetic: the parts of a wanted rectangle that a group's rules leave uncovered."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import pairwise

from sgaudit.engine.diff.rects import Outside, Rect, Source
from sgaudit.engine.resolve import UNKNOWN_VPC
from sgaudit.net import addresses, intervals, ports

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


def may_touch(sig: tuple[str, int, int, str], reach: Mapping[str, intervals.IntervalSet]) -> bool:
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


def rect_covers(rule: tuple[str, intervals.Interval, Source], protocol: str, want: Rect) -> bool:
    """Whether one actual rule (protocol, port interval, source) allows all of ``want``."""
    have_protocol, axis, have = rule
    if have_protocol != protocol and have_protocol != ports.ALL:
        return False
    if not intervals.covers((axis,), want.axis):
        return False
    if want.source.token is not None:
        return have.token == want.source.token
    return have.token is None and intervals.covers(have.addrs, want.source.addrs)
