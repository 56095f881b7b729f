"""Google Cloud firewall rules -> what is effectively reachable on one network tag. Pure.

GCP evaluates ingress to an instance in levels: hierarchical firewall policies (organization
first), then regional system policies (Google-managed), then - by the network's enforcement
order - VPC firewall rules and the global and regional network firewall policies, then the
implied deny.  (Global system policies, whose place Google does not document, come right after
the regional system ones, their allow and deny rules only possibly applying.)  Within a level
the lowest priority number decides; for VPC rules a deny beats an allow at equal priority; a
policy's ``goto_next`` hands the matched traffic to the next level; ``allow`` and ``deny`` end
evaluation.

This module sweeps the rules that apply to a target in that order, over the same rectangles the
differ uses (``diff.Rect``: a port axis x a source), and keeps two views:

* **exposure** (worst case for extra ingress): the part of each allow rule that no *certain*
  deny (nor ``goto_next`` of its own level) took before it.  Earlier allows are *not*
  subtracted: a redundant allow is still exposure, since removing the other must not expose it.
* **assurance** (worst case for required ingress): what is allowed for certain - the first
  decisive rule is an allow that certainly applies.  Rules that only *possibly* apply (service
  accounts without instances, secure tags) never satisfy a required rule, and take it away when
  they deny (or might pass it on).

Each part taken away from a required rule remembers the rule that took it, so a missing finding
can name it.  The assurance view is asked only of the required rules: ``shortfalls`` walks, for
one required rule, just the rules that meet it, clipped to it (set operations commute with
clipping, so this is the full view restricted to the required rule).  The full view over every
rule (``evaluate(..., full=True)``) remains as the reference the tests compare it with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, NamedTuple, Protocol, TypeVar

from sgaudit import addresses, intervals, ports
from sgaudit.engine.diff import (
    OTHER,
    Outside,
    Rect,
    Source,
    address_rects,
    uncovered,
    uncovered_contained,
)
from sgaudit.engine.resolve import SELF
from sgaudit.model import UNKNOWN, FirewallPolicy, FirewallRule, GcpInstance, GcpNetwork, quick_init

_FULL: intervals.IntervalSet = ((ports.PORT_MIN, ports.PORT_MAX),)
_SELF_SOURCE = Source(token=SELF)
#: the source a rule without any source stands for (gcloud's own default for ``--source-ranges``)
_DEFAULT_SOURCE = "0.0.0.0/0"
_DEFAULT = (_DEFAULT_SOURCE, Source(addrs=(addresses.cidr_interval(_DEFAULT_SOURCE),)))
VPC_LEVEL = "VPC firewall rules"
BEFORE_CLASSIC = "BEFORE_CLASSIC_FIREWALL"
#: the kind of a system policy whose place in the evaluation order Google does not document
SYSTEM_GLOBAL = "system-global"
#: the condition ``levels`` gives the allow and deny rules of such a policy: they only possibly
#: apply where they are placed (a ``goto_next`` there passes on within its level, wherever it is)
UNPLACED = "placement:undocumented"
_UNPLACED_WHY = ("belongs to a global system policy, whose place in the evaluation order Google "
                 "does not document")
#: policy protocols with ports in GCP beyond tcp/udp (sctp)
_PORTED_NUMBERS = frozenset({"132"})

Regions = dict[str, list[Rect]]


class Unit(NamedTuple):
    """One rule x protocol x port range x source: what one extra finding names.  (A named
    tuple: tens of thousands are made per network, one per rule and source.)"""

    protocol: str
    from_port: int
    to_port: int
    #: a canonical CIDR, the target's own tag (self), "tag:…", "sa:…" or a policy token
    source: str
    src: Source
    #: (protocol key, port axis) pieces; a "-1" unit has one per protocol key
    pieces: tuple[tuple[str, intervals.IntervalSet], ...]
    #: the pieces with the source: what an allow exposes when nothing earlier touched it
    #: (made for allows only)
    whole: tuple[Outside, ...] = ()


@quick_init
@dataclass(frozen=True, slots=True)
class Step:
    """A rule as it applies to the target, at its place in evaluation order."""

    rule: FirewallRule
    level: str
    #: None when it certainly applies, else why it only possibly does
    possibly: str | None
    units: tuple[Unit, ...]

    @property
    def label(self) -> str:
        """How reasons name the rule: "deny-ssh (priority 100)"."""
        where = "" if self.level == VPC_LEVEL else f" of {self.level}"
        maybe = ", possibly applies" if self.possibly else ""
        return f"{self.rule.name} ({self.rule.action}, priority {self.rule.priority}{where}{maybe})"


@quick_init
@dataclass(frozen=True, slots=True)
class Exposure:
    """What of an allow unit is effectively reachable, and which earlier rules blocked the rest."""

    step: Step
    unit: Unit
    pieces: tuple[Outside, ...]
    blocked_by: tuple[Step, ...]
    #: nothing before it touched the unit: the pieces are the whole unit
    whole: bool = False


@dataclass(slots=True)
class Effective:
    """The outcome of one target's sweep."""

    steps: tuple[Step, ...]
    exposures: list[Exposure] = field(default_factory=list)
    #: assurance view over every rule (only when swept with ``full``): what is allowed for
    #: certain, per protocol key, and the rules that took ingress away, with what they took
    allowed: Regions = field(default_factory=dict)
    taken: list[tuple[Step, Regions]] = field(default_factory=list)
    keys: tuple[str, ...] = ()
    full: bool = False


# -- which rules apply -------------------------------------------------------------------------
def applicability(rule: FirewallRule, tag: str,
                  instances: Sequence[GcpInstance] | None) -> tuple[bool, str | None]:
    """(applies at all, why only possibly).  A rule applies to the tag when its target tags hold
    it or it names no target; service-account targets are decided from the instances that carry
    the tag when they were read; secure tags cannot be checked, so they possibly apply.  A rule
    of a regional policy applies only to the tag's instances in its region.  A match field that
    narrows the rule and that sgaudit cannot evaluate (a network type, destination ranges …)
    makes it only possibly apply: it is ANDed with the rule's sources, never a source itself."""
    applies, why = _targets(rule, tag, instances)
    if applies and rule.region is not None:
        applies, why = _in_region(rule, rule.region, tag, instances, why)
    if applies and rule.conditions:
        narrowing = [c for c in rule.conditions if c != UNPLACED]
        if narrowing:
            why = _also(why, "is narrowed by " + ", ".join(narrowing))
        if len(narrowing) < len(rule.conditions):
            why = _also(why, _UNPLACED_WHY)
    return applies, why


def _targets(rule: FirewallRule, tag: str,
             instances: Sequence[GcpInstance] | None) -> tuple[bool, str | None]:
    if rule.target_secure_tags:
        return True, "targets secure tags " + ", ".join(rule.target_secure_tags)
    if rule.target_tags:
        return tag in rule.target_tags, None
    if not rule.target_service_accounts:
        return True, None
    accounts = set(rule.target_service_accounts)
    why = "targets service account " + ", ".join(rule.target_service_accounts)
    if instances is None:
        return True, why + " (instances not read)"
    carriers = [i for i in instances if tag in i.tags]
    running = [i for i in carriers if accounts & set(i.service_accounts)]
    if not carriers:
        return True, why + " (no instance carries the tag)"
    if not running:
        return False, None
    if len(running) < len(carriers):
        return True, why + f" ({len(running)} of {len(carriers)} instances run as it)"
    return True, None


def _in_region(rule: FirewallRule, region: str, tag: str, instances: Sequence[GcpInstance] | None,
               why: str | None) -> tuple[bool, str | None]:
    """A regional rule, after its targets: certain only when every instance carrying the tag is
    in its region (and the targets were certain); possible while an instance in the region (or
    of an unknown zone) may be one it targets; not at all when none can be."""
    if region == UNKNOWN:
        return True, _also(why, "belongs to a regional policy of an unknown region")
    if instances is None:
        return True, _also(why, f"belongs to a regional policy of {region}; instances not read")
    carriers = [i for i in instances if tag in i.tags]
    if not carriers:
        return True, _also(why, f"belongs to a regional policy of {region}; no instance carries the tag")
    accounts = set(rule.target_service_accounts)
    targeted = [i for i in carriers if not accounts or accounts & set(i.service_accounts)]
    inside = sum(i.region == region for i in targeted)
    unknown = sum(not i.region for i in targeted)
    if inside + unknown == 0:
        return False, None
    if inside == len(carriers):
        return True, why
    where = f"{inside} of {len(carriers)} instances are in {region}"
    if unknown:
        where += f", {unknown} in an unknown zone"
    return True, _also(why, f"belongs to a regional policy of {region}: {where}")


def _also(why: str | None, more: str) -> str:
    return f"{why}; {more}" if why else more


def levels(network: GcpNetwork, vpc_rules: Sequence[FirewallRule]) -> list[tuple[str, list[FirewallRule]]]:
    """The levels of evaluation, in order, each with its ingress rules by priority."""
    policies = list(network.policies or ())
    hier = sorted((p for p in policies if p.kind == "hierarchical"), key=lambda p: p.order)
    net = [p for p in policies if p.kind == "network"]
    reg = [p for p in policies if p.kind == "regional"]
    system = [p for kind in ("system", SYSTEM_GLOBAL) for p in policies if p.kind == kind]
    vpc = (VPC_LEVEL, sorted(_live(vpc_rules), key=lambda r: (r.priority, r.action != "deny")))
    after = [_policy_level(p) for p in (*net, *reg)]
    out = [_policy_level(p) for p in hier]
    out += [_unplaced(_policy_level(p)) if p.kind == SYSTEM_GLOBAL else _policy_level(p) for p in system]
    if network.enforcement_order == BEFORE_CLASSIC:
        out.extend([*after, vpc])
    else:
        out.extend([vpc, *after])
    return out


def _unplaced(level: tuple[str, list[FirewallRule]]) -> tuple[str, list[FirewallRule]]:
    """A global system policy's level, its allow and deny rules marked ``UNPLACED``."""
    name, rules = level
    return name, [r if r.action == "goto_next" else replace(r, conditions=(*r.conditions, UNPLACED))
                  for r in rules]


def _policy_level(policy: FirewallPolicy) -> tuple[str, list[FirewallRule]]:
    kind = {"hierarchical": "hierarchical policy", "network": "network policy",
            "regional": "regional network policy", "system": "regional system policy",
            SYSTEM_GLOBAL: "global system policy"}.get(policy.kind, f"{policy.kind} policy")
    region = {None: "", UNKNOWN: " (region unknown)"}.get(policy.region, f" ({policy.region})")
    return f"{kind} {policy.name}{region}", sorted(_live(policy.rules), key=lambda r: r.priority)


def _live(rules: Iterable[FirewallRule]) -> Iterable[FirewallRule]:
    """Disabled rules do not exist; egress rules do not decide ingress."""
    return (r for r in rules if not r.disabled and r.direction.upper() == "INGRESS")


# -- rules as rectangles -----------------------------------------------------------------------
def protocol_keys(rules: Iterable[FirewallRule]) -> tuple[str, ...]:
    """The protocols a "-1" rule is split into: the named ones, every numbered protocol some rule
    names (so a deny of one of them can cut it out), and "all other protocols"."""
    numbers = sorted({m.protocol for r in rules for m in r.matches
                      if m.protocol not in ports.NAMED and m.protocol != ports.ALL}, key=_num)
    return (*ports.NAMED, *numbers, OTHER)


def _num(protocol: str) -> int:
    return int(protocol) if protocol.isdigit() else 256


def units_of(rule: FirewallRule, tag: str, keys: Sequence[str]) -> tuple[Unit, ...]:
    sources = _sources(rule, tag)
    allows = rule.action not in ("deny", "goto_next")
    out: list[Unit] = []
    for match in rule.matches:
        for from_port, to_port, pieces in _port_pieces(match.protocol, match.ports, keys):
            for name, src in sources:
                whole = tuple(Outside(k, axis, addrs=src.addrs, token=src.token)
                              for k, axis in pieces) if allows else ()
                out.append(Unit(match.protocol, from_port, to_port, name, src, pieces, whole))
    return tuple(out)


def _sources(rule: FirewallRule, tag: str) -> list[tuple[str, Source]]:
    """Each source of a rule (ranges, tags, service accounts, other policy sources: any of them
    matches).  A source tag equal to the target's own tag is the target itself (self)."""
    out = [(r, Source(addrs=(addresses.cidr_interval(r),))) for r in rule.source_ranges]
    if not (rule.source_tags or rule.source_service_accounts or rule.source_other):
        return out or [_DEFAULT]
    out += [(t, _SELF_SOURCE) if t == tag else (f"tag:{t}", Source(token=f"tag:{t}"))
            for t in rule.source_tags]
    out += [(f"sa:{a}", Source(token=f"sa:{a}")) for a in rule.source_service_accounts]
    out += [(o, Source(token=o)) for o in rule.source_other]
    return out or [_DEFAULT]


def _port_pieces(protocol: str, port_ranges: Sequence[tuple[int, int]],
                 keys: Sequence[str]) -> list[tuple[int, int, tuple[tuple[str, intervals.IntervalSet], ...]]]:
    """(from_port, to_port, pieces) per port range; AWS's spelling of "all" (-1) where a
    protocol has no ports, 0-65535 for every port of a ported protocol."""
    if protocol == ports.ALL:
        return [(-1, -1, tuple((k, _FULL) for k in keys))]
    if not port_ranges:
        if protocol in ports.PORTED or protocol in _PORTED_NUMBERS:
            return [(ports.PORT_MIN, ports.PORT_MAX, ((protocol, _FULL),))]
        return [(-1, -1, ((protocol, _FULL),))]
    if protocol in ports.ICMP:  # GCP has no ports for icmp; a range would be meaningless
        return [(-1, -1, ((protocol, _FULL),))]
    return [(lo, hi, ((protocol, ((lo, hi),)),)) for lo, hi in port_ranges]


def _by_tag(rule: FirewallRule) -> bool:
    """Whether a rule certainly applies to exactly the tags it targets (a VPC rule by network
    tag): then the index files it under them, without asking ``applicability``."""
    return bool(rule.target_tags) and not rule.target_secure_tags and rule.region is None \
        and not rule.conditions


class NetworkIndex:
    """A network's rules in evaluation order, indexed by target tag, so that each of thousands
    of targets visits only its own rules and the untargeted ones."""

    def __init__(self, network: GcpNetwork, vpc_rules: Sequence[FirewallRule]) -> None:
        self.network = network
        self.flat = [(level, rule) for level, rules in levels(network, vpc_rules) for rule in rules]
        self.keys = protocol_keys(rule for _, rule in self.flat)
        self.by_tag: dict[str, list[int]] = {}
        self.general: list[int] = []
        for i, (_, rule) in enumerate(self.flat):
            if _by_tag(rule):
                for t in dict.fromkeys(rule.target_tags):
                    self.by_tag.setdefault(t, []).append(i)
            else:
                self.general.append(i)
        self._steps: dict[tuple[int, str | None], Step] = {}
        self._prefixes: dict[tuple[object, ...], _Sweep] = {}

    def steps(self, tag: str, instances: Sequence[GcpInstance] | None) -> tuple[Step, ...]:
        """The rules that apply to the tag, in evaluation order."""
        out = []
        own = self.by_tag.get(tag)
        for i in sorted((*own, *self.general)) if own else self.general:
            level, rule = self.flat[i]
            if _by_tag(rule):  # indexed: applies
                out.append(self._step(i, level, rule, None, tag))
                continue
            applies, possibly = applicability(rule, tag, instances)
            if applies:
                out.append(self._step(i, level, rule, possibly, tag))
        return tuple(out)

    def _step(self, i: int, level: str, rule: FirewallRule, possibly: str | None, tag: str) -> Step:
        """A step depends on the tag only where a source tag is the target's own (self): the
        others are made once and shared by every tag."""
        if tag in rule.source_tags:
            return Step(rule, level, possibly, units_of(rule, tag, self.keys))
        found = self._steps.get((i, possibly))
        if found is None:
            found = self._steps[(i, possibly)] = Step(rule, level, possibly,
                                                      units_of(rule, tag, self.keys))
        return found

    def effective(self, tag: str, instances: Sequence[GcpInstance] | None) -> Effective:
        """The sweep of the tag's steps.  The hierarchical policies come first and apply alike
        to every tag of the network (bar service accounts), so their part of the sweep is done
        once per distinct prefix and resumed from for each tag."""
        steps = self.steps(tag, instances)
        n = 0
        while n < len(steps) and steps[n].level.startswith("hierarchical"):
            n += 1
        if n == 0:
            return evaluate(steps, self.keys)
        key = tuple((id(s.rule), s.possibly) for s in steps[:n])
        done = self._prefixes.get(key)
        if done is None:
            done = self._prefixes[key] = _Sweep(steps[:n], self.keys)
            done.run()
        return done.copy(steps).run(start=n)


# -- the sweep ---------------------------------------------------------------------------------
class _Sweep:
    """State of one target's sweep; see the module docstring for the two views."""

    def __init__(self, steps: tuple[Step, ...], keys: tuple[str, ...], full: bool = False) -> None:
        self.full = full
        self.result = Effective(steps, keys=keys, full=full)
        #: exposure view: what certain denies took (across levels), with the rule per part
        self.denied: dict[str, _RectIndex] = {}
        self.denials: list[tuple[Step, Regions]] = []
        #: each denied rect's deny, by the rect's id: (its place among the denials, the step)
        self.owner: dict[int, tuple[int, Step]] = {}
        #: assurance view: traffic decided (allowed or denied) by an earlier rule
        self.decided: dict[str, _RectIndex] = {}
        #: within the current level: traffic passed on by goto_next, certainly / possibly
        self.passed: dict[str, _RectIndex] = {}
        self.maybe_passed: dict[str, _RectIndex] = {}
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

    def copy(self, steps: tuple[Step, ...]) -> _Sweep:
        """A sweep of ``steps`` that starts in this one's state (their common prefix is done);
        the level's goto_next state is left behind, as the next step opens another level."""
        other = _Sweep(steps, self.result.keys, self.full)
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
            new = _minus(key, axis, unit.src, _near(self.decided, self.passed, key, axis))
            _add(self.result.allowed, key, new)
            _put(self.decided, key, _rects(new))

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
            overlapping = [r for r in hits if _overlaps(r, axis, unit.src)]  # boxes may meet in vain
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
                    _add(mine, key, _minus(key, axis, unit.src,
                                              _near(self.passed, self.maybe_passed, key, axis)))
                if self.full:
                    _add(took, key, _minus(key, axis, unit.src, _near(self.decided, self.passed, key, axis)))
        for key, rects in mine.items():
            _put(self.denied, key, rects)
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
                    _put(self.passed, key, rect)
                else:
                    _put(self.maybe_passed, key, rect)
                    if self.full:
                        _add(took, key, _minus(key, axis, unit.src,
                                                  _near(self.decided, self.passed, key, axis)))
        self._take(step, took)

    def _take(self, step: Step, took: Regions) -> None:
        if any(took.values()):
            for key, rects in took.items():
                _put(self.decided, key, rects)
            self.result.taken.append((step, took))


def evaluate(steps: tuple[Step, ...], keys: tuple[str, ...], full: bool = False) -> Effective:
    """The sweep of a target's steps; ``full`` also sweeps the assurance view over every rule
    (the reference ``shortfalls`` is checked against)."""
    return _Sweep(steps, keys, full).run()


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
    by_key: dict[str, _Index[_Asked]] = {}
    for protocol, axis, src in wanted:
        if protocol == ports.ALL:
            pieces = [(k, k, _Check(_FULL, src)) for k in effective.keys]
        else:
            pieces = [(protocol, protocol if protocol in effective.keys else OTHER, _Check(axis, src))]
        for _, key, check in pieces:
            by_key.setdefault(key, _Index()).add(_Asked(check.axis, check))
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


def _show(asked: _Index[_Asked], step: Step, axis: intervals.IntervalSet, src: Source) -> None:
    """A rule's piece to the required pieces on its ports that still need it; its bounding box
    (an empty one for a token) made once."""
    addrs = src.addrs if src.token is None and src.addrs else ((1, 0),)
    box = (axis[0][0], axis[-1][1], addrs[0][0], addrs[-1][1])
    for a in asked.near(axis):
        if a.check.verdict is not True:
            a.check.see(step, axis, src, box)


def _walk(met: Sequence[tuple[Step, intervals.IntervalSet, Source]], protocol: str,
          axis: intervals.IntervalSet, src: Source, took: set[int]) -> list[Outside]:
    """The assurance sweep of ``_Sweep`` over the rules' pieces that met one required piece,
    each clipped to it; adds to ``took`` the ids of the steps that took some of it away."""
    clipped = [(step, rect) for step, there, there_src in met
               if (rect := _clip(there, there_src, axis, src)) is not None]
    return _minus(protocol, axis, src, _assured(clipped, protocol, Rect(axis, src), took))


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
        new = _rects(_minus(protocol, rect.axis, rect.source, [*decided, *passed]))
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
        return [p for k in keys for p in _minus(k, _FULL, src, allowed.get(k, ()))]
    key = protocol if protocol in keys else OTHER
    return _minus(protocol, axis, src, allowed.get(key, ()))


def takers(taken: Sequence[tuple[Step, Regions]], missing: Sequence[Outside],
           keys: Sequence[str]) -> list[Step]:
    """The rules that took away some of these missing pieces (a piece of a protocol no rule
    names is "all other protocols")."""
    out = []
    for step, regions in taken:
        for piece in missing:
            key = piece.protocol if piece.protocol in keys else OTHER
            src = Source(addrs=piece.addrs, token=piece.token)
            if any(_overlaps(r, piece.axis, src) for r in regions.get(key, ())):
                out.append(step)
                break
    return out


# -- helpers -----------------------------------------------------------------------------------
def _minus(key: str, axis: intervals.IntervalSet, src: Source, rects: Sequence[Rect]) -> list[Outside]:
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


def _overlaps(rect: Rect, axis: intervals.IntervalSet, src: Source) -> bool:
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


class _Index(Generic[_T]):
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

    def fill(self, other: _Index[_T]) -> None:
        """Start with another index's things (a sweep resumed from a shared prefix)."""
        self.wide = list(other.wide)
        self.by_port = {port: list(things) for port, things in other.by_port.items()}


class _RectIndex(_Index[Rect]):
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

    def copy(self) -> _RectIndex:
        """A sweep resumed from a shared prefix starts with the prefix's rects (few: a level's
        denies and goto_next), copied so the prefix stays as it was."""
        other = _RectIndex()
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


def _put(regions: dict[str, _RectIndex], key: str, rects: Iterable[Rect]) -> None:
    index = regions.get(key)
    if index is None:
        index = regions[key] = _RectIndex()
    index.extend(rects)


def _near(a: dict[str, _RectIndex], b: dict[str, _RectIndex], key: str,
          axis: intervals.IntervalSet) -> list[Rect]:
    x, y = a.get(key), b.get(key)
    return [*(x.near(axis) if x else ()), *(y.near(axis) if y else ())]


def _rects(pieces: Iterable[Outside]) -> list[Rect]:
    return [Rect(p.axis, Source(addrs=p.addrs, token=p.token)) for p in pieces]


def _add(regions: Regions, key: str, pieces: Iterable[Outside]) -> None:
    rects = [Rect(p.axis, Source(addrs=p.addrs, token=p.token)) for p in pieces]
    if rects:
        regions.setdefault(key, []).extend(rects)
