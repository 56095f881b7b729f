"""JUnit XML: a suite per account/region, a case per group, a failure per drifted group that
lists its findings, errors for what could not be read; parsed with xml.etree."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from report_samples import IMG, SCRIPT, clean_report, edge_report, fixture_report

from sgaudit.report import junit


def _parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def test_fixture_report() -> None:
    root = _parse(junit.render(fixture_report()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "4", "0")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "111122223333/unknown"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert sorted(cases) == [
        "sg-0a11ce0000000001 (coiled-dask-prod-1)", "sg-0a11ce0000000002 (coiled-dask-prod-2)",
        "sg-0a11ce0000000003 (coiled-dask-scratch)", "sg-0a11ce0000000004 (coiled-dask-etl)",
        "sg-0a11ce0000000005 (coiled-dask-analytics)", "sg-0a11ce0000000006 (coiled-dask-reporting)"]
    assert list(cases["sg-0a11ce0000000001 (coiled-dask-prod-1)"]) == []
    failure = cases["sg-0a11ce0000000002 (coiled-dask-prod-2)"].find("failure")
    assert failure is not None
    assert failure.get("message") == "2 active finding(s): 1 critical, 1 medium"
    assert failure.text is not None
    assert failure.text.splitlines() == [
        "critical extra: tcp 22 from 0.0.0.0/0: "
        "outside the envelope: tcp 22 from 0.0.0.0/0 except 10.0.0.0/15",
        "medium missing: tcp 8787 from 0.0.0.0/0: no rule allows it; required because "
        "enable_public_http is true: Dask ports open to the world"]


def test_suites_per_account_region_and_errors_for_what_could_not_be_read() -> None:
    root = _parse(junit.render(edge_report()))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert sorted(suites) == ["111122223333/eu-west-1", "111122223333/us-east-1",
                              "444455556666/ap-south-1", "444455556666/eu-west-1"]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "2")
    # the region that could not be read is an error, never a pass
    (unread,) = suites["444455556666/ap-south-1"].findall("testcase")
    error = unread.find("error")
    assert unread.get("name") == "read DescribeSecurityGroups"
    assert error is not None and error.get("type") == "UnauthorizedOperation"
    # the unresolved group errors once, on its own case
    (lost,) = suites["111122223333/eu-west-1"].findall("testcase")
    assert lost.get("name") == "sg-0000000000000000d (coiled-lost)"
    assert lost.find("error") is not None and lost.find("error").get("type") == "Unresolved"  # type: ignore[union-attr]
    # accepted findings: no failure, listed on system-out
    cases = {c.get("name"): c for c in suites["111122223333/us-east-1"].findall("testcase")}
    baselined = cases["sg-0000000000000000c (coiled-baselined)"]
    assert baselined.find("failure") is None
    assert baselined.findtext("system-out", "").endswith(
        "udp 53 from 10.0.0.0/8 (rule sgr-6): outside the envelope: udp 53 from 10.0.0.0/8 [baselined]")
    hostile = cases[f"sg-0000000000000000a ({SCRIPT})"]   # the name is text, escaped by the parser
    assert hostile.find("failure").get("message") == "3 active finding(s): 1 critical, 2 medium"  # type: ignore[union-attr]
    assert IMG in hostile.findtext("system-out", "")


def test_counts_add_up_per_suite() -> None:
    root = _parse(junit.render(edge_report()))
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        assert int(suite.get("failures", "-1")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("errors", "-1")) == sum(c.find("error") is not None for c in cases)


def test_control_characters_cannot_make_the_xml_invalid() -> None:
    import dataclasses

    report = edge_report()
    result = report.results[0]
    group = dataclasses.replace(result.group, group_name="bell\x07 nul\x00 esc\x1b \ud800 end")
    report = dataclasses.replace(report, results=(dataclasses.replace(result, group=group),))
    root = _parse(junit.render(report))
    names = [c.get("name") for c in root.iter("testcase")]
    assert "sg-0000000000000000a (bell\ufffd nul\ufffd esc\ufffd \ufffd end)" in names


def test_a_clean_scan_passes() -> None:
    root = _parse(junit.render(clean_report()))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "0")
