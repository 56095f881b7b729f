"""The JSON report's finding lines take shortcuts (fields spelled once per block and value;
``key``, ``source`` and ``reason`` written unescaped, then checked a block at a time): each must
still give exactly ``json.dumps`` of the finding's dict, whatever the text and the values hold."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import chain

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgaudit.model import DesiredState, Finding, Group, GroupResult, Report, Severity
from sgaudit.report import json_lines, json_report
from tests.report.test_json_report import reference
from tests.report_samples import clean_report

#: every kind of character json.dumps escapes (ensure_ascii), and some it does not
ODD = ['"', "\\", "\x00", "\n", "\x1f", "\x7f", "\x80", "é", "\u2028", "\ud800", "\U0001f525", "/", "'"]


class Shown(str):
    """A str whose str() and format() say something else: json.dumps writes its text."""

    def __str__(self) -> str:
        return "shown"

    def __format__(self, spec: str) -> str:
        return "formatted"


def _finding(n: int, group: Group, **fields: object) -> Finding:
    values: dict[str, object] = {
        "key": f"extra|{group.group_id}|tcp|{n}", "kind": "extra", "severity": Severity.HIGH,
        "account": group.account, "region": group.region, "group_id": group.group_id,
        "group_name": group.group_name, "protocol": "tcp", "from_port": 22, "to_port": 22,
        "source": f"10.0.0.{n}/32", "rule_ids": (), "reason": f"outside the envelope: tcp 22 #{n}"}
    return Finding(**{**values, **fields})  # type: ignore[arg-type]


def _report(findings_per_group: list[tuple[Group, list[Finding]]]) -> Report:
    results = tuple(GroupResult(group, DesiredState((), ()), tuple(findings))
                    for group, findings in findings_per_group)
    return replace(clean_report(), results=results)


def varied_report() -> Report:
    """Plain findings with odd ones among them (every escaped character in every unescaped
    field), equal values of other types where spelled fields are cached, str subclasses,
    None, accepted findings and rule ids."""
    plain = Group("sg-1", "coiled-etl", "vpc-1", "eu-west-1", "1111")
    odd = Group("sg-2", 'naïve "q" \\ \x01 \U0001f525', None, "us-east-1", "2222")
    first = [_finding(n, plain) for n in range(5)]
    for i, char in enumerate(ODD):
        first.append(_finding(10 + 3 * i, plain, key=f"k{char}"))
        first.append(_finding(11 + 3 * i, plain, source=f"s{char}"))
        first.append(_finding(12 + 3 * i, plain, reason=f"r{char}", description=char))
    first += [_finding(60, plain, from_port=True, to_port=True), _finding(61, plain, from_port=1, to_port=1),
              _finding(62, plain, from_port=1.0, to_port=1), _finding(63, plain, from_port=1, to_port=1),
              _finding(64, plain, kind=1), _finding(65, plain, kind=True), _finding(66, plain, kind=1),
              _finding(67, plain, severity=0), _finding(68, plain, severity=False),
              _finding(69, plain, key=Shown("k"), source=Shown("s"), reason=Shown("r")),
              _finding(70, plain, group_name=Shown("coiled-etl"), protocol=Shown("tcp")),
              _finding(71, plain, rule_ids=("sgr-1", 'sgr-"2"', "sgr-\U0001f525")),
              _finding(72, plain, rule_ids=(1, None)), _finding(73, plain, rule_ids=[Shown("x")]),
              _finding(74, plain, waived=True, waiver_reason="vendor \U0001f525", first_seen="2026-01-01"),
              _finding(75, plain, waived=1, baselined=0), _finding(76, plain, baselined=True)]
    second = [_finding(n, odd) for n in range(3)] + [_finding(3, odd, region="eu-west-1")]
    third = [_finding(n, plain, account="1111 ") for n in range(3)]  # equal, then not, places
    return _report([(plain, first), (odd, second), (Group("sg-3", "empty", None, "r", "3"), []),
                    (plain, third)])


@pytest.mark.parametrize("lines", [1, 2, 3, 7, 2048])
def test_a_varied_report_is_json_dumps_at_every_chunk_size(monkeypatch: pytest.MonkeyPatch,
                                                          lines: int) -> None:
    monkeypatch.setattr(json_report, "CHUNK_LINES", lines)
    report = varied_report()
    text = "".join(json_report.render_chunks(report))
    assert text == reference(report)
    findings = json.loads(text)["findings"]
    assert len(findings) == len(report.findings) == 68
    assert [f["key"] for f in findings[5:44:3]] == [f"k{char}" for char in ODD]
    lines = text.split("\n")
    start = lines.index('  "findings": [') + 1
    assert [lines[start + i].split('"from_port": ')[1][:4] for i in range(44, 48)] == \
        ["true", "1, \"", "1.0,", "1, \""]
    assert [lines[start + i].split('"kind": ')[1][:4] for i in range(48, 51)] == ["1, \"", "true", "1, \""]
    assert (findings[53]["key"], findings[53]["source"], findings[54]["group_name"]) == \
        ("k", "s", "coiled-etl")  # a str subclass's text, not its str() or format()


def test_each_line_of_a_block_is_json_dumps_of_its_finding() -> None:
    report = varied_report()
    lines = list(chain.from_iterable(json_lines.finding_blocks(report.results, 16)))
    assert lines == [json.dumps(json_report.finding_dict(f)) for f in report.findings]


def test_plain_means_json_dumps_adds_only_the_quotes() -> None:
    for char in map(chr, [*range(0x100), 0x2028, 0xD800, 0xDFFF, 0xFFFF, 0x1F525]):
        assert json_lines.plain([char]) is (json.dumps(char) == f'"{char}"'), repr(char)
        assert json_lines.plain(["plain ascii", char, "text"]) is json_lines.plain([char])


def test_plain_checks_every_string_it_is_given() -> None:
    printable = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\')
    assert json_lines.plain([printable, "", "x" * 10_000])
    assert not json_lines.plain([printable, "", "x" * 10_000 + "\\"])
    assert json_lines.plain([])


texts = st.one_of(st.text(alphabet=st.characters(max_codepoint=0x7E, min_codepoint=0x20), max_size=8),
                  st.text(alphabet=st.characters(blacklist_categories=()), max_size=8))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["g1", "g2", 'g"3']), texts, texts, texts,
                               st.one_of(st.none(), texts), st.sampled_from([22, 80, True, 1, 1.0])),
                     max_size=12),
       size=st.integers(1, 5))
def test_any_findings_in_any_blocks_are_json_dumps(
        rows: list[tuple[str, str, str, str, str | None, int]], size: int) -> None:
    """Many findings to a block, plain and odd text mixed, places and ports repeating."""
    groups = {name: Group(f"sg-{name}", name, None, "eu-west-1", "1111") for name in ("g1", "g2", 'g"3')}
    findings = [_finding(n, groups[name], key=key, source=source, reason=reason, description=description,
                         from_port=port, to_port=port)
                for n, (name, key, source, reason, description, port) in enumerate(rows)]
    report = _report([(groups[name], [f for f in findings if f.group_name == name]) for name in groups])
    lines = list(chain.from_iterable(json_lines.finding_blocks(report.results, size)))
    assert lines == [json.dumps(json_report.finding_dict(f)) for f in report.findings]
