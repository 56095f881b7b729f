"""SARIF 2.1.0: valid against the official OASIS schema (tests/sarif-schema-2.1.0.json), one
result per active finding, stable rule ids per finding type, levels from severity."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
from report_samples import GENERATED_AT, clean_report, edge_report, fixture_report

from sgaudit.engine.finding_types import finding_type
from sgaudit.model import Finding, Report
from sgaudit.report import sarif

SCHEMA = json.loads((Path(__file__).parent.parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def _validate(doc: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(doc)


def test_the_shipped_schema_is_the_oasis_sarif_2_1_0_schema() -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    assert SCHEMA["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    assert SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]
    assert len(SCHEMA["definitions"]) == 52
    # it rejects what SARIF forbids, so validating against it means something
    with pytest.raises(jsonschema.ValidationError):
        bad_level = {"message": {"text": "m"}, "level": "fatal"}
        _validate({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [bad_level]}]})
    with pytest.raises(jsonschema.ValidationError):
        _validate({"version": "2.0.0", "runs": []})


@pytest.mark.parametrize("make", [fixture_report, edge_report, clean_report])
def test_valid_against_the_schema(make) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(sarif.render(make()))
    _validate(doc)
    assert doc["version"] == "2.1.0"
    assert doc["$schema"] == SCHEMA["id"]


def _results(report: Report) -> list[dict]:
    return json.loads(sarif.render(report))["runs"][0]["results"]


def test_one_result_per_active_finding_with_the_finding_key_as_fingerprint() -> None:
    report = fixture_report()
    results = _results(report)
    assert len(results) == len(report.active_findings) == 6
    assert sorted(r["partialFingerprints"]["sgauditFindingKey/v1"] for r in results) == sorted(
        f.key for f in report.active_findings)


def test_accepted_findings_are_not_results() -> None:
    report = edge_report()
    results = _results(report)
    assert len(report.findings) == 5
    assert len(results) == 3
    keys = {r["partialFingerprints"]["sgauditFindingKey/v1"] for r in results}
    assert keys == {f.key for f in report.active_findings}


def test_rule_ids_and_levels_of_the_fixture_findings() -> None:
    got = sorted((r["ruleId"], r["level"], r["properties"]["group_id"], r["properties"]["source"])
                 for r in _results(fixture_report()))
    assert got == [
        ("SGA001", "error", "sg-0a11ce0000000002", "0.0.0.0/0"),      # tcp 22 from the world
        ("SGA002", "error", "sg-0a11ce0000000003", "0.0.0.0/0"),      # protocol -1
        ("SGA003", "error", "sg-0a11ce0000000005", "::/0"),           # 8787 from IPv6 world
        ("SGA004", "warning", "sg-0a11ce0000000005", "10.0.0.0/8"),   # private range
        ("SGA004", "warning", "sg-0a11ce0000000006", "sg-0badbeef00000099"),
        ("SGA005", "warning", "sg-0a11ce0000000002", "0.0.0.0/0"),    # missing 8787
    ]


def test_rules_are_listed_once_each_and_indexed() -> None:
    run = json.loads(sarif.render(fixture_report()))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["SGA001", "SGA002", "SGA003", "SGA004", "SGA005"]
    assert [r["name"] for r in rules] == ["WorldOpenAdminPort", "AllTraffic", "PublicIngress",
                                          "ExtraIngress", "MissingRequiredIngress"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    assert all("security-severity" in r["properties"] for r in rules)


def _f(**kw: object) -> Finding:
    base: dict[str, object] = dict(key="k", kind="extra", severity="high", account="1", region="r",
                                   group_id="sg-1", group_name="", protocol="tcp", from_port=80,
                                   to_port=80, source="0.0.0.0/0", rule_ids=(), reason="")
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("finding", "rule_id"), [
    (_f(kind="missing", severity="medium", from_port=22, to_port=22), "SGA005"),
    (_f(protocol="-1", from_port=-1, to_port=-1, severity="medium", source="sg-9"), "SGA002"),
    (_f(protocol="udp", from_port=0, to_port=65535, severity="critical"), "SGA002"),
    (_f(from_port=3389, to_port=3389, severity="critical"), "SGA001"),
    (_f(from_port=20, to_port=30, severity="critical"), "SGA001"),
    (_f(from_port=22, to_port=22, severity="high", source="203.0.113.0/24"), "SGA003"),
    (_f(from_port=22, to_port=22, severity="medium", source="10.0.0.0/8"), "SGA004"),
    (_f(protocol="icmp", from_port=8, to_port=-1, severity="low", source="10.0.0.0/8"), "SGA004"),
])
def test_finding_types(finding: Finding, rule_id: str) -> None:
    assert finding_type(finding).rule_id == rule_id


def test_levels_from_severity() -> None:
    assert sarif.LEVELS == {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def test_incomplete_scan_is_an_unsuccessful_invocation_with_its_errors() -> None:
    inv = json.loads(sarif.render(edge_report()))["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert inv["endTimeUtc"] == GENERATED_AT
    texts = [n["message"]["text"] for n in inv["toolExecutionNotifications"]]
    assert texts[0].startswith("444455556666/ap-south-1 DescribeSecurityGroups: UnauthorizedOperation: ")
    assert len(texts) == 2
    assert json.loads(sarif.render(fixture_report()))["runs"][0]["invocations"][0] == {
        "executionSuccessful": True, "endTimeUtc": GENERATED_AT}


def test_locations_name_the_group_and_the_policy_file() -> None:
    result = _results(fixture_report())[0]
    (location,) = result["locations"]
    assert location["physicalLocation"]["artifactLocation"] == {
        "uri": "fixtures/policy.yaml", "uriBaseId": "POLICYROOT"}
    (logical,) = location["logicalLocations"]
    assert logical["kind"] == "resource"
    assert logical["fullyQualifiedName"] == f"111122223333/unknown/{logical['name']}"
    # the line of the option that decides it: enable_public_ssh (line 3) shapes this group
    assert location["physicalLocation"]["region"] == {"startLine": 3}
    # without a policy file every result still has a physical location (GitHub code scanning
    # rejects an upload otherwise): the group, as account/region/group id
    doc = json.loads(sarif.render(dataclasses.replace(fixture_report(), policy_path=None)))
    _validate(doc)
    run = doc["runs"][0]
    assert run["results"] and all(
        r["locations"][0]["physicalLocation"] == {
            "artifactLocation": {"uri": f"{r['properties']['account']}/{r['properties']['region']}/"
                                        f"{r['properties']['group_id']}", "uriBaseId": "SGAUDITCLOUD"},
            "region": {"startLine": 1}}
        for r in run["results"])
    assert set(run["originalUriBaseIds"]) == {"SGAUDITCLOUD"}
    # an absolute policy path becomes a file: URI, spaces escaped
    (result, *_) = _results(dataclasses.replace(fixture_report(), policy_path="/etc/sg audit/p.yaml"))
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///etc/sg%20audit/p.yaml"}


def test_control_characters_from_the_cloud_do_not_reach_the_log() -> None:
    text = sarif.render(edge_report())
    assert "\\u001b" not in text and "\x1b" not in text


def test_each_result_points_at_the_line_of_the_policy_that_decides_it() -> None:
    """fixtures/policy.yaml: enable_public_ssh on line 3 (account level), the analytics
    cluster's firewall on line 16; the allow list (line 20) is an exception, never the place."""
    got = sorted({(r["properties"]["group_id"], r["properties"]["kind"],
                   r["locations"][0]["physicalLocation"]["region"]["startLine"])
                  for r in _results(fixture_report())})
    assert got == [("sg-0a11ce0000000002", "extra", 3), ("sg-0a11ce0000000002", "missing", 3),
                   ("sg-0a11ce0000000003", "extra", 3), ("sg-0a11ce0000000005", "extra", 16),
                   ("sg-0a11ce0000000006", "extra", 3)]


def test_at_most_5000_results_the_worst_kept_the_rest_summarized() -> None:
    report = fixture_report()
    (base,) = [f for f in report.active_findings if f.severity == "critical" and f.kind == "extra"
               and f.protocol == "tcp"]
    low = [base._replace(key=f"{base.key}|low{i}", severity="low") for i in range(5001)]
    first = report.results[0]
    big = dataclasses.replace(report, results=(
        dataclasses.replace(first, findings=(*first.findings, *low)), *report.results[1:]))
    run = json.loads(sarif.render(big))["runs"][0]
    assert len(run["results"]) == sarif.MAX_RESULTS
    # the six real findings (critical to medium) are all kept; 5001 + 6 - 5000 lows are left out
    kept = {r["partialFingerprints"]["sgauditFindingKey/v1"] for r in run["results"]}
    assert {f.key for f in report.active_findings} <= kept
    assert run["properties"]["omitted_results"] == {
        "count": 7, "limit": 5000, "by_severity": {"low": 7},
        "why": "code scanning takes at most 5000 results a run; the worst are given"}
    assert "omitted_results" not in json.loads(sarif.render(report))["runs"][0]["properties"]
