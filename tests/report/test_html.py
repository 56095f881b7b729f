"""The HTML report as text: one self-contained file, autoescaped, locked down by a CSP that
allows only its own style and script. (tests/report/test_html_browser.py opens it in Chromium.)"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from html import unescape

from report_samples import IMG, MARKDOWN_BAIT, SCRIPT, clean_report, edge_report, fixture_report

from sgaudit.model import Report
from sgaudit.report import html


def many_groups(n: int) -> Report:
    """``n`` groups: the demo's six over and over, group i as ``sg-<i in hex>`` named ``copy-<i>``."""
    report = fixture_report()
    results = []
    for i in range(n):
        r = report.results[i % len(report.results)]
        results.append(dataclasses.replace(r, group=dataclasses.replace(
            r.group, group_id=f"sg-{i:017x}", group_name=f"copy-{i}", description=f"copy {i}")))
    return dataclasses.replace(report, results=tuple(results))


def _csp(text: str) -> str:
    match = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text)
    assert match
    return unescape(match.group(1))


def _sha(body: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()


def test_self_contained_nothing_to_fetch() -> None:
    text = html.render(edge_report())
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert not re.search(r"<(link|img|iframe|object|embed|base)\b", text)
    assert not re.search(r"\b(src|srcset|href)=\"(?!#)", text)   # only in-page links
    assert "url(" not in text and "@import" not in text
    assert "http://" not in text.replace("http://www.w3.org", "")   # no external URL at all
    assert "https://" not in text.replace("https://evil.example", "")  # except the bait, as text


def test_csp_allows_exactly_the_inline_style_and_script() -> None:
    text = html.render(fixture_report())
    (style,) = re.findall(r"<style>(.*?)</style>", text, re.S)
    (script,) = re.findall(r"<script>(.*?)</script>", text, re.S)
    csp = _csp(text)
    assert f"style-src '{_sha(style)}'" in csp
    assert f"script-src '{_sha(script)}'" in csp
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "unsafe" not in csp
    assert text.index("Content-Security-Policy") < text.index("<style>")
    # the policy also forbids style="" attributes and inline handlers: the template has none
    assert not re.search(r"\sstyle=|\son[a-z]+=\"", text)


def test_cloud_text_is_escaped_everywhere() -> None:
    text = html.render(edge_report())
    assert SCRIPT not in text and IMG not in text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in text
    assert text.count("<script>") == 1
    # control characters from the cloud become U+FFFD, not raw escapes
    assert "\x1b" not in text and "\x07" not in text


def test_attribute_values_cannot_be_broken_out_of() -> None:
    report = edge_report()
    result = report.results[0]
    group = dataclasses.replace(result.group, account='1" onmouseover="window.__pwned=1', region="r'x",
                                description='x" onmouseover="window.__pwned=2')
    text = html.render(dataclasses.replace(report, results=(dataclasses.replace(result, group=group),)))
    assert 'onmouseover="window' not in text
    # the account/region filter's option, and the group's details in data-d
    assert '<option value="1&#34; onmouseover=&#34;window.__pwned=1/r&#39;x">' in text
    assert 'data-d="Dx&#34; onmouseover=&#34;window.__pwned=2\n' in text


def test_verdicts() -> None:
    assert "<h1>Incomplete scan: drift may be hidden</h1>" in html.render(edge_report())
    assert "<h1>Drift in 4 of 6 security groups</h1>" in html.render(fixture_report())
    clean = html.render(clean_report())
    assert "<h1>No drift: all 1 security group match their desired state</h1>" in clean
    assert 'class="banner banner-ok"' in clean


def test_optional_notes_are_optional() -> None:
    text = html.render(fixture_report())
    for absent in ("Waivers expiring", "Expired waivers", "Stale waivers", "Open findings over time",
                   '<button type="button">Open since</button>', '<button type="button">Accepted</button>'):
        assert absent not in text
    text = html.render(edge_report())
    for present in ("Waivers expiring within 14 days", "Expired waivers", "Stale waivers",
                    "Open findings over time", '<button type="button">Open since</button>',
                    '<button type="button">Accepted</button>', "<svg class=\"chart\""):
        assert present in text


def _details(text: str) -> dict[str, list[list[str]]]:
    """Each group's decoded data-d, by group id (what report.js builds its details from)."""
    (table,) = re.findall(r'<template id="strings">(.*?)</template>', text, re.S)
    strings = unescape(table).split("\n")
    rows = re.findall(r'<tbody class="[^"]*" data-d="([^"]*)"><tr>.*?<th scope=row>([^<]*)<', text, re.S)
    return {unescape(gid): html.decode_details(unescape(d), strings, unescape(gid)) for d, gid in rows}


def test_groups_share_desired_state_tables() -> None:
    text = html.render(edge_report())
    # three groups with the same desired state, one table; the unresolved group has none
    assert text.count('<div class="state" id="ds') == 1
    states = {gid: [r for r in recs if r[0] == "S"] for gid, recs in _details(text).items()}
    # the hostile group misses its state's row 0 (tcp 8786-8787 from 0.0.0.0/0)
    assert states == {"sg-0000000000000000a": [["S", "0", "0"]], "sg-0000000000000000b": [["S", "0"]],
                      "sg-0000000000000000c": [["S", "0"]], "sg-0000000000000000d": []}


def test_group_details_are_data_for_the_script() -> None:
    details = _details(html.render(edge_report()))
    assert details["sg-0000000000000000a"] == [
        ["D", f"{IMG} {MARKDOWN_BAIT}"],
        ["T", "owner", "coiled", "team", IMG, "note", MARKDOWN_BAIT],
        ["R", "ce", "tcp", "22", "0.0.0.0/0",
         "outside the envelope: tcp 22 from 0.0.0.0/0 except 10.0.0.0/16", "sgr-1", SCRIPT, "2025-12-01"],
        ["R", "me", "tcp", "5432", "10.20.0.0/16", "outside the envelope: tcp 5432 from 10.20.0.0/16",
         "sgr-2", "db " + IMG, "2025-11-15"],
        ["R", "mm", "tcp", "8786-8787", "0.0.0.0/0",
         "no rule allows it; required because enable_public_http is true: Dask ports open", "", "",
         "2025-12-20"],
        ["R", "a", "all", "all", "sg-0000000000000000a", "", "sgr-4"],   # its own id, written "="
        ["R", "x", "tcp", "443", "203.0.113.0/24", "", "sgr-3", "vendor"],
        ["A", "he", "tcp", "443", "203.0.113.0/24", "outside the envelope: tcp 443 from 203.0.113.0/24",
         "waived: vendor VPN " + IMG],
        ["S", "0", "0"],
    ]
    assert details["sg-0000000000000000d"] == [["U", "VPC vpc-9 is not in the snapshot"]]
    # hostile text stays escaped inside the attribute, and the script is not handed markup
    text = html.render(edge_report())
    assert SCRIPT not in text and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text


def test_text_that_looks_like_a_reference_is_kept_as_it_is() -> None:
    report = fixture_report()
    result = report.results[0]
    group = dataclasses.replace(result.group, description="~0", tags=(("=", "~1"), ("a\tb", "c\nd")))
    text = html.render(dataclasses.replace(report, results=(dataclasses.replace(result, group=group),)))
    (records,) = _details(text).values()
    assert records[:2] == [["D", "~0"], ["T", "=", "~1", "a b", "c d"]]


def test_description_naming_the_group_is_shared() -> None:
    text = html.render(fixture_report())
    details = _details(text)
    # "Coiled security group for coiled-dask-prod-2": the text around the name is in the table once
    assert details["sg-0a11ce0000000002"][0] == ["N", "Coiled security group for "]  # (nothing after)
    assert text.count("Coiled security group for") == 1


def test_a_large_report_lists_a_page_and_keeps_the_rest_unlaid() -> None:
    text = html.render(many_groups(html.PAGE + 50))
    assert f'data-page="{html.PAGE}"' in text
    classes = re.findall(r'<tbody class="([^"]*)"', text)
    assert len(classes) == html.PAGE + 50
    assert [c.endswith(" p") for c in classes] == [False] * html.PAGE + [True] * 50


def test_the_per_row_severity_shorthand_is_spelled_out_on_hover() -> None:
    """"2 1C 1M" is explained: the row's breakdown carries "1 critical, 1 medium" as its title
    (and for screen readers), and the column header says what the letters mean."""
    text = html.render(fixture_report())
    assert re.findall(r'<small title="([^"]*)" aria-label="\1">([^<]*)</small>', text) == [
        ("1 critical, 1 medium", "1C 1M"), ("1 high, 1 medium", "1H 1M")]
    assert ('title="Active findings; beside the number, by severity: C critical, H high, M medium, '
            'L low (e.g. 1C 1M)"') in text
