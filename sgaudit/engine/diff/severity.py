"""Severities of extra ingress: admin ports, world-scale and private sources."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache

from sgaudit.engine.diff.rects import ADMIN_PORTS, FULL, OTHER, Outside, Source
from sgaudit.model import (
    PUBLIC_SOURCE_KINDS,
    Rule,
    Severity,
)
from sgaudit.net import addresses, intervals, ports


def extra_severity(outside: Sequence[Outside]) -> Severity:
    """The worst of the pieces' severities (low when there are none)."""
    if len(outside) == 1:
        return _one_piece_severity(outside[0])
    return Severity.worst(_one_piece_severity(piece) for piece in outside) or Severity.LOW


def _one_piece_severity(piece: Outside) -> Severity:
    """``_piece_severity``, from integers when the piece is one address range on one port
    axis (its protocol and ports decided once per axis, as for a ``Span``)."""
    if piece.token is None and len(piece.addrs) == 1:
        lo, hi = piece.addrs[0]
        found = interval_severity(_cached_axis_severities(piece.protocol, piece.axis), lo, hi)
        if found is not None:
            return found
    return _piece_severity(piece)


@lru_cache(maxsize=4096)
def _cached_axis_severities(protocol: str, axis: intervals.IntervalSet) -> tuple[Severity, Severity, bool]:
    return axis_severities(protocol, axis)


def rule_severity(rule: Rule, source: Source) -> Severity:
    """The severity of an extra rule as it stands, whole (docs/severity.md): what the policy
    permits of it never lowers it, so the same rule rates the same under every policy."""
    if rule.protocol == ports.ALL:
        return _piece_severity(Outside(OTHER, FULL, source.addrs, source.token))
    axis = (ports.axis_interval(rule.protocol, rule.from_port, rule.to_port),)
    return _piece_severity(Outside(rule.protocol, axis, source.addrs, source.token))


def _piece_severity(piece: Outside) -> Severity:
    """critical: all traffic from public addresses, or an admin port from a world-scale range;
    high: anything else from public addresses; medium: private ranges, other groups and
    prefix lists; low: icmp from private ranges."""
    if piece.token is not None:
        return _token_severity(piece)
    public = intervals.subtract(piece.addrs, addresses.private_space())
    if not public:
        return Severity.LOW if piece.protocol in ports.ICMP else Severity.MEDIUM
    all_traffic = piece.protocol == OTHER or ports.every_port(piece.protocol, piece.axis)
    if all_traffic:
        return Severity.CRITICAL
    if _world_scale(public) and piece.protocol == "tcp" and intervals.intersect(piece.axis, ADMIN_PORTS):
        return Severity.CRITICAL
    return Severity.HIGH


def _token_severity(piece: Outside) -> Severity:
    """Other groups, prefix lists, tags and service accounts are medium; a firewall-policy
    source that stands for internet addresses (a country, a threat list, a domain, an address
    group: ``PUBLIC_SOURCE_KINDS``) is public and, since its size is unknown, world-scale."""
    kind = piece.token.partition(":")[0] if piece.token else ""
    if kind not in PUBLIC_SOURCE_KINDS:
        return Severity.MEDIUM
    _, public, admin = axis_severities(piece.protocol, piece.axis)
    return Severity.CRITICAL if admin else public


def axis_severities(protocol: str, axis: intervals.IntervalSet) -> tuple[Severity, Severity, bool]:
    """What ``_piece_severity`` decides from the protocol and ports alone (a span's, computed
    once): the severity from private addresses, from public ones, and whether a world-scale
    public source raises the latter to critical (an admin port over tcp)."""
    private = Severity.LOW if protocol in ports.ICMP else Severity.MEDIUM
    if protocol == OTHER or ports.every_port(protocol, axis):
        return private, Severity.CRITICAL, False
    admin = protocol == "tcp" and bool(intervals.intersect(axis, ADMIN_PORTS))
    return private, Severity.HIGH, admin


def interval_severity(severities: tuple[Severity, Severity, bool], lo: int, hi: int) -> Severity | None:
    """``rule_severity`` of one address range ``lo..hi`` on a protocol and port axis, from that
    axis's ``axis_severities``; None when the range straddles private space."""
    i = bisect_right(_PRIVATE_STARTS, hi) - 1  # the last private range starting at or below hi
    if i >= 0 and _PRIVATE[i][1] >= lo:  # it meets that range (and no other can contain lo..hi)
        return severities[0] if _PRIVATE[i][0] <= lo and hi <= _PRIVATE[i][1] else None
    _, public, admin = severities
    return Severity.CRITICAL if admin and _world_scale_interval(lo, hi) else public


def _world_scale_interval(lo: int, hi: int) -> bool:
    """``_world_scale`` of the one interval ``lo..hi``, by arithmetic."""
    v4 = min(hi, addresses.V6_OFFSET - 1) - lo + 1 if lo < addresses.V6_OFFSET else 0
    v6 = hi - max(lo, addresses.V6_OFFSET) + 1 if hi >= addresses.V6_OFFSET else 0
    return v4 >= 1 << 24 or v6 >= 1 << 96


#: private space and where its ranges start, for ``interval_severity``'s binary search
_PRIVATE = addresses.private_space()
_PRIVATE_STARTS = tuple(lo for lo, _ in _PRIVATE)


def _world_scale(public: intervals.IntervalSet) -> bool:
    """At least a /8 of public IPv4 space or a /32 of IPv6: reachable by "the world"."""
    v4 = sum(hi - lo + 1 for lo, hi in intervals.intersect(public, addresses.V4_ALL))
    v6 = sum(hi - lo + 1 for lo, hi in intervals.intersect(public, addresses.V6_ALL))
    return v4 >= 1 << 24 or v6 >= 1 << 96
