"""Organization-wide scans (``--org-role``) against moto's server on loopback: moto serves
Organizations and assumes roles into other accounts, each with its own EC2 state; a fault proxy
denies what a test needs denied."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto_support import (
    ACCOUNT,
    COILED,
    DEFAULT_INGRESS,
    CallCounter,
    Fault,
    FaultProxy,
    assumed,
    aws_env,
    ec2,
    make_group,
    make_vpc,
    moto_url,
)

from sgaudit.sources import aws

__all__ = ["aws_env", "moto_url"]  # fixtures, imported for pytest

ROLE = "sgaudit-read"
BOTH = "us-east-1,eu-west-1"
RDP = ("tcp", 3389, 3389, "0.0.0.0/0")


def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{ROLE}"


def member_ec2(url: str, account: str, region: str) -> Any:
    """An EC2 client acting in ``account`` (moto switches accounts on AssumeRole)."""
    if account == ACCOUNT:
        return ec2(url, region)
    return ec2(url, region, **assumed(url, role_arn(account)))


@pytest.fixture
def org(aws_env: str) -> dict[str, str]:
    """An organization: the management account and members a, b, c; name -> account id.

    a: drift in us-east-1 (rdp from the world); b: drift in eu-west-1; c and the management
    account: compliant groups only."""
    orgs = boto3.client("organizations", region_name="us-east-1", endpoint_url=aws_env)
    orgs.create_organization(FeatureSet="ALL")
    ids = {"management": ACCOUNT}
    for name in ("a", "b", "c"):
        status = orgs.create_account(AccountName=f"team-{name}", Email=f"{name}@example.com")
        ids[name] = status["CreateAccountStatus"]["AccountId"]
    for name, account in ids.items():
        for region in ("us-east-1", "eu-west-1"):
            client = member_ec2(aws_env, account, region)
            vpc = make_vpc(client)
            make_group(client, vpc, f"coiled-{name}-ok", COILED, DEFAULT_INGRESS)
            drift = (name, region) in (("a", "us-east-1"), ("b", "eu-west-1"))
            make_group(client, vpc, f"coiled-{name}-x", COILED,
                       [*DEFAULT_INGRESS, RDP] if drift else DEFAULT_INGRESS)
    return ids


def extras(doc: dict[str, Any]) -> set[tuple[str, str, str, int]]:
    return {(f["account"], f["region"], f["group_name"], f["from_port"])
            for f in doc["findings"] if f["kind"] == "extra"}


def counting(monkeypatch: pytest.MonkeyPatch) -> CallCounter:
    counter = CallCounter()
    monkeypatch.setattr(aws, "AwsSource", functools.partial(aws.AwsSource, client_hook=counter.hook))
    return counter


def test_org_scan_reads_every_account_and_finds_exactly_the_seeded_drift(
        org: dict[str, str], sgaudit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = counting(monkeypatch)
    run = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["complete"] is True and doc["errors"] == []
    assert extras(doc) == {(org["a"], "us-east-1", "coiled-a-x", 3389),
                           (org["b"], "eu-west-1", "coiled-b-x", 3389)}
    assert len(doc["groups"]) == 4 * 2 * 2
    assert doc["scanned"] == [f"aws organization, role {ROLE}: 8 account/region(s)"]
    assert {g["account"] for g in doc["groups"]} == set(org.values())
    assert doc["accounts"] == {
        "discovered": 4, "read": 4, "failed": 0, "excluded": 0, "not_listed": 0, "failed_accounts": [],
        "names": {ACCOUNT: "master", org["a"]: "team-a", org["b"]: "team-b", org["c"]: "team-c"}}
    # each account's role is assumed once; rule ids are read for the two drifted groups only
    calls = counter.by_operation()
    assert calls["GetCallerIdentity"] == 1 and calls["ListAccounts"] == 1
    assert calls["AssumeRole"] == 4
    assert calls["DescribeSecurityGroups"] == 8 and calls["DescribeVpcs"] == 8
    assert calls["DescribeSecurityGroupRules"] == 2
    # ... and they are the ids AWS gives the drifted rule
    for finding in (f for f in doc["findings"] if f["kind"] == "extra"):
        client = member_ec2(moto_env_url(), finding["account"], finding["region"])
        rules = client.describe_security_group_rules(
            Filters=[{"Name": "group-id", "Values": [finding["group_id"]]}])["SecurityGroupRules"]
        assert finding["rule_ids"] == [r["SecurityGroupRuleId"] for r in rules
                                       if not r["IsEgress"] and r["FromPort"] == 3389]
    gate = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--fail-on-drift")
    assert gate.code == 1
    assert f"{org['a']}" in gate.out and f"{org['b']}" in gate.out
    explained = sgaudit("explain", "--org-role", ROLE, "--regions", BOTH, "--format", "json")
    assert explained.code == 0, explained.err
    assert len(json.loads(explained.out)) == 16


def moto_env_url() -> str:
    import os

    return os.environ["AWS_ENDPOINT_URL"]


def test_suspended_and_unassumable_accounts_are_errors_and_the_rest_is_read(
        org: dict[str, str], sgaudit: Any, tmp_path: Path) -> None:
    orgs = boto3.client("organizations", region_name="us-east-1", endpoint_url=moto_env_url())
    orgs.close_account(AccountId=org["b"])  # SUSPENDED
    denied = Fault(None, "AccessDenied", 403, "AssumeRole", "not authorized to perform sts:AssumeRole",
                   role_arn=role_arn(org["c"]))
    with FaultProxy(moto_env_url(), [denied]) as proxy:
        run = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--format", "json",
                      "--endpoint-url", proxy.url)
        md = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--format", "markdown",
                     "--endpoint-url", proxy.url)
        html_path = tmp_path / "r.html"
        html = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "-o", html_path,
                       "--endpoint-url", proxy.url)
    assert run.code == 3, run.err
    doc = json.loads(run.out)
    assert doc["complete"] is False
    assert sorted((e["account"], e["operation"], e["code"]) for e in doc["errors"]) == sorted([
        (org["b"], "ListAccounts", "AccountNotActive"), (org["c"], "AssumeRole", "AccessDenied")])
    assert extras(doc) == {(org["a"], "us-east-1", "coiled-a-x", 3389)}
    assert {g["account"] for g in doc["groups"]} == {ACCOUNT, org["a"]}
    assert doc["accounts"]["discovered"] == 4 and doc["accounts"]["read"] == 2
    assert doc["accounts"]["failed"] == 2 and doc["accounts"]["excluded"] == 0
    assert doc["accounts"]["failed_accounts"] == sorted([org["b"], org["c"]])
    failed = ", ".join(sorted([org["b"], org["c"]]))
    assert md.code == 3
    assert (f"Organization: **4** account(s) discovered · **2** read · **2** failed ({failed}) · "
            "**0** excluded") in md.out
    assert html.code == 3
    assert f"4 discovered · 2 read · 2 failed (<span class=\"mono\">{failed}</span>) · 0 excluded" \
        in html_path.read_text()


def test_list_accounts_denied_is_an_incomplete_scan_never_no_drift(
        org: dict[str, str], sgaudit: Any) -> None:
    denied = Fault(None, "AccessDeniedException", 400, "ListAccounts", "no organizations:ListAccounts")
    with FaultProxy(moto_env_url(), [denied]) as proxy:
        run = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--format", "json",
                      "--endpoint-url", proxy.url)
        table = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--endpoint-url", proxy.url)
    assert run.code == 3
    doc = json.loads(run.out)
    assert doc["complete"] is False and doc["groups"] == [] and doc["findings"] == []
    assert [(e["account"], e["operation"], e["code"]) for e in doc["errors"]] == [
        ("organization", "ListAccounts", "AccessDeniedException")]
    assert doc["accounts"]["discovered"] == 0
    assert table.code == 3 and "no drift" not in table.out.lower()


def test_an_empty_account_list_is_an_incomplete_scan(aws_env: str, sgaudit: Any) -> None:
    """An organization lists at least its management account: no account at all (moto without
    an organization answers so) is a failure to list, not an organization with nothing in it."""
    run = sgaudit("check", "--org-role", ROLE, "--regions", "us-east-1", "--format", "json")
    assert run.code == 3
    assert [(e["account"], e["operation"], e["code"]) for e in json.loads(run.out)["errors"]] == [
        ("organization", "ListAccounts", "NoAccounts")]


def test_exclusions_from_the_command_line_and_the_policy(
        org: dict[str, str], sgaudit: Any, tmp_path: Path) -> None:
    run = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--format", "json",
                  "--exclude-accounts", org["a"])
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert extras(doc) == {(org["b"], "eu-west-1", "coiled-b-x", 3389)}
    assert org["a"] not in {g["account"] for g in doc["groups"]}
    assert (doc["accounts"]["read"], doc["accounts"]["excluded"]) == (3, 1)

    policy = tmp_path / "p.yaml"
    policy.write_text(f"accounts: ['{org['a']}', '{org['c']}']\nexclude_accounts: ['{org['c']}']\n")
    run = sgaudit("check", "--policy", policy, "--org-role", ROLE, "--regions", BOTH, "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert {g["account"] for g in doc["groups"]} == {org["a"]}
    assert (doc["accounts"]["read"], doc["accounts"]["excluded"]) == (1, 3)
    # --accounts replaces the policy's list; an account the organization does not list fails
    run = sgaudit("check", "--policy", policy, "--org-role", ROLE, "--regions", BOTH, "--format",
                  "json", "--accounts", f"{org['b']},999999999999")
    assert run.code == 3
    doc = json.loads(run.out)
    assert {g["account"] for g in doc["groups"]} == {org["b"]}
    assert [(e["account"], e["code"]) for e in doc["errors"]] == [("999999999999", "AccountNotListed")]


@pytest.mark.parametrize(("args", "message"), [
    (["--accounts", "12345"], "--accounts '12345': expected 12-digit AWS account ids separated by "
                              "commas (bad: '12345')"),
    (["--exclude-accounts", ","], "--exclude-accounts ',': expected 12-digit AWS account ids "
                                  "separated by commas"),
    (["--org-role", "arn:aws:iam::111111111111:role/x"],
     "--org-role 'arn:aws:iam::111111111111:role/x': expected a role name such as sgaudit-read "
     "(the name, not an ARN)"),
    (["--org-role", "r", "--role-arn", "arn:aws:iam::111111111111:role/x"],
     "--org-role and --role-arn do not combine: --org-role assumes the named role in every account "
     "of the organization"),
    (["--max-workers", "0"], "--max-workers 0: expected 1 to 256"),
    (["--timeout", "0"], "--timeout 0: expected 1 to 604800 seconds"),
])
def test_bad_org_options_are_one_line_and_exit_2(aws_env: str, sgaudit: Any, args: list[str],
                                                 message: str) -> None:
    if "--org-role" not in args and "accounts" in " ".join(args):
        args = ["--org-role", ROLE, *args]
    run = sgaudit("check", "--regions", "us-east-1", *args)
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {message}"]


def test_accounts_need_org_role_and_fix_refuses_it(aws_env: str, sgaudit: Any) -> None:
    run = sgaudit("check", "--regions", "us-east-1", "--accounts", "111111111111")
    assert (run.code, run.err_lines) == (2, ["sgaudit: error: --accounts needs --org-role (it "
                                             "narrows an organization's accounts)"])
    run = sgaudit("check", "--regions", "us-east-1", "--org-role", ROLE, "--fix", "--dry-run")
    assert (run.code, run.err_lines) == (2, ["sgaudit: error: --fix does not combine with "
                                             "--org-role: fix an account with --role-arn"])


def test_org_snapshot_is_one_file_that_replays_to_the_same_findings(
        org: dict[str, str], sgaudit: Any, tmp_path: Path) -> None:
    boto3.client("organizations", region_name="us-east-1",
                 endpoint_url=moto_env_url()).close_account(AccountId=org["c"])
    live = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--format", "json")
    saved = tmp_path / "org.json"
    snap = sgaudit("snapshot", "--org-role", ROLE, "--regions", BOTH, "-o", saved)
    assert snap.code == 3  # c is suspended: the evidence says so
    assert f"could not read {org['c']}/us-east-1 ListAccounts: AccountNotActive" in snap.err
    data = json.loads(saved.read_text())
    assert data["organization"]["failed_accounts"] == [org["c"]]
    assert {s["Account"] for s in data["scans"]} == {ACCOUNT, org["a"], org["b"], org["c"]}
    replay = sgaudit("check", "--snapshot", saved, "--format", "json")
    assert live.code == replay.code == 3
    live_doc, replay_doc = json.loads(live.out), json.loads(replay.out)
    assert replay_doc["findings"] == [{**f, "rule_ids": []} for f in live_doc["findings"]]
    assert replay_doc["groups"] == live_doc["groups"]
    assert replay_doc["errors"] == live_doc["errors"]
    assert replay_doc["accounts"] == live_doc["accounts"]


def test_assumed_credentials_are_renewed_before_they_expire(aws_env: str) -> None:
    import datetime

    now = [datetime.datetime.now(datetime.UTC)]
    sessions = aws.Sessions(aws_env, clock=lambda: now[0])
    counter = CallCounter()
    target = aws.AwsTarget(role_arn=role_arn("111111111111"))
    credentials = sessions.assume(target, "us-east-1", counter.hook)
    first = credentials.get_frozen_credentials().access_key
    assert counter.by_operation()["AssumeRole"] == 1
    now[0] += datetime.timedelta(minutes=30)  # still well before moto's one-hour expiry
    assert credentials.get_frozen_credentials().access_key == first
    now[0] += datetime.timedelta(minutes=20)  # within 15 minutes of the expiry: renewed
    assert credentials.get_frozen_credentials().access_key != first
    assert counter.by_operation()["AssumeRole"] == 2
    # clients sign with the renewed credentials, not a frozen copy
    client = sessions.client("ec2", target, "us-east-1")
    assert client._request_signer._credentials is credentials


def test_per_account_and_total_concurrency_are_bounded(org: dict[str, str], sgaudit: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call of the scan is watched in flight: never more than --max-workers at once,
    never more than aws.PER_ACCOUNT in one account."""
    import threading
    import time

    lock = threading.Lock()
    inflight: dict[str, int] = {}
    peaks = {"total": 0, "account": 0}

    def hook(client: Any) -> None:
        def before(context: Any, **_: Any) -> None:
            key = client._request_signer._credentials.get_frozen_credentials().access_key
            context["sgaudit-test"] = key
            with lock:
                inflight[key] = inflight.get(key, 0) + 1
                if key != "testing":  # the caller's own calls: ListAccounts, AssumeRole
                    peaks["account"] = max(peaks["account"], inflight[key])
                peaks["total"] = max(peaks["total"], sum(inflight.values()))
            time.sleep(0.02)  # hold the call, so overlaps show

        def after(context: Any, **_: Any) -> None:
            with lock:
                inflight[context["sgaudit-test"]] -= 1

        client.meta.events.register("before-call.*.*", before)
        client.meta.events.register("after-call.*.*", after)

    monkeypatch.setattr(aws, "AwsSource", functools.partial(aws.AwsSource, client_hook=hook,
                                                            per_account=2))
    regions = "us-east-1,eu-west-1,us-west-2,eu-central-1,ap-south-1"
    run = sgaudit("check", "--org-role", ROLE, "--regions", regions, "--max-workers", "6",
                  "--format", "json")
    assert run.code == 0, run.err
    assert len(json.loads(run.out)["groups"]) == 16
    assert 3 <= peaks["total"] <= 6
    assert peaks["account"] == 2


@pytest.mark.parametrize(("text", "message"), [
    ("accounts: [12345670123]\n", "p.yaml:1: accounts[0]: expected a 12-digit AWS account id, got "
                                 "12345670123 (quote it: YAML reads a number with a leading 0 "
                                 "differently)"),
    ("exclude_accounts: ['1111-2222-3333']\n", "p.yaml:1: exclude_accounts[0]: expected a 12-digit "
                                               "AWS account id, got '1111-2222-3333'"),
])
def test_bad_account_keys_in_the_policy_are_one_line_and_exit_2(
        aws_env: str, sgaudit: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
        message: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(text)
    run = sgaudit("check", "--policy", "p.yaml", "--org-role", ROLE, "--regions", "us-east-1")
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {message}"]


def test_baselines_and_history_work_per_account(org: dict[str, str], sgaudit: Any,
                                                tmp_path: Path) -> None:
    baseline, history = tmp_path / "baseline.json", tmp_path / "history.db"
    args = ("check", "--org-role", ROLE, "--regions", BOTH, "--format", "json")
    first = sgaudit(*args, "--update-baseline", baseline, "--history", history)
    assert first.code == 0, first.err
    keys = {e["key"] for e in json.loads(baseline.read_text())["findings"]}
    assert {k.split("|")[1] for k in keys} == {org["a"], org["b"]}
    # new drift in account c only: the baseline covers a's and b's, c's is active
    client = member_ec2(moto_env_url(), org["c"], "us-east-1")
    group = client.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["coiled-c-ok"]}])["SecurityGroups"][0]["GroupId"]
    client.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    second = sgaudit(*args, "--baseline", baseline, "--history", history, "--fail-on-drift")
    assert second.code == 1
    active = [f for f in json.loads(second.out)["findings"] if not f["baselined"]]
    assert [(f["account"], f["group_name"], f["from_port"]) for f in active] == [
        (org["c"], "coiled-c-ok", 3389)]
    assert active[0]["first_seen"] is not None


# -- contradictions and malformed answers -------------------------------------------------------
def test_accounts_that_are_all_excluded_are_refused_before_any_call(aws_env: str, sgaudit: Any,
                                                                    tmp_path: Path) -> None:
    run = sgaudit("check", "--org-role", ROLE, "--regions", "us-east-1", "--fail-on-drift",
                  "--accounts", "111111111111", "--exclude-accounts", "111111111111")
    message = ("sgaudit: error: every account asked for (111111111111: --accounts or the policy's "
               "accounts) is also excluded (--exclude-accounts or exclude_accounts): nothing would be read")
    assert (run.code, run.out, run.err_lines) == (2, "", [message])
    policy = tmp_path / "p.yaml"
    policy.write_text("accounts: ['111111111111']\n")
    run = sgaudit("check", "--policy", policy, "--org-role", ROLE, "--regions", "us-east-1",
                  "--exclude-accounts", "111111111111")
    assert (run.code, run.out, run.err_lines) == (2, "", [message])


def test_an_organization_whose_every_account_is_excluded_is_refused(
        org: dict[str, str], sgaudit: Any) -> None:
    """Not "complete, 0 groups, exit 0" even with --fail-on-drift: nothing was read."""
    run = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--fail-on-drift", "--format", "json",
                  "--exclude-accounts", ",".join(org.values()))
    assert (run.code, run.out, run.err_lines) == (2, "", [
        "sgaudit: error: every account of the organization (4 listed) is excluded (--accounts, "
        "--exclude-accounts or the policy's keys): nothing would be read"])


class _Organizations:
    """A stand-in for the Organizations API on loopback whose ListAccounts answers ``accounts``
    (STS and EC2 stay on moto)."""

    def __init__(self, accounts: list[Any]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = json.dumps({"Accounts": accounts}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("item", [None, "123456789012", 5, ["x"]])
def test_a_list_accounts_answer_holding_a_non_object_is_an_organization_error(
        aws_env: str, sgaudit: Any, monkeypatch: pytest.MonkeyPatch, item: Any) -> None:
    fake = _Organizations([{"Id": ACCOUNT, "Status": "ACTIVE", "Name": "master"}, item])
    monkeypatch.setenv("AWS_ENDPOINT_URL_ORGANIZATIONS", fake.url)
    try:
        run = sgaudit("check", "--org-role", ROLE, "--regions", "us-east-1", "--format", "json",
                      "--fail-on-drift")
    finally:
        fake.close()
    assert run.code == 3, run.err
    doc = json.loads(run.out)
    assert doc["complete"] is False and doc["groups"] == []
    assert [(e["account"], e["operation"], e["code"]) for e in doc["errors"]] == [
        ("organization", "ListAccounts", "MalformedAnswer")]


def test_accounts_not_in_the_organization_are_counted_so_the_summary_adds_up(
        org: dict[str, str], sgaudit: Any) -> None:
    run = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--format", "json",
                  "--accounts", f"{org['b']},999999999999")
    assert run.code == 3
    counts = json.loads(run.out)["accounts"]
    assert {k: counts[k] for k in ("discovered", "not_listed", "read", "failed", "excluded")} == {
        "discovered": 4, "not_listed": 1, "read": 1, "failed": 1, "excluded": 3}
    assert counts["failed_accounts"] == ["999999999999"]
    md = sgaudit("check", "--org-role", ROLE, "--regions", BOTH, "--format", "markdown",
                 "--accounts", f"{org['b']},999999999999")
    assert ("**4** account(s) discovered · **1** read · **1** failed (999999999999) · **3** excluded · "
            "**1** asked for but not in the organization") in md.out


def _edited_org_snapshot(sgaudit: Any, tmp_path: Path, edit: Any) -> Any:
    saved = tmp_path / "org.json"
    assert sgaudit("snapshot", "--org-role", ROLE, "--regions", BOTH, "-o", saved).code == 0
    data = json.loads(saved.read_text())
    assert sgaudit("check", "--snapshot", saved, "-q").code == 0  # as written: complete
    edit(data)
    saved.write_text(json.dumps(data))
    return sgaudit("check", "--snapshot", saved, "--format", "json", "--fail-on-drift")


def test_an_org_snapshot_with_a_section_removed_does_not_replay_as_complete(
        org: dict[str, str], sgaudit: Any, tmp_path: Path) -> None:
    def drop_a(data: dict[str, Any]) -> None:  # account a's drift goes with its sections
        data["scans"] = [s for s in data["scans"] if s["Account"] != org["a"]]

    run = _edited_org_snapshot(sgaudit, tmp_path, drop_a)
    assert run.code == 3
    doc = json.loads(run.out)
    assert doc["complete"] is False
    assert [e["message"] for e in doc["errors"]] == [
        "the organization snapshot contradicts itself: the organization summary records 8 account/region "
        "section(s), the file holds 6; the replay is incomplete",
        "the organization snapshot contradicts itself: 4 account(s) were read, but the snapshot holds "
        "sections of 3; the replay is incomplete"]


def test_an_org_snapshot_naming_a_failed_account_without_its_error_is_incomplete(
        org: dict[str, str], sgaudit: Any, tmp_path: Path) -> None:
    def fail_a(data: dict[str, Any]) -> None:
        data["organization"].update(read=3, failed=1, failed_accounts=[org["a"]])

    run = _edited_org_snapshot(sgaudit, tmp_path, fail_a)
    assert run.code == 3
    assert [e["message"] for e in json.loads(run.out)["errors"]] == [
        f"the organization snapshot contradicts itself: account(s) {org['a']} failed, but the snapshot "
        "holds no error of them; the replay is incomplete"]


def test_an_org_snapshot_whose_counts_do_not_add_up_is_incomplete(
        org: dict[str, str], sgaudit: Any, tmp_path: Path) -> None:
    def more(data: dict[str, Any]) -> None:
        data["organization"]["discovered"] = 5

    run = _edited_org_snapshot(sgaudit, tmp_path, more)
    assert run.code == 3
    assert [e["message"] for e in json.loads(run.out)["errors"]] == [
        "the organization snapshot contradicts itself: its counts do not add up (discovered 5 + not "
        "listed 0 against read 4 + failed 0 (0 listed) + excluded 0); the replay is incomplete"]


def test_the_policys_account_keys_without_org_role_are_a_warning(
        aws_env: str, sgaudit: Any, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("accounts: ['111111111111']\n")
    run = sgaudit("check", "--policy", policy, "--regions", "us-east-1", "-f", "json")
    assert run.code == 0, run.err
    assert run.err_lines[0] == (f"sgaudit: warning: {policy}: accounts and exclude_accounts narrow an "
                                "organization scan (--org-role); this scan reads the accounts it is "
                                "given, so they are not used")


def test_rule_ids_are_read_only_when_something_shows_them(
        org: dict[str, str], sgaudit: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    counter = counting(monkeypatch)
    scan = ("check", "--org-role", ROLE, "--regions", BOTH)
    drift = {(org["a"], "us-east-1", "coiled-a-x", 3389), (org["b"], "eu-west-1", "coiled-b-x", 3389)}
    # --no-rule-ids: the same findings, no ids, and no DescribeSecurityGroupRules call
    run = sgaudit(*scan, "--format", "json", "--no-rule-ids")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert extras(doc) == drift and doc["complete"] is True
    assert [f["rule_ids"] for f in doc["findings"] if f["kind"] == "extra"] == [[], []]
    assert counter.by_operation()["DescribeSecurityGroupRules"] == 0
    # table and markdown print no rule ids: none are read
    for fmt in ("table", "markdown"):
        shown = sgaudit(*scan, "--format", fmt)
        assert shown.code == 0, shown.err
        assert "coiled-a-x" in shown.out and "coiled-b-x" in shown.out
    assert counter.by_operation()["DescribeSecurityGroupRules"] == 0
    # one report that shows them (--report x.sarif) is enough: one series per drifted region
    sarif = tmp_path / "x.sarif"
    both = sgaudit(*scan, "--format", "markdown", "--report", str(sarif))
    assert both.code == 0, both.err
    assert counter.by_operation()["DescribeSecurityGroupRules"] == 2
    ids = [r["properties"]["rule_ids"] for r in json.loads(sarif.read_text())["runs"][0]["results"]]
    assert len(ids) == 2 and all(len(i) == 1 and i[0].startswith("sgr-") for i in ids)
