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


class Coverage:
    """What of ``within`` no interval covers, as intervals come and go along a sweep.

    While few intervals are active the answer is computed from them directly; past ``SMALL``
    a counted segment tree over the points where the intervals start and end takes over (each
    change O(log n), each answer O(log n) per piece it returns), so a sweep costs near-linear
    in its intervals, where a rescan of the active ones would cost their number at every step.
    The tree is built on first need and sees the changes since its last answer then."""

    SMALL = 8
    __slots__ = ("_active", "_any", "_count", "_edges", "_full", "_index", "_intervals",
                 "_pending", "_size", "_within")

    def __init__(self, within: IntervalSet, intervals: Iterable[Interval]) -> None:
        """``within``: the points asked about (normalised, not empty); ``intervals``: every
        interval that may be added, so that their ends can be points of the tree."""
        self._within = within
        self._intervals = intervals
        #: interval -> how many times it is added now
        self._active: dict[Interval, int] = {}
        self._pending: list[tuple[Interval, int]] | None = None  # None: no tree yet
        self._edges: list[int] = []
        self._index: dict[int, int] = {}
        self._size = 0
        self._count: list[int] = []
        #: the node's range is covered whole / some of it is covered
        self._full: list[bool] = []
        self._any: list[bool] = []

    def add(self, interval: Interval, delta: int) -> None:
        """Cover ``interval`` once more (``delta`` 1) or once less (-1: it was added before)."""
        count = self._active.get(interval, 0) + delta
        if count:
            self._active[interval] = count
        else:
            del self._active[interval]
        if self._pending is not None:
            self._pending.append((interval, delta))

    def uncovered(self) -> IntervalSet:
        """The points of ``within`` that no interval covers now (normalised)."""
        if len(self._active) <= self.SMALL:
            return subtract(self._within, normalize(self._active)) if self._active else self._within
        self._sync()
        out: list[list[int]] = []
        self._collect(1, 0, self._size, out)
        return tuple((lo, hi) for lo, hi in out)

    def _sync(self) -> None:
        if self._pending is None:
            self._build()
            changes: Iterable[tuple[Interval, int]] = self._active.items()
        else:
            changes = self._pending
        for (lo, hi), delta in changes:
            lo, hi = max(lo, self._edges[0]), min(hi, self._edges[-1] - 1)
            if lo <= hi:
                self._update(1, 0, self._size, self._index[lo], self._index[hi + 1], delta)
        self._pending = []

    def _build(self) -> None:
        within = self._within
        first, last = within[0][0], within[-1][1]
        edges = {lo for lo, _ in within} | {hi + 1 for _, hi in within}
        for lo, hi in self._intervals:
            if lo <= last and hi >= first:
                edges.update((max(lo, first), min(hi, last) + 1))
        self._edges = sorted(edges)
        self._index = {edge: i for i, edge in enumerate(self._edges)}
        self._size = len(self._edges) - 1  # elementary pieces [edge i, edge i+1)
        self._count = [0] * (4 * self._size)
        self._full = [False] * (4 * self._size)
        self._any = [False] * (4 * self._size)
        for lo, hi in subtract(((first, last),), within):  # the gaps count as covered for good
            self._update(1, 0, self._size, self._index[lo], self._index[hi + 1], 1)

    def _update(self, node: int, left: int, right: int, lo: int, hi: int, delta: int) -> None:
        if hi <= left or right <= lo:
            return
        if lo <= left and right <= hi:
            self._count[node] += delta
        else:
            mid = (left + right) // 2
            self._update(2 * node, left, mid, lo, hi, delta)
            self._update(2 * node + 1, mid, right, lo, hi, delta)
        leaf = right - left == 1
        self._full[node] = self._count[node] > 0 or (
            not leaf and self._full[2 * node] and self._full[2 * node + 1])
        self._any[node] = self._count[node] > 0 or (
            not leaf and (self._any[2 * node] or self._any[2 * node + 1]))

    def _collect(self, node: int, left: int, right: int, out: list[list[int]]) -> None:
        if self._full[node]:
            return
        if not self._any[node] or right - left == 1:
            lo, hi = self._edges[left], self._edges[right] - 1
            if out and out[-1][1] + 1 == lo:
                out[-1][1] = hi
            else:
                out.append([lo, hi])
            return
        mid = (left + right) // 2
        self._collect(2 * node, left, mid, out)
        self._collect(2 * node + 1, mid, right, out)
