"""The differ's rectangles: a port axis x a source, the pieces outside a rule, and finding keys."""

from __future__ import annotations

from dataclasses import dataclass

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
class Span:
    """What an envelope permits on one protocol and port interval, as addresses, so that a
    rule with one CIDR is judged by two binary searches (no cache of it needed).

    ``axis``: the ports on the axis; ``ports_text``: how a reason names them ("22 ", or ""
    when they are all of the protocol's);
    ``cover``: addresses for which every one of these ports is permitted (merged);
    ``near``: addresses that some permitted rect meets on any of these ports (merged);
    ``vpc``: an unknown-VPC rect is among them (the general path handles those);
    ``touches``: a rule there may cover a required rule."""

    axis: intervals.IntervalSet
    ports_text: str
    cover: intervals.IntervalSet
    cover_starts: tuple[int, ...]
    near: intervals.IntervalSet
    near_starts: tuple[int, ...]
    vpc: bool
    touches: bool
    #: see ``axis_severities``
    severities: tuple[Severity, Severity, bool]


#: what an envelope permits on one protocol and port axis: (cover, its starts, near, its
#: starts, an unknown VPC among them) - see ``Span``
AddrSpan = tuple[intervals.IntervalSet, tuple[int, ...], intervals.IntervalSet, tuple[int, ...], bool]

#: past this many entries a cache stops growing: a fleet whose rules are mostly distinct is
#: carried by the fast paths, which need no cache, and memory stays bounded
CACHE_LIMIT = 65536


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
