"""Rect arithmetic on port axes x sources: cuts, overlaps, and an index of rects by port."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Generic, Protocol, TypeVar

from sgaudit.engine.diff import (
    Outside,
    Rect,
    Source,
    address_rects,
    uncovered,
    uncovered_contained,
)
from sgaudit.engine.gcp_effective.shapes import Regions
from sgaudit.net import intervals


# -- helpers -----------------------------------------------------------------------------------
def minus(key: str, axis: intervals.IntervalSet, src: Source, rects: Sequence[Rect]) -> list[Outside]:
    """``uncovered``, after a cheap bounding-box filter: most rules of a target meet few others
    (other ports, other sources), and then the piece comes back whole without any arithmetic."""
    hits = _hits(axis, src, rects)
    return _cut(key, axis, src, hits) if hits else _whole(key, axis, src)


def _cut(key: str, axis: intervals.IntervalSet, src: Source, rects: Sequence[Rect]) -> list[Outside]:
    """``uncovered`` - and the same result - without its cut-point sweep in the usual case
    that every rect of an address source either spans the piece's ports or misses them (a
    rule on some ports against rules on all ports or on the same ports): what is left is then
    the source's addresses that no spanning rect names, on the whole axis."""
    spanning = None if src.token is not None else _spanning(axis, rects)
    if spanning is None:
        found = uncovered_contained(key, axis, src.addrs, rects) if len(src.addrs) == 1 and \
            src.token is None else None
        return uncovered(key, axis, src, rects) if found is None else found
    if not spanning:
        return [Outside(key, axis, addrs=src.addrs)] if src.addrs else []
    left = intervals.subtract(src.addrs, intervals.normalize(iv for addrs in spanning for iv in addrs))
    return [Outside(key, axis, addrs=left)] if left else []


def _spanning(axis: intervals.IntervalSet, rects: Sequence[Rect]) -> list[intervals.IntervalSet] | None:
    """The addresses of the rects that span the whole axis; None when some rect covers only part
    of it (or comes from an unknown VPC), so that only the general sweep can tell."""
    addr_rects = address_rects(rects)
    if addr_rects is None:
        return None
    spanning: list[intervals.IntervalSet] = []
    lo, hi = axis[0][0], axis[-1][1]
    single = len(axis) == 1
    for r in addr_rects:
        raxis = r.axis
        if single and len(raxis) == 1:  # one interval each: compare the ends
            rlo, rhi = raxis[0]
            if rlo <= lo and hi <= rhi:
                spanning.append(r.source.addrs)
            elif rlo <= hi and lo <= rhi:
                return None
        elif intervals.covers(raxis, axis):
            spanning.append(r.source.addrs)
        elif intervals.intersect(raxis, axis):
            return None
    return spanning


def _hits(axis: intervals.IntervalSet, src: Source, rects: Sequence[Rect]) -> list[Rect]:
    """The rects whose bounding box meets (axis x src): the only ones that can cut it."""
    if not rects:
        return []
    lo, hi = axis[0][0], axis[-1][1]
    token = src.token
    if token is not None:
        return [r for r in rects if r.source.token == token and r.axis[0][0] <= hi and lo <= r.axis[-1][1]]
    alo, ahi = src.addrs[0][0], src.addrs[-1][1]
    return [r for r in rects if r.axis[0][0] <= hi and lo <= r.axis[-1][1]
            and r.source.token is None and r.source.addrs
            and r.source.addrs[0][0] <= ahi and alo <= r.source.addrs[-1][1]]


def overlaps(rect: Rect, axis: intervals.IntervalSet, src: Source) -> bool:
    """Whether the rect and (axis x src) share a point: then subtracting it leaves less (a
    token meets the same token, addresses meet addresses)."""
    if src.token is not None:
        if rect.source.token != src.token:
            return False
    elif rect.source.token is not None or not _meet(rect.source.addrs, src.addrs):
        return False
    return _meet(rect.axis, axis)


def _meet(a: intervals.IntervalSet, b: intervals.IntervalSet) -> bool:
    if len(a) == 1 and len(b) == 1:
        return a[0][0] <= b[0][1] and b[0][0] <= a[0][1]
    return bool(intervals.intersect(a, b))


def _whole(key: str, axis: intervals.IntervalSet, src: Source) -> list[Outside]:
    return [Outside(key, axis, addrs=src.addrs, token=src.token)]


class _OnPorts(Protocol):
    @property
    def axis(self) -> intervals.IntervalSet: ...


_T = TypeVar("_T", bound=_OnPorts)


class Index(Generic[_T]):
    """Things on the port axis (rects, entries) of one protocol key, those of a single port
    apart by port: most rules name a few ports, so a piece is compared with the things of its
    own ports and the wide ones only."""

    __slots__ = ("by_port", "wide")

    def __init__(self) -> None:
        self.wide: list[_T] = []
        self.by_port: dict[int, list[_T]] = {}

    def extend(self, things: Iterable[_T]) -> None:
        for thing in things:
            self.add(thing)

    def add(self, thing: _T) -> None:
        axis = thing.axis
        if len(axis) == 1 and axis[0][0] == axis[0][1]:
            found = self.by_port.get(axis[0][0])
            if found is None:
                self.by_port[axis[0][0]] = [thing]
            else:
                found.append(thing)
        else:
            self.wide.append(thing)

    def near(self, axis: intervals.IntervalSet) -> list[_T]:
        lo, hi = axis[0][0], axis[-1][1]
        if hi - lo < 64:
            found = list(self.wide)
            for port in range(lo, hi + 1):
                found.extend(self.by_port.get(port, ()))
            return found
        return [*self.wide, *(r for things in self.by_port.values() for r in things)]

    def fill(self, other: Index[_T]) -> None:
        """Start with another index's things (a sweep resumed from a shared prefix)."""
        self.wide = list(other.wide)
        self.by_port = {port: list(things) for port, things in other.by_port.items()}


class RectIndex(Index[Rect]):
    """An index of rects, which can also say whether any of them meets a piece's bounding box
    (what ``_hits`` finds) without listing them."""

    __slots__ = ()

    def touches(self, axis: intervals.IntervalSet, src: Source) -> bool:
        lo, hi = axis[0][0], axis[-1][1]
        if self.wide and _hits_any(self.wide, lo, hi, src):
            return True
        if lo == hi:  # most rules: one port
            return _hits_any(self.by_port.get(lo, ()), lo, hi, src)
        if hi - lo < 64:
            get = self.by_port.get
            return any(_hits_any(get(port, ()), lo, hi, src) for port in range(lo, hi + 1))
        return any(_hits_any(rects, lo, hi, src) for rects in self.by_port.values())

    def copy(self) -> RectIndex:
        """A sweep resumed from a shared prefix starts with the prefix's rects (few: a level's
        denies and goto_next), copied so the prefix stays as it was."""
        other = RectIndex()
        other.fill(self)
        return other


def _hits_any(rects: Sequence[Rect], lo: int, hi: int, src: Source) -> bool:
    """``bool(_hits(...))`` for ports ``lo``-``hi``."""
    if not rects:
        return False
    token = src.token
    if token is not None:
        return any(r.source.token == token and r.axis[0][0] <= hi and lo <= r.axis[-1][1] for r in rects)
    alo, ahi = src.addrs[0][0], src.addrs[-1][1]
    return any(r.axis[0][0] <= hi and lo <= r.axis[-1][1] and r.source.token is None and r.source.addrs
               and r.source.addrs[0][0] <= ahi and alo <= r.source.addrs[-1][1] for r in rects)


def put(regions: dict[str, RectIndex], key: str, rects: Iterable[Rect]) -> None:
    index = regions.get(key)
    if index is None:
        index = regions[key] = RectIndex()
    index.extend(rects)


def _near(a: dict[str, RectIndex], b: dict[str, RectIndex], key: str,
          axis: intervals.IntervalSet) -> list[Rect]:
    x, y = a.get(key), b.get(key)
    return [*(x.near(axis) if x else ()), *(y.near(axis) if y else ())]


def as_rects(pieces: Iterable[Outside]) -> list[Rect]:
    return [Rect(p.axis, Source(addrs=p.addrs, token=p.token)) for p in pieces]


def _add(regions: Regions, key: str, pieces: Iterable[Outside]) -> None:
    rects = [Rect(p.axis, Source(addrs=p.addrs, token=p.token)) for p in pieces]
    if rects:
        regions.setdefault(key, []).extend(rects)
