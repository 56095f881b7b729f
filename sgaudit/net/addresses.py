"""CIDR sets as integer intervals.

IPv4 and IPv6 share one integer line: IPv4 addresses are ``0 .. 2**32-1`` and IPv6 addresses
follow at ``2**32 + address``.  A set of CIDRs is then a normalised interval set, and "is this
/16 covered by these two /17s" is plain interval arithmetic (see ``ports``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache

from sgaudit.net import ipv6
from sgaudit.net.intervals import Interval, IntervalSet, covers, normalize

V6_OFFSET = 1 << 32
V4_ALL: IntervalSet = ((0, V6_OFFSET - 1),)
V6_ALL: IntervalSet = ((V6_OFFSET, V6_OFFSET + (1 << 128) - 1),)
INTERNET: IntervalSet = ((0, V6_OFFSET + (1 << 128) - 1),)

_PRIVATE_V4 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
               "169.254.0.0/16")
_PRIVATE_V6 = ("fc00::/7", "fe80::/10", "::1/128")


class CidrError(ValueError):
    """Not a CIDR."""


#: a prefix length as AWS and GCP write it: 0-128 in ASCII digits, no leading zero (ipaddress
#: also reads ``/00``, ``/08`` and a netmask ``/255.0.0.0``)
_PREFIX_RE = re.compile(r"[0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]")


#: every octet and IPv4 prefix length in canonical decimal (ASCII digits, no leading zero) ->
#: its value: a spelling that is no key here (" 1", "01", "1\n", "\u0661", "256") takes
#: ipaddress's slow path, which is the reference
_OCTETS = {str(i): i for i in range(256)}
_V4_PREFIXES = {str(i): i for i in range(33)}


def _fast_v4(text: str) -> tuple[int, int] | None:
    """(address, prefix) of a plain dotted-quad IPv4 CIDR, or None to take the slow path."""
    address, slash, length = text.partition("/")
    prefix = _V4_PREFIXES.get(length) if slash else 32
    octets = address.split(".")
    if prefix is None or len(octets) != 4:
        return None
    get = _OCTETS.get
    a, b, c, d = get(octets[0]), get(octets[1]), get(octets[2]), get(octets[3])
    if a is None or b is None or c is None or d is None:
        return None
    return a << 24 | b << 16 | c << 8 | d, prefix


#: canonical CIDR text -> its interval on the shared line, filled as ``parse_cidr`` parses: the
#: differ looks a rule's source up here instead of parsing it a second time (``cidr_interval``),
#: which matters when a fleet's CIDRs are all distinct and no lru cache can hit.  Bounded, like
#: every cache.
PARSED: dict[str, Interval] = {}
PARSED_LIMIT = 1 << 20  # about 150 MB at most


@lru_cache(maxsize=65536)
def parse_cidr(text: str) -> tuple[str, bool]:
    """Canonical form of a CIDR and whether the input was already canonical.

    ``10.1.0.2/16`` is accepted (host bits set) and becomes ``10.1.0.0/16``.  A bare address
    is a single host.
    """
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise CidrError(f"not a CIDR: {text!r}")
    fast = _fast_v4(raw)
    if fast is not None:
        value, prefix = fast
        size = 1 << (32 - prefix)
        network = value & ~(size - 1) & 0xFFFFFFFF
        canonical = v4_text(network, prefix) if network != value else (
            raw if "/" in raw else f"{raw}/32")
        if len(PARSED) < PARSED_LIMIT:
            PARSED[canonical] = (network, network + size - 1)
        return canonical, canonical == raw
    if "/" in raw and not _PREFIX_RE.fullmatch(raw.rsplit("/", 1)[1]):
        raise CidrError(f"not a CIDR: {raw!r} (the prefix length must be 0-128 in digits 0-9, "
                        "without leading zeros)")
    fast = ipv6.parse(raw)
    if fast is not None:
        lo, hi = _v6_block(*fast)
        canonical = f"{ipv6.address_text(lo)}/{fast[1]}"
        if len(PARSED) < PARSED_LIMIT:
            PARSED[canonical] = (lo + V6_OFFSET, hi + V6_OFFSET)
        return canonical, canonical == raw
    try:
        net = ipaddress.ip_network(raw, strict=False)
    except ValueError as exc:
        raise CidrError(f"not a CIDR: {raw!r}") from exc
    canonical = str(net)
    return canonical, canonical == raw


def read_cidr(text: str) -> str:
    """``canonical_cidr(text)`` for a reader of many distinct sources (a snapshot's rules).

    Text that is its own canonical form - a dotted quad with ASCII octets and prefix length
    without leading zeros, or IPv6 as ``ipv6.canonical_block`` accepts it, with an explicit
    ``/N`` and no host bits - is recognised here, entered in ``PARSED`` as ``parse_cidr`` enters
    it, and kept as it is, without ``parse_cidr``'s cache (which tens of thousands of distinct
    texts would each miss and evict from) and without printing it again.  Any other text (a bare
    address, host bits set, upper case, spaces, odd digits) takes ``parse_cidr``, which stays
    the reference (tests/net/test_cidr_text.py compares both)."""
    block = _canonical_v4(text) if "." in text else _canonical_v6(text)
    if block is None:
        return parse_cidr(text)[0]
    if len(PARSED) < PARSED_LIMIT:
        PARSED[text] = block
    return text


def _canonical_v4(text: str) -> Interval | None:
    """The interval of a canonical dotted-quad CIDR (``/N`` written, no host bits), else None."""
    fast = _fast_v4(text)
    if fast is None or "/" not in text:  # a bare address gains "/32"
        return None
    value, prefix = fast
    size = 1 << (32 - prefix)
    return None if value & (size - 1) else (value, value + size - 1)


def _canonical_v6(text: str) -> Interval | None:
    """The interval (on the shared line) of a canonical IPv6 CIDR, else None."""
    block = ipv6.canonical_block(text)
    if block is None:
        return None
    lo, hi = _v6_block(*block)
    return lo + V6_OFFSET, hi + V6_OFFSET


def _v6_block(value: int, prefix: int) -> Interval:
    """The first and last IPv6 address of the /prefix block holding ``value``."""
    size = 1 << (128 - prefix)
    lo = value & ~(size - 1)
    return lo, lo + size - 1


def canonical_cidr(text: str) -> str:
    return parse_cidr(text)[0]


@lru_cache(maxsize=65536)
def cidr_interval(cidr: str) -> Interval:
    fast = _fast_v4(cidr)
    if fast is not None:
        value, prefix = fast
        size = 1 << (32 - prefix)
        lo = value & ~(size - 1)
        return (lo, lo + size - 1)
    fast6 = ipv6.parse(cidr)
    if fast6 is not None:
        lo, hi = _v6_block(*fast6)
        return (lo + V6_OFFSET, hi + V6_OFFSET)
    net = ipaddress.ip_network(cidr, strict=False)
    lo = int(net.network_address)
    hi = int(net.broadcast_address)
    if net.version == 6:
        return (lo + V6_OFFSET, hi + V6_OFFSET)
    return (lo, hi)


def cidr_set(cidrs: Iterable[str]) -> IntervalSet:
    return normalize(cidr_interval(c) for c in cidrs)


@lru_cache(maxsize=16384)
def to_cidrs(intervals: IntervalSet) -> tuple[str, ...]:
    """The fewest CIDRs that cover exactly these intervals (as ipaddress.summarize_address_range
    gives them, computed on integers)."""
    out: list[str] = []
    for lo, hi in intervals:
        for a, b, version in _split_family(lo, hi):
            out.extend(v4_text(n, p) if version == 4 else f"{ipv6.address_text(n)}/{p}"
                       for n, p in _blocks(a, b, 32 if version == 4 else 128))
    return tuple(out)


def _blocks(lo: int, hi: int, bits: int) -> list[tuple[int, int]]:
    """(network, prefix) of the fewest aligned blocks covering ``lo..hi``, ascending."""
    out = []
    while lo <= hi:
        size = (lo & -lo) if lo else 1 << bits
        span = hi - lo + 1
        while size > span:
            size >>= 1
        out.append((lo, bits + 1 - size.bit_length()))
        lo += size
    return out


def v4_text(network: int, prefix: int) -> str:
    """"10.0.0.0/16" from integers, as str(IPv4Network) spells it."""
    return f"{network >> 24}.{network >> 16 & 255}.{network >> 8 & 255}.{network & 255}/{prefix}"


def interval_text(lo: int, hi: int) -> str | None:
    """The one CIDR that is exactly ``lo..hi`` on the shared line, or None when it is not one
    aligned block (callers then take ``describe``)."""
    size = hi - lo + 1
    if size & (size - 1):
        return None
    if hi < V6_OFFSET:
        return None if lo & (size - 1) else v4_text(lo, 33 - size.bit_length())
    start = lo - V6_OFFSET  # IPv6 blocks align from the start of IPv6, not of the line
    if start >= 0 and not start & (size - 1):
        return f"{ipv6.address_text(start)}/{129 - size.bit_length()}"
    return None


def _split_family(lo: int, hi: int) -> list[tuple[int, int, int]]:
    parts = []
    if lo < V6_OFFSET:
        parts.append((lo, min(hi, V6_OFFSET - 1), 4))
    if hi >= V6_OFFSET:
        parts.append((max(lo, V6_OFFSET) - V6_OFFSET, hi - V6_OFFSET, 6))
    return parts


def is_cidr_source(source: str) -> bool:
    return not (source.startswith("sg-") or source.startswith("pl-"))


#: the kinds of Google Cloud rule source that are not addresses, as findings print them
#: ("KIND:VALUE"): a source tag, a source service account, and the policy-rule sources and
#: conditions sgaudit keeps as tokens (gcppolicies); none of them is a hex word, so none reads as
#: the start of an IPv6 address
#: the GCP sources a report prints (and a waiver or allow entry may name); srcNetworkType and the
#: other narrowing match fields are conditions of a rule, never a source of their own
GCP_SOURCE_KINDS = ("tag", "sa", "srcSecureTags", "srcAddressGroups", "srcFqdns", "srcRegionCodes",
                    "srcThreatIntelligences")
_GCP_TOKEN_PREFIXES = tuple(f"{kind}:" for kind in GCP_SOURCE_KINDS)


def is_gcp_token(source: str) -> bool:
    """A GCP source that only matches itself ("tag:web", "sa:x@p.iam.gserviceaccount.com")."""
    return source.startswith(_GCP_TOKEN_PREFIXES)


@lru_cache(maxsize=1)
def private_space() -> IntervalSet:
    return cidr_set(_PRIVATE_V4 + _PRIVATE_V6)


def is_private(intervals: IntervalSet) -> bool:
    """True when every address lies in private, shared, loopback or link-local space."""
    return covers(private_space(), intervals)


def is_world(intervals: IntervalSet) -> bool:
    """True when the set holds the whole IPv4 or the whole IPv6 internet."""
    return covers(intervals, V4_ALL) or covers(intervals, V6_ALL)


def describe(intervals: IntervalSet) -> str:
    """Short human text for an address set: CIDRs, or "the whole internet"."""
    if covers(intervals, INTERNET):
        return "0.0.0.0/0 and ::/0"
    cidrs = to_cidrs(intervals)
    if len(cidrs) > 6:
        return ", ".join(cidrs[:6]) + f" and {len(cidrs) - 6} more"
    return ", ".join(cidrs)
