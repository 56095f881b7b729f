"""A GCP target's effective ingress x its desired state -> findings and the rules shown. Pure.

The envelope check is the differ's (``Differ.outside_envelope``) and so are the findings'
shapes; this module only says which part of which rule is effective and which rule decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from sgaudit.engine.diff import Differ, Outside, Rect, Source, describe_pieces, extra_severity
from sgaudit.engine.gcp_effective import (
    Effective,
    Exposure,
    Regions,
    Step,
    Unit,
    Wanted,
    shortfalls,
    takers,
)
from sgaudit.model import AppliedRule, DesiredState, Finding, Grant, Group, Rule, Severity
from sgaudit.net import intervals, ports


class Memo:
    """Verdicts and texts that targets share (the exposures of the hierarchical policies' rules,
    what a rule matches), keyed by the object's identity and checked to be that object."""

    def __init__(self) -> None:
        self._store: dict[tuple[int, int], tuple[object, object, object]] = {}
        self._outside: dict[tuple[tuple[Outside, ...], int], tuple[object, tuple[Outside, ...]]] = {}
        self._whole: dict[tuple[object, ...], tuple[object, bool]] = {}
        self._shown: dict[int, tuple[Step, AppliedRule]] = {}
        self._listed: dict[int, tuple[Unit, Rule]] = {}

    def whole_inside(self, exposure: Exposure, env: dict[str, list[Rect]], differ: Differ) -> bool:
        """Whether a whole unit that surely applies lies inside the envelope: decided once per
        unit text (protocol key and ports, source) and envelope - Coiled's own rules are the
        same text on every tag - without building the unit's verdict."""
        unit = exposure.unit
        key = (unit.pieces, unit.source, id(env))
        entry = self._whole.get(key)
        if entry is not None and entry[0] is env:
            return entry[1]
        inside = not self.outside(exposure.pieces, env, differ)
        self._whole[key] = (env, inside)
        return inside

    def listed(self, unit: Unit, step: Step) -> Rule:
        """A unit as the views that list a group's ingress show it (shared units serve every tag)."""
        entry = self._listed.get(id(unit))
        if entry is not None and entry[0] is unit:
            return entry[1]
        rule = Rule(unit.protocol, unit.from_port, unit.to_port, unit.source, rule_id=step.rule.name,
                    description=step.rule.description or None)
        self._listed[id(unit)] = (unit, rule)
        return rule

    def shown(self, step: Step) -> AppliedRule:
        """A step as reports show it, made once per step (shared steps serve every tag)."""
        entry = self._shown.get(id(step))
        if entry is not None and entry[0] is step:
            return entry[1]
        shown = _applied(step)
        self._shown[id(step)] = (step, shown)
        return shown

    def outside(self, pieces: tuple[Outside, ...], env: dict[str, list[Rect]],
                differ: Differ) -> tuple[Outside, ...]:
        """``differ.outside_envelope``, once per distinct pieces (by value) and envelope: the
        same rule text on thousands of tags (Coiled's own rules, 0.0.0.0/0 drift) is one check."""
        key = (pieces, id(env))
        entry = self._outside.get(key)
        if entry is not None and entry[0] is env:
            return entry[1]
        found = differ.outside_envelope(pieces, env)
        self._outside[key] = (env, found)
        return found

    def get(self, a: object, b: object, make: Callable[[], object]) -> object:
        entry = self._store.get((id(a), id(b)))
        if entry is not None and entry[0] is a and entry[1] is b:
            return entry[2]
        value = make()
        self._store[(id(a), id(b))] = (a, b, value)
        return value


def judge(group: Group, desired: DesiredState, effective: Effective, differ: Differ,
          memo: Memo | None = None) -> tuple[tuple[Finding, ...], tuple[AppliedRule, ...]]:
    """Findings of one target, and its applicable rules in evaluation order."""
    memo = memo or Memo()
    env = differ.envelope(desired, group)
    extras: list[tuple[Rule, str, Severity]] = []
    for exposure in effective.exposures:
        # an untouched unit of a rule that surely applies is judged alike for every target
        whole = exposure.whole and exposure.step.possibly is None
        if whole and memo.whole_inside(exposure, env, differ):
            continue
        shared = exposure.unit if whole else exposure
        verdict = memo.get(shared, env, lambda e=exposure: _extra(e, env, differ, memo))  # type: ignore[misc]
        if verdict is not None:
            extras.append(verdict)  # type: ignore[arg-type]
    wanted = [(g.protocol, (ports.axis_interval(g.protocol, g.from_port, g.to_port),),
               differ.source_of(g.source, group)) for g in desired.required]
    missing = [m for m in (_missing(grant, want, shortfall, effective)
                           for grant, want, shortfall in zip(desired.required, wanted,
                                                             shortfalls(effective, wanted), strict=True))
               if m is not None]
    findings = differ.effective_findings(group, extras, [(g, reason) for g, reason, _ in missing])
    return findings, applied_rules(effective, findings, missing, memo)


def _extra(exposure: Exposure, env: dict[str, list[Rect]], differ: Differ,
           memo: Memo) -> tuple[Rule, str, Severity] | None:
    if not exposure.pieces:
        return None
    unit, step = exposure.unit, exposure.step
    judged = cast("tuple[str, Severity] | None", memo.get(
        exposure.pieces, env, lambda: _judged(exposure.pieces, unit.src, env, differ, memo)))
    if judged is None:
        return None
    outside_text, severity = judged
    reason = "outside the envelope: " + outside_text
    if exposure.blocked_by:
        reason += "; the rest is blocked by " + named(exposure.blocked_by)
    if step.possibly:
        reason += f"; this rule possibly applies: it {step.possibly}"
    if step.level != "VPC firewall rules":
        reason += f" ({step.level})"
    rule = Rule(unit.protocol, unit.from_port, unit.to_port, unit.source, rule_id=step.rule.name,
                description=step.rule.description or None)
    return rule, reason, severity


def _judged(pieces: tuple[Outside, ...], src: Source, env: dict[str, list[Rect]], differ: Differ,
            memo: Memo) -> tuple[str, Severity] | None:
    """What of the exposed pieces lies outside the envelope, as text, and their severity; once
    per pieces object (allows alike in ports and source, cut by the same denies, share one)."""
    outside = memo.outside(pieces, env, differ)
    if not outside:
        return None
    # like on AWS, the severity describes what the rule lets in (here: effectively), not the
    # part the policy leaves outside the envelope
    return describe_pieces(outside, src), extra_severity(pieces)


def _missing(grant: Grant, wanted: Wanted, shortfall: tuple[list[Outside], list[Step]],
             effective: Effective) -> tuple[Grant, str, list[Step]] | None:
    protocol, axis, src = wanted
    left, by = shortfall
    if not left:
        return None
    wholly = _wholly(left, protocol, axis, src, effective.keys)
    text = "not effectively allowed" if wholly else (
        "only partly effectively allowed; not covered: " + describe_pieces(left, src))
    if by:
        text += "; taken away by " + named(by)
    elif wholly:
        text = "no rule allows it"
    maybe = takers(_possible_allows(effective), left, effective.keys)
    if maybe:
        text += "; not counted (only possibly applies): " + named(maybe)
    return grant, f"{text}; required because {grant.reason}", by


def _wholly(left: Sequence[Outside], protocol: str, axis: intervals.IntervalSet, src: Source,
            keys: Sequence[str]) -> bool:
    """Whether nothing of a required rule is allowed: every piece left whole (a "-1" rule is
    one piece per protocol key, each on every port)."""
    if protocol == ports.ALL:
        every = ((ports.PORT_MIN, ports.PORT_MAX),)
        whole = {(k, every) for k in keys}
        return len(left) == len(whole) and {(p.protocol, p.axis) for p in left} == whole and all(
            p.addrs == src.addrs and p.token == src.token for p in left)
    return len(left) == 1 and left[0].addrs == src.addrs and left[0].axis == axis


#: how many rules a reason names; the rest are counted (a deny per address must not make every
#: finding's reason list thousands of rules)
NAMED_RULES = 3


def named(steps: Sequence[Step]) -> str:
    """"a (…), b (…), c (…) and 12 more": the first rules in evaluation order, the rest counted."""
    text = ", ".join(s.label for s in steps[:NAMED_RULES])
    return text + (f" and {len(steps) - NAMED_RULES} more" if len(steps) > NAMED_RULES else "")


def _possible_allows(effective: Effective) -> list[tuple[Step, Regions]]:
    out: dict[int, tuple[Step, Regions]] = {}
    for exposure in effective.exposures:
        if exposure.step.possibly is None:
            continue
        _, regions = out.setdefault(id(exposure.step), (exposure.step, {}))
        for piece in exposure.pieces:
            regions.setdefault(piece.protocol, []).append(
                Rect(piece.axis, Source(addrs=piece.addrs, token=piece.token)))
    return list(out.values())


def applied_rules(effective: Effective, findings: Sequence[Finding],
                  missing: Sequence[tuple[Grant, str, list[Step]]],
                  memo: Memo | None = None) -> tuple[AppliedRule, ...]:
    """The target's rules in evaluation order, each with the findings it decides."""
    by_rule: dict[str, list[str]] = {}
    for f in findings:
        if f.kind == "extra":
            for rule_id in f.rule_ids:
                by_rule.setdefault(rule_id, []).append(f.key)
    missing_keys = [f.key for f in findings if f.kind == "missing"]
    for (_, _, steps), key in zip(missing, missing_keys, strict=True):
        for step in steps:
            by_rule.setdefault(step.rule.name, []).append(key)
    memo = memo or Memo()
    out = []
    for s in effective.steps:
        decides = by_rule.get(s.rule.name)
        out.append(_applied(s, tuple(dict.fromkeys(decides))) if decides else memo.shown(s))
    return tuple(out)


def _applied(s: Step, decides: tuple[str, ...] = ()) -> AppliedRule:
    """A step as reports show it; one that decides nothing is shared by every target."""
    return AppliedRule(level=s.level, name=s.rule.name, priority=s.rule.priority,
                       action=s.rule.action, applies=f"possibly: {s.possibly}" if s.possibly else "yes",
                       matches=describe_step(s), decides=decides)


def allow_rules(effective: Effective, memo: Memo | None = None) -> tuple[Rule, ...]:
    """The allow rules that grant the target something (one ``Rule`` per protocol, port range
    and source), in evaluation order, for the views that list a group's ingress; a rule wholly
    blocked by an earlier deny grants nothing and shows only in the evaluation order."""
    memo = memo or Memo()
    return tuple(memo.listed(e.unit, e.step) for e in effective.exposures if e.pieces)


def describe_step(step: Step, limit: int = 4) -> str:
    """"tcp 22, 8786 from 0.0.0.0/0, tag:coiled-x" - what a rule matches, in one line."""
    if len(step.units) == 1:  # most rules: one protocol, port range and source
        return f"{_what(step.units[0])} from {step.units[0].source}"
    what = list(dict.fromkeys(_what(u) for u in step.units))
    sources = list(dict.fromkeys(u.source for u in step.units))
    return f"{_cap(what, limit)} from {_cap(sources, limit)}" if what else "nothing"


def _what(unit: Unit) -> str:
    if unit.protocol == ports.ALL:
        return "all protocols"
    return f"{unit.protocol} {_ports(unit.from_port, unit.to_port)}"


def _ports(from_port: int, to_port: int) -> str:
    if from_port == -1:
        return "all"
    return str(from_port) if from_port == to_port else f"{from_port}-{to_port}"


def _cap(items: list[str], limit: int) -> str:
    text = ", ".join(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")

