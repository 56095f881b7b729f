"""``check --fix`` and ``rollback`` end to end over real HTTP: moto on 127.0.0.1, reached through
moto_support's loopback proxy, which logs every request in order and can deny calls for one group
or region."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_support import (
    COILED,
    FaultProxy,
    aws_env,
    ec2,
    make_group,
    make_vpc,
    moto_url,
)

from sgaudit.cli import fix as fixrun
from sgaudit.sources import aws

__all__ = ["aws_env", "moto_url"]  # pytest fixtures used by name

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
WORLD = "0.0.0.0/0"
RESTORED = "restored by sgaudit (required ingress)"
DENIED = "UnauthorizedOperation: You are not authorized to perform this operation."


#: bench/bench_fix.py imports the fix tests' proxy by this name
Proxy = FaultProxy


@pytest.fixture
def proxy(aws_env: str) -> Iterator[FaultProxy]:
    with FaultProxy(aws_env) as p:
        yield p


def ingress(client: Any) -> dict[str, set[tuple[Any, ...]]]:
    """Every group's ingress (selected or not), as what each rule allows plus its description."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for g in client.describe_security_groups()["SecurityGroups"]:
        out[g["GroupId"]] = set()
    for r in client.describe_security_group_rules()["SecurityGroupRules"]:
        if not r["IsEgress"]:
            source = r.get("CidrIpv4") or r.get("CidrIpv6") or r.get("ReferencedGroupInfo", {}).get("GroupId")
            out[r["GroupId"]].add((r["IpProtocol"], r.get("FromPort", -1), r.get("ToPort", -1), source,
                                   r.get("Description")))
    return out


class Fleet:
    """Drifted groups under a policy that turns public ssh off (8786/8787 from the world are
    required; 22 from inside the VPC is permitted)."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.client = c = ec2(url)
        vpc = make_vpc(c, "10.0.0.0/16")
        # -1 from the world: the only thing giving the cluster its Dask ports
        # a stray all-traffic rule from the world beside a bastion's ssh from the VPC
        self.all = make_group(c, vpc, "coiled-all", COILED,
                              [("-1", -1, -1, WORLD), ("tcp", 22, 22, "10.0.0.0/16")])
        # like every Coiled group, it lets its own machines talk to each other
        c.authorize_security_group_ingress(GroupId=self.all, IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": self.all}]}])
        #: its rules that are permitted, so no fix touches them
        self.all_kept = {("tcp", 22, 22, "10.0.0.0/16", None), ("-1", -1, -1, self.all, None)}
        # one IpPermission holding the world and a private CIDR
        self.shared = make_group(c, vpc, "coiled-shared", COILED, [("tcp", 8786, 8787, WORLD)])
        c.authorize_security_group_ingress(GroupId=self.shared, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
            "IpRanges": [{"CidrIp": WORLD, "Description": "temp"},
                         {"CidrIp": "10.0.0.0/16", "Description": "bastion"}]}])
        self.missing = make_group(c, vpc, "coiled-missing", COILED, [("tcp", 8786, 8786, WORLD)])
        self.waived = make_group(c, vpc, "coiled-waived", COILED,
                                 [("tcp", 8786, 8787, WORLD), ("tcp", 9000, 9000, WORLD)])
        self.clean = make_group(c, vpc, "coiled-clean", COILED, [("tcp", 8786, 8787, WORLD)])
        self.other = make_group(c, vpc, "not-coiled", {"owner": "someone"}, [("-1", -1, -1, WORLD)])
        self.policy = tmp_path / "policy.yaml"
        self.policy.write_text(
            "backend_options: {enable_public_ssh: false}\n"
            "waivers:\n"
            f"  - {{group_id: {self.waived}, protocol: tcp, ports: [9000], source: 0.0.0.0/0,\n"
            "     reason: ticket SEC-9, expires: 2099-12-31}\n")
        self.backup = tmp_path / "backup.json"


@pytest.fixture
def fleet(aws_env: str, proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    monkeypatch.chdir(tmp_path)
    return Fleet(aws_env, tmp_path)


def fix_args(fleet: Fleet, proxy: FaultProxy, *more: object) -> list[object]:
    return ["check", "--policy", fleet.policy, "--endpoint-url", proxy.url, "--fix", "-q", *more]


def test_full_cycle_fix_recheck_rollback(fleet: Fleet, proxy: FaultProxy, sgaudit: Any) -> None:
    before = ingress(fleet.client)
    run = sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup))
    assert run.code == 0, run.out + run.err
    assert f"Backup written to {fleet.backup}" in run.out
    assert "sgaudit: 5 applied; 3 of 3 group(s) verified" in run.out
    after = ingress(fleet.client)
    assert after[fleet.all] == {("tcp", 8786, 8786, WORLD, RESTORED),
                                ("tcp", 8787, 8787, WORLD, RESTORED), *fleet.all_kept}
    assert after[fleet.shared] == {("tcp", 8786, 8787, WORLD, None),
                                   ("tcp", 22, 22, "10.0.0.0/16", "bastion")}
    assert after[fleet.missing] == {("tcp", 8786, 8786, WORLD, None),
                                    ("tcp", 8787, 8787, WORLD, RESTORED)}
    # waived, compliant and unselected groups: untouched
    for gid in (fleet.waived, fleet.clean, fleet.other):
        assert after[gid] == before[gid]
    assert {g for _, g in proxy.changes()} == {fleet.all, fleet.shared, fleet.missing}

    recheck = sgaudit("check", "--policy", fleet.policy, "--fail-on-drift", "-q")
    assert recheck.code == 0, recheck.out
    assert "5 of 5 group(s) match their desired state" not in recheck.out  # one is accepted (waived)
    assert "4 of 5 group(s) match their desired state." in recheck.out

    undo = sgaudit("rollback", fleet.backup, "--yes", "--endpoint-url", proxy.url)
    assert undo.code == 0, undo.out + undo.err
    assert "sgaudit: 5 applied; 3 of 3 group(s) verified" in undo.out
    assert ingress(fleet.client) == before


def test_shared_permission_loses_only_its_world_source(fleet: Fleet, proxy: FaultProxy, sgaudit: Any) -> None:
    run = sgaudit(*fix_args(fleet, proxy, "--yes"))
    assert run.code == 0, run.out + run.err
    revokes = [g for a, g in proxy.changes() if a == "RevokeSecurityGroupIngress"]
    assert revokes.count(fleet.shared) == 1
    assert ("tcp", 22, 22, "10.0.0.0/16", "bastion") in ingress(fleet.client)[fleet.shared]
    assert ("tcp", 22, 22, WORLD, "temp") not in ingress(fleet.client)[fleet.shared]


def test_all_traffic_from_the_world_authorizes_reach_aws_before_the_revoke(
        fleet: Fleet, proxy: FaultProxy, sgaudit: Any) -> None:
    run = sgaudit(*fix_args(fleet, proxy, "--yes"))
    assert run.code == 0, run.out + run.err
    on_group = [a for a, g in proxy.changes() if g == fleet.all]
    assert on_group == ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress",
                        "RevokeSecurityGroupIngress"]
    # and the group was re-read (DescribeSecurityGroupRules) right before its first change
    first = proxy.log.index(("AuthorizeSecurityGroupIngress", fleet.all))
    assert proxy.log[first - 1][0] == "DescribeSecurityGroupRules"


@pytest.mark.parametrize(("extra", "code", "says"), [
    (["--dry-run"], 0, "Dry run: nothing was changed."),
    ([], 2, "sgaudit: error: stdin is not a terminal, so nothing was changed; pass --yes to apply"),
    (["--yes", "--max-changes", "4"], 2,
     "sgaudit: error: the plan has 5 changes, more than --max-changes 4; nothing was changed"),
])
def test_refusals_change_nothing(fleet: Fleet, proxy: FaultProxy, sgaudit: Any, extra: list[str], code: int,
                                 says: str) -> None:
    before = ingress(fleet.client)
    run = sgaudit(*fix_args(fleet, proxy, *extra))
    assert run.code == code
    assert says in run.out + run.err
    assert "Fix plan: 5 change(s) in 3 group(s)" in run.out  # the plan is always shown
    assert proxy.changes() == []
    assert ingress(fleet.client) == before
    assert list(Path.cwd().glob("sgaudit-backup-*")) == []


def test_fix_on_snapshots_is_refused_before_anything_is_read(proxy: FaultProxy, sgaudit: Any) -> None:
    run = sgaudit("check", "--snapshot", FIXTURES / "security-groups.json", "--snapshot",
                  FIXTURES / "vpcs.json", "--fix", "--yes")
    assert run.code == 2
    assert run.err == ("sgaudit: error: --fix changes security groups in AWS, so it needs a live scan; "
                       "it cannot be used with --snapshot\n")
    assert proxy.log == []


def test_an_existing_backup_file_is_refused_before_the_scan(fleet: Fleet, proxy: FaultProxy,
                                                            sgaudit: Any) -> None:
    fleet.backup.write_text("precious")
    run = sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup))
    assert run.code == 2
    assert "the file exists; a backup is never overwritten" in run.err
    assert proxy.log == [] and fleet.backup.read_text() == "precious"


def test_a_denied_group_is_reported_and_the_others_are_fixed(fleet: Fleet, proxy: FaultProxy,
                                                             sgaudit: Any) -> None:
    proxy.deny("AuthorizeSecurityGroupIngress", group=fleet.all)
    run = sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup))
    assert run.code == 1
    doc = json.loads(fleet.backup.read_text())
    assert [(c["group_id"], c["action"], c["result"], c["detail"]) for c in doc["changes"]] == [
        (fleet.all, "authorize", "failed", DENIED),
        (fleet.all, "authorize", "failed", DENIED),
        (fleet.all, "revoke", "skipped", "not attempted: needs change #1, #2 to succeed first"),
        (fleet.shared, "revoke", "applied", ""),
        (fleet.missing, "authorize", "applied", "")]
    assert "failed: UnauthorizedOperation" in run.out
    after = ingress(fleet.client)
    assert after[fleet.all] == {("-1", -1, -1, WORLD, None), *fleet.all_kept}  # access kept
    assert ("tcp", 8787, 8787, WORLD, RESTORED) in after[fleet.missing]
    assert f"{fleet.all} (coiled-all): still drifted:" in run.out
    assert f"{fleet.shared} (coiled-shared): verified" in run.out
    assert "sgaudit: 2 failed; 1 skipped; 2 applied; 2 of 3 group(s) verified" in run.out


def test_a_terminal_is_asked_and_no_changes_nothing(fleet: Fleet, proxy: FaultProxy, sgaudit: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixrun, "is_interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    before = ingress(fleet.client)
    run = sgaudit(*fix_args(fleet, proxy))
    assert run.code == 1
    assert "Apply: make these 5 change(s)? [y/N]" in run.err
    assert "Declined: nothing was changed." in run.out
    assert proxy.changes() == [] and ingress(fleet.client) == before


def test_a_group_changed_after_the_plan_is_skipped_as_stale(fleet: Fleet, proxy: FaultProxy, sgaudit: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """While the operator reads the plan, someone edits one group: it is left alone."""
    monkeypatch.setattr(fixrun, "is_interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    real_confirm = fixrun.click.confirm

    def confirm_after_an_edit(*args: Any, **kwargs: Any) -> bool:
        fleet.client.authorize_security_group_ingress(GroupId=fleet.shared, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
        return bool(real_confirm(*args, **kwargs))

    monkeypatch.setattr(fixrun.click, "confirm", confirm_after_an_edit)
    run = sgaudit(*fix_args(fleet, proxy, "--backup", fleet.backup))
    assert run.code == 1
    doc = json.loads(fleet.backup.read_text())
    assert [(c["group_id"], c["result"], c["detail"]) for c in doc["changes"]] == [
        (fleet.all, "applied", ""), (fleet.all, "applied", ""), (fleet.all, "applied", ""),
        (fleet.shared, "skipped",
         "stale: the group changed since the plan (+1 rule(s): tcp 443 from 10.0.0.0/16)"),
        (fleet.missing, "applied", "")]
    assert fleet.shared not in {g for _, g in proxy.changes()}
    assert ("tcp", 22, 22, WORLD, "temp") in ingress(fleet.client)[fleet.shared]
    assert ingress(fleet.client)[fleet.all] == {("tcp", 8786, 8786, WORLD, RESTORED),
                                                ("tcp", 8787, 8787, WORLD, RESTORED), *fleet.all_kept}


def test_the_backup_is_on_disk_before_the_first_change(fleet: Fleet, proxy: FaultProxy, sgaudit: Any) -> None:
    seen: list[dict[str, Any]] = []

    def look(action: str, group: str) -> None:
        if not seen:
            seen.append(json.loads(fleet.backup.read_text()))

    proxy.on_change = look
    assert sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup)).code == 0
    (doc,) = seen
    assert {g["group_id"] for g in doc["groups"]} == {fleet.all, fleet.shared, fleet.missing}
    assert [c["result"] for c in doc["changes"]] == ["pending"] + ["planned"] * 4
    shared = next(g for g in doc["groups"] if g["group_id"] == fleet.shared)
    assert sorted((r["from_port"], r["source"], r["description"]) for r in shared["ingress"]) == [
        (22, "0.0.0.0/0", "temp"), (22, "10.0.0.0/16", "bastion"), (8786, "0.0.0.0/0", None)]
    assert all(r["rule_id"].startswith("sgr-") for r in shared["ingress"])


def test_rollback_confirmation_follows_the_same_rules(fleet: Fleet, proxy: FaultProxy, sgaudit: Any) -> None:
    assert sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup)).code == 0
    fixed = ingress(fleet.client)
    proxy.log.clear()
    dry = sgaudit("rollback", fleet.backup, "--dry-run", "--endpoint-url", proxy.url)
    assert dry.code == 0 and "Rollback plan: 5 change(s) in 3 group(s)" in dry.out
    no_tty = sgaudit("rollback", fleet.backup, "--endpoint-url", proxy.url)
    assert no_tty.code == 2 and "pass --yes to roll back this plan" in no_tty.err
    assert proxy.changes() == [] and ingress(fleet.client) == fixed


def test_an_incomplete_scan_fixes_what_was_read_and_exits_3(fleet: Fleet, proxy: FaultProxy,
                                                            sgaudit: Any) -> None:
    west = ec2("http://{}:{}".format(*proxy.upstream), "eu-west-1")  # straight to moto, not denied
    hidden = make_group(west, make_vpc(west), "coiled-west", COILED, [("-1", -1, -1, WORLD)])
    proxy.deny("DescribeSecurityGroups", region="eu-west-1")
    run = sgaudit(*fix_args(fleet, proxy, "--yes", "--regions", "us-east-1,eu-west-1"))
    assert run.code == 3
    assert "the scan is incomplete; what could not be read is not fixed (1 error(s))" in run.err
    assert "sgaudit: 5 applied; 3 of 3 group(s) verified" in run.out
    assert hidden not in {g for _, g in proxy.changes()}
    assert ingress(west)[hidden] == {("-1", -1, -1, WORLD, None)}


def test_the_fix_reuses_the_scans_session_and_clients(fleet: Fleet, proxy: FaultProxy, sgaudit: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """One boto3 session and one client per (service, region) serve the scan and the fix: the
    EC2 service model is loaded once per command."""
    sessions: list[Any] = []
    clients: list[tuple[str, str]] = []
    real_session, real_make = aws.boto3.Session, aws.Sessions._make

    def session(*args: Any, **kwargs: Any) -> Any:
        sessions.append(real_session(*args, **kwargs))
        return sessions[-1]

    def make(self: aws.Sessions, profile: str | None, service: str, region: str, *args: Any) -> Any:
        clients.append((service, region))
        return real_make(self, profile, service, region, *args)

    monkeypatch.setattr(aws.boto3, "Session", session)
    monkeypatch.setattr(aws.Sessions, "_make", make)
    run = sgaudit(*fix_args(fleet, proxy, "--yes"))
    assert run.code == 0, run.out + run.err
    assert "sgaudit: 5 applied; 3 of 3 group(s) verified" in run.out
    assert len(sessions) == 1
    assert sorted(clients) == [("ec2", "us-east-1"), ("sts", "us-east-1")]


# -- cross-account group references survive a rollback (issue 14, defect 4) ----------------------
PEER_ACCOUNT = "999999999999"
PEERING = "pcx-0123456789abcdef0"


def _references(client: Any, group_id: str) -> list[tuple[Any, ...]]:
    rules = client.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
    return sorted((r["FromPort"], r["ReferencedGroupInfo"]["GroupId"], r["ReferencedGroupInfo"].get("UserId"),
                   r["ReferencedGroupInfo"].get("VpcPeeringConnectionId"))
                  for r in rules if not r["IsEgress"] and r.get("ReferencedGroupInfo"))


def _cross_account_group(fleet: Fleet) -> tuple[str, str]:
    """A group with ``tcp 5432 from sg-… (account 999999999999, via a peering)``: extra under the
    fleet's policy, so the fix revokes it. (moto only checks that the group id exists.)"""
    vpc = fleet.client.describe_security_groups(GroupIds=[fleet.clean])["SecurityGroups"][0]["VpcId"]
    peer = make_group(fleet.client, vpc, "their-db-clients")
    group = make_group(fleet.client, vpc, "coiled-cross", COILED, [("tcp", 8786, 8787, WORLD)])
    fleet.client.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": peer, "UserId": PEER_ACCOUNT, "VpcPeeringConnectionId": PEERING}]}])
    return group, peer


def test_rollback_restores_a_cross_account_reference_with_its_owner(fleet: Fleet, proxy: FaultProxy,
                                                                     sgaudit: Any) -> None:
    group, peer = _cross_account_group(fleet)
    assert _references(fleet.client, group) == [(5432, peer, PEER_ACCOUNT, PEERING)]
    run = sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup))
    assert run.code == 0, run.out + run.err
    assert _references(fleet.client, group) == []
    saved = next(g for g in json.loads(fleet.backup.read_text())["groups"] if g["group_id"] == group)
    assert [(r["source"], r.get("user_id"), r.get("vpc_peering_connection_id"))
            for r in saved["ingress"] if r["source"].startswith("sg-")] == [(peer, PEER_ACCOUNT, PEERING)]
    undo = sgaudit("rollback", fleet.backup, "--yes", "--endpoint-url", proxy.url)
    assert undo.code == 0, undo.out + undo.err
    assert "4 of 4 group(s) verified" in undo.out
    assert _references(fleet.client, group) == [(5432, peer, PEER_ACCOUNT, PEERING)]


def test_rollback_verification_compares_the_owner_of_a_reference(fleet: Fleet, proxy: FaultProxy,
                                                                 sgaudit: Any) -> None:
    """The same group id re-created as the caller's own reference is not the rule that was there."""
    from sgaudit.remediate.aws import apply as aws_apply
    from sgaudit.remediate.aws import backup, verify
    from sgaudit.remediate.aws.changes import Plan
    from sgaudit.remediate.aws.rollback import plan_rollback

    group, peer = _cross_account_group(fleet)
    assert sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup)).code == 0
    fleet.client.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": peer}]}])
    record = backup.load_backup(fleet.backup)
    ref = next(r for r in record.before if r[2] == group)
    current = aws_apply.read_groups([ref], lambda account, region: fleet.client)
    rollback_plan = Plan(tuple(g for g in plan_rollback(record, current).groups if g.ref == ref))
    [check] = verify.verify_rollback(record, rollback_plan, lambda account, region: fleet.client)
    assert not check.ok
    assert check.differences == (
        f"missing tcp 5432 from {peer} (account {PEER_ACCOUNT}, via {PEERING})",
        f"unexpected tcp 5432 from {peer} (account 123456789012)")


# -- the plan and its results as JSON for a change-approval step (issue 14) ----------------------
def _plan_rows(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(c["seq"], c["action"], c["group_id"], c["rule"]["protocol"], c["rule"]["from_port"],
             c["rule"]["to_port"], c["rule"]["source"], c["depends_on"], c["result"])
            for c in doc["changes"]]


def test_fix_dry_run_as_json_is_the_plan_and_changes_nothing(fleet: Fleet, proxy: FaultProxy,
                                                             sgaudit: Any) -> None:
    before = ingress(fleet.client)
    run = sgaudit("check", "--policy", fleet.policy, "--endpoint-url", proxy.url, "--fix",
                  "--dry-run", "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)  # stdout is the document alone; the conversation is on stderr
    assert "Fix plan: 5 change(s) in 3 group(s)" in run.err
    assert "Dry run: nothing was changed." in run.err
    assert (doc["schema"], doc["status"], doc["dry_run"], doc["complete"]) == (
        "sgaudit.fix/v1", "dry_run", True, True)
    assert _plan_rows(doc) == [
        (1, "authorize", fleet.all, "tcp", 8786, 8786, WORLD, [], "planned"),
        (2, "authorize", fleet.all, "tcp", 8787, 8787, WORLD, [], "planned"),
        (3, "revoke", fleet.all, "-1", -1, -1, WORLD, [1, 2], "planned"),
        (4, "revoke", fleet.shared, "tcp", 22, 22, WORLD, [], "planned"),
        (5, "authorize", fleet.missing, "tcp", 8787, 8787, WORLD, [], "planned"),
    ]
    assert all(c["rule"]["rule_id"].startswith("sgr-") for c in doc["changes"] if c["action"] == "revoke")
    assert (doc["backup"], doc["rollback_command"], doc["verification"], doc["exit_code"]) == (
        None, None, [], 0)
    assert proxy.changes() == [] and ingress(fleet.client) == before


def test_applied_fix_as_json_has_each_result_and_the_backup(fleet: Fleet, proxy: FaultProxy,
                                                            sgaudit: Any) -> None:
    run = sgaudit(*fix_args(fleet, proxy, "--yes", "--format", "json", "--backup", fleet.backup))
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["status"] == "applied" and doc["dry_run"] is False
    assert [c["result"] for c in doc["changes"]] == ["applied"] * 5
    assert all(c["new_rule_ids"] for c in doc["changes"] if c["action"] == "authorize")
    assert (doc["backup"], doc["rollback_command"], doc["exit_code"]) == (
        str(fleet.backup), f"sgaudit rollback {fleet.backup}", 0)
    assert sorted((v["group_id"], v["ok"], v["still_drifted"]) for v in doc["verification"]) == sorted(
        [(fleet.all, True, []), (fleet.shared, True, []), (fleet.missing, True, [])])
    assert "Backup written to" not in run.err + run.out  # -q: the document alone


def test_fix_with_another_format_and_no_output_is_still_refused(fleet: Fleet, proxy: FaultProxy,
                                                                 sgaudit: Any) -> None:
    run = sgaudit(*fix_args(fleet, proxy, "--dry-run", "--format", "markdown"))
    assert run.code == 2 and proxy.changes() == []
    assert run.err_lines == ["sgaudit: error: with --fix, stdout shows the plan and what was done; "
                             "write the report with -o FILE (--format json alone prints the plan "
                             "and its results as JSON)"]


def test_ctrl_c_while_applying_says_what_happened_and_exits_130(fleet: Fleet, proxy: FaultProxy,
                                                                 sgaudit: Any) -> None:
    """A real SIGINT while the second change's call is on its way: the first is applied, the
    second was in flight, the rest were not attempted; the backup and the rollback command are
    named, and the exit code is 130 (not 2, the bad-usage code).

    No timing is assumed: the second call is held at the proxy until the interrupt has been
    taken, and the rollback starts once that call has reached moto."""
    import os
    import signal
    import threading

    calls: list[str] = []
    taken, landed = threading.Event(), threading.Event()

    def take(signum: int, frame: object) -> None:
        taken.set()
        signal.default_int_handler(signum, frame)  # KeyboardInterrupt, as without this test

    def interrupt_the_second(action: str, group: str) -> None:
        calls.append(action)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
            taken.wait(30)  # the client gives up on this call before it is answered

    def after_the_second(action: str, group: str) -> None:
        if len(calls) == 2:
            landed.set()

    proxy.on_change, proxy.after_change = interrupt_the_second, after_the_second
    previous = signal.signal(signal.SIGINT, take)
    try:
        run = sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert run.code == 130, run.out + run.err
    assert taken.is_set() and landed.wait(30)
    assert run.err_lines[-6:] == [
        "sgaudit: interrupted during the fix.",
        "  applied: #1",
        "  in flight when interrupted (may or may not have reached AWS): #2",
        "  not attempted: #3, #4, #5",
        f"  backup: {fleet.backup}",
        f"  to undo what was done: sgaudit rollback {fleet.backup}"]
    doc = json.loads(fleet.backup.read_text())
    assert doc["interrupted"] is True
    assert [c["result"] for c in doc["changes"]] == ["applied", "pending", "planned", "planned", "planned"]
    # the rollback it names works: the applied change is undone, the in-flight one found
    proxy.on_change = proxy.after_change = None
    undo = sgaudit("rollback", fleet.backup, "--yes", "--endpoint-url", proxy.url)
    assert undo.code == 0, undo.out + undo.err


def test_on_one_terminal_each_change_is_printed_once(fleet: Fleet, proxy: FaultProxy, tmp_path: Path) -> None:
    """stdout and stderr on the same terminal (a pty): the per-change lines appear once."""
    import os
    import pty
    import subprocess
    import sys

    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sgaudit", "check", "--policy", str(fleet.policy),
                             "--endpoint-url", proxy.url, "--fix", "--yes", "--backup", str(fleet.backup)],
                            stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, cwd=tmp_path,
                            env={**os.environ, "COLUMNS": "200"})
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert proc.wait(timeout=120) == 0
    screen = b"".join(chunks).decode().replace("\r\n", "\n")
    for seq in range(1, 6):
        results = [line for line in screen.splitlines()
                   if line.lstrip().startswith(f"#{seq} ") and "applied" in line]  # not the plan's
        assert len(results) == 1, screen
    assert "Each change's result is listed above." in screen
    assert "sgaudit: 5 applied; 3 of 3 group(s) verified" in screen


def test_fix_refuses_the_report_on_stdout(proxy: FaultProxy, sgaudit: Any) -> None:
    run = sgaudit("check", "--endpoint-url", proxy.url, "--fix", "-o", "-")
    assert (run.code, run.err_lines) == (2, ["sgaudit: error: with --fix, stdout shows the plan and what "
                                             "was done; write the report with -o FILE, not -o -"])
    assert proxy.log == []


def _fix_process(fleet: Fleet, proxy: FaultProxy, tmp_path: Path, stdout: int, *more: str) -> Any:
    import os
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "sgaudit", "check", "--policy", str(fleet.policy),
                             "--endpoint-url", proxy.url, "--fix", "--yes", "-q", "--backup",
                             str(fleet.backup), *more], stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.PIPE, cwd=tmp_path, env=dict(os.environ), text=True)


def test_fix_to_a_closed_pipe_says_so_and_changes_nothing(fleet: Fleet, proxy: FaultProxy,
                                                          tmp_path: Path) -> None:
    """`sgaudit check --fix --yes | true`: the plan cannot be shown, so nothing is applied."""
    import os

    before = ingress(fleet.client)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the plan is printed
    proc = _fix_process(fleet, proxy, tmp_path, write_end)
    os.close(write_end)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err == "sgaudit: error: stdout: cannot write the plan and its results: Broken pipe\n"
    assert proxy.changes() == [] and ingress(fleet.client) == before
    assert not fleet.backup.exists()


def test_fix_results_to_a_pipe_closed_after_the_backup_say_the_fix_was_applied(
        fleet: Fleet, proxy: FaultProxy, tmp_path: Path) -> None:
    """The reader leaves once the backup line is out: the changes are made, and the one line on
    stderr says so and names the backup, rather than exit 1 without a word."""
    import os

    read_end, write_end = os.pipe()
    proc = _fix_process(fleet, proxy, tmp_path, write_end)
    os.close(write_end)
    seen = b""
    while b"Backup written to" not in seen:
        chunk = os.read(read_end, 65536)
        assert chunk, seen
        seen += chunk
    os.close(read_end)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err == ("sgaudit: error: stdout: cannot write the plan and its results: Broken pipe; the fix "
                   f"was applied: its results are in the backup {fleet.backup} (undo with: sgaudit "
                   f"rollback {fleet.backup})\n")
    assert len(proxy.changes()) == 5
    assert [c["result"] for c in json.loads(fleet.backup.read_text())["changes"]] == ["applied"] * 5


def test_rollback_to_a_closed_pipe_says_so_and_changes_nothing(fleet: Fleet, proxy: FaultProxy,
                                                               sgaudit: Any, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    assert sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup)).code == 0
    after = ingress(fleet.client)
    changes = len(proxy.changes())
    read_end, write_end = os.pipe()
    os.close(read_end)
    run = subprocess.run([sys.executable, "-m", "sgaudit", "rollback", str(fleet.backup), "--yes",
                          "--endpoint-url", proxy.url], stdin=subprocess.DEVNULL, stdout=write_end,
                         stderr=subprocess.PIPE, text=True, timeout=120, env=dict(os.environ))
    os.close(write_end)
    assert run.returncode == 2
    assert run.stderr == "sgaudit: error: stdout: cannot write the plan and its results: Broken pipe\n"
    assert len(proxy.changes()) == changes and ingress(fleet.client) == after


# -- a backup that contradicts itself, or was edited ----------------------------------------------
def _fixed_backup(fleet: Fleet, proxy: FaultProxy, sgaudit: Any) -> dict[str, Any]:
    assert sgaudit(*fix_args(fleet, proxy, "--yes", "--backup", fleet.backup)).code == 0
    return json.loads(fleet.backup.read_text())


def _resign(path: Path, doc: dict[str, Any]) -> None:
    """What someone who can write the backup and read its key could do: the HMAC then holds,
    so only the consistency check stands between the edit and AWS."""
    from sgaudit.remediate import signing

    path.write_text(json.dumps(signing.sign(doc, signing.key_path(path).read_bytes().strip(), path)))


def _first(doc: dict[str, Any], action: str) -> int:
    return next(i for i, c in enumerate(doc["changes"]) if c["action"] == action)


def _open_the_world(doc: dict[str, Any], fleet: Fleet) -> str:
    change = doc["changes"][_first(doc, "revoke")]
    change["rule"] = {"rule_id": "sgr-0123456789abcdef0", "protocol": "-1", "from_port": -1,
                      "to_port": -1, "source": WORLD, "description": None}
    return (f"changes[{_first(doc, 'revoke')}].rule: revokes sgr-0123456789abcdef0 (all traffic from "
            f"0.0.0.0/0), which is not in the recorded ingress of {change['group_id']}; a rollback would "
            "put back what was never there, so nothing was changed")


def _remove_what_was_there(doc: dict[str, Any], fleet: Fleet) -> str:
    i = _first(doc, "authorize")
    group = next(g for g in doc["groups"] if g["group_id"] == doc["changes"][i]["group_id"])
    kept = next(r for r in group["ingress"] if r["source"] == "10.0.0.0/16")  # the bastion's ssh
    doc["changes"][i]["new_rule_ids"] = [kept["rule_id"]]
    return (f"changes[{i}].new_rule_ids: {kept['rule_id']} is listed as added, but it is in the recorded "
            f"ingress of {group['group_id']} from before the fix; a rollback would revoke it, so nothing "
            "was changed")


def _another_group(doc: dict[str, Any], fleet: Fleet) -> str:
    i = _first(doc, "revoke")
    doc["changes"][i]["group_id"] = fleet.other
    return (f"changes[{i}]: group {fleet.other} (123456789012/us-east-1) is not among the backup's "
            "groups; nothing was changed")


def _bad_source(doc: dict[str, Any], fleet: Fleet) -> str:
    i = _first(doc, "authorize")
    doc["changes"][i]["rule"]["source"] = "0.0.0.0/00"
    return (f"changes[{i}].rule: source '0.0.0.0/00' is not a CIDR, group or prefix list id; nothing "
            "was changed")


def _bad_protocol(doc: dict[str, Any], fleet: Fleet) -> str:
    doc["groups"][0]["ingress"][0]["protocol"] = "²"
    return ("groups[0].ingress[0]: protocol '²' is not tcp, udp, icmp, icmpv6, -1 or a protocol number; "
            "nothing was changed")


@pytest.mark.parametrize("edit", [_open_the_world, _remove_what_was_there, _another_group, _bad_source,
                                  _bad_protocol])
def test_rollback_refuses_a_backup_that_contradicts_itself_and_changes_nothing(
        fleet: Fleet, proxy: FaultProxy, sgaudit: Any, edit: Any) -> None:
    doc = _fixed_backup(fleet, proxy, sgaudit)
    message = edit(doc, fleet)
    _resign(fleet.backup, doc)
    after_fix, calls = ingress(fleet.client), len(proxy.log)
    for extra in ([], ["--unsigned-ok"], ["--dry-run"]):
        run = sgaudit("rollback", fleet.backup, "--yes", "--endpoint-url", proxy.url, *extra)
        assert (run.code, run.out, run.err_lines) == (2, "", [f"sgaudit: error: {fleet.backup}: {message}"])
    assert len(proxy.log) == calls and ingress(fleet.client) == after_fix  # not even a read


def test_rollback_refuses_an_edited_backup_whose_signature_no_longer_holds(
        fleet: Fleet, proxy: FaultProxy, sgaudit: Any) -> None:
    doc = _fixed_backup(fleet, proxy, sgaudit)
    doc["changes"][0]["reason"] = "edited"
    fleet.backup.write_text(json.dumps(doc))
    after_fix, calls = ingress(fleet.client), len(proxy.log)
    for extra in ([], ["--unsigned-ok"]):
        run = sgaudit("rollback", fleet.backup, "--yes", "--endpoint-url", proxy.url, *extra)
        assert (run.code, run.out, run.err_lines) == (2, "", [
            f"sgaudit: error: {fleet.backup}: the backup was changed after sgaudit wrote it (its signature "
            f"does not match its key {fleet.backup}.key); nothing was changed"])
    assert len(proxy.log) == calls and ingress(fleet.client) == after_fix


@pytest.mark.parametrize("how", ["unsigned", "no key"])
def test_an_unverifiable_backup_needs_unsigned_ok_and_is_still_checked(
        fleet: Fleet, proxy: FaultProxy, sgaudit: Any, how: str) -> None:
    before = ingress(fleet.client)
    doc = _fixed_backup(fleet, proxy, sgaudit)
    if how == "unsigned":  # as sgaudit wrote backups before they were signed
        del doc["signature"]
        fleet.backup.write_text(json.dumps(doc))
        why = "the backup is not signed (written before sgaudit signed backups, or its signature was removed)"
    else:
        Path(f"{fleet.backup}.key").unlink()
        why = f"the backup's key {fleet.backup}.key is missing, so its signature cannot be checked"
    refused = sgaudit("rollback", fleet.backup, "--yes", "--endpoint-url", proxy.url)
    assert (refused.code, refused.err_lines) == (2, [
        f"sgaudit: error: {fleet.backup}: {why}; check it and pass --unsigned-ok to use it; nothing was "
        "changed"])
    undo = sgaudit("rollback", fleet.backup, "--yes", "--unsigned-ok", "--endpoint-url", proxy.url)
    assert undo.code == 0, undo.out + undo.err
    assert undo.err_lines[0] == (f"sgaudit: warning: {fleet.backup}: {why}; going on because of "
                                 "--unsigned-ok (its consistency was checked)")
    assert "sgaudit: 5 applied; 3 of 3 group(s) verified" in undo.out
    assert ingress(fleet.client) == before
