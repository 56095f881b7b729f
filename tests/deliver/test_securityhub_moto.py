"""``check --securityhub`` end to end over real HTTP: moto's Security Hub on 127.0.0.1 (it
implements BatchImportFindings and GetFindings, but ignores GetFindings' filters), reached through
moto_support's proxy, which logs every request and its JSON body and can fail or throttle calls."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import Run
from moto_support import (
    ACCOUNT,
    COILED,
    DEFAULT_INGRESS,
    Fault,
    FaultProxy,
    assumed,
    aws_env,
    ec2,
    make_group,
    make_vpc,
    moto_url,
)

from sgaudit.deliver import securityhub
from sgaudit.report.security_findings import finding_id

__all__ = ["aws_env", "moto_url"]  # pytest fixtures used by name

WORLD = "0.0.0.0/0"
IMPORT, GET = "/findings/import", "/findings"
PEOPLE = {"Workflow", "Note", "UserDefinedFields", "WorkflowState", "VerificationState"}


@pytest.fixture
def proxy(aws_env: str) -> Iterator[FaultProxy]:
    with FaultProxy(aws_env) as p:
        yield p


def hub(url: str, region: str = "us-east-1", **credentials: str) -> Any:
    return boto3.client("securityhub", region_name=region, endpoint_url=url, **credentials)


def in_hub(url: str, region: str = "us-east-1", **credentials: str) -> dict[str, dict[str, Any]]:
    """Every finding moto holds for the account/region, by Id."""
    return {f["Id"]: f for f in hub(url, region, **credentials).get_findings(MaxResults=100)["Findings"]}


class Drift:
    """Two drifted Coiled groups in one region: each opens one extra port to the world."""

    def __init__(self, url: str, region: str = "us-east-1") -> None:
        self.client = c = ec2(url, region)
        vpc = make_vpc(c)
        self.pg = make_group(c, vpc, "coiled-pg", COILED, [*DEFAULT_INGRESS, ("tcp", 5432, 5432, WORLD)])
        self.web = make_group(c, vpc, "coiled-web", COILED, [*DEFAULT_INGRESS, ("tcp", 9000, 9000, WORLD)])
        self.region = region

    def key(self, group: str, port: int) -> str:
        return f"extra|{ACCOUNT}|{self.region}|{group}|tcp|{port}|{port}|{WORLD}"

    def fix_pg(self) -> None:
        self.client.revoke_security_group_ingress(GroupId=self.pg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": WORLD}]}])


def check(sgaudit: Callable[..., Run], proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, when: str,
          *args: object) -> Run:
    monkeypatch.setenv("SGAUDIT_NOW", when)
    return sgaudit("check", "--securityhub", "--endpoint-url", proxy.url, "-f", "json", *args)


def imported_bodies(proxy: FaultProxy) -> list[dict[str, Any]]:
    return [f for path, body in proxy.bodies if path == IMPORT for f in body["Findings"]]


def test_import_then_nothing_changes_then_a_fix_archives(
        sgaudit: Callable[..., Run], proxy: FaultProxy, aws_env: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    drift = Drift(aws_env)
    pg, web = finding_id(drift.key(drift.pg, 5432)), finding_id(drift.key(drift.web, 9000))

    first = check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", "--regions", "us-east-1")
    assert first.code == 0, first.err
    assert "sgaudit: Security Hub: 2 active finding(s) imported, 0 resolved finding(s) archived in " \
           "1 account/region(s)" in first.err_lines
    held = in_hub(aws_env)
    assert sorted(held) == sorted([pg, web])
    assert {(f["RecordState"], f["Compliance"]["Status"], f["UpdatedAt"]) for f in held.values()} == {
        ("ACTIVE", "FAILED", "2026-03-01T02:00:00Z")}
    assert held[pg]["Resources"][0]["Details"]["AwsEc2SecurityGroup"]["GroupId"] == drift.pg
    assert held[pg]["ProductArn"] == f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default"

    # night 2: the same drift -> the same two findings, only UpdatedAt moves
    second = check(sgaudit, proxy, monkeypatch, "2026-03-02T02:00:00Z", "--regions", "us-east-1")
    assert second.code == 0, second.err
    again = in_hub(aws_env)
    assert sorted(again) == sorted([pg, web])
    assert {f["UpdatedAt"] for f in again.values()} == {"2026-03-02T02:00:00Z"}
    assert {f["CreatedAt"] for f in again.values()} == {"2026-03-02T02:00:00Z"}  # no history given

    # night 3: the postgres rule is revoked -> its finding archived and passed, the other active
    drift.fix_pg()
    third = check(sgaudit, proxy, monkeypatch, "2026-03-03T02:00:00Z", "--regions", "us-east-1")
    assert third.code == 0, third.err
    assert "sgaudit: Security Hub: 1 active finding(s) imported, 1 resolved finding(s) archived in " \
           "1 account/region(s)" in third.err_lines
    final = in_hub(aws_env)
    assert (final[pg]["RecordState"], final[pg]["Compliance"]["Status"]) == ("ARCHIVED", "PASSED")
    assert final[pg]["UpdatedAt"] == "2026-03-03T02:00:00Z"
    assert (final[web]["RecordState"], final[web]["Compliance"]["Status"]) == ("ACTIVE", "FAILED")
    # nothing sgaudit sent carries the fields that belong to people
    sent = imported_bodies(proxy)
    assert len(sent) == 2 + 2 + 2
    assert all(not PEOPLE & set(f) for f in sent)

    # night 4: nothing more to archive (an archived finding is not archived again)
    fourth = check(sgaudit, proxy, monkeypatch, "2026-03-04T02:00:00Z", "--regions", "us-east-1")
    assert "sgaudit: Security Hub: 1 active finding(s) imported, 0 resolved finding(s) archived in " \
           "1 account/region(s)" in fourth.err_lines


def test_only_sgaudits_findings_are_archived(sgaudit: Callable[..., Run], proxy: FaultProxy, aws_env: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """moto answers GetFindings with everything in the hub: findings of another product, of
    another generator, or already archived must be left alone, chosen on the client."""
    Drift(aws_env)
    product = f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default"
    base = {"SchemaVersion": "2018-10-08", "AwsAccountId": ACCOUNT, "CreatedAt": "2026-01-01T00:00:00Z",
            "UpdatedAt": "2026-01-01T00:00:00Z", "Severity": {"Label": "HIGH"}, "Title": "t",
            "Description": "d", "Types": ["Software and Configuration Checks"], "RecordState": "ACTIVE",
            "Resources": [{"Type": "Other", "Id": "x"}]}
    others = [
        {**base, "Id": "guardduty/1", "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/guardduty",
         "GeneratorId": "guardduty"},
        {**base, "Id": "mine/1", "ProductArn": product, "GeneratorId": "my-own-scanner"},
        {**base, "Id": "sgaudit/v1/" + "0" * 64, "ProductArn": product, "GeneratorId": "sgaudit/SGA003",
         "RecordState": "ARCHIVED", "UpdatedAt": "2026-01-02T00:00:00Z"},
    ]
    hub(aws_env).batch_import_findings(Findings=others)
    run = check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", "--regions", "us-east-1")
    assert run.code == 0, run.err
    held = in_hub(aws_env)
    for finding in others:
        assert held[finding["Id"]]["RecordState"] == finding["RecordState"]
        assert held[finding["Id"]]["UpdatedAt"] == finding["UpdatedAt"]
    assert sum(1 for path, _ in proxy.bodies if path == GET) == 1
    assert "0 resolved finding(s) archived" in run.err


def test_a_region_whose_scan_failed_archives_nothing(sgaudit: Callable[..., Run], proxy: FaultProxy,
                                                     aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    east, west = Drift(aws_env), Drift(aws_env, "eu-west-1")
    regions = ("--regions", "us-east-1,eu-west-1")
    assert check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", *regions).code == 0
    east.fix_pg()
    west.fix_pg()
    proxy.deny("DescribeSecurityGroups", region="eu-west-1")
    proxy.requests.clear()
    run = check(sgaudit, proxy, monkeypatch, "2026-03-02T02:00:00Z", *regions)
    assert run.code == 3, run.err
    pg_east, pg_west = finding_id(east.key(east.pg, 5432)), finding_id(west.key(west.pg, 5432))
    assert in_hub(aws_env)[pg_east]["RecordState"] == "ARCHIVED"
    assert in_hub(aws_env, "eu-west-1")[pg_west]["RecordState"] == "ACTIVE"  # unread: not archived
    assert [r for r, path in proxy.requests if path == GET] == ["us-east-1"]


def test_more_than_100_findings_go_in_batches(sgaudit: Callable[..., Run], proxy: FaultProxy, aws_env: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    c = ec2(aws_env)
    vpc = make_vpc(c)
    ports = [10000 + 2 * i for i in range(45)]  # not adjacent: one finding per rule
    for name in ("coiled-a", "coiled-b", "coiled-c"):  # moto allows 60 rules a group
        make_group(c, vpc, name, COILED, [*DEFAULT_INGRESS, *(("tcp", p, p, WORLD) for p in ports)])
    run = check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", "--regions", "us-east-1")
    assert run.code == 0, run.err
    assert [len(body["Findings"]) for path, body in proxy.bodies if path == IMPORT] == [100, 35]
    assert len(_all_in_hub(aws_env)) == 135


def _all_in_hub(url: str) -> list[dict[str, Any]]:
    pages = hub(url).get_paginator("get_findings").paginate()
    return [f for page in pages for f in page["Findings"]]


def test_rejected_findings_are_errors_of_their_region(sgaudit: Callable[..., Run], proxy: FaultProxy,
                                                      aws_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    drift = Drift(aws_env)
    pg = finding_id(drift.key(drift.pg, 5432))
    answer = {"FailedCount": 1, "SuccessCount": 1,
              "FailedFindings": [{"Id": pg, "ErrorCode": "InvalidInput", "ErrorMessage": "bad resource"}]}
    proxy.faults.append(Fault("us-east-1", "", 200, IMPORT, body=json.dumps(answer)))
    run = check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", "--regions", "us-east-1")
    assert run.code == 3, run.err
    report = json.loads(run.out)
    assert report["complete"] is False
    assert report["errors"] == [{
        "account": ACCOUNT, "region": "us-east-1", "operation": "BatchImportFindings",
        "code": "InvalidInput",
        "message": f"Security Hub rejected 1 of 2 finding(s): {pg}: InvalidInput bad resource"}]
    assert "Security Hub: 1 active finding(s) imported" in run.err
    # --allow-partial: the report still says it, the exit code follows the drift
    run = check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", "--regions", "us-east-1",
                "--allow-partial", "--fail-on-drift")
    assert run.code == 1


def test_access_denied_is_an_error_and_nothing_is_archived(sgaudit: Callable[..., Run], proxy: FaultProxy,
                                                           aws_env: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    Drift(aws_env)
    proxy.faults.append(Fault("us-east-1", "AccessDeniedException", 403, IMPORT,
                              "User is not authorized to perform: securityhub:BatchImportFindings"))
    run = check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", "--regions", "us-east-1")
    assert run.code == 3, run.err
    (error,) = json.loads(run.out)["errors"]
    assert (error["operation"], error["code"]) == ("BatchImportFindings", "AccessDeniedException")
    assert error["message"] == ("User is not authorized to perform: securityhub:BatchImportFindings "
                                "(2 finding(s) not imported)")
    assert "Security Hub: 0 active finding(s) imported" in run.err
    assert not any(path == GET for path, _ in proxy.bodies)  # a failed import archives nothing
    assert in_hub(aws_env) == {}


def test_throttling_is_retried(sgaudit: Callable[..., Run], proxy: FaultProxy, aws_env: str,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Four 429s: botocore's own three attempts give up, sgaudit waits and calls again."""
    Drift(aws_env)
    monkeypatch.setattr(securityhub, "BACKOFF_S", 0.01)
    proxy.faults.append(Fault("us-east-1", "TooManyRequestsException", 429, IMPORT, "Rate exceeded",
                              times=4))
    run = check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", "--regions", "us-east-1")
    assert run.code == 0, run.err
    assert proxy.requests[("us-east-1", IMPORT)] == 5
    assert len(in_hub(aws_env)) == 2


def test_unlabelled_snapshots_are_refused_before_anything_is_imported(
        sgaudit: Callable[..., Run], proxy: FaultProxy, aws_env: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    Drift(aws_env)
    snap = tmp_path / "sg.json"
    snap.write_text(json.dumps(ec2(aws_env).describe_security_groups(), default=str))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    run = sgaudit("check", "--securityhub", "--snapshot", snap)
    assert run.code == 2
    assert run.err_lines[-1].startswith("sgaudit: error: --securityhub: group sg-")
    assert run.err_lines[-1].endswith(f"has account '{ACCOUNT}' and region 'unknown'; Security Hub needs "
                                      "both: label the snapshot file (--snapshot "
                                      "123456789012:us-east-1:FILE) or pass --account and --region")
    assert proxy.bodies == []


def test_labelled_snapshots_import_into_their_own_account(
        sgaudit: Callable[..., Run], proxy: FaultProxy, aws_env: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    drift = Drift(aws_env)
    snap = tmp_path / "sg.json"
    snap.write_text(json.dumps(ec2(aws_env).describe_security_groups(), default=str))
    vpcs = tmp_path / "vpcs.json"
    vpcs.write_text(json.dumps(ec2(aws_env).describe_vpcs(), default=str))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    run = sgaudit("check", "--securityhub", "--snapshot", f"{ACCOUNT}:us-east-1:{snap}",
                  "--snapshot", f"{ACCOUNT}:us-east-1:{vpcs}", "-f", "json")
    assert run.code == 0, run.err
    assert sorted(in_hub(aws_env)) == sorted([finding_id(drift.key(drift.pg, 5432)),
                                              finding_id(drift.key(drift.web, 9000))])
    # another account's snapshot: the credentials cannot import for it -> its error, exit 3
    run = sgaudit("check", "--securityhub", "--snapshot", f"111122223333:us-east-1:{snap}",
                  "--snapshot", f"111122223333:us-east-1:{vpcs}", "-f", "json")
    assert run.code == 3
    (error,) = json.loads(run.out)["errors"]
    assert error["account"] == "111122223333"
    assert error["message"].startswith(f"the credentials are of account {ACCOUNT}; Security Hub takes "
                                       "account 111122223333's findings only from that account")


def test_each_role_imports_into_its_own_account(sgaudit: Callable[..., Run], proxy: FaultProxy, aws_env: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    role = "arn:aws:iam::210987654321:role/auditor"
    creds = assumed(aws_env, role)
    c = ec2(aws_env, **creds)
    vpc = make_vpc(c)
    make_group(c, vpc, "coiled-x", COILED, [*DEFAULT_INGRESS, ("tcp", 5432, 5432, WORLD)])
    run = check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", "--regions", "us-east-1",
                "--role-arn", role)
    assert run.code == 0, run.err
    (held,) = in_hub(aws_env, **creds).values()
    assert held["AwsAccountId"] == "210987654321"
    assert held["ProductArn"] == "arn:aws:securityhub:us-east-1:210987654321:product/210987654321/default"
    assert in_hub(aws_env) == {}  # nothing in the base credentials' account


def test_refused_combinations(sgaudit: Callable[..., Run], aws_env: str) -> None:
    run = sgaudit("check", "--securityhub", "--fix", "--yes")
    assert (run.code, run.err_lines[-1]) == (2, "sgaudit: error: --securityhub with --fix: run the fix "
                                                "first, then a check with --securityhub imports what is left")
    run = sgaudit("check", "--securityhub", "--gcp-project", "p")
    assert run.code == 2 and "--securityhub takes AWS findings" in run.err


def test_an_organization_scan_imports_with_each_accounts_assumed_role(
        sgaudit: Callable[..., Run], proxy: FaultProxy, aws_env: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    orgs = boto3.client("organizations", region_name="us-east-1", endpoint_url=aws_env)
    orgs.create_organization(FeatureSet="ALL")
    members = [orgs.create_account(AccountName=f"team-{n}", Email=f"{n}@example.com")
               ["CreateAccountStatus"]["AccountId"] for n in ("a", "b")]
    for account in members:
        c = ec2(aws_env, **assumed(aws_env, f"arn:aws:iam::{account}:role/sgaudit-read"))
        make_group(c, make_vpc(c), "coiled-x", COILED, [*DEFAULT_INGRESS, ("tcp", 3389, 3389, WORLD)])
    run = check(sgaudit, proxy, monkeypatch, "2026-03-01T02:00:00Z", "--regions", "us-east-1",
                "--org-role", "sgaudit-read")
    assert run.code == 0, run.err
    for account in members:
        creds = assumed(aws_env, f"arn:aws:iam::{account}:role/sgaudit-read")
        (held,) = in_hub(aws_env, **creds).values()
        assert (held["AwsAccountId"], held["GeneratorId"]) == (account, "sgaudit/SGA001")
    assert in_hub(aws_env) == {}  # the management account has no drift, so nothing
