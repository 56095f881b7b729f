"""``--format asff`` and ``--format ocsf``: the same active findings, AWS's ASFF checked against
botocore's own model of BatchImportFindings, OCSF against the OCSF 1.3.0 schema's JSON (package
ocsf-json-schema, Draft 2020-12), with GCP targets and, with a history, Close events."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
import jsonschema
import pytest
from botocore.validate import ParamValidator
from conftest import FIXTURES, Run
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
from report_samples import GENERATED_AT, edge_report, fixture_report, gcp_report

from sgaudit import __version__
from sgaudit.model import Report, Resolved
from sgaudit.report import asff, ocsf
from sgaudit.report.security_findings import finding_id

REPORTS = {"fixtures": fixture_report, "edge": edge_report, "gcp": gcp_report}


def _ocsf_validator() -> jsonschema.Draft202012Validator:
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=ocsf.OCSF_VERSION))
    name = schema.lookup_class_name_from_uid(class_uid=ocsf.CLASS_UID)
    assert name == "compliance_finding"
    return jsonschema.Draft202012Validator(schema.get_class_schema(class_name=name, profiles=["cloud"]))


OCSF = _ocsf_validator()


def _asff_errors(findings: list[dict[str, Any]]) -> str:
    """botocore's own validation of a BatchImportFindings request (required members, types)."""
    model = botocore.session.get_session().get_service_model("securityhub")
    shape = model.operation_model("BatchImportFindings").input_shape
    return str(ParamValidator().validate({"Findings": findings}, shape).generate_report())


def test_the_ocsf_schema_rejects_what_ocsf_forbids() -> None:
    event = ocsf.events(fixture_report())[0]
    assert OCSF.is_valid(event)
    for broken in ({**event, "class_uid": 2004}, {**event, "activity_id": 7},
                   {k: v for k, v in event.items() if k != "finding_info"},
                   {**event, "finding_info": {"title": "no uid"}}, {**event, "surprise": 1}):
        assert not OCSF.is_valid(broken)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_ocsf_event_is_valid(name: str) -> None:
    events = json.loads(ocsf.render(REPORTS[name]()))
    assert events, name
    for event in events:
        errors = [e.message for e in OCSF.iter_errors(event)]
        assert errors == [], (name, event["finding_info"]["uid"])


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_asff_finding_is_what_batch_import_findings_takes(name: str) -> None:
    findings = json.loads(asff.render(REPORTS[name]()))["Findings"]
    assert findings
    assert _asff_errors(findings) == ""
    for f in findings:
        assert len(f["Title"]) <= 256 and len(f["Description"]) <= 1024
        assert len(f["Remediation"]["Recommendation"]["Text"]) <= 512
        assert not {"Workflow", "Note", "UserDefinedFields", "WorkflowState"} & set(f)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_asff_and_ocsf_hold_the_same_findings(name: str) -> None:
    report = REPORTS[name]()
    active = sorted(f.key for f in report.active_findings)
    hub = json.loads(asff.render(report))["Findings"]
    siem = json.loads(ocsf.render(report))
    assert sorted(e["finding_info"]["uid"] for e in siem) == active
    assert sorted(f["ProductFields"]["sgaudit/key"] for f in hub) == active
    assert sorted(f["Id"] for f in hub) == sorted(finding_id(k) for k in active)


def test_an_asff_finding_whole() -> None:
    report = fixture_report()
    report = dataclasses.replace(report, results=tuple(
        dataclasses.replace(r, findings=tuple(f._replace(first_seen="2025-12-01T00:00:00Z")
                                              for f in r.findings)) for r in report.results))
    first = json.loads(asff.render(report))["Findings"][0]
    key = "extra|111122223333|unknown|sg-0a11ce0000000002|tcp|22|22|0.0.0.0/0"
    assert first == {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id(key),
        "ProductArn": "arn:aws:securityhub:unknown:111122223333:product/111122223333/default",
        "ProductName": "sgaudit", "CompanyName": "sgaudit",
        "GeneratorId": "sgaudit/SGA001",
        "AwsAccountId": "111122223333", "Region": "unknown",
        "Types": ["Software and Configuration Checks/AWS Security Best Practices/"
                  "Network Reachability - Extra Ingress"],
        "CreatedAt": "2025-12-01T00:00:00Z", "UpdatedAt": GENERATED_AT,
        "Severity": {"Label": "CRITICAL", "Original": "critical"},
        "FindingProviderFields": {"Severity": {"Label": "CRITICAL", "Original": "critical"},
                                  "Types": ["Software and Configuration Checks/AWS Security Best "
                                            "Practices/Network Reachability - Extra Ingress"]},
        "Title": "Admin port open to the world: tcp 22 from 0.0.0.0/0",
        "Description": "The security group sg-0a11ce0000000002 (coiled-dask-prod-2) in 111122223333/unknown "
                       "allows ingress its cluster's options do not permit: tcp 22 from 0.0.0.0/0 "
                       "(outside the envelope: tcp 22 from 0.0.0.0/0 except 10.0.0.0/15). An "
                       "administrative port (22, 23, 3389, 5985-5986) is reachable from a world-scale "
                       "public range. Remove the rule or narrow its source to the addresses that need it.",
        "Remediation": {"Recommendation": {"Text": (
            "`sgaudit check --fix` revokes this rule (tcp 22 from 0.0.0.0/0) by its rule id and "
            "re-authorizes only the part the options permit, after a backup that `sgaudit rollback` "
            "restores.")}},
        "Resources": [{"Type": "AwsEc2SecurityGroup",
                       "Id": "arn:aws:ec2:unknown:111122223333:security-group/sg-0a11ce0000000002",
                       "Partition": "aws", "Region": "unknown",
                       "Details": {"AwsEc2SecurityGroup": {
                           "GroupId": "sg-0a11ce0000000002", "OwnerId": "111122223333",
                           "GroupName": "coiled-dask-prod-2", "VpcId": "vpc-0c0ffee0000000001"}}}],
        "Compliance": {"Status": "FAILED"},
        "RecordState": "ACTIVE",
        "ProductFields": {"sgaudit/key": key, "sgaudit/kind": "extra", "sgaudit/rule": "SGA001",
                          "sgaudit/protocol": "tcp", "sgaudit/from_port": "22", "sgaudit/to_port": "22",
                          "sgaudit/source": "0.0.0.0/0",
                          "sgaudit/reason": "outside the envelope: tcp 22 from 0.0.0.0/0 except 10.0.0.0/15",
                          "sgaudit/version": __version__},
    }
    # a finding seen before this scan is an OCSF Update, with the history's first_seen
    event = ocsf.events(report)[0]
    assert (event["activity_id"], event["type_uid"], event["finding_info"]["created_time"]) == (
        2, 200302, ocsf.millis("2025-12-01T00:00:00Z"))


@pytest.mark.parametrize(("region", "partition"), [("us-east-1", "aws"), ("cn-north-1", "aws-cn"),
                                                   ("us-gov-west-1", "aws-us-gov")])
def test_arns_follow_the_partition(region: str, partition: str) -> None:
    assert asff.product_arn("123456789012", region) == (
        f"arn:{partition}:securityhub:{region}:123456789012:product/123456789012/default")


def test_gcp_findings_name_the_project_network_and_tag() -> None:
    report = gcp_report()
    hub = json.loads(asff.render(report))["Findings"]
    siem = ocsf.events(report)
    by_key = {e["finding_info"]["uid"]: e for e in siem}
    for f in hub:
        event = by_key[f["ProductFields"]["sgaudit/key"]]
        network = f["ProductFields"]["sgaudit/network"]
        tag = f["Resources"][0]["Details"]["Other"]["networkTag"]
        assert f["Resources"][0]["Type"] == "Other"
        assert f["Resources"][0]["Details"]["Other"] == {
            "cloud": "gcp", "project": f["AwsAccountId"], "network": network, "networkTag": tag}
        assert event["cloud"] == {"provider": "GCP", "project_uid": f["AwsAccountId"], "region": "global",
                                  "account": {"uid": f["AwsAccountId"], "type_id": 99, "type": "GCP Project"}}
        project = f["AwsAccountId"]
        assert event["resources"][0]["uid"] == f"projects/{project}/global/networks/{network}/tags/{tag}"
    assert {f["AwsAccountId"] for f in hub} == {"coiled-prod"}  # coiled-dev has no drift


def test_hostile_text_stays_data() -> None:
    """The edge report's names carry control characters, bidi overrides and script tags: the
    formats keep them as JSON strings, never control characters."""
    for text in (asff.render(edge_report()), ocsf.render(edge_report())):
        assert "\u202e" not in text and "\x1b" not in text
        json.loads(text)


def test_resolved_findings_are_close_events() -> None:
    report: Report = dataclasses.replace(fixture_report(), resolved=(
        Resolved("missing|111122223333|us-east-1|sg-1|tcp|8786|8787|0.0.0.0/0", "missing", "medium",
                 "111122223333", "us-east-1", "sg-1", "2025-12-01T00:00:00Z"),))
    close = ocsf.events(report)[-1]
    assert OCSF.is_valid(close)
    assert (close["activity_id"], close["activity_name"], close["type_uid"]) == (3, "Close", 200303)
    assert (close["status_id"], close["status"]) == (4, "Resolved")
    assert close["compliance"] == {"standards": [ocsf.STANDARD], "status_id": 1, "status": "Pass",
                                   "control": "SGA005"}
    assert close["finding_info"]["uid"] == "missing|111122223333|us-east-1|sg-1|tcp|8786|8787|0.0.0.0/0"


def test_ocsf_with_a_history_closes_what_was_fixed(sgaudit: Callable[..., Run], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Night 1: the fixtures' drift; night 2: one world-open ssh rule is gone → one Close event
    for exactly that finding, the others Update events (seen before), none Create."""
    snapshot = json.loads((FIXTURES / "security-groups.json").read_text(encoding="utf-8"))
    args = ["--policy", FIXTURES / "policy.yaml", "--snapshot", FIXTURES / "vpcs.json",
            "--region", "us-east-1", "--account", "111122223333", "--history", tmp_path / "h.db",
            "-f", "ocsf", "--record-what-if"]
    (tmp_path / "night1.json").write_text(json.dumps(snapshot))
    monkeypatch.setenv("SGAUDIT_NOW", "2026-01-01T02:00:00Z")
    first = sgaudit("check", "--snapshot", tmp_path / "night1.json", *args)
    assert first.code == 0, first.err
    assert {e["activity_id"] for e in json.loads(first.out)} == {1}
    group = next(g for g in snapshot["SecurityGroups"] if g["GroupId"] == "sg-0a11ce0000000002")
    group["IpPermissions"] = [p for p in group["IpPermissions"] if p.get("FromPort") != 22]
    (tmp_path / "night2.json").write_text(json.dumps(snapshot))
    monkeypatch.setenv("SGAUDIT_NOW", "2026-01-02T02:00:00Z")
    second = sgaudit("check", "--snapshot", tmp_path / "night2.json", *args)
    assert second.code == 0, second.err
    events = json.loads(second.out)
    closed = [e for e in events if e["activity_id"] == 3]
    assert [e["finding_info"]["uid"] for e in closed] == [
        "extra|111122223333|us-east-1|sg-0a11ce0000000002|tcp|22|22|0.0.0.0/0"]
    assert {e["activity_id"] for e in events if e not in closed} == {2}
    assert all(OCSF.is_valid(e) for e in events)
