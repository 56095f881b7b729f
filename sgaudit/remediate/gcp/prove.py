"""The engine asked about a GCP network under a set of rules: a target's findings, and whether
a rule set leaves every other target's effective ingress as it was.  A ``--fix`` plan is proved
with these before it is shown, and the network is checked with them again after the fix.  Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sgaudit.engine import gcp_effective, gcp_findings
from sgaudit.engine.diff import Differ, Rect, Source, uncovered
from sgaudit.model import DesiredState, Finding, FirewallRule, GcpInstance, GcpNetwork, Group
from sgaudit.sources import gcpjson
from sgaudit.text import clean

#: how the proof names a network's instances that carry no tag: rules without targets reach them
UNTAGGED = "(instances without a tag)"
Regions = dict[str, list[Rect]]


@dataclass(frozen=True, slots=True)
class Target:
    """An audited tag with its desired state and the keys of its waived or baselined findings
    (they stay accepted: the fix does not touch them)."""

    group: Group
    desired: DesiredState
    accepted: frozenset[str] = frozenset()

    @property
    def tag(self) -> str:
        return self.group.group_id


@dataclass
class NetworkRules:
    """One network with a rule set under consideration (as read, or as a plan would leave it)."""

    network: GcpNetwork
    instances: tuple[GcpInstance, ...] | None
    rules: tuple[FirewallRule, ...]
    _index: gcp_effective.NetworkIndex | None = field(default=None, repr=False)

    @property
    def index(self) -> gcp_effective.NetworkIndex:
        if self._index is None:
            self._index = gcp_effective.NetworkIndex(self.network, self.rules)
        return self._index

    def effective(self, tag: str) -> gcp_effective.Effective:
        return self.index.effective(tag, self.instances)

    def findings(self, target: Target, differ: Differ) -> list[Finding]:
        """The target's active findings under these rules."""
        found, _ = gcp_findings.judge(target.group, target.desired, self.effective(target.tag), differ)
        return [f for f in found if f.key not in target.accepted]

    def tags(self) -> set[str]:
        """Every target of the network: each tag a rule targets or an instance carries, and the
        instances without a tag."""
        out = {t for r in self.rules for t in r.target_tags}
        out.update(t for i in self.instances or () for t in i.tags)
        return out | {UNTAGGED}

    def ingress(self, tag: str) -> tuple[tuple[str, ...], Regions, Regions]:
        """What reaches the tag: the protocol keys, every part some allow exposes (the worst
        case) and what is allowed for certain, from the engine's full sweep."""
        steps = self.index.steps(tag, self.instances)
        effective = gcp_effective.evaluate(steps, self.index.keys, full=True)
        exposed: Regions = {}
        for exposure in effective.exposures:
            for piece in exposure.pieces:
                exposed.setdefault(piece.protocol, []).append(
                    Rect(piece.axis, Source(addrs=piece.addrs, token=piece.token)))
        return effective.keys, exposed, dict(effective.allowed)


def parse_rules(raw: Iterable[Mapping[str, Any]], where: str) -> tuple[FirewallRule, ...]:
    """Firewall resources as the API returned them -> the engine's rules (ShapeError when one
    cannot be read)."""
    return tuple(gcpjson.parse_firewall(r, f"{where}[{i}]") for i, r in enumerate(raw))


def same_regions(a: Regions, b: Regions) -> bool:
    """Whether two unions of rects cover the same points."""
    for key in {*a, *b}:
        mine, theirs = a.get(key, []), b.get(key, [])
        if any(uncovered(key, r.axis, r.source, theirs) for r in mine):
            return False
        if any(uncovered(key, r.axis, r.source, mine) for r in theirs):
            return False
    return True


def changed_targets(before: NetworkRules, after: NetworkRules, skip: Iterable[str]) -> list[str]:
    """The targets (but ``skip``) whose effective ingress differs between two rule sets."""
    left = set(skip)
    out = []
    for tag in sorted(before.tags() | after.tags()):
        if tag in left:
            continue
        keys_a, exposed_a, allowed_a = before.ingress(tag)
        keys_b, exposed_b, allowed_b = after.ingress(tag)
        if keys_a != keys_b or not same_regions(exposed_a, exposed_b) or \
                not same_regions(allowed_a, allowed_b):
            out.append(tag)
    return out


def remaining(after: NetworkRules, targets: Sequence[Target], refused: Mapping[str, Iterable[str]],
              differ: Differ) -> list[str]:
    """One line per fixed tag that still has an active finding a plan did not refuse."""
    out = []
    for target in targets:
        skip = set(refused.get(target.tag, ()))
        left = [f for f in after.findings(target, differ) if f.key not in skip]
        if left:
            first = left[0]
            out.append(clean(f"{target.tag}: still {first.kind} {first.protocol} "
                             f"{first.from_port}-{first.to_port} from {first.source}: {first.reason}"
                             + (f" (and {len(left) - 1} more)" if len(left) > 1 else "")))
    return out


def problems(before: NetworkRules, after: NetworkRules, targets: Sequence[Target],
             refused: Mapping[str, Iterable[str]], differ: Differ, verb: str = "would change") -> list[str]:
    """Why ``after`` is not what a fix promises (empty: proved): a fixed tag not compliant (but
    for the refused parts), or another target whose effective ingress changed."""
    out = remaining(after, targets, refused, differ)
    for tag in changed_targets(before, after, (t.tag for t in targets)):
        out.append(clean(f"{tag}: its effective ingress {verb}, and it is not a target of the fix"))
    return out
