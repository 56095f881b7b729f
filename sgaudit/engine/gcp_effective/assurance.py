"""The assurance view, one required rule at a time: what falls short and which rules took it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from sgaudit.engine.diff import (
    OTHER,
    Outside,
    Rect,
    Source,
)
from sgaudit.engine.gcp_effective.rect_index import Index, as_rects, minus, overlaps
from sgaudit.engine.gcp_effective.shapes import FULL, Effective, Regions, Step
from sgaudit.net import intervals, ports

# -- the assurance view, one required rule at a time -------------------------------------------
Wanted = tuple[str, intervals.IntervalSet, Source]


def shortfalls(effective: Effective, wanted: Sequence[Wanted]) -> list[tuple[list[Outside], list[Step]]]:
    """For each required (protocol, axis, source): the part not allowed for certain, and the
    rules that took some of it away (in evaluation order)."""
    if effective.full:
        out = []
        for protocol, axis, src in wanted:
            left = gaps(effective.allowed, protocol, axis, src, effective.keys)
            out.append((left, takers(effective.taken, left, effective.keys)))
        return out
    checks = _checks(effective, wanted)
    out = []
    for (_, _, src), pieces in zip(wanted, checks, strict=True):
        took: set[int] = set()
        left = [p for label, check in pieces if check.verdict is not True
                for p in _walk(check.met, label, check.axis, src, took)]
        out.append((left, [s for s in effective.steps if id(s) in took] if took else []))
    return out


class _Check:
    """One required piece (one protocol key) during the pass of ``_checks``: the level last
    seen, whether a certain goto_next of it passed the piece on, the verdict (None while open,
    True: allowed at once, False: the walk decides) and the rules' pieces that met it."""

    __slots__ = ("ahi", "alo", "axis", "hi", "level", "lo", "met", "passing", "src", "token", "verdict")

    def __init__(self, axis: intervals.IntervalSet, src: Source) -> None:
        self.axis, self.src, self.token = axis, src, src.token
        self.lo, self.hi = axis[0][0], axis[-1][1]
        self.alo, self.ahi = (src.addrs[0][0], src.addrs[-1][1]) if src.token is None else (-1, 1 << 128)
        self.level: str | None = None
        self.passing = False
        self.verdict: bool | None = None
        self.met: list[tuple[Step, intervals.IntervalSet, Source]] = []

    def see(self, step: Step, axis: intervals.IntervalSet, src: Source,
            box: tuple[int, int, int, int]) -> None:
        """A rule's piece, in evaluation order.  Where the bounding boxes meet it is kept for
        the walk, and decides the verdict when it is the first that could: an allow that
        certainly applies and covers the piece settles it, unless a deny, a goto_next that
        possibly applies or a goto_next of the same level came first (a rule met in vain only
        sends the piece to the walk)."""
        plo, phi, elo, ehi = box
        if src.token != self.token or plo > self.hi or phi < self.lo or elo > self.ahi or ehi < self.alo:
            return
        self.met.append((step, axis, src))
        if self.verdict is not None:
            return
        if step.level != self.level:
            self.level, self.passing = step.level, False
        action, certain = step.rule.action, step.possibly is None
        if action == "goto_next" and certain:
            self.passing = True
        elif action in ("deny", "goto_next"):
            self.verdict = False
        elif certain and not self.passing and intervals.covers(axis, self.axis) and (
                self.token is not None or intervals.covers(src.addrs, self.src.addrs)):
            self.verdict = True


def _checks(effective: Effective, wanted: Sequence[Wanted]) -> list[list[tuple[str, _Check]]]:
    """One pass over the steps for all required pieces (a "-1" one is one piece per protocol
    key): each sees, in order, the rules' pieces on its protocol key and ports."""
    out: list[list[tuple[str, _Check]]] = []
    by_key: dict[str, Index[_Asked]] = {}
    for protocol, axis, src in wanted:
        if protocol == ports.ALL:
            pieces = [(k, k, _Check(FULL, src)) for k in effective.keys]
        else:
            pieces = [(protocol, protocol if protocol in effective.keys else OTHER, _Check(axis, src))]
        for _, key, check in pieces:
            by_key.setdefault(key, Index()).add(_Asked(check.axis, check))
        out.append([(label, check) for label, _, check in pieces])
    for step in effective.steps:
        if step.possibly is not None and step.rule.action not in ("deny", "goto_next"):
            continue  # an allow that only possibly applies is never counted on
        for unit in step.units:
            for key, axis in unit.pieces:
                asked = by_key.get(key)
                if asked is not None:
                    _show(asked, step, axis, unit.src)
    return out


class _Asked(NamedTuple):
    axis: intervals.IntervalSet
    check: _Check


def _show(asked: Index[_Asked], step: Step, axis: intervals.IntervalSet, src: Source) -> None:
    """A rule's piece to the required pieces on its ports that still need it; its bounding box
    (an empty one for a token) made once."""
    addrs = src.addrs if src.token is None and src.addrs else ((1, 0),)
    box = (axis[0][0], axis[-1][1], addrs[0][0], addrs[-1][1])
    for a in asked.near(axis):
        if a.check.verdict is not True:
            a.check.see(step, axis, src, box)


def _walk(met: Sequence[tuple[Step, intervals.IntervalSet, Source]], protocol: str,
          axis: intervals.IntervalSet, src: Source, took: set[int]) -> list[Outside]:
    """The assurance sweep of ``Sweep`` over the rules' pieces that met one required piece,
    each clipped to it; adds to ``took`` the ids of the steps that took some of it away."""
    clipped = [(step, rect) for step, there, there_src in met
               if (rect := _clip(there, there_src, axis, src)) is not None]
    return minus(protocol, axis, src, _assured(clipped, protocol, Rect(axis, src), took))


def _assured(clipped: Sequence[tuple[Step, Rect]], protocol: str, whole: Rect,
             took: set[int]) -> list[Rect]:
    """What of ``whole`` is allowed for certain, from the steps' rects clipped to it."""
    decided: list[Rect] = []
    passed: list[Rect] = []
    allowed: list[Rect] = []
    level = None
    for step, rect in clipped:
        if step.level != level:  # levels are contiguous in the sweep: the first entry of one opens it
            level, passed = step.level, []
        action, certain = step.rule.action, step.possibly is None
        if action == "goto_next" and certain:
            passed.append(rect)
            continue
        if action not in ("deny", "goto_next") and not certain:
            continue  # an allow that only possibly applies satisfies nothing
        new = as_rects(minus(protocol, rect.axis, rect.source, [*decided, *passed]))
        if not new:
            continue
        decided.extend(new)
        if action in ("deny", "goto_next"):
            took.add(id(step))
        else:
            allowed.extend(new)
        if new[0] == whole:  # all of it is decided: no later rule changes anything
            break
    return allowed


def _clip(there: intervals.IntervalSet, there_src: Source, axis: intervals.IntervalSet,
          src: Source) -> Rect | None:
    """A rule's piece within (axis x src), None when they do not meet (as ``_hits`` sees it:
    a token meets the same token, addresses meet addresses)."""
    within = intervals.intersect(there, axis)
    if not within:
        return None
    if src.token is not None:
        return Rect(within, there_src) if there_src.token == src.token else None
    if there_src.token is not None or not there_src.addrs:
        return None
    addrs = intervals.intersect(there_src.addrs, src.addrs)
    return Rect(within, Source(addrs=addrs)) if addrs else None


def gaps(allowed: Mapping[str, list[Rect]], protocol: str, axis: intervals.IntervalSet,
         src: Source, keys: Sequence[str]) -> list[Outside]:
    """The part of a required (protocol, axis, source) not allowed for certain."""
    if protocol == ports.ALL:
        return [p for k in keys for p in minus(k, FULL, src, allowed.get(k, ()))]
    key = protocol if protocol in keys else OTHER
    return minus(protocol, axis, src, allowed.get(key, ()))


def takers(taken: Sequence[tuple[Step, Regions]], missing: Sequence[Outside],
           keys: Sequence[str]) -> list[Step]:
    """The rules that took away some of these missing pieces (a piece of a protocol no rule
    names is "all other protocols")."""
    out = []
    for step, regions in taken:
        for piece in missing:
            key = piece.protocol if piece.protocol in keys else OTHER
            src = Source(addrs=piece.addrs, token=piece.token)
            if any(overlaps(r, piece.axis, src) for r in regions.get(key, ())):
                out.append(step)
                break
    return out
