"""Protocols and port intervals.

Every protocol is mapped onto one integer axis ``0..65535`` so that one piece of interval
arithmetic serves them all: tcp and udp use the port; icmp and icmpv6 use
``type * 256 + code`` (so "type 8, any code" is one interval); protocols without ports
use the whole axis.  Protocol ``-1`` stands for every protocol and is expanded by callers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

PORT_MIN = 0
PORT_MAX = 65535
ALL = "-1"

Interval = tuple[int, int]
IntervalSet = tuple[Interval, ...]

_PROTOCOL_NAMES = {
    "tcp": "tcp",
    "6": "tcp",
    "udp": "udp",
    "17": "udp",
    "icmp": "icmp",
    "1": "icmp",
    "icmpv6": "icmpv6",
    "58": "icmpv6",
    "-1": ALL,
    "all": ALL,
}
PORTED = frozenset({"tcp", "udp"})
ICMP = frozenset({"icmp", "icmpv6"})
#: The protocols that reports spell out; every other one is "all other protocols".
NAMED = ("tcp", "udp", "icmp", "icmpv6")


def normalize_protocol(value: object) -> str | None:
    """Canonical protocol name ("tcp", "udp", "icmp", "icmpv6", "-1" or a number), or None."""
    text = str(value).strip().lower()
    if text in _PROTOCOL_NAMES:
        return _PROTOCOL_NAMES[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    return None


def axis_interval(protocol: str, from_port: int, to_port: int) -> Interval:
    """The part of the port axis that an AWS (protocol, FromPort, ToPort) triple allows."""
    if protocol in PORTED:
        if from_port < 0 or to_port < 0:
            return (PORT_MIN, PORT_MAX)
        return (min(from_port, to_port), max(from_port, to_port))
    if protocol in ICMP:
        if from_port < 0:
            return (PORT_MIN, PORT_MAX)
        if to_port < 0:
            return (from_port * 256, from_port * 256 + 255)
        return (from_port * 256 + to_port, from_port * 256 + to_port)
    return (PORT_MIN, PORT_MAX)


def normalize(intervals: Iterable[Interval]) -> IntervalSet:
    """Sorted, disjoint, non-adjacent intervals covering the same integers."""
    out: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def subtract(base: IntervalSet, minus: IntervalSet) -> IntervalSet:
    """``base - minus`` for normalised interval sets."""
    if len(base) == 1:  # the common case: one range, fewer index operations
        return _subtract_one(base[0], minus)
    result: list[Interval] = []
    j = 0
    for lo, hi in base:
        cur = lo
        while j < len(minus) and minus[j][1] < cur:
            j += 1
        k = j
        while k < len(minus) and minus[k][0] <= hi:
            mlo, mhi = minus[k]
            if mlo > cur:
                result.append((cur, mlo - 1))
            cur = max(cur, mhi + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            result.append((cur, hi))
    return tuple(result)


def _subtract_one(base: Interval, minus: IntervalSet) -> IntervalSet:
    lo, hi = base
    out: list[Interval] = []
    cur = lo
    for mlo, mhi in minus:
        if mhi < cur:
            continue
        if mlo > hi:
            break
        if mlo > cur:
            out.append((cur, mlo - 1))
        cur = mhi + 1
        if cur > hi:
            return tuple(out)
    if cur == lo:
        return (base,)
    out.append((cur, hi))
    return tuple(out)


def intersect(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    """``a & b`` for normalised interval sets."""
    if len(a) == 1 and len(b) == 1:  # the common case, without the loop
        lo, hi = max(a[0][0], b[0][0]), min(a[0][1], b[0][1])
        return ((lo, hi),) if lo <= hi else ()
    result: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            result.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(result)


def covers(outer: IntervalSet, inner: IntervalSet) -> bool:
    if len(outer) == 1 and len(inner) == 1:
        return outer[0][0] <= inner[0][0] and inner[0][1] <= outer[0][1]
    return not subtract(inner, outer)


def every_port(protocol: str, axis: IntervalSet) -> bool:
    """tcp/udp on every port: 1-65535 opens as much as 0-65535 (port 0 is not a real port)."""
    return protocol in PORTED and covers(axis, ((1, PORT_MAX),))


def format_axis(protocol: str, intervals: Sequence[Interval]) -> str:
    """Human text for a set of axis intervals of one protocol: "22, 8786-8787"."""
    if tuple(intervals) == ((PORT_MIN, PORT_MAX),):
        return "all ports" if protocol in PORTED else ("all types" if protocol in ICMP else "all")
    parts = []
    for lo, hi in intervals:
        if protocol in ICMP:
            parts.append(_format_icmp(lo, hi))
        else:
            parts.append(str(lo) if lo == hi else f"{lo}-{hi}")
    return ", ".join(parts)


def _format_icmp(lo: int, hi: int) -> str:
    if lo % 256 == 0 and hi % 256 == 255:
        first, last = lo // 256, hi // 256
        return f"type {first}" if first == last else f"types {first}-{last}"
    if lo == hi:
        return f"type {lo // 256} code {lo % 256}"
    return f"type {lo // 256} code {lo % 256} - type {hi // 256} code {hi % 256}"


def parse_port_spec(value: object) -> Interval | None:
    """A policy port: an int, or a "lo-hi" string. None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value, value) if 1 <= value <= PORT_MAX else None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_port_spec(int(text))
        lo, sep, hi = text.partition("-")
        if sep and lo.strip().isdigit() and hi.strip().isdigit():
            a, b = int(lo), int(hi)
            if 1 <= a <= b <= PORT_MAX:
                return (a, b)
    return None
