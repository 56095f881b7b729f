"""`sgaudit check` / `snapshot` against moto's server on loopback: real HTTP, real boto3."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from moto_support import (
    ACCOUNT,
    COILED,
    CallCounter,
    Fault,
    FaultProxy,
    aws_env,
    closed_port_url,
    ec2,
    make_group,
    make_prefix_list,
    make_vpc,
    moto_url,
)

from sgaudit.sources import aws

__all__ = ["aws_env", "moto_url"]  # fixtures, imported for pytest

POLICY = """\
backend_options:
  enable_public_ssh: false
clusters:
  - match: {tags: {coiled-cluster: etl}}
    backend_options: {disable_public_ingress: true}
"""
BOTH = "us-east-1,eu-west-1"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def seed(url: str) -> dict[str, str]:
    """Drift in two regions; returns name -> group id."""
    ids: dict[str, str] = {}
    east = ec2(url, "us-east-1")
    vpc = make_vpc(east, "10.0.0.0/16")
    world = make_prefix_list(east, ["0.0.0.0/0"], "everyone")
    office = make_prefix_list(east, ["198.51.100.0/24"], "office")
    ids["world_pl"], ids["office_pl"] = world, office
    ids["ok"] = make_group(east, vpc, "coiled-ok", COILED, [("tcp", 8786, 8787, "0.0.0.0/0")])
    ids["ssh"] = make_group(east, vpc, "coiled-ssh", COILED,
                            [("tcp", 8786, 8787, "0.0.0.0/0"), ("tcp", 22, 22, "0.0.0.0/0")])
    ids["etl"] = make_group(east, vpc, "coiled-etl", {**COILED, "coiled-cluster": "etl"},
                            [("tcp", 22, 22, "10.0.0.0/16"), ("tcp", 8786, 8787, "10.0.0.0/16"),
                             ("tcp", 8786, 8786, "0.0.0.0/0")])
    ids["pl"] = make_group(east, vpc, "coiled-pl", COILED,
                           [("tcp", 8786, 8787, "0.0.0.0/0"), ("tcp", 22, 22, world)])
    ids["office"] = make_group(east, vpc, "coiled-office", COILED,
                               [("tcp", 8786, 8787, "0.0.0.0/0"), ("tcp", 22, 22, office)])
    ids["untagged"] = make_group(east, vpc, "not-coiled", None, [("tcp", 22, 22, "0.0.0.0/0")])
    west = ec2(url, "eu-west-1")
    wvpc = make_vpc(west, "10.1.0.0/16")
    ids["missing"] = make_group(west, wvpc, "coiled-missing", COILED, [("tcp", 8786, 8786, "0.0.0.0/0")])
    return ids


def findings(doc: dict[str, Any]) -> set[tuple[object, ...]]:
    return {(f["kind"], f["account"], f["region"], f["group_id"], f["protocol"], f["from_port"],
             f["to_port"], f["source"]) for f in doc["findings"]}


def expected_drift(ids: dict[str, str]) -> set[tuple[object, ...]]:
    east, west = (ACCOUNT, "us-east-1"), (ACCOUNT, "eu-west-1")
    return {
        ("extra", *east, ids["ssh"], "tcp", 22, 22, "0.0.0.0/0"),
        ("extra", *east, ids["etl"], "tcp", 8786, 8786, "0.0.0.0/0"),
        # a prefix list holding 0.0.0.0/0 is the internet; the office list is not inside the VPC
        ("extra", *east, ids["pl"], "tcp", 22, 22, ids["world_pl"]),
        ("extra", *east, ids["office"], "tcp", 22, 22, ids["office_pl"]),
        ("missing", *west, ids["missing"], "tcp", 8787, 8787, "0.0.0.0/0"),
    }


def test_two_regions_find_exactly_the_seeded_drift(aws_env: str, policy: Path, sgaudit: Any) -> None:
    ids = seed(aws_env)
    run = sgaudit("check", "--policy", policy, "--regions", BOTH, "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["complete"] is True and doc["errors"] == []
    assert doc["scanned"] == [f"aws {ACCOUNT}/us-east-1", f"aws {ACCOUNT}/eu-west-1"]
    assert findings(doc) == expected_drift(ids)
    by_id = {f["source"]: f for f in doc["findings"]}
    assert by_id[ids["world_pl"]]["severity"] == "critical"  # ssh from the whole internet
    groups = {g["group_id"]: (g["account"], g["region"], g["status"]) for g in doc["groups"]}
    assert ids["untagged"] not in groups
    assert groups[ids["ok"]] == (ACCOUNT, "us-east-1", "ok")
    assert groups[ids["missing"]] == (ACCOUNT, "eu-west-1", "drift")
    assert len(groups) == 6
    # the table names account and region of every drifted group
    table = sgaudit("check", "--policy", policy, "--regions", BOTH, "--fail-on-drift")
    assert table.code == 1
    assert f"{ids['missing']} (coiled-missing)  account {ACCOUNT}  region eu-west-1" in table.out


def test_snapshot_replays_to_the_same_findings(aws_env: str, policy: Path, sgaudit: Any,
                                               tmp_path: Path) -> None:
    seed(aws_env)
    live = sgaudit("check", "--policy", policy, "--regions", BOTH, "--format", "json")
    saved = tmp_path / "evidence" / "scan.json"
    saved.parent.mkdir()
    snap = sgaudit("snapshot", "--policy", policy, "--regions", BOTH, "-o", saved)
    assert snap.code == 0, snap.err
    assert snap.out == ""
    assert snap.err_lines == [f"sgaudit: 6 group(s) from 2 account/region(s) written to {saved}"]
    data = json.loads(saved.read_text())
    assert data["sgaudit_snapshot"] == 1 and data["taken_at"].endswith("Z")
    assert [(s["Account"], s["Region"]) for s in data["scans"]] == [(ACCOUNT, "us-east-1"),
                                                                    (ACCOUNT, "eu-west-1")]
    east = data["scans"][0]
    assert len(east["Vpcs"]) == 1 and len(east["PrefixLists"]) == 2 and east["Errors"] == []
    replay = sgaudit("check", "--policy", policy, "--snapshot", saved, "--format", "json")
    assert replay.code == 0, replay.err
    live_doc, replay_doc = json.loads(live.out), json.loads(replay.out)
    # the same findings; only a live scan reads rule ids (DescribeSecurityGroupRules)
    assert all(f["rule_ids"] for f in live_doc["findings"] if f["kind"] == "extra")
    assert replay_doc["findings"] == [{**f, "rule_ids": []} for f in live_doc["findings"]]
    assert replay_doc["groups"] == live_doc["groups"]
    assert replay_doc["complete"] is True
    assert [p.name for p in saved.parent.iterdir()] == ["scan.json"]  # no temp file left


def test_a_denied_region_makes_the_scan_incomplete(aws_env: str, policy: Path, sgaudit: Any,
                                                   tmp_path: Path) -> None:
    ids = seed(aws_env)
    with FaultProxy(aws_env, [Fault("eu-west-1", "UnauthorizedOperation", 403)]) as proxy:
        args = ("check", "--policy", policy, "--regions", BOTH, "--endpoint-url", proxy.url,
                "--format", "json")
        run = sgaudit(*args)
        assert run.code == 3
        doc = json.loads(run.out)
        assert doc["complete"] is False
        assert [(e["account"], e["region"], e["operation"], e["code"]) for e in doc["errors"]] == [
            (ACCOUNT, "eu-west-1", "DescribeSecurityGroups", "UnauthorizedOperation")]
        assert run.err_lines[-1].endswith("INCOMPLETE: 1 error(s)")
        # the readable region is reported in full
        assert findings(doc) == {f for f in expected_drift(ids) if f[2] == "us-east-1"}
        assert proxy.requests[("eu-west-1", "DescribeSecurityGroups")] == 1  # denied: not retried

        partial = sgaudit(*args, "--allow-partial")
        assert partial.code == 0
        assert json.loads(partial.out)["complete"] is False
        assert json.loads(partial.out)["findings"] == doc["findings"]
        assert sgaudit(*args, "--allow-partial", "--fail-on-drift").code == 1

        table = sgaudit("check", "--policy", policy, "--regions", BOTH, "--endpoint-url", proxy.url)
        assert table.code == 3
        assert f"  - {ACCOUNT}/eu-west-1 DescribeSecurityGroups: UnauthorizedOperation: " in table.out

        saved = tmp_path / "partial.json"
        snap = sgaudit("snapshot", "--policy", policy, "--regions", BOTH, "--endpoint-url", proxy.url,
                       "-o", saved)
        assert snap.code == 3
        assert (f"could not read {ACCOUNT}/eu-west-1 DescribeSecurityGroups: UnauthorizedOperation"
                in snap.err)
    # the evidence keeps the failure: a replay is exactly as incomplete as the scan
    replay = sgaudit("check", "--policy", policy, "--snapshot", saved, "--format", "json")
    assert replay.code == 3
    assert json.loads(replay.out)["errors"] == doc["errors"]
    assert json.loads(replay.out)["findings"] == [{**f, "rule_ids": []} for f in doc["findings"]]
    assert sgaudit("check", "--policy", policy, "--snapshot", saved, "--allow-partial").code == 0


def test_a_throttled_region_gives_up_after_bounded_retries(aws_env: str, policy: Path,
                                                          sgaudit: Any) -> None:
    ids = seed(aws_env)
    with FaultProxy(aws_env, [Fault("eu-west-1", "RequestLimitExceeded", 503)]) as proxy:
        args = ("check", "--policy", policy, "--regions", BOTH, "--endpoint-url", proxy.url,
                "--format", "json")
        run = sgaudit(*args)
        assert run.code == 3
        doc = json.loads(run.out)
        [error] = doc["errors"]
        assert (error["account"], error["region"], error["operation"], error["code"]) == (
            ACCOUNT, "eu-west-1", "DescribeSecurityGroups", "RequestLimitExceeded")
        assert error["message"].endswith(f"(after {aws.MAX_ATTEMPTS} attempts)")
        # retried, but boundedly: a throttled account is not hammered
        assert proxy.requests[("eu-west-1", "DescribeSecurityGroups")] == aws.MAX_ATTEMPTS
        assert proxy.requests[("us-east-1", "DescribeSecurityGroups")] == 1
        assert findings(doc) == {f for f in expected_drift(ids) if f[2] == "us-east-1"}
        partial = sgaudit(*args, "--allow-partial")
        assert partial.code == 0
        assert json.loads(partial.out)["findings"] == doc["findings"]


@pytest.mark.parametrize(("status", "code"), [(200, "MalformedAnswer"), (502, "502")])
def test_a_region_answering_html_is_an_error_of_that_region(aws_env: str, policy: Path,
                                                            sgaudit: Any, status: int,
                                                            code: str) -> None:
    """A proxy or captive portal answering with an HTML page is neither a crash nor, with
    status 200 (which botocore parses into an empty success), "no groups here": the region is
    recorded as unreadable (exit 3), the other region is reported in full."""
    ids = seed(aws_env)
    fault = Fault("eu-west-1", "Gateway says no", status, action="DescribeSecurityGroups", html=True)
    with FaultProxy(aws_env, [fault]) as proxy:
        run = sgaudit("check", "--policy", policy, "--regions", BOTH, "--endpoint-url", proxy.url,
                      "--format", "json")
    assert run.code == 3, run.err
    doc = json.loads(run.out)
    [error] = doc["errors"]
    assert (error["account"], error["region"], error["operation"], error["code"]) == (
        ACCOUNT, "eu-west-1", "DescribeSecurityGroups", code)
    assert "\n" not in error["message"]
    assert findings(doc) == {f for f in expected_drift(ids) if f[2] == "us-east-1"}
    assert "internal error" not in run.err


def test_expired_credentials_are_a_named_error(aws_env: str, policy: Path, sgaudit: Any) -> None:
    fault = Fault("us-east-1", "ExpiredToken", 400, action="GetCallerIdentity",
                  message="The security token included in the request is expired")
    with FaultProxy(aws_env, [fault]) as proxy:
        run = sgaudit("check", "--policy", policy, "--endpoint-url", proxy.url, "--format", "json")
    assert run.code == 3
    errors = json.loads(run.out)["errors"]
    assert [(e["region"], e["operation"], e["code"]) for e in errors] == [
        ("us-east-1", "GetCallerIdentity", "ExpiredToken")]
    assert errors[0]["account"] == "default credentials"
    assert "Traceback" not in run.err


def test_unreachable_endpoint(aws_env: str, policy: Path, sgaudit: Any) -> None:
    url = closed_port_url()
    run = sgaudit("check", "--policy", policy, "--endpoint-url", url, "--format", "json")
    assert run.code == 3
    doc = json.loads(run.out)
    assert doc["complete"] is False and doc["groups"] == []
    [error] = doc["errors"]
    assert (error["region"], error["operation"], error["code"]) == (
        "us-east-1", "GetCallerIdentity", "EndpointConnectionError")
    assert url in error["message"]
    assert run.err_lines[-1] == ("sgaudit: 0 group(s) audited; 0 drifted; 0 active finding(s); "
                                 "INCOMPLETE: 1 error(s)")
    assert "Traceback" not in run.err


def test_accounts_by_assumed_role(aws_env: str, sgaudit: Any) -> None:
    from moto_support import assumed

    arns = ["arn:aws:iam::111111111111:role/audit", "arn:aws:iam::222222222222:role/audit"]
    ids = {}
    for arn in arns:
        client = ec2(aws_env, "us-east-1", **assumed(aws_env, arn))
        vpc = make_vpc(client)
        ids[arn] = make_group(client, vpc, "coiled-a", COILED, [("tcp", 8786, 8787, "0.0.0.0/0")])
    run = sgaudit("check", "--role-arn", arns[0], "--role-arn", arns[1], "--external-id", "x-1",
                  "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["scanned"] == ["aws 111111111111/us-east-1", "aws 222222222222/us-east-1"]
    assert {(g["group_id"], g["account"]) for g in doc["groups"]} == {
        (ids[arns[0]], "111111111111"), (ids[arns[1]], "222222222222")}
    # defaults: 22 is required from the world and missing in both accounts
    assert {(f["account"], f["kind"], f["from_port"]) for f in doc["findings"]} == {
        ("111111111111", "missing", 22), ("222222222222", "missing", 22)}


def test_profiles_give_credentials_and_region(aws_env: str, sgaudit: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text("[profile audit]\nregion = eu-west-1\naws_access_key_id = testing\n"
                      "aws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    west = ec2(aws_env, "eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    group = make_group(west, make_vpc(west), "coiled-w", COILED, [("tcp", 22, 22, "0.0.0.0/0"),
                                                                  ("tcp", 8786, 8787, "0.0.0.0/0")])
    run = sgaudit("check", "--profile", "audit", "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["scanned"] == [f"aws {ACCOUNT}/eu-west-1"]
    assert [(g["group_id"], g["status"]) for g in doc["groups"]] == [(group, "ok")]
    missing = sgaudit("check", "--profile", "nobody")
    assert missing.code == 2
    assert missing.err_lines == ["sgaudit: error: AWS profile 'nobody' not found in the AWS config "
                                 "or credentials file"]


def test_all_regions_are_the_enabled_ones(aws_env: str, sgaudit: Any) -> None:
    enabled = sorted(r["RegionName"] for r in ec2(aws_env).describe_regions()["Regions"]
                     if r["OptInStatus"] != "not-opted-in")
    assert len(enabled) > 10
    run = sgaudit("check", "--regions", "all", "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["scanned"] == [f"aws {ACCOUNT}/{r}" for r in enabled]
    assert doc["complete"] is True


def test_explain_reads_live(aws_env: str, policy: Path, sgaudit: Any) -> None:
    ids = seed(aws_env)
    run = sgaudit("explain", "--policy", policy, "--regions", BOTH, ids["missing"])
    assert run.code == 0, run.err
    assert ids["missing"] in run.out and "8787" in run.out


def test_api_calls_per_region_do_not_grow_with_groups(aws_env: str, sgaudit: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 groups in a region: one DescribeSecurityGroups page, one DescribeVpcs, one read per
    referenced prefix list, and nothing per group (moto's one page stands for up to 1,000 groups;
    test_aws_scan.py pages with the Stubber)."""
    east = ec2(aws_env, "us-east-1")
    vpcs = [make_vpc(east, f"10.{i}.0.0/16") for i in range(3)]
    world = make_prefix_list(east, ["0.0.0.0/0"], "world")
    unused = make_prefix_list(east, ["192.0.2.0/24"], "unused")
    via_world = set()
    for i in range(1000):
        rules = [("tcp", 22, 22, world)] if i % 100 == 0 else []
        if i % 5 == 4:  # untagged, one of them referring to a list no selected group uses
            make_group(east, vpcs[i % 3], f"other-{i}", None, [("tcp", 22, 22, unused)] if i == 4 else [])
        else:
            group_id = make_group(east, vpcs[i % 3], f"coiled-{i}", COILED, rules)
            if rules:
                via_world.add(group_id)
    west = ec2(aws_env, "eu-west-1")
    wvpc = make_vpc(west)
    for i in range(20):
        make_group(west, wvpc, f"coiled-w{i}", COILED)

    counter = CallCounter()
    monkeypatch.setattr(aws, "AwsSource", functools.partial(aws.AwsSource, client_hook=counter.hook))
    run = sgaudit("check", "--regions", BOTH, "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert len(doc["groups"]) == 800 + 20
    assert dict(counter.calls) == {
        ("us-east-1", "GetCallerIdentity"): 1,
        ("us-east-1", "DescribeSecurityGroups"): 1,
        ("us-east-1", "DescribeVpcs"): 1,
        ("us-east-1", "GetManagedPrefixListEntries"): 1,
        ("eu-west-1", "DescribeSecurityGroups"): 1,
        ("eu-west-1", "DescribeVpcs"): 1,
    }
    # the defaults require ssh from the world; a prefix list holding 0.0.0.0/0 is the world
    missing_ssh = {f["group_id"] for f in doc["findings"] if f["kind"] == "missing" and f["from_port"] == 22}
    assert len(via_world) == 10
    assert len(missing_ssh) == 820 - 10 and not missing_ssh & via_world
