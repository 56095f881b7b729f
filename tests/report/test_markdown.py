"""Markdown: cloud text cannot break a table, start markup, raw HTML or math, or @mention."""

from __future__ import annotations

import dataclasses
import re

import pytest
from report_samples import MARKDOWN_BAIT, SCRIPT, clean_report, edge_report, fixture_report

from sgaudit.report import markdown
from sgaudit.report.markdown import md


@pytest.mark.parametrize(("raw", "escaped"), [
    ("a|b", "a\\|b"),
    ("`x`", "\\`x\\`"),
    ("*b* _i_ ~s~", "\\*b\\* \\_i\\_ \\~s\\~"),
    ("[x](https://e.example)", "\\[x\\](https&#8203;://e.example)"),
    # GitHub links bare URLs and www. names by itself: a zero-width space keeps them text
    ("see https://evil.example/login", "see https&#8203;://evil.example/login"),
    ("HTTP://EVIL.EXAMPLE", "HTTP&#8203;://EVIL.EXAMPLE"),
    ("www.evil.example", "www&#8203;.evil.example"),
    ("coiled-www.example", "coiled-www&#8203;.example"),
    ("mailto:a", "mailto&#8203;:a"),
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
    ("@octocat and @org/team", "@&#8203;octocat and @&#8203;org/team"),
    ("$x$ #12 &amp;", "\\$x\\$ \\#12 &amp;amp;"),
    ("back\\slash", "back\\\\slash"),
    ("line\nbreak\r\ttab", "line break tab"),
    ("- item", "\\- item"),
    ("+ item", "\\+ item"),
    ("1. item", "1\\. item"),
    ("esc\x1b[31m", "esc\ufffd\\[31m"),
    (None, ""),
])
def test_md_escapes(raw: object, escaped: str) -> None:
    assert md(raw) == escaped


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_hostile_text_cannot_break_the_tables_or_ping_anyone() -> None:
    text = markdown.render(edge_report())
    assert SCRIPT not in text and "<img" not in text
    assert not re.search(r"(?<!\\)@(?!&#8203;)\w", text)  # every @ is followed by a zero-width space
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            assert len({_unescaped_pipes(row) for row in rows}) == 1, block


def test_summary_and_sections_of_an_incomplete_report() -> None:
    text = markdown.render(edge_report())
    assert text.startswith("## ⛔ sgaudit: incomplete scan — drift may be hidden\n")
    assert "> [!CAUTION]" in text
    assert "### Waivers expiring within 14 days" in text
    # 58 days left is not "expiring within 14 days"
    assert "8443" not in text
    assert "| **3** | 1 | 0 | 2 | 0 | 2 | 1 | 2 |" in text
    assert "<details><summary>Accepted findings (2, waived or baselined)</summary>" in text
    assert "| severity | kind | group | account / region | rule | reason | open since |" in text


def test_a_clean_scan_says_so() -> None:
    assert markdown.render(clean_report()).startswith(
        "## ✅ sgaudit: no drift — all 1 security group(s) match their desired state\n")
    empty = dataclasses.replace(clean_report(), results=())
    assert markdown.render(empty).startswith("## ✅ sgaudit: no drift — no security group matched")


def test_long_reports_are_cut_for_pr_comments() -> None:
    report = fixture_report()
    result = report.results[1]
    first = result.findings[0]
    findings = tuple(first._replace(key=f"k{i}") for i in range(markdown.MAX_ROWS + 5))
    big = dataclasses.replace(report, results=(dataclasses.replace(result, findings=findings),))
    text = markdown.render(big)
    assert "… and 5 more active finding(s) not shown here" in text
    assert sum(1 for line in text.splitlines() if line.startswith("| **critical**")) == markdown.MAX_ROWS


def test_bait_in_a_table_cell_stays_one_cell() -> None:
    row = f"| {md(MARKDOWN_BAIT)} | x |"
    assert _unescaped_pipes(row) == 3
