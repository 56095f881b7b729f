"""The differ's rectangles: a port axis x a source, the pieces outside a rule, and finding keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from sgaudit.engine.resolve import SELF
from sgaudit.model import (
    Grant,
    Group,
    Severity,
    quick_init,
)
from sgaudit.net import intervals, ports

#: required grants not (wholly) allowed, each with the pieces missing


MissingGaps = tuple[tuple[Grant, tuple["Outside", ...]], ...]

ADMIN_PORTS: intervals.IntervalSet = ((22, 22), (23, 23), (3389, 3389), (5985, 5986))
OTHER = "other"  # every protocol but the named ones
FULL: intervals.IntervalSet = ((ports.PORT_MIN, ports.PORT_MAX),)


@quick_init
@dataclass(frozen=True, slots=True)
class Source:
    """A rule source as something comparable: addresses, or a token (sg-…, pl-…, self)."""

    addrs: intervals.IntervalSet = ()
    token: str | None = None


SELF_SOURCE = Source(token=SELF)


@quick_init
@dataclass(frozen=True, slots=True)
class Rect:
    axis: intervals.IntervalSet
    source: Source


@quick_init
@dataclass(frozen=True, slots=True)
class Outside:
    """A piece of a rule not covered: one protocol, some ports, some sources."""

    protocol: str
    axis: intervals.IntervalSet
    addrs: intervals.IntervalSet = ()
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Stretches:
    """The address line cut where an envelope's rects start and end (see ``stretches``): the
    i-th stretch starts at ``starts[i]`` (the first at the line's start) and ends where the
    next starts; ``rests[i]`` are the ports of the axis that no rect covers there (``()``: all
    of them are covered).  Neighbours never have the same rest."""

    starts: tuple[int, ...]
    rests: tuple[intervals.IntervalSet, ...]


@dataclass(frozen=True, slots=True)
class Span:
    """What an envelope permits on one protocol and port interval, so that a rule there is
    judged by a binary search (no cache of the rule needed).

    ``axis``: the ports on the axis; ``ports_text``: how a reason names them ("22 ", or ""
    when they are all of the protocol's);
    ``stretches``: the address line, with the ports each stretch leaves uncovered;
    ``tokens``: the ports that rects of each token (``sg-…``, ``pl-…``, self) cover;
    ``vpc``: an unknown-VPC rect is among them (only the general path weighs those for
    addresses);
    ``touches``: a rule there may cover a required rule."""

    axis: intervals.IntervalSet
    ports_text: str
    stretches: Stretches
    tokens: Mapping[str, intervals.IntervalSet]
    vpc: bool
    touches: bool
    #: see ``axis_severities``
    severities: tuple[Severity, Severity, bool]


#: what an envelope permits on one protocol and port axis: (cover, its starts, near, its
#: starts, an unknown VPC among them) - see ``Span``
AddrSpan = tuple[intervals.IntervalSet, tuple[int, ...], intervals.IntervalSet, tuple[int, ...], bool]

#: past this many entries a cache starts over: memory stays bounded, and what the groups being
#: diffed now need is remembered again (a cache that merely stopped growing would miss for every
#: group after the first few thousand of a large fleet in many VPCs)
CACHE_LIMIT = 65536

K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V) -> None:
    """``cache[key] = value``, emptying ``cache`` first when it holds ``CACHE_LIMIT`` entries.
    Every cache this serves maps to values computed from the key alone (entries keyed by an
    object's ``id`` hold that object, or it lives as long as the differ)."""
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def finding_key(kind: str, account: str, region: str, group_id: str, protocol: str,
                from_port: int, to_port: int, source: str) -> str:
    """Stable across runs: no rule ids, descriptions or times."""
    return f"{kind}|{account}|{region}|{group_id}|{protocol}|{from_port}|{to_port}|{source}"


def gcp_key(kind: str, group: Group, protocol: str, from_port: int, to_port: int, source: str,
             rule_name: str | None) -> str:
    """A GCP target's key: a tag is unique only within its network, and unlike AWS two rules can
    grant the same ingress, so an extra also names its rule (a name people chose, stable across
    runs - not an id the cloud assigns)."""
    key = finding_key(kind, group.account, group.region, f"{group.vpc_id}/{group.group_id}",
                      protocol, from_port, to_port, source)
    return key + (f"|{rule_name}" if rule_name else "")
