"""The HTML report as text: one self-contained file, autoescaped, locked down by a CSP that
allows only its own style and script. (tests/test_report_html_browser.py opens it in Chromium.)"""

from __future__ import annotations

import base64
import hashlib
import re
from html import unescape

from report_samples import IMG, SCRIPT, clean_report, edge_report, fixture_report

from sgaudit.report import html


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
    import dataclasses

    report = edge_report()
    result = report.results[0]
    group = dataclasses.replace(result.group, account='1" onmouseover="window.__pwned=1', region="r'x")
    text = html.render(dataclasses.replace(report, results=(dataclasses.replace(result, group=group),)))
    assert 'onmouseover="window' not in text
    assert 'data-loc="1&#34; onmouseover=&#34;window.__pwned=1/r&#39;x"' in text


def test_verdicts() -> None:
    assert "<h1>Incomplete scan: drift may be hidden</h1>" in html.render(edge_report())
    assert "<h1>Drift in 4 of 6 security groups</h1>" in html.render(fixture_report())
    clean = html.render(clean_report())
    assert "<h1>No drift: all 1 security group match their desired state</h1>" in clean
    assert 'class="banner banner-ok"' in clean


def test_optional_notes_are_optional() -> None:
    text = html.render(fixture_report())
    for absent in ("Waivers expiring", "Expired waivers", "Stale waivers", "Open findings over time",
                   "Open since"):
        assert absent not in text
    text = html.render(edge_report())
    for present in ("Waivers expiring within 14 days", "Expired waivers", "Stale waivers",
                    "Open findings over time", "Open since", "<svg class=\"chart\""):
        assert present in text


def test_groups_share_desired_state_tables() -> None:
    text = html.render(edge_report())
    # three groups with the same desired state, one table; the unresolved group has none
    assert text.count('<div class="state" id="ds') == 1
    assert text.count('data-ds="0"') == 3
    assert 'data-missing="tcp|8786|8787|0.0.0.0/0"' in text
