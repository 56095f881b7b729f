"""Rules as rectangles (port axis x source) per protocol, and an index of a network's rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sgaudit.engine.diff import (
    OTHER,
    Outside,
    Source,
)
from sgaudit.engine.gcp_effective.levels import applicability, levels
from sgaudit.engine.gcp_effective.shapes import (
    DEFAULT,
    FULL,
    PORTED_NUMBERS,
    SELF_SOURCE,
    Effective,
    Step,
    Unit,
)
from sgaudit.engine.gcp_effective.sweep import Sweep, evaluate
from sgaudit.model import FirewallRule, GcpInstance, GcpNetwork
from sgaudit.net import addresses, intervals, ports


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
        return out or [DEFAULT]
    out += [(t, SELF_SOURCE) if t == tag else (f"tag:{t}", Source(token=f"tag:{t}"))
            for t in rule.source_tags]
    out += [(f"sa:{a}", Source(token=f"sa:{a}")) for a in rule.source_service_accounts]
    out += [(o, Source(token=o)) for o in rule.source_other]
    return out or [DEFAULT]


def _port_pieces(protocol: str, port_ranges: Sequence[tuple[int, int]],
                 keys: Sequence[str]) -> list[tuple[int, int, tuple[tuple[str, intervals.IntervalSet], ...]]]:
    """(from_port, to_port, pieces) per port range; AWS's spelling of "all" (-1) where a
    protocol has no ports, 0-65535 for every port of a ported protocol."""
    if protocol == ports.ALL:
        return [(-1, -1, tuple((k, FULL) for k in keys))]
    if not port_ranges:
        if protocol in ports.PORTED or protocol in PORTED_NUMBERS:
            return [(ports.PORT_MIN, ports.PORT_MAX, ((protocol, FULL),))]
        return [(-1, -1, ((protocol, FULL),))]
    if protocol in ports.ICMP:  # GCP has no ports for icmp; a range would be meaningless
        return [(-1, -1, ((protocol, FULL),))]
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
        self._prefixes: dict[tuple[object, ...], Sweep] = {}

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
            done = self._prefixes[key] = Sweep(steps[:n], self.keys)
            done.run()
        return done.copy(steps).run(start=n)
