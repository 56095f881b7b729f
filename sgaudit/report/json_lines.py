"""The JSON report's group and finding lines, each exactly ``json.dumps`` of its dict, built
without the dict: the hot path of a large report (hundreds of thousands of findings).

Two shortcuts keep a finding's line cheap, and neither changes a byte:

- the fields from ``account`` to ``to_port`` (a group's place, and the few kinds, severities,
  protocols and port ranges of findings) are spelled once per block of lines and value;
- ``key``, ``source`` and ``reason`` (long, and different in every finding) are written as they
  are between quotes, and then checked all at once, a block at a time: a finding whose text
  ``json.dumps`` would escape (non-ASCII, a control character, DEL, a quote or a backslash)
  has its line made again with every string escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from json.encoder import encode_basestring_ascii as _s
from typing import Any

from sgaudit.model import Finding, GroupResult, Kind, Severity, Status


def value(value: Any) -> str:
    """One JSON value as ``json.dumps`` spells it (strings, enums of strings and ints
    directly: json.dumps encodes a str subclass as its text, by the same function)."""
    if isinstance(value, str):
        return _s(value)
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return int.__repr__(value)
    return json.dumps(value)


#: the words of the report's enums as json.dumps spells them, looked up on every finding
_ENUMS: dict[Any, str] = {m: _s(m.value) for e in (Kind, Severity, Status) for m in e}
#: a finding's last four fields when it is neither waived, nor baselined, nor seen before
_UNACCEPTED = '"waived": false, "waiver_reason": null, "baselined": false, "first_seen": null}'
#: every byte json.dumps escapes in an ASCII string but the quote (controls, DEL, backslash)
#: mapped to a quote, every other byte to itself: after it, a quote is something to escape
_ESCAPED = bytes.maketrans(bytes([*range(0x20), 0x7F, 0x5C]), b'"' * 34)


def group_line(r: GroupResult) -> str:
    """``json.dumps(group_dict(r))``."""
    g = r.group
    return (f'{{"group_id": {_s(g.group_id)}, "group_name": {_s(g.group_name)}, '
            f'"vpc_id": {value(g.vpc_id)}, "region": {_s(g.region)}, "account": {_s(g.account)}, '
            f'"status": {value(r.status)}, "role": {value(r.role)}, "cloud": {_s(g.cloud)}}}')


def finding_blocks(results: Iterable[GroupResult], size: int) -> Iterator[list[str]]:
    """``json.dumps(finding_dict(f))`` of every finding of ``results``, ``size`` lines at a
    time."""
    findings = chain.from_iterable(r.findings for r in results)
    while block := list(islice(findings, size)):
        lines, texts = _lines(block, escape=False)
        if not plain(texts):  # rare: find the findings that need their strings escaped
            for i, f in enumerate(block):
                if not plain((f.key, f.source, f.reason)):
                    lines[i] = _lines((f,), escape=True)[0][0]
        yield lines


def plain(texts: Sequence[str]) -> bool:
    """Whether ``json.dumps`` spells each of these strings as the string itself between
    quotes (``ensure_ascii``: printable ASCII but the quote and the backslash)."""
    joined = "".join(texts)
    return joined.isascii() and b'"' not in joined.encode().translate(_ESCAPED)


def _lines(block: Sequence[Finding], escape: bool) -> tuple[list[str], list[str]]:
    """The block's lines, with ``key``, ``source`` and ``reason`` as they are (and those texts,
    for ``plain``) or, with ``escape``, escaped."""
    places: dict[tuple[str, ...], str] = {}
    terms: dict[tuple[Any, ...], str] = {}
    texts: list[str] = []
    lines = []
    for f in block:
        # its fields unpacked at once (a named tuple's fields are read one lookup at a time)
        (key, kind, severity, account, region, group_id, group_name, protocol, from_port, to_port,
         source, rule_ids, reason, description, waived, waiver_reason, baselined, first_seen) = f
        spot = (account, region, group_id, group_name)
        place = places.get(spot) or _cache(places, spot, _place(f))
        if type(from_port) is int is type(to_port):  # 1 == True == 1.0: ints alone are cached
            terms_of = (kind, severity, protocol, from_port, to_port)
            term = terms.get(terms_of) or _cache_terms(terms, terms_of, f)
        else:
            term = _terms(f)
        if escape:
            key, source, reason = _s(key)[1:-1], _s(source)[1:-1], _s(reason)[1:-1]
        else:
            texts += key, source, reason
        tail = (_UNACCEPTED if waived is False and waiver_reason is None
                and baselined is False and first_seen is None else _accepted(f))
        # a tuple joined, not an f-string: a str subclass is written as its text, as json.dumps does
        lines.append("".join((
            '{"key": "', key, '", ', place, ', ', term, ', "source": "', source, '", "rule_ids": ',
            _strings(rule_ids) if rule_ids else "[]", ', "description": ',
            "null" if description is None else value(description), ', "reason": "', reason,
            '", ', tail)))
    return lines, texts


def _place(f: Finding) -> str:
    """A finding's ``account``, ``region``, ``group_id`` and ``group_name`` (strings)."""
    return (f'"account": {_s(f.account)}, "region": {_s(f.region)}, '
            f'"group_id": {_s(f.group_id)}, "group_name": {_s(f.group_name)}')


def _terms(f: Finding) -> str:
    """A finding's ``kind``, ``severity``, ``protocol``, ``from_port`` and ``to_port``."""
    return (f'"kind": {_ENUMS.get(f.kind) or value(f.kind)}, '
            f'"severity": {_ENUMS.get(f.severity) or value(f.severity)}, '
            f'"protocol": {_s(f.protocol)}, "from_port": {value(f.from_port)}, '
            f'"to_port": {value(f.to_port)}')


def _cache(texts: dict[tuple[str, ...], str], spot: tuple[str, ...], text: str) -> str:
    """Strings: equal ones are spelled alike (``_s`` takes nothing else)."""
    texts[spot] = text
    return text


def _cache_terms(terms: dict[tuple[Any, ...], str], kind: tuple[Any, ...], f: Finding) -> str:
    """``_terms(f)``, kept for the findings whose terms equal ``kind`` when equal values are
    spelled alike: strings and ints (a kind or severity of another type may equal one spelled
    otherwise, as 1 equals True, and is never kept)."""
    text = _terms(f)
    if isinstance(f.kind, str) and isinstance(f.severity, str):
        terms[kind] = text
    return text


def _strings(values: Sequence[Any]) -> str:
    """A list of strings (rule ids) as ``json.dumps`` spells it; anything else through it."""
    try:
        return "[" + ", ".join(map(_s, values)) + "]"
    except TypeError:
        return json.dumps(list(values))


def _accepted(f: Finding) -> str:
    """The last four fields of a finding's line when it is waived, baselined or seen before."""
    return (f'"waived": {value(f.waived)}, "waiver_reason": {value(f.waiver_reason)}, '
            f'"baselined": {value(f.baselined)}, "first_seen": {value(f.first_seen)}}}')
