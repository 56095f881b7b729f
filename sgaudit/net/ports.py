"""Protocols and port intervals.

Every protocol is mapped onto one integer axis ``0..65535`` so that one piece of interval
arithmetic serves them all: tcp and udp use the port; icmp and icmpv6 use
``type * 256 + code`` (so "type 8, any code" is one interval); protocols without ports
use the whole axis.  Protocol ``-1`` stands for every protocol and is expanded by callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sgaudit.net.intervals import Interval, IntervalSet, covers

PORT_MIN = 0
PORT_MAX = 65535
ALL = "-1"

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


#: more digits than any number an input of sgaudit names (an int64 has 19)
MAX_DIGITS = 20


def ascii_int(text: str) -> int | None:
    """The non-negative integer that ``text`` spells in ASCII digits only, else None: every
    parser reads its numbers (ports, protocols, priorities, prefix lengths) through this.

    ``str.isdigit`` also takes superscripts (``²``, which ``int`` then refuses: a crash) and
    other scripts' digits (``١٠٠``, ``３３８９``, which ``int`` reads): a port or a protocol is
    written 0-9, and anything else is bad input, not a number.  At most MAX_DIGITS digits."""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
        return None
    return int(text)


def normalize_protocol(value: object) -> str | None:
    """Canonical protocol name ("tcp", "udp", "icmp", "icmpv6", "-1" or a number), or None.
    A number is ASCII digits (``06`` is tcp, ``٦`` is nothing)."""
    text = str(value).strip().lower()
    if text in _PROTOCOL_NAMES:
        return _PROTOCOL_NAMES[text]
    number = ascii_int(text)
    if number is not None and number <= 255:
        return _PROTOCOL_NAMES.get(str(number), str(number))
    return None


@lru_cache(maxsize=4096)
def axis_interval(protocol: str, from_port: int, to_port: int) -> Interval:
    """The part of the port axis that an AWS (protocol, FromPort, ToPort) triple allows
    (remembered: a fleet's rules name few such triples, and the differ asks for each often)."""
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
        number = ascii_int(text)
        if number is not None:
            return parse_port_spec(number)
        lo, sep, hi = text.partition("-")
        a, b = ascii_int(lo.strip()), ascii_int(hi.strip())
        if sep and a is not None and b is not None and 1 <= a <= b <= PORT_MAX:
            return (a, b)
    return None
