"""The sweep's shapes: a rule's units, steps in evaluation order, exposures, the effective view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sgaudit.engine.diff import (
    Outside,
    Rect,
    Source,
)
from sgaudit.engine.resolve import SELF
from sgaudit.model import FirewallRule, quick_init
from sgaudit.net import addresses, intervals, ports

FULL: intervals.IntervalSet = ((ports.PORT_MIN, ports.PORT_MAX),)
SELF_SOURCE = Source(token=SELF)
#: the source a rule without any source stands for (gcloud's own default for ``--source-ranges``)
_DEFAULT_SOURCE = "0.0.0.0/0"
DEFAULT = (_DEFAULT_SOURCE, Source(addrs=(addresses.cidr_interval(_DEFAULT_SOURCE),)))
VPC_LEVEL = "VPC firewall rules"
BEFORE_CLASSIC = "BEFORE_CLASSIC_FIREWALL"
#: the kind of a system policy whose place in the evaluation order Google does not document
SYSTEM_GLOBAL = "system-global"
#: the condition ``levels`` gives the allow and deny rules of such a policy: they only possibly
#: apply where they are placed (a ``goto_next`` there passes on within its level, wherever it is)
UNPLACED = "placement:undocumented"
UNPLACED_WHY = ("belongs to a global system policy, whose place in the evaluation order Google "
                 "does not document")
#: policy protocols with ports in GCP beyond tcp/udp (sctp)
PORTED_NUMBERS = frozenset({"132"})

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
