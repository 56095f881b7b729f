"""The envelope on one port axis, cut along the address line: any source's uncovered pieces.

``uncovered`` sweeps the address line from a rule's own addresses each time it is asked; a
fleet whose rules overlap the envelope in part (a /16 around a VPC, a port range around an
allowed port, protocol -1) asks it for nearly every rule, with addresses that never repeat.
The sweep's answer over the whole line depends on the envelope's rects alone, so it is made
once per distinct set of rects (``Stretches``) and each rule reads its part of it with a
binary search: the same runs, the same pieces, in the same order.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache

from sgaudit.engine.diff.rects import Outside, Rect, Stretches
from sgaudit.net import addresses, intervals

#: the whole address line: IPv4, then IPv6
LINE: intervals.Interval = addresses.INTERNET[0]


def cut(axis: intervals.IntervalSet, rects: Sequence[Rect]) -> Stretches:
    """The line cut where ``rects`` start and end.  ``rects``: rects that meet ``axis`` and
    name addresses (a token covers only itself; a rect from an unknown VPC only ``uncovered``
    weighs), as ``uncovered`` would keep them.  A plain sweep: an envelope has a few rects."""
    changes: dict[int, list[tuple[intervals.IntervalSet, int]]] = {}
    for r in rects:
        for lo, hi in r.source.addrs:
            changes.setdefault(lo, []).append((r.axis, 1))
            changes.setdefault(hi + 1, []).append((r.axis, -1))
    active: dict[intervals.Interval, int] = {}
    starts, rests = [LINE[0]], [axis]
    for point in sorted(changes):
        for ports_of, delta in changes[point]:
            for iv in ports_of:
                count = active.get(iv, 0) + delta
                if count:
                    active[iv] = count
                else:
                    del active[iv]
        if point > LINE[1]:
            break
        rest = _uncovered_ports(axis, tuple(sorted(active))) if active else axis
        if point == starts[-1]:  # a rect from the line's first address
            rests[-1] = rest
        elif rest != rests[-1]:
            starts.append(point)
            rests.append(rest)
    return Stretches(tuple(starts), tuple(rests))


@lru_cache(maxsize=65536)
def _uncovered_ports(axis: intervals.IntervalSet, covered: tuple[intervals.Interval, ...]
                     ) -> intervals.IntervalSet:
    """``axis`` less the ports of the rects active at a point: an envelope's few port
    intervals make few such sets, and every cut of a fleet in many VPCs meets them again."""
    return intervals.subtract(axis, intervals.normalize(covered))


def runs_within(stretches: Stretches, addrs: intervals.IntervalSet
                ) -> list[tuple[int, int, intervals.IntervalSet]]:
    """``_uncovered_runs`` over ``addrs`` (normalised): (first, last address, ports not covered)
    for each stretch they meet that leaves ports uncovered."""
    starts, rests = stretches.starts, stretches.rests
    last = len(starts) - 1
    out: list[tuple[int, int, intervals.IntervalSet]] = []
    for lo, hi in addrs:
        i = bisect_right(starts, lo) - 1
        while True:
            end = starts[i + 1] - 1 if i < last else LINE[1]
            rest = rests[i]
            if rest:
                out.append((lo if lo > starts[i] else starts[i], hi if hi < end else end, rest))
            if end >= hi:
                break
            i += 1
    return out


def pieces(protocol: str, stretches: Stretches, addrs: intervals.IntervalSet) -> list[Outside]:
    """``uncovered(protocol, axis, Source(addrs=addrs), rects)`` for the rects the stretches
    were cut from: the runs grouped by their ports, in the order they first occur."""
    runs = runs_within(stretches, addrs)
    if len(runs) == 1:
        lo, hi, rest = runs[0]
        return [Outside(protocol, rest, ((lo, hi),))]
    by_axis: dict[intervals.IntervalSet, list[intervals.Interval]] = {}
    for lo, hi, rest in runs:
        by_axis.setdefault(rest, []).append((lo, hi))
    return [Outside(protocol, rest, intervals.normalize(ivs)) for rest, ivs in by_axis.items()]
