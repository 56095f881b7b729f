"""IPv6 text to integers and back without ``ipaddress``, for the spellings clouds write.

``ipaddress`` takes about 30 µs to read an IPv6 CIDR and print it again; a fleet with tens of
thousands of distinct IPv6 sources spends a second there.  ``ipaddress`` stays the reference:
``parse`` reads only colon-hex text (hextets of 1-4 hex digits in either case, at most one
``::``, an optional prefix length 0-128 written without leading zeros) and answers None for
anything else - an embedded IPv4 tail, a zone id, a space, a second ``::``, an empty or long
hextet - which the caller then hands to ``ipaddress``, so that every unusual spelling is read
(or refused, with its message) exactly as before.  ``address_text`` prints as
``str(IPv6Address(n))`` does (RFC 5952: lower case, no leading zeros, the longest run of two or
more zero hextets as ``::``, the first on ties) and leaves the ``::ffff:0:0/96`` block, whose
spelling differs between Python versions, to ``ipaddress``.  ``canonical_block`` tells, without
printing, text that is already as ``str(IPv6Network)`` prints a network (what a snapshot's rules
hold): a reader of many distinct sources then keeps the text as it is.
tests/net/test_cidr_text.py compares all three with ``ipaddress`` on random and hostile text.
"""

from __future__ import annotations

import ipaddress
import re

_COLON_HEX = re.compile(r"[0-9A-Fa-f:]+")
#: hextets as "%x" prints them (lower case, no leading zero, 1-4 digits) or empty, between
#: colons (possessive: a hextet never backtracks into a shorter one); empty hextets other
#: than one "::" are refused after the split
_HEXTET = "(?:[1-9a-f][0-9a-f]{0,3}|0)"
_PRINTED_HEXTETS = re.compile(f"{_HEXTET}?+(?::{_HEXTET}?+)*+")
#: a prefix length as the rest of sgaudit accepts one (``addresses._PREFIX_RE``) -> its value
_PREFIXES = {str(i): i for i in range(129)}
_HEXTETS = 8
#: ":0:0:" ... ":0:0:0:0:0:0:0:0:", longest first: the zero runs ``address_text`` compresses
_ZERO_RUNS = tuple(":0" * k + ":" for k in range(_HEXTETS, 1, -1))
_FORMAT = ":".join(["%x"] * _HEXTETS)
_MAPPED_V4 = 0xFFFF  # address >> 32 of ::ffff:a.b.c.d
_LAST = (1 << 128) - 1


def parse(text: str) -> tuple[int, int] | None:
    """(address, prefix length) of colon-hex IPv6 text with an optional ``/N`` (none: 128), or
    None when the text is not in that plain spelling (``ipaddress`` then decides)."""
    address, slash, length = text.partition("/")
    prefix = _PREFIXES.get(length) if slash else 128
    if prefix is None or not _COLON_HEX.fullmatch(address):
        return None
    head, double, tail = address.partition("::")
    if double:
        high = head.split(":") if head else []
        low = tail.split(":") if tail else []
        if len(high) + len(low) >= _HEXTETS:  # "::" stands for one zero hextet at least
            return None
        hextets = high + ["0"] * (_HEXTETS - len(high) - len(low)) + low
    else:
        hextets = address.split(":")
        if len(hextets) != _HEXTETS:
            return None
    for hextet in hextets:  # empty: a lone ":" at an end, or a ":::"/second "::" in the tail
        if not 0 < len(hextet) <= 4:
            return None
    return int("".join([h.zfill(4) for h in hextets]), 16), prefix


def canonical_block(text: str) -> tuple[int, int] | None:
    """(network, prefix length) of text that is already as ``str(IPv6Network)`` prints a
    network - lower-case hextets without leading zeros, the first longest run of two or more
    zero hextets as ``::``, a ``/N``, no host bits - decided without printing; None for any
    other text and for the ``::ffff:0:0/96`` block (the caller then parses and prints)."""
    address, _, length = text.partition("/")
    prefix = _PREFIXES.get(length)  # None without a "/" too
    if prefix is None or not _PRINTED_HEXTETS.fullmatch(address):
        return None
    head, double, tail = address.partition("::")
    hextets = head.split(":") if head or not double else []
    if double:
        low = tail.split(":") if tail else []
        # no zero hextet but those of a "::" for two or more: that run is the one printed as "::"
        lone_run = "0" not in hextets and "0" not in low and len(hextets) + len(low) <= _HEXTETS - 2
        hextets += ["0"] * (_HEXTETS - len(hextets) - len(low)) + low
    else:
        lone_run = "0" not in hextets  # no zero run to compress
    if len(hextets) != _HEXTETS or "" in hextets:
        return None  # not eight hextets, a lone ":" or a second "::"
    if not lone_run and _compressed(":".join(hextets)) != address:
        return None  # a zero run spelled out, "::" for one zero or not for the longest run...
    value = int("".join([h.zfill(4) for h in hextets]), 16)
    if value >> 32 == _MAPPED_V4 or value & ((1 << (128 - prefix)) - 1):
        return None
    return value, prefix


def address_text(value: int) -> str:
    """``str(ipaddress.IPv6Address(value))``, and its error for a value that is no address."""
    if value >> 32 == _MAPPED_V4 or not 0 <= value <= _LAST:
        return str(ipaddress.IPv6Address(value))
    return _compressed(_FORMAT % (value >> 112, value >> 96 & 0xFFFF, value >> 80 & 0xFFFF,
                                  value >> 64 & 0xFFFF, value >> 48 & 0xFFFF, value >> 32 & 0xFFFF,
                                  value >> 16 & 0xFFFF, value & 0xFFFF))


def _compressed(plain: str) -> str:
    """Eight hextets as "%x" prints them, joined by ":", with their first longest run of two or
    more zero hextets as ``::`` (RFC 5952)."""
    framed = f":{plain}:"  # every hextet between two colons: a run is found by text
    for run in _ZERO_RUNS:
        start = framed.find(run)  # the first run of the longest length there is
        if start >= 0:
            return f"{framed[1:start]}::{framed[start + len(run):-1]}"
    return plain
