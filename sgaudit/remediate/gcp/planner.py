"""One Google Cloud network's fix, tag by tag: narrow, deny, restore, each tag's changes
proved alone and then all of them together (the rules are in ``gcp.plan``'s docstring)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sgaudit.engine import gcp_effective
from sgaudit.engine.diff import Differ, Outside, Rect, Source, uncovered
from sgaudit.model import Finding, Grant, GroupResult
from sgaudit.net import intervals, ports
from sgaudit.remediate.gcp import prove, shapes
from sgaudit.remediate.gcp.changes import Action, GcpChange, NetworkPlan
from sgaudit.remediate.gcp.prove import NetworkRules, Target
from sgaudit.remediate.gcp.shapes import Inexpressible, Shape
from sgaudit.sources.awsjson import ShapeError
from sgaudit.text import clean

NETWORK_URL = "https://www.googleapis.com/compute/v1/projects/{project}/global/networks/{network}"
#: the priority of an allow that restores required ingress no rule took away
DEFAULT_PRIORITY = 1000
DESCRIPTION = "sgaudit --fix (scan {scan}): {why}"
DESCRIPTION_MAX = 2048
#: the order of a network's changes: what keeps access first, what narrows it last
_ORDER = {"allow": 0, "deny": 1, "patch": 2, "delete": 3}


@dataclass
class _TagWork:
    target: Target
    changes: list[GcpChange] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    refused_keys: set[str] = field(default_factory=set)

    @property
    def tag(self) -> str:
        return self.target.tag

    def refuse(self, line: str, *findings: Finding) -> None:
        self.refused.append(clean(f"{self.tag}: {line}"))
        self.refused_keys.update(f.key for f in findings)


class Planner:
    """One network's plan, tag by tag, each tag proved alone, then all of them together."""

    def __init__(self, before: NetworkRules, seen: Mapping[str, Mapping[str, Any]],
                 names: set[str], scan: str) -> None:
        self.before, self.seen, self.names, self.scan = before, seen, names, scan
        self.differ = Differ()
        self.work: list[_TagWork] = []
        net = before.network
        self.url = NETWORK_URL.format(project=net.project, network=net.name)

    # -- one tag ----------------------------------------------------------------------------
    def plan_tag(self, result: GroupResult) -> None:
        target = Target(result.group, result.desired,
                        frozenset(f.key for f in result.findings if not f.active))
        work = _TagWork(target)
        self.work.append(work)
        effective = self.before.effective(target.tag)
        active = self.before.findings(target, self.differ)
        env = self.differ.envelope(target.desired, target.group)
        extras: dict[str, list[tuple[Finding, gcp_effective.Exposure]]] = {}
        for finding in (f for f in active if f.kind == "extra"):
            exposure = _exposure_of(finding, effective)
            if exposure is None:
                work.refuse(f"cannot tell which rule grants {_what(finding)}", finding)
                continue
            extras.setdefault(exposure.step.rule.name, []).append((finding, exposure))
        for items in extras.values():
            self._extra(work, items, effective, env)
        self._missing(work, active, effective)
        self._prove_alone(work)

    def _extra(self, work: _TagWork, items: list[tuple[Finding, gcp_effective.Exposure]],
               effective: gcp_effective.Effective, env: dict[str, list[Rect]]) -> None:
        step = items[0][1].step
        findings = [f for f, _ in items]
        if step.level != gcp_effective.VPC_LEVEL:
            work.refuse(f"{_what(findings[0])} reaches it through {step.label}; sgaudit does not "
                        "edit firewall policies", *findings)
            return
        try:
            if _own(step.rule, work.tag):
                self._narrow(work, step, env, findings)
            else:
                self._deny(work, step, [e for _, e in items], effective, env, findings)
        except Inexpressible as exc:
            work.refuse(f"{step.rule.name}: {exc}", *findings)

    def _narrow(self, work: _TagWork, step: gcp_effective.Step, env: dict[str, list[Rect]],
                findings: list[Finding]) -> None:
        """A rule of this tag alone: keep what the envelope permits of it."""
        rule, body = step.rule, self.seen[step.rule.name]
        whole = [p for u in step.units for p in u.whole]
        kept = shapes.shapes(_minus(whole, self.differ.outside_envelope(whole, env)),
                                 self.before.index.keys, work.tag)
        why = "; ".join(f"extra {_what(f)}" for f in findings[:3])
        if not kept:
            work.changes.append(self._change("delete", work.tag, rule.name, None, body,
                                             f"{why}; {rule.name} targets only {work.tag} and none of "
                                             "it is permitted: deleted", "delete"))
            return
        for shape in kept[1:]:
            self._insert(work, "allow", shape, rule.priority,
                         f"the permitted part of {rule.name}, which one rule cannot hold with the "
                         "rest; added before it is narrowed")
        patch = {k: v for k, v in kept[0].fields("allowed").items() if body.get(k, []) != v}
        work.changes.append(self._change("patch", work.tag, rule.name, patch, body,
                                         f"{why}; {rule.name} targets only {work.tag}: narrowed to "
                                         "what the envelope permits of it", "patch"))

    def _deny(self, work: _TagWork, step: gcp_effective.Step,
              exposures: list[gcp_effective.Exposure], effective: gcp_effective.Effective,
              env: dict[str, list[Rect]], findings: list[Finding]) -> None:
        """A rule others use too: deny this tag exactly what it lets in beyond the envelope."""
        keys = self.before.index.keys
        outside = [p for e in exposures for p in self.differ.outside_envelope(e.pieces, env)]
        try:
            denies, allows = shapes.shapes(outside, keys, work.tag), []
        except Inexpressible:  # "all other protocols": deny the rule's match, allow back the rest
            whole = [p for e in exposures for p in e.unit.whole]
            denies = shapes.shapes(whole, keys, work.tag)
            allows = shapes.shapes(_minus(whole, self.differ.outside_envelope(whole, env)),
                                       keys, work.tag)
        top = self._free(work, step.rule, effective, 2 if allows else 1, findings)
        if top is None:
            return
        shared = _shared(step.rule)
        for shape in allows:
            self._insert(work, "allow", shape, top,
                         f"what the envelope permits of {step.rule.name} ({shared}), kept above the "
                         "deny below")
        for shape in denies:
            self._insert(work, "deny", shape, top + (1 if allows else 0),
                         f"extra {_what(findings[0])}"
                         + (f" and {len(findings) - 1} more" if len(findings) > 1 else "")
                         + f" from {step.rule.name} ({shared}, left alone): denied for "
                         f"{work.tag} only")

    def _missing(self, work: _TagWork, active: list[Finding],
                 effective: gcp_effective.Effective) -> None:
        target = work.target
        missing = {f.key: f for f in active if f.kind == "missing"}
        if not missing:
            return
        wanted = [(g.protocol, (_axis(g),), self.differ.source_of(g.source, target.group))
                  for g in target.desired.required]
        for grant, (left, takers) in zip(target.desired.required,
                                         gcp_effective.shortfalls(effective, wanted), strict=True):
            finding = missing.get(self._missing_key(target, grant))
            if not left or finding is None:
                continue
            self._restore(work, grant, finding, takers, effective)

    def _restore(self, work: _TagWork, grant: Grant, finding: Finding,
                 takers: list[gcp_effective.Step], effective: gcp_effective.Effective) -> None:
        policy = [s for s in takers if s.level != gcp_effective.VPC_LEVEL]
        if policy:
            work.refuse(f"required {_what(finding)} is taken away by {policy[0].label}; sgaudit "
                        "does not edit firewall policies", finding)
            return
        try:
            shape = shapes.grant_shape(grant, work.tag)
        except Inexpressible as exc:
            work.refuse(f"required {_what(finding)}: {exc}", finding)
            return
        if takers:
            first = min(takers, key=lambda s: s.rule.priority)
            priority = self._free(work, first.rule, effective, 1, [finding])
            if priority is None:
                return
            why = f"taken away by {', '.join(s.rule.name for s in takers)}; allowed again above it"
        else:
            priority, why = DEFAULT_PRIORITY, "no rule allows it"
        self._insert(work, "allow", shape, priority, f"missing {_what(finding)}: {why}")

    def _missing_key(self, target: Target, grant: Grant) -> str:
        return self.differ.effective_findings(target.group, (), [(grant, "")])[0].key

    def _free(self, work: _TagWork, rule: Any, effective: gcp_effective.Effective,
              need: int, findings: Sequence[Finding]) -> int | None:
        """The lowest of ``need`` priorities just above ``rule`` with no rule of the tag between
        them and it, or None (refused, with one line)."""
        below = [s.rule.priority for s in effective.steps
                 if s.level == gcp_effective.VPC_LEVEL and s.rule.priority < rule.priority]
        prev = max(below, default=-1)
        top = rule.priority - need
        if top > prev:
            return top
        where = ("it has priority 0" if rule.priority == 0 else
                 f"the priorities between {prev} and {rule.priority} are taken")
        work.refuse(f"no free priority above {rule.name} (priority {rule.priority}): {where}", *findings)
        return None

    # -- making changes ---------------------------------------------------------------------
    def _insert(self, work: _TagWork, kind: str, shape: Shape, priority: int, why: str) -> None:
        body: dict[str, Any] = {"name": "", "network": self.url, "priority": priority,
                                "direction": "INGRESS", "targetTags": [work.tag]}
        body.update({k: v for k, v in shape.fields("allowed" if kind == "allow" else "denied").items() if v})
        description = DESCRIPTION.format(scan=self.scan, why=why)
        body["description"] = description[:DESCRIPTION_MAX]
        salt = json.dumps(body, sort_keys=True)
        body["name"] = shapes.rule_name(kind, work.tag, salt, self.names)
        self.names.add(body["name"])
        work.changes.append(self._change("insert", work.tag, body["name"], body, None, clean(why), kind))

    def _change(self, action: Action, tag: str, name: str, body: Mapping[str, Any] | None,
                seen: Mapping[str, Any] | None, reason: str, kind: str) -> GcpChange:
        net = self.before.network
        return GcpChange(0, action, net.project, net.name, tag, name, body,
                         shapes.fingerprint(seen) if seen is not None else None, reason, (), kind)

    # -- proofs -------------------------------------------------------------------------------
    def _prove_alone(self, work: _TagWork) -> None:
        if not work.changes:
            return
        after = self._after(work.changes)
        left = [after] if isinstance(after, str) else prove.remaining(
            after, [work.target], {work.tag: work.refused_keys}, self.differ)
        if left:
            why = left[0]
            work.refused.append(clean(f"{work.tag}: its {len(work.changes)} change(s) are left out: "
                                      f"the engine does not find the tag compliant with them ({why})"))
            work.changes = []

    def _after(self, changes: Sequence[GcpChange]) -> NetworkRules | str:
        """The network under the planned rules, or why a planned rule is not one GCP takes."""
        rules = apply_to(self.seen, changes)
        try:
            parsed = prove.parse_rules(rules.values(), "planned rules")
        except ShapeError as exc:
            return str(exc)
        return NetworkRules(self.before.network, self.before.instances, parsed)

    def finish(self, base: NetworkPlan, seq: int) -> NetworkPlan:
        """Number the changes (what keeps access first), prove them together."""
        ordered = sorted((c for w in self.work for c in w.changes), key=lambda c: _ORDER[c.kind])
        changes = _numbered(ordered, seq)
        refused = tuple(line for w in self.work for line in w.refused)
        base = replace(base, refused_keys={w.tag: frozenset(w.refused_keys) for w in self.work})
        if changes:
            targets = [w.target for w in self.work if w.changes]
            after = self._after(changes)
            problems = [after] if isinstance(after, str) else prove.problems(
                self.before, after, targets, {w.tag: w.refused_keys for w in self.work}, self.differ)
            if problems:
                return replace(base, refused=refused, skipped="the plan does not prove: "
                               + "; ".join(problems[:3]))
        return replace(base, changes=tuple(changes), refused=refused)


def _numbered(ordered: list[GcpChange], seq: int) -> list[GcpChange]:
    """Sequence numbers; a patch or delete waits for the allows of its tag (access first), a
    deny for the allow inserted just above it for the same rule."""
    out: list[GcpChange] = []
    for i, change in enumerate(ordered):
        number = seq + i + 1
        allows = tuple(c.seq for c in out if c.tag == change.tag and c.kind == "allow")
        depends = allows if change.kind in ("patch", "delete", "deny") else ()
        out.append(replace(change, seq=number, depends_on=depends))
    return out


def apply_to(seen: Mapping[str, Mapping[str, Any]],
             changes: Iterable[GcpChange]) -> dict[str, Mapping[str, Any]]:
    """The rules as they would be after the changes."""
    rules = dict(seen)
    for c in changes:
        if c.action == "delete":
            rules.pop(c.name, None)
        elif c.action == "patch":
            rules[c.name] = {**rules[c.name], **(c.body or {})}
        else:
            rules[c.name] = dict(c.body or {})
    return rules


# -- helpers ------------------------------------------------------------------------------------
def _exposure_of(finding: Finding, effective: gcp_effective.Effective) -> gcp_effective.Exposure | None:
    name = finding.rule_ids[0] if finding.rule_ids else None
    for exposure in effective.exposures:
        unit = exposure.unit
        if (exposure.step.rule.name, unit.protocol, unit.from_port, unit.to_port, unit.source) == \
                (name, finding.protocol, finding.from_port, finding.to_port, finding.source):
            return exposure
    return None


def _own(rule: Any, tag: str) -> bool:
    """A VPC rule that reaches this tag and nothing else."""
    return (set(rule.target_tags) == {tag} and not rule.target_service_accounts
            and not rule.target_secure_tags)


def _shared(rule: Any) -> str:
    if not (rule.target_tags or rule.target_service_accounts):
        return "it targets every instance of the network"
    if rule.target_service_accounts:
        return "it targets service account " + ", ".join(rule.target_service_accounts)
    return "it also targets " + ", ".join(t for t in rule.target_tags)


def _what(finding: Finding) -> str:
    if finding.protocol == "-1":
        what = "all traffic"
    elif finding.from_port == -1:
        what = finding.protocol
    else:
        ports = str(finding.from_port) if finding.from_port == finding.to_port else \
            f"{finding.from_port}-{finding.to_port}"
        what = f"{finding.protocol} {ports}"
    return f"{what} from {finding.source}"


def _axis(grant: Grant) -> intervals.Interval:
    return ports.axis_interval(grant.protocol, grant.from_port, grant.to_port)


def _minus(pieces: Sequence[Outside], cut: Sequence[Outside]) -> list[Outside]:
    """``pieces`` without ``cut`` (the part of a rule the envelope permits)."""
    out: list[Outside] = []
    for piece in pieces:
        rects = [Rect(c.axis, Source(addrs=c.addrs, token=c.token)) for c in cut
                 if c.protocol == piece.protocol]
        out.extend(uncovered(piece.protocol, piece.axis, Source(addrs=piece.addrs, token=piece.token),
                             rects))
    return out
