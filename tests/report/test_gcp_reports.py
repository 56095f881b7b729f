"""Every report format for Google Cloud targets (a network tag in a network of a project), from
the engine's own output on in-memory GCP records (report_samples.gcp_report)."""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape
from pathlib import Path

import jsonschema
from report_samples import IMG, SCRIPT, fixture_report, gcp_report

from sgaudit.model import Waiver
from sgaudit.report import explain, html, json_report, sarif, table
from sgaudit.scheduled.baseline import mark_baselined, updated_baseline
from sgaudit.scheduled.waivers import apply_waivers

SCHEMA = json.loads((Path(__file__).parent.parent / "report.schema.json").read_text())
ETL_MISSING = "missing|coiled-prod|global|default/coiled-etl|tcp|22|22|0.0.0.0/0"
ETL_EXTRA = "extra|coiled-prod|global|default/coiled-etl|tcp|5432|5432|0.0.0.0/0|open-5432"


def test_json_names_the_cloud_of_every_group_and_fits_the_schema() -> None:
    doc = json.loads(json_report.render(gcp_report()))
    jsonschema.validate(doc, SCHEMA)
    assert [(g["group_id"], g["vpc_id"], g["account"], g["region"], g["cloud"], g["status"])
            for g in doc["groups"]] == [
        ("coiled-ml", "default", "coiled-dev", "global", "gcp", "ok"),
        ("coiled-etl", "default", "coiled-prod", "global", "gcp", "drift")]
    assert [f["key"] for f in doc["findings"]] == [ETL_EXTRA, ETL_MISSING]
    aws = json.loads(json_report.render(fixture_report()))
    assert {g["cloud"] for g in aws["groups"]} == {"aws"}


def test_schema_refuses_a_group_without_cloud() -> None:
    doc = json.loads(json_report.render(gcp_report()))
    del doc["groups"][0]["cloud"]
    try:
        jsonschema.validate(doc, SCHEMA)
    except jsonschema.ValidationError as exc:
        assert "'cloud' is a required property" in str(exc)
    else:
        raise AssertionError("a group without cloud passed the schema")


def test_sarif_locates_a_finding_by_project_network_and_tag() -> None:
    doc = sarif.document(gcp_report())
    locations = [(r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
                  r["properties"]["cloud"], r["properties"]["network"])
                 for r in doc["runs"][0]["results"]]
    assert locations == [("coiled-prod/default/coiled-etl", "gcp", "default")] * 2


def test_table_shows_project_and_network() -> None:
    text = table.render(gcp_report())
    assert text.startswith("coiled-etl  gcp project coiled-prod  network default  status drift\n")
    assert "1 of 2 group(s) match their desired state." in text


def _details(text: str) -> dict[str, list[list[str]]]:
    (strings,) = re.findall(r'<template id="strings">(.*?)</template>', text, re.S)
    rows = re.findall(r'<tbody class="[^"]*" data-d="([^"]*)"><tr>.*?<th scope=row>([^<]*)<', text, re.S)
    return {unescape(gid): html.decode_details(unescape(d), unescape(strings).split("\n"), unescape(gid))
            for d, gid in rows}


def test_html_lists_the_rules_in_evaluation_order_with_what_each_decides() -> None:
    text = html.render(gcp_report())
    assert SCRIPT not in text and IMG not in text
    rules = [r[1:] for r in _details(text)["coiled-etl"] if r[0] == "F"]
    assert [(r[0], r[1], r[2], r[3]) for r in rules] == [
        ("100", "deny", "hierarchical policy org-guardrails", "org-guardrails/100"),
        ("200", "goto_next", "hierarchical policy org-guardrails", "org-guardrails/200"),
        ("500", "deny", "VPC firewall rules", "block-9000"),
        ("900", "allow", "VPC firewall rules", "coiled-etl-dashboard"),
        ("1000", "allow", "VPC firewall rules", "coiled-etl-ingress"),
        ("1000", "allow", "VPC firewall rules", "debug-9000"),
        ("1000", "allow", "VPC firewall rules", "open-5432"),
        ("1000", "allow", "VPC firewall rules", "internal"),
    ]
    decides = {r[3]: r[6] if len(r) > 6 else "" for r in rules}
    assert decides["org-guardrails/100"] == "missing tcp 22 from 0.0.0.0/0"
    assert decides["open-5432"] == "extra tcp 5432 from 0.0.0.0/0"
    assert decides["debug-9000"] == ""
    applies = {r[3]: r[4] for r in rules}
    assert applies["open-5432"].startswith("possibly: targets service account db@")


def test_explain_shows_a_gcp_target() -> None:
    report = gcp_report()
    (etl,) = [r for r in report.results if r.group.group_id == "coiled-etl"]
    text = explain.render_explain([etl], "table")
    assert text.startswith("coiled-etl  gcp project coiled-prod  network default\n")
    assert re.search(r"required\s+tcp\s+22\s+0\.0\.0\.0/0", text)
    (doc,) = json.loads(explain.render_explain([etl], "json"))
    assert (doc["group_id"], doc["vpc_id"], doc["cloud"]) == ("coiled-etl", "default", "gcp")
    assert [(r["kind"], r["ports"]) for r in doc["rules"]][:3] == [
        ("required", "22"), ("required", "8786"), ("required", "8787")]


def test_waivers_and_baselines_work_with_gcp_keys() -> None:
    report = gcp_report()
    waiver = Waiver(group_id="coiled-etl", protocol="tcp", from_port=5432, to_port=5432,
                    source="0.0.0.0/0", reason="migration", expires="2099-01-01", where="p.yaml:3")
    waived, check = apply_waivers(report, [waiver], date(2026, 1, 2))
    assert [(f.key, f.waived) for f in waived.findings] == [(ETL_EXTRA, True), (ETL_MISSING, False)]
    assert check.stale == ()
    baseline = updated_baseline(report, None, written_at="2026-01-02T03:04:05Z", policy_sha256="")
    assert sorted(baseline.entries) == [ETL_EXTRA, ETL_MISSING]
    again = mark_baselined(gcp_report(), baseline)
    assert all(f.baselined for f in again.findings) and len(again.findings) == 2
