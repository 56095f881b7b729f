"""The HTML report in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright;
never a downloaded browser): it renders, its filters and sorting work, and hostile text from
the cloud is shown as text and never runs."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_samples import IMG, SCRIPT, clean_report, edge_report, fixture_report, gcp_report
from test_html import many_groups

from sgaudit.engine.audit import audit
from sgaudit.model import Report
from sgaudit.policy.loader import load_policy
from sgaudit.report import html
from sgaudit.sources.snapshot import SnapshotSource

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A report opened in a fresh page, with the console errors it produced."""

    def __init__(self, browser: Any, report: Report, folder: Path) -> None:
        path = folder / "report.html"
        path.write_text(html.render(report), encoding="utf-8")
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", lambda route: route.abort()
                        if not route.request.url.startswith("file://") else route.continue_())
        self.page.goto(path.as_uri())

    def visible_groups(self) -> list[str]:
        """The ids of the groups the table lists, in order."""
        return self.page.evaluate(
            "() => Array.from(document.querySelectorAll('#groups-table > tbody'))"
            ".filter(b => b.offsetParent).map(b => b.rows[0].cells[2].textContent)")

    def pwned(self) -> Any:
        return self.page.evaluate("() => typeof window.__pwned === 'undefined' ? null : window.__pwned")


@pytest.fixture
def open_report(browser: Any, tmp_path: Path) -> Iterator[Any]:
    pages: list[Page] = []

    def opener(report: Report) -> Page:
        page = Page(browser, report, tmp_path)
        pages.append(page)
        return page

    yield opener
    for p in pages:
        assert p.errors == [], p.errors   # no script error, no CSP violation
        p.page.close()


ALL = ["sg-0a11ce0000000002", "sg-0a11ce0000000003", "sg-0a11ce0000000005", "sg-0a11ce0000000006",
       "sg-0a11ce0000000001", "sg-0a11ce0000000004"]


def test_renders_worst_first_with_counts(open_report: Any) -> None:
    p = open_report(fixture_report())
    page = p.page
    assert page.inner_text("h1") == "Drift in 4 of 6 security groups"
    assert p.visible_groups() == ALL
    assert page.inner_text("#shown") == "6 groups"
    cards = page.eval_on_selector_all(".cards .card", "cs => cs.map(c => c.innerText.replace(/\\s+/g, ' '))")
    assert cards == ["6 ACTIVE FINDINGS", "2 CRITICAL", "1 HIGH", "3 MEDIUM", "0 LOW", "5 EXTRA",
                     "1 MISSING", "0 ACCEPTED"]
    # drifted groups start open (few findings): findings highlighted, desired rules copied in
    detail = page.locator("#d0")
    assert detail.is_visible()
    assert detail.locator("tr.h-critical").inner_text().split("\t")[:4] == ["CRITICAL extra", "tcp", "22",
                                                                           "0.0.0.0/0"]
    missing = detail.locator(".dsref tr.missing")
    assert missing.count() == 1
    assert "MISSING" in missing.inner_text() and "8787" in missing.inner_text()
    # clean groups start closed
    assert not page.locator("#d5").is_visible()


def test_filters(open_report: Any) -> None:
    p = open_report(fixture_report())
    page = p.page
    page.check("input[name=sev][value=critical]")
    assert p.visible_groups() == ["sg-0a11ce0000000002", "sg-0a11ce0000000003"]
    assert page.inner_text("#shown") == "Showing 2 of 6 groups"
    page.check("input[name=sev][value=high]")
    assert p.visible_groups() == ["sg-0a11ce0000000002", "sg-0a11ce0000000003", "sg-0a11ce0000000005"]
    page.select_option("select[name=kind]", "missing")   # severity AND kind on the same finding
    assert p.visible_groups() == []
    assert page.locator("#no-match").is_visible()
    page.uncheck("input[name=sev][value=critical]")
    page.uncheck("input[name=sev][value=high]")
    assert p.visible_groups() == ["sg-0a11ce0000000002"]
    page.select_option("select[name=kind]", "")
    page.select_option("select[name=status]", "ok")
    assert p.visible_groups() == ["sg-0a11ce0000000001", "sg-0a11ce0000000004"]
    page.select_option("select[name=status]", "")
    page.fill("input[name=q]", "analytics")
    assert p.visible_groups() == ["sg-0a11ce0000000005"]
    page.fill("input[name=q]", "sg-0badbeef")            # text inside a group's details
    assert p.visible_groups() == ["sg-0a11ce0000000006"]
    page.fill("input[name=q]", "no such thing")
    assert p.visible_groups() == [] and page.locator("#no-match").is_visible()
    page.click("button[type=reset]")
    page.wait_for_function("() => document.getElementById('shown').textContent === '6 groups'")
    assert p.visible_groups() == ALL
    # the severity cards toggle the same filter
    page.click("button.card[data-sev=medium]")
    assert page.is_checked("input[name=sev][value=medium]")
    assert p.visible_groups() == ["sg-0a11ce0000000002", "sg-0a11ce0000000005", "sg-0a11ce0000000006"]


def test_filter_by_account_region(open_report: Any) -> None:
    p = open_report(edge_report())
    options = p.page.eval_on_selector_all("select[name=loc] option", "os => os.map(o => o.value)")
    assert options == ["", "111122223333/eu-west-1", "111122223333/us-east-1", "444455556666/eu-west-1"]
    p.page.select_option("select[name=loc]", "111122223333/us-east-1")
    assert p.visible_groups() == ["sg-0000000000000000a", "sg-0000000000000000c"]


def test_sorting(open_report: Any) -> None:
    p = open_report(fixture_report())
    page = p.page
    group = page.locator("thead th", has_text="Group")
    group.locator("button").click()
    assert group.get_attribute("aria-sort") == "ascending"
    assert p.visible_groups() == sorted(ALL)
    group.locator("button").click()
    assert group.get_attribute("aria-sort") == "descending"
    assert p.visible_groups() == sorted(ALL, reverse=True)
    active = page.locator("thead th", has_text="Active")
    active.locator("button").click()
    counts = page.eval_on_selector_all("#groups-table > tbody > tr:first-child > td:nth-child(8)",
                                       "cs => cs.map(c => parseInt(c.textContent))")
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 2
    assert group.get_attribute("aria-sort") is None
    page.locator("thead th", has_text="Worst").locator("button").click()
    assert set(p.visible_groups()[:2]) == {"sg-0a11ce0000000002", "sg-0a11ce0000000003"}  # critical first


def test_expand_and_collapse(open_report: Any) -> None:
    p = open_report(fixture_report())
    page = p.page
    button = page.locator("button.tg", has_text="sg-0a11ce0000000001")
    assert button.get_attribute("aria-expanded") == "false"
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    detail = page.locator("#d4")
    assert detail.is_visible()
    assert detail.locator(".dsref table").count() == 1    # desired rules copied on opening
    assert "allowed" in detail.locator("table.it").inner_text()
    page.click("#collapse-all")
    assert page.eval_on_selector_all("tr.detail", "ds => ds.filter(d => d.offsetParent).length") == 0
    page.click("#expand-all")
    assert page.eval_on_selector_all("tr.detail", "ds => ds.filter(d => d.offsetParent).length") == 6


def test_rules_of_an_unresolved_group_are_not_shown_as_allowed(open_report: Any) -> None:
    """Without the VPC's CIDR a rule with no finding is not known to be fine: "not checked",
    never a green "allowed"; what is extra whatever the VPC is stays a finding."""
    with contextlib.chdir(FIXTURES.parent):
        policy = load_policy("fixtures/policy.yaml")
        snapshot = SnapshotSource(["fixtures/security-groups.json"]).read(policy.select)  # no VPCs
        report = audit(policy, snapshot, "2026-03-01T02:00:00Z")
    p = open_report(report)
    page = p.page
    page.click("#expand-all")
    table = page.locator("#groups-table > tbody", has_text="sg-0a11ce0000000002").locator("table.it")
    verdicts = table.locator("tbody tr").evaluate_all("rs => rs.map(r => r.cells[0].textContent)")
    # 22 from the world is extra whatever the VPC is; 8787 from the world is required whatever it
    # is; the group's own rule is always permitted; the rest cannot be judged
    assert verdicts == ["critical extra", "medium missing", "not checked", "not checked",
                        "allowed"]
    assert table.locator("tbody tr").last.locator("td").nth(3).inner_text() == "sg-0a11ce0000000002"
    assert p.visible_groups()[0] == "sg-0a11ce0000000002"  # unresolved, critical: first


@pytest.mark.parametrize("where", ["group name", "tag", "rule description", "everywhere"])
def test_hostile_cloud_text_is_shown_and_never_runs(open_report: Any, where: str) -> None:
    p = open_report(edge_report())
    page = p.page
    page.click("#expand-all")
    page.hover("#groups-table > tbody >> nth=1")
    text = page.inner_text("body")
    if where == "group name":
        cells = page.eval_on_selector("#groups-table > tbody:nth-of-type(2) > tr", "r => Array.from(r.cells)"
                                      ".slice(2, 4).map(c => c.textContent)")
        assert cells == ["sg-0000000000000000a", SCRIPT]
    elif where == "tag":
        assert f"team={IMG}" in text
    elif where == "rule description":
        assert f"sgr-1\n{SCRIPT}" in text and f"sgr-2\ndb {IMG}" in text
    else:
        assert text.count(SCRIPT) >= 3 and text.count(IMG) >= 5
    assert p.pwned() is None
    assert page.evaluate("() => [document.scripts.length, document.images.length]") == [1, 0]


def test_incomplete_scan_banner(open_report: Any) -> None:
    p = open_report(edge_report())
    banner = p.page.locator("[role=alert]")
    assert banner.is_visible()
    assert banner.locator("h2").inner_text() == "Incomplete scan"
    assert f"444455556666/ap-south-1 DescribeSecurityGroups: UnauthorizedOperation: not authorized {IMG}" in (
        banner.inner_text())
    assert p.page.locator(".verdict").inner_text() == "INCOMPLETE"


def test_clean_scan_says_so(open_report: Any) -> None:
    p = open_report(clean_report())
    assert p.page.inner_text("h1") == "No drift: all 1 security group match their desired state"
    assert p.page.locator("[role=status] h2").inner_text() == "No drift"


def test_print_shows_every_drifted_group_in_full(open_report: Any) -> None:
    p = open_report(fixture_report())
    page = p.page
    page.click("#collapse-all")
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    page.emulate_media(media="print")
    visible = page.eval_on_selector_all("tr.detail", "ds => ds.filter(d => d.offsetParent).map(d => d.id)")
    assert visible == ["d0", "d1", "d2", "d3"]           # the drifted ones; clean groups stay short
    assert not page.locator("#filters").is_visible()
    assert page.locator("#d3 .dsref table").count() == 1  # desired rules filled in for print


def test_a_large_report_lists_a_page_at_a_time(open_report: Any) -> None:
    p = open_report(many_groups(html.PAGE + 50))
    page = p.page
    listed = p.visible_groups()
    assert len(listed) == html.PAGE
    assert page.inner_text("#shown") == f"{html.PAGE + 50} groups"
    assert page.inner_text("#listed") == f"Listing {html.PAGE} of {html.PAGE + 50} groups."
    assert page.inner_text("#show-more") == "Show 50 more"
    # the rest are in the page, not laid out, and found by the filters
    later = page.evaluate("() => Array.from(document.querySelectorAll('#groups-table > tbody'))"
                          ".filter(b => !b.offsetParent).map(b => b.rows[0].cells[3].textContent)")
    assert len(later) == 50
    page.fill("input[name=q]", later[-1])
    page.wait_for_function("() => document.getElementById('shown').textContent.startsWith('Showing')")
    (found,) = p.visible_groups()
    assert page.inner_text("#shown") == f"Showing 1 of {html.PAGE + 50} groups"
    assert not page.locator("#more").is_visible()
    page.locator("button.tg", has_text=found).click()
    assert page.locator("#groups-table > tbody:not([hidden]) tr.detail table.it").count() == 1
    page.fill("input[name=q]", "")
    page.wait_for_function("() => !document.getElementById('shown').textContent.startsWith('Showing')")
    assert len(p.visible_groups()) == html.PAGE
    page.click("#show-more")
    assert len(p.visible_groups()) == html.PAGE + 50
    assert not page.locator("#more").is_visible()
    # sorting reorders every group, listed or not
    page.locator("thead th", has_text="Group").locator("button").click()
    assert p.visible_groups() == [f"sg-{i:017x}" for i in range(html.PAGE + 50)]


def test_printing_a_large_report_shows_every_drifted_group(open_report: Any) -> None:
    p = open_report(many_groups(html.PAGE + 50))
    page = p.page
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    page.emulate_media(media="print")
    assert len(p.visible_groups()) == html.PAGE + 50
    drifted = page.eval_on_selector_all("#groups-table > tbody.d", "bs => bs.length")
    shown = page.eval_on_selector_all("tr.detail", "ds => ds.filter(d => d.offsetParent).length")
    assert drifted == shown > html.PAGE / 2    # four of the demo's six groups drift
    page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    page.emulate_media(media="screen")
    assert len(p.visible_groups()) == html.PAGE


def test_without_the_script_every_group_is_listed(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(html.render(many_groups(html.PAGE + 50)), encoding="utf-8")
    page = browser.new_page(java_script_enabled=False)
    try:
        page.goto(path.as_uri())
        shown = page.evaluate("() => Array.from(document.querySelectorAll('#groups-table > tbody'))"
                              ".filter(b => b.offsetParent).length")
        assert shown == html.PAGE + 50
        assert "This page's script is off" in page.inner_text("main")
        assert not page.locator("#more").is_visible() and not page.locator("#no-match").is_visible()
    finally:
        page.close()


def test_text_that_looks_like_the_encoding_is_shown_as_it_is(open_report: Any) -> None:
    report = fixture_report()
    result = report.results[0]
    group = dataclasses.replace(result.group, description="~0", tags=(("=", "~1"),))
    p = open_report(dataclasses.replace(report, results=(dataclasses.replace(result, group=group),)))
    p.page.click("#expand-all")
    assert p.page.inner_text("#d0 .facts") == "Description ~0\nTags ==~1"


def test_gcp_target_shows_its_rules_in_evaluation_order(open_report: Any) -> None:
    """A GCP target opens with its firewall rules in evaluation order: priority, action, whether
    it applies, and which finding each decides; hostile rule text stays text."""
    p = open_report(gcp_report())
    page = p.page
    assert p.visible_groups() == ["coiled-etl", "coiled-ml"]
    detail = page.locator("#d0")
    assert detail.is_visible()
    rows = detail.locator("table.ev tbody tr")
    assert rows.count() == 8
    first = rows.nth(0).inner_text().split("\t")
    assert first[:5] == ["1", "hierarchical policy org-guardrails", "org-guardrails/100", "100", "deny"]
    assert first[-1] == "missing tcp 22 from 0.0.0.0/0"
    assert detail.locator("table.ev tr.dec").count() == 2
    assert p.pwned() is None
