"""The sweep: rules in evaluation order, keeping what each allow exposes and what is assured."""

from __future__ import annotations

from sgaudit.engine.diff import (
    Outside,
    Rect,
)
from sgaudit.engine.gcp_effective.rect_index import (
    RectIndex,
    _add,
    _cut,
    _hits,
    _near,
    _whole,
    as_rects,
    minus,
    overlaps,
    put,
)
from sgaudit.engine.gcp_effective.shapes import Effective, Exposure, Regions, Step, Unit


# -- the sweep ---------------------------------------------------------------------------------
class Sweep:
    """State of one target's sweep; see the module docstring for the two views."""

    def __init__(self, steps: tuple[Step, ...], keys: tuple[str, ...], full: bool = False) -> None:
        self.full = full
        self.result = Effective(steps, keys=keys, full=full)
        #: exposure view: what certain denies took (across levels), with the rule per part
        self.denied: dict[str, RectIndex] = {}
        self.denials: list[tuple[Step, Regions]] = []
        #: each denied rect's deny, by the rect's id: (its place among the denials, the step)
        self.owner: dict[int, tuple[int, Step]] = {}
        #: assurance view: traffic decided (allowed or denied) by an earlier rule
        self.decided: dict[str, RectIndex] = {}
        #: within the current level: traffic passed on by goto_next, certainly / possibly
        self.passed: dict[str, RectIndex] = {}
        self.maybe_passed: dict[str, RectIndex] = {}
        #: what ``_expose_rest`` found per (pieces, source), valid until a deny or goto_next
        #: changes what is denied or passed: allows alike in ports and source are cut once
        self.cuts: dict[tuple[object, ...], tuple[tuple[Outside, ...], tuple[Step, ...], bool]] = {}

    def run(self, start: int = 0) -> Effective:
        """Sweep the steps from ``start`` (the ones before it were swept already: ``resume``)."""
        level = None
        for step in self.result.steps[start:]:
            if step.level != level:
                level = step.level
                self.passed, self.maybe_passed = {}, {}
                self.cuts.clear()
            action = step.rule.action
            if action in ("deny", "goto_next"):
                self.cuts.clear()
            if action == "deny":
                self._deny(step)
            elif action == "goto_next":
                self._goto_next(step)
            else:  # allow, apply_security_profile_group
                self._allow(step)
        return self.result

    def copy(self, steps: tuple[Step, ...]) -> Sweep:
        """A sweep of ``steps`` that starts in this one's state (their common prefix is done);
        the level's goto_next state is left behind, as the next step opens another level."""
        other = Sweep(steps, self.result.keys, self.full)
        other.denied = {k: v.copy() for k, v in self.denied.items()}
        other.denials = list(self.denials)
        other.owner = dict(self.owner)
        other.decided = {k: v.copy() for k, v in self.decided.items()}
        other.result.exposures = list(self.result.exposures)
        other.result.allowed = {k: list(v) for k, v in self.result.allowed.items()}
        other.result.taken = list(self.result.taken)
        return other

    def _allow(self, step: Step) -> None:
        for unit in step.units:
            if self._touched(unit):
                self._expose_rest(step, unit)
            else:  # the usual case: nothing before it took any of it
                self.result.exposures.append(Exposure(step, unit, unit.whole, (), True))
            if self.full and step.possibly is None:
                self._assure(unit)

    def _touched(self, unit: Unit) -> bool:
        """Whether some certain deny or goto_next before it meets the unit's bounding box."""
        for key, axis in unit.pieces:
            denied, passed = self.denied.get(key), self.passed.get(key)
            if denied is not None and denied.touches(axis, unit.src):
                return True
            if passed is not None and passed.touches(axis, unit.src):
                return True
        return False

    def _assure(self, unit: Unit) -> None:
        for key, axis in unit.pieces:
            new = minus(key, axis, unit.src, _near(self.decided, self.passed, key, axis))
            _add(self.result.allowed, key, new)
            put(self.decided, key, as_rects(new))

    def _expose_rest(self, step: Step, unit: Unit) -> None:
        """The exposure of a unit that earlier denies or goto_next may have cut."""
        key = (unit.pieces, unit.src)
        found = self.cuts.get(key)
        if found is None:
            found = self.cuts[key] = self._cut_unit(unit)
        exposed, blocked, cut = found
        if exposed or blocked:
            self.result.exposures.append(Exposure(step, unit, exposed, blocked, not cut))

    def _cut_unit(self, unit: Unit) -> tuple[tuple[Outside, ...], tuple[Step, ...], bool]:
        """(what of the unit is exposed, the denies that took part of it, whether any did)."""
        exposed: list[Outside] = []
        blockers: dict[int, Step] = {}
        cut = False
        for key, axis in unit.pieces:
            hits = _hits(axis, unit.src, _near(self.denied, self.passed, key, axis))
            overlapping = [r for r in hits if overlaps(r, axis, unit.src)]  # boxes may meet in vain
            if overlapping:
                cut = True
                exposed.extend(_cut(key, axis, unit.src, hits))
                for r in overlapping:  # the denies (not goto_next) that took part of it
                    owner = self.owner.get(id(r))
                    if owner is not None:
                        blockers[owner[0]] = owner[1]
            else:
                exposed.extend(_whole(key, axis, unit.src))
        return tuple(exposed), tuple(blockers[n] for n in sorted(blockers)), cut

    def _deny(self, step: Step) -> None:
        took: Regions = {}
        mine: Regions = {}
        for unit in step.units:
            for key, axis in unit.pieces:
                if step.possibly is None:
                    _add(mine, key, minus(key, axis, unit.src,
                                              _near(self.passed, self.maybe_passed, key, axis)))
                if self.full:
                    _add(took, key, minus(key, axis, unit.src, _near(self.decided, self.passed, key, axis)))
        for key, rects in mine.items():
            put(self.denied, key, rects)
            for r in rects:
                self.owner[id(r)] = (len(self.denials), step)
        if mine:
            self.denials.append((step, mine))
        self._take(step, took)

    def _goto_next(self, step: Step) -> None:
        """Certain: the traffic leaves this level.  Possible: for exposure, later denies of this
        level may not see it; for assurance it is as good as taken away (it may end anywhere)."""
        took: Regions = {}
        for unit in step.units:
            for key, axis in unit.pieces:
                rect = [Rect(axis, unit.src)]
                if step.possibly is None:
                    put(self.passed, key, rect)
                else:
                    put(self.maybe_passed, key, rect)
                    if self.full:
                        _add(took, key, minus(key, axis, unit.src,
                                                  _near(self.decided, self.passed, key, axis)))
        self._take(step, took)

    def _take(self, step: Step, took: Regions) -> None:
        if any(took.values()):
            for key, rects in took.items():
                put(self.decided, key, rects)
            self.result.taken.append((step, took))


def evaluate(steps: tuple[Step, ...], keys: tuple[str, ...], full: bool = False) -> Effective:
    """The sweep of a target's steps; ``full`` also sweeps the assurance view over every rule
    (the reference ``shortfalls`` is checked against)."""
    return Sweep(steps, keys, full).run()
