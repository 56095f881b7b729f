"""Sets of integers as sorted, disjoint intervals: the one piece of arithmetic that serves both
the port axis (``ports``) and the address line (``addresses``)."""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[int, int]
IntervalSet = tuple[Interval, ...]


def normalize(intervals: Iterable[Interval]) -> IntervalSet:
    """Sorted, disjoint, non-adjacent intervals covering the same integers."""
    out: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def subtract(base: IntervalSet, minus: IntervalSet) -> IntervalSet:
    """``base - minus`` for normalised interval sets."""
    if len(base) == 1:  # the common case: one range, fewer index operations
        return _subtract_one(base[0], minus)
    result: list[Interval] = []
    j = 0
    for lo, hi in base:
        cur = lo
        while j < len(minus) and minus[j][1] < cur:
            j += 1
        k = j
        while k < len(minus) and minus[k][0] <= hi:
            mlo, mhi = minus[k]
            if mlo > cur:
                result.append((cur, mlo - 1))
            cur = max(cur, mhi + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            result.append((cur, hi))
    return tuple(result)


def _subtract_one(base: Interval, minus: IntervalSet) -> IntervalSet:
    lo, hi = base
    out: list[Interval] = []
    cur = lo
    for mlo, mhi in minus:
        if mhi < cur:
            continue
        if mlo > hi:
            break
        if mlo > cur:
            out.append((cur, mlo - 1))
        cur = mhi + 1
        if cur > hi:
            return tuple(out)
    if cur == lo:
        return (base,)
    out.append((cur, hi))
    return tuple(out)


def intersect(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    """``a & b`` for normalised interval sets."""
    if len(a) == 1 and len(b) == 1:  # the common case, without the loop
        lo, hi = max(a[0][0], b[0][0]), min(a[0][1], b[0][1])
        return ((lo, hi),) if lo <= hi else ()
    result: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            result.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(result)


def covers(outer: IntervalSet, inner: IntervalSet) -> bool:
    if len(outer) == 1 and len(inner) == 1:
        return outer[0][0] <= inner[0][0] and inner[0][1] <= outer[0][1]
    return not subtract(inner, outer)
