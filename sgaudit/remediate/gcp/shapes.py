"""Google Cloud firewall rules as ``--fix`` writes them: what the engine computes (pieces of
ingress: a protocol key, ports, addresses or a source token) back into ``allowed``/``denied``
entries and sources, the names of the rules sgaudit inserts, and the fingerprint that tells
whether a rule changed since it was read.  Pure.

GCP's own limits shape what can be written: a rule holds one list of protocols and ports and
one set of sources (IPv4 or IPv6 ranges, not both; source tags or source service accounts,
not both); icmp has no types in a VPC rule; "all other protocols" exists only as ``all``.
What cannot be written exactly is ``Inexpressible``: that part of a fix is refused, never
approximated.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sgaudit.engine.diff import OTHER, Outside
from sgaudit.engine.resolve import SELF
from sgaudit.model import Grant
from sgaudit.net import addresses, intervals, ports

_FULL: intervals.IntervalSet = ((ports.PORT_MIN, ports.PORT_MAX),)
#: source ranges per rule sgaudit writes (GCP accepts more; smaller rules are easier to read)
MAX_RANGES = 256
NAME_MAX = 63
NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
#: the GCP spelling of the protocols that are numbers in sgaudit
_GCP_NAMES = {"132": "sctp", "icmpv6": "58"}
_WITH_PORTS = frozenset({"tcp", "udp", "132"})
#: fields GCP sets itself: a recreated rule gets new ones
OUTPUT_ONLY = ("id", "creationTimestamp", "selfLink", "kind")


class Inexpressible(ValueError):
    """A part of ingress that no firewall rule can say exactly (the message says why)."""


@dataclass(frozen=True, slots=True)
class Shape:
    """What one firewall rule matches: protocol entries and one kind of source."""

    entries: tuple[tuple[str, tuple[str, ...]], ...]
    source_ranges: tuple[str, ...] = ()
    source_tags: tuple[str, ...] = ()
    source_service_accounts: tuple[str, ...] = ()

    def fields(self, key: str) -> dict[str, Any]:
        """The rule's ``allowed`` or ``denied`` (``key``) and its source fields, every source
        field present ([] clears it when patched)."""
        return {key: [{"IPProtocol": p, **({"ports": list(ps)} if ps else {})} for p, ps in self.entries],
                "sourceRanges": list(self.source_ranges), "sourceTags": list(self.source_tags),
                "sourceServiceAccounts": list(self.source_service_accounts)}


_SourceKey = tuple[str, object]


def shapes(pieces: Iterable[Outside], keys: Sequence[str], tag: str) -> list[Shape]:
    """The fewest rules (one per kind of source and distinct protocol list) that match exactly
    these pieces; raises ``Inexpressible``.  Each protocol's ports are cut where any piece
    starts or ends, each cut gets every source that reaches all of it, and the cuts with the same
    sources make one rule: "22 from the subnet" and "8786 from anywhere" stay two rules, not
    three."""
    by_protocol: dict[str, list[Outside]] = {}
    for piece in pieces:
        by_protocol.setdefault(piece.protocol, []).append(piece)
    by_source: dict[_SourceKey, dict[str, intervals.IntervalSet]] = {}
    for protocol, found in by_protocol.items():
        for cell, sources in _cells(found, tag):
            for source in sources:
                cells = by_source.setdefault(source, {})
                cells[protocol] = intervals.normalize((*cells.get(protocol, ()), cell))
    grouped: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], list[object]] = {}
    for (kind, value), protocols in by_source.items():
        grouped.setdefault((kind, entries(protocols, keys)), []).append(value)
    out: list[Shape] = []
    for (kind, matches), values in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if kind in ("v4", "v6"):
            addrs = intervals.normalize(iv for v in values for iv in v)  # type: ignore[attr-defined]
            cidrs = addresses.to_cidrs(addrs)
            out.extend(Shape(matches, source_ranges=cidrs[i:i + MAX_RANGES])
                       for i in range(0, len(cidrs), MAX_RANGES))
        elif kind == "tag":
            out.append(Shape(matches, source_tags=tuple(sorted(map(str, values)))))
        else:
            out.append(Shape(matches, source_service_accounts=tuple(sorted(map(str, values)))))
    return out


def _cells(pieces: Sequence[Outside], tag: str) -> list[tuple[intervals.Interval, list[_SourceKey]]]:
    """One protocol's ports cut at every piece's ends, each cut with the sources of the pieces
    that cover it (addresses merged, per family)."""
    cuts = sorted({lo for p in pieces for lo, _ in p.axis} | {hi + 1 for p in pieces for _, hi in p.axis})
    out = []
    for lo, end in pairwise(cuts):
        cell = (lo, end - 1)
        covering = [p for p in pieces if intervals.covers(p.axis, (cell,))]
        if not covering:
            continue
        addrs = intervals.normalize(iv for p in covering if p.token is None for iv in p.addrs)
        sources: list[_SourceKey] = []
        for family, whole in (("v4", addresses.V4_ALL), ("v6", addresses.V6_ALL)):
            part = intervals.intersect(addrs, whole)
            if part:
                sources.append((family, part))
        sources.extend(dict.fromkeys(_token_key(p.token, tag) for p in covering if p.token is not None))
        out.append((cell, sources))
    return out


def _token_key(token: str, tag: str) -> _SourceKey:
    if token == SELF:
        return ("tag", tag)
    kind, _, value = token.partition(":")
    if kind in ("tag", "sa") and value:
        return (kind, value)
    raise Inexpressible(f"source {token} is not one a VPC firewall rule can name")


def entries(protocols: Mapping[str, intervals.IntervalSet],
            keys: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``allowed``/``denied`` entries for these protocol keys and ports: ``all`` when every
    key of the network is there whole."""
    if keys and all(protocols.get(k) == _FULL for k in keys):
        return (("all", ()),)
    out = []
    for key in sorted(protocols):
        axis = protocols[key]
        if key == OTHER:
            raise Inexpressible("\"all other protocols\" without the named ones cannot be written "
                                "as a VPC firewall rule")
        if key in _WITH_PORTS:
            spans = () if axis == _FULL else tuple(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in axis)
            out.append((_GCP_NAMES.get(key, key), spans))
        elif axis != _FULL:
            raise Inexpressible(f"{key} {ports.format_axis(key, axis)}: a VPC firewall rule "
                                "matches every type of it or none")
        else:
            out.append((_GCP_NAMES.get(key, key), ()))
    return tuple(out)


def grant_shape(grant: Grant, tag: str) -> Shape:
    """A required rule as one firewall rule (the target's own traffic: its tag as source)."""
    axis = (ports.axis_interval(grant.protocol, grant.from_port, grant.to_port),)
    if grant.protocol == ports.ALL:
        found: tuple[tuple[str, tuple[str, ...]], ...] = (("all", ()),)
    else:
        found = entries({grant.protocol: axis}, ())
    if grant.source == SELF:
        return Shape(found, source_tags=(tag,))
    if not addresses.is_cidr_source(grant.source):
        raise Inexpressible(f"source {grant.source} is not one a VPC firewall rule can name")
    return Shape(found, source_ranges=(addresses.canonical_cidr(grant.source),))


# -- names and fingerprints -------------------------------------------------------------------
def rule_name(kind: str, tag: str, salt: str, taken: Iterable[str]) -> str:
    """``sgaudit-KIND-TAG-HASH``: RFC 1035, at most 63 characters, not in ``taken``."""
    used = set(taken)
    stem = re.sub(r"[^a-z0-9-]+", "-", tag.lower()).strip("-") or "target"
    for n in range(1000):
        digest = hashlib.sha256(f"{salt}|{n}".encode()).hexdigest()[:8]
        head = f"sgaudit-{kind}-"
        room = NAME_MAX - len(head) - len(digest) - 1
        name = f"{head}{stem[:room].rstrip('-')}-{digest}".replace("--", "-")
        if NAME.match(name) and name not in used:
            return name
    raise Inexpressible(f"no free rule name for tag {tag}")  # pragma: no cover - 1000 collisions


def fingerprint(resource: Mapping[str, Any]) -> str:
    """A digest of a rule as read: any change to it (by anyone) changes this."""
    text = json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def comparable(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A rule without the fields GCP sets itself (a recreated rule gets a new id and time)."""
    return {k: v for k, v in resource.items() if k not in OUTPUT_ONLY}
