"""Applying a plan, verifying it and planning its rollback, against an in-memory EC2 stand-in:
the races and failures that a real endpoint cannot be made to show on demand."""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from sgaudit.engine.diff import Differ
from sgaudit.engine.resolve import resolve
from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_OK, SgauditError
from sgaudit.model import Group, GroupResult, Rule, Vpc
from sgaudit.policy.options import Where, collect
from sgaudit.remediate import documents
from sgaudit.remediate.aws import apply as aws_apply
from sgaudit.remediate.aws import backup, verify
from sgaudit.remediate.aws.changes import ALREADY_DONE, APPLIED, SKIPPED, Outcome, Plan, fix_exit_code
from sgaudit.remediate.aws.plan import plan_fix
from sgaudit.remediate.aws.rollback import plan_rollback
from sgaudit.remediate.aws.rules import describe_rule, signature

ACCOUNT = "111122223333"
REGION = "eu-west-1"
VPC = Vpc("vpc-1", REGION, ACCOUNT, "10.0.0.0/16", ("10.0.0.0/16",))
WORLD = "0.0.0.0/0"
STATE = resolve(collect({}, Where("policy.yaml")).options, VPC)  # Coiled's defaults


class AwsError(Exception):
    """What botocore's ClientError looks like to sgaudit.remediate.aws.apply: a ``response`` with the code."""

    def __init__(self, code: str, message: str = "from the fake") -> None:
        super().__init__(f"{code}: {message}")
        self.response = {"Error": {"Code": code, "Message": message}}


class FakeEC2:
    """Ingress rules per group with ids; ``deny`` makes (action, group) fail; ``calls`` logs."""

    def __init__(self, groups: dict[str, list[Rule]]) -> None:
        self.groups = {gid: list(rules) for gid, rules in groups.items()}
        self.deny: set[tuple[str, str]] = set()
        self.calls: list[tuple[str, str]] = []
        self.ids = count(100)
        #: runs before each mutating call (a concurrent actor)
        self.before_change: Any = None
        #: authorize answers success but changes nothing (to see verification catch it)
        self.lying = False

    def describe_security_group_rules(self, Filters: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self.calls.append(("describe", ",".join(Filters[0]["Values"])))
        out = []
        for gid in Filters[0]["Values"]:
            for r in self.groups.get(gid, []):
                raw = {"SecurityGroupRuleId": r.rule_id, "GroupId": gid, "IsEgress": False,
                       "IpProtocol": r.protocol, "FromPort": r.from_port, "ToPort": r.to_port,
                       **source_fields(r.source)}
                if r.description:
                    raw["Description"] = r.description
                out.append(raw)
            out.append({"SecurityGroupRuleId": "sgr-egress", "GroupId": gid, "IsEgress": True,
                        "IpProtocol": "-1", "CidrIpv4": WORLD})
        return {"SecurityGroupRules": out}

    def authorize_security_group_ingress(self, GroupId: str, IpPermissions: list[dict[str, Any]]) -> Any:
        self._before("authorize", GroupId)
        (perm,) = IpPermissions
        ((kind, (entry,)),) = [(k, v) for k, v in perm.items() if isinstance(v, list) and v]
        source = entry[{"IpRanges": "CidrIp", "Ipv6Ranges": "CidrIpv6", "PrefixListIds": "PrefixListId",
                        "UserIdGroupPairs": "GroupId"}[kind]]
        new = Rule(perm["IpProtocol"], perm.get("FromPort", -1), perm.get("ToPort", -1), source,
                   f"sgr-{next(self.ids)}", entry.get("Description"))
        if any(signature(r) == signature(new) for r in self.groups[GroupId]):
            raise AwsError("InvalidPermission.Duplicate")
        if not self.lying:
            self.groups[GroupId].append(new)
        return {"Return": True, "SecurityGroupRules": [{"SecurityGroupRuleId": new.rule_id}]}

    def revoke_security_group_ingress(self, GroupId: str, SecurityGroupRuleIds: list[str]) -> Any:
        self._before("revoke", GroupId)
        (rid,) = SecurityGroupRuleIds
        kept = [r for r in self.groups[GroupId] if r.rule_id != rid]
        if len(kept) == len(self.groups[GroupId]):
            raise AwsError("InvalidPermission.NotFound")
        self.groups[GroupId] = kept
        return {"Return": True}

    def _before(self, action: str, gid: str) -> None:
        self.calls.append((action, gid))
        if self.before_change:
            self.before_change(action, gid)
        if (action, gid) in self.deny:
            raise AwsError("UnauthorizedOperation", "You are not authorized to perform this operation.")


def source_fields(source: str) -> dict[str, Any]:
    """A rule's source as DescribeSecurityGroupRules names it."""
    if source.startswith("sg-"):
        return {"ReferencedGroupInfo": {"GroupId": source}}
    if source.startswith("pl-"):
        return {"PrefixListId": source}
    return {"CidrIpv6": source} if ":" in source else {"CidrIpv4": source}


def rule(protocol: str, ports: tuple[int, int], source: str, rid: str) -> Rule:
    return Rule(protocol, ports[0], ports[1], source, rid)


#: used as group sg-a; like every Coiled group it has its self-reference (without it, the fix
#: would also add one before revoking: see test_fix_plan)
ALL_FROM_WORLD = [rule("-1", (-1, -1), WORLD, "sgr-all"), rule("-1", (-1, -1), "sg-a", "sgr-self")]
RDP = [rule("tcp", (22, 22), WORLD, "sgr-22"), rule("tcp", (8786, 8787), WORLD, "sgr-http"),
       rule("tcp", (3389, 3389), WORLD, "sgr-rdp")]


def setup(groups: dict[str, list[Rule]]) -> tuple[FakeEC2, list[GroupResult], Plan]:
    ec2 = FakeEC2(groups)
    results = []
    for gid, rules in groups.items():
        g = Group(gid, f"coiled-{gid}", "vpc-1", REGION, ACCOUNT,
                  rules=tuple(r._replace(rule_id=None) for r in rules))
        results.append(GroupResult(g, STATE, Differ().diff(g, STATE)))
    refs = [(ACCOUNT, REGION, gid) for gid in groups]
    plan = plan_fix(results, aws_apply.read_groups(refs, lambda a, r: ec2))
    return ec2, results, plan


def results_of(outcomes: list[Outcome]) -> list[tuple[int, str, str]]:
    return [(o.change.seq, o.change.group_id, o.text) for o in outcomes]


def rules_of(ec2: FakeEC2, gid: str) -> set[tuple[str, int, int, str]]:
    return {signature(r) for r in ec2.groups[gid]}


def test_apply_then_verify_is_clean_and_authorizes_precede_the_revoke() -> None:
    ec2, results, plan = setup({"sg-a": ALL_FROM_WORLD, "sg-b": RDP})
    outcomes = aws_apply.apply_plan(plan, lambda a, r: ec2)
    assert results_of(outcomes) == [(1, "sg-a", "applied"), (2, "sg-a", "applied"), (3, "sg-a", "applied"),
                                    (4, "sg-a", "applied"), (5, "sg-b", "applied")]
    assert [c for c in ec2.calls if c[0] != "describe"] == [
        ("authorize", "sg-a"), ("authorize", "sg-a"), ("authorize", "sg-a"), ("revoke", "sg-a"),
        ("revoke", "sg-b")]
    assert rules_of(ec2, "sg-a") == {("tcp", 22, 22, WORLD), ("tcp", 8786, 8786, WORLD),
                                     ("tcp", 8787, 8787, WORLD), ("-1", -1, -1, "sg-a")}
    checks = verify.verify_fix(plan, results, lambda a, r: ec2)
    assert [(c.ref[2], c.ok) for c in checks] == [("sg-a", True), ("sg-b", True)]
    assert fix_exit_code(plan, outcomes, checks, complete=True) == EXIT_OK
    assert fix_exit_code(plan, outcomes, checks, complete=False) == EXIT_INCOMPLETE


def test_each_group_is_re_read_once_just_before_it_is_changed() -> None:
    ec2, _, plan = setup({"sg-a": ALL_FROM_WORLD, "sg-b": RDP})
    ec2.calls.clear()
    aws_apply.apply_plan(plan, lambda a, r: ec2)
    assert [c for c in ec2.calls if c[0] == "describe"] == [("describe", "sg-a"), ("describe", "sg-b")]
    assert ec2.calls.index(("describe", "sg-b")) > ec2.calls.index(("revoke", "sg-a"))


def test_a_denied_authorize_cancels_the_revoke_it_protects_and_other_groups_are_fixed() -> None:
    ec2, results, plan = setup({"sg-a": ALL_FROM_WORLD, "sg-b": RDP})
    ec2.deny.add(("authorize", "sg-a"))
    outcomes = aws_apply.apply_plan(plan, lambda a, r: ec2)
    denied = "failed: UnauthorizedOperation: You are not authorized to perform this operation."
    assert results_of(outcomes) == [
        (1, "sg-a", denied), (2, "sg-a", denied), (3, "sg-a", denied),
        (4, "sg-a", "skipped: not attempted: needs change #1, #2, #3 to succeed first"),
        (5, "sg-b", "applied")]
    assert rules_of(ec2, "sg-a") == {("-1", -1, -1, WORLD), ("-1", -1, -1, "sg-a")}  # access kept
    assert rules_of(ec2, "sg-b") == {signature(r) for r in RDP[:2]}
    checks = verify.verify_fix(plan, results, lambda a, r: ec2)
    assert [(c.ref[2], [f.key.split("|")[4:] for f in c.remaining]) for c in checks] == [
        ("sg-a", [["-1", "-1", "-1", WORLD]]), ("sg-b", [])]
    assert fix_exit_code(plan, outcomes, checks, complete=True) == EXIT_DRIFT


def test_an_unconfirmed_authorize_is_failed_and_the_revoke_it_protects_waits() -> None:
    """An HTML page with status 200 parses into an empty "success": without AWS's Return=true
    the change did not happen as far as sgaudit can tell, so the broad rule stays."""
    ec2, _, plan = setup({"sg-a": ALL_FROM_WORLD})
    real = ec2.authorize_security_group_ingress

    def blank(**kwargs: Any) -> Any:
        real(**kwargs)
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    ec2.authorize_security_group_ingress = blank  # type: ignore[method-assign]
    outcomes = aws_apply.apply_plan(plan, lambda a, r: ec2)
    unconfirmed = ("failed: AWS did not confirm the change (no Return=true in its answer; a proxy "
                   "in the way?)")
    assert results_of(outcomes) == [
        (1, "sg-a", unconfirmed), (2, "sg-a", unconfirmed), (3, "sg-a", unconfirmed),
        (4, "sg-a", "skipped: not attempted: needs change #1, #2, #3 to succeed first")]
    assert ("-1", -1, -1, WORLD) in rules_of(ec2, "sg-a")


def test_a_group_changed_after_the_plan_is_skipped_as_stale() -> None:
    ec2, results, plan = setup({"sg-a": ALL_FROM_WORLD, "sg-b": RDP})
    ec2.groups["sg-a"].append(rule("tcp", (443, 443), WORLD, "sgr-new"))
    outcomes = aws_apply.apply_plan(plan, lambda a, r: ec2)
    stale = "skipped: stale: the group changed since the plan (+1 rule(s): tcp 443 from 0.0.0.0/0)"
    assert results_of(outcomes) == [(1, "sg-a", stale), (2, "sg-a", stale), (3, "sg-a", stale),
                                    (4, "sg-a", stale), (5, "sg-b", "applied")]
    assert ("authorize", "sg-a") not in ec2.calls and ("revoke", "sg-a") not in ec2.calls
    checks = verify.verify_fix(plan, results, lambda a, r: ec2)
    assert fix_exit_code(plan, outcomes, checks, complete=True) == EXIT_DRIFT


def test_a_rule_replaced_under_the_same_text_is_a_change_too() -> None:
    ec2, _, plan = setup({"sg-b": RDP})
    ec2.groups["sg-b"][2] = ec2.groups["sg-b"][2]._replace(rule_id="sgr-rdp-again")
    (outcome,) = aws_apply.apply_plan(plan, lambda a, r: ec2)
    assert outcome.result == SKIPPED and outcome.detail.startswith("stale")


def test_work_done_by_someone_else_between_re_read_and_call_is_already_done() -> None:
    ec2, results, plan = setup({"sg-a": ALL_FROM_WORLD})

    def racer(action: str, gid: str) -> None:  # another remediation does the same work first
        ec2.before_change = None
        ec2.groups["sg-a"] = [rule("tcp", (22, 22), WORLD, "sgr-x"),
                              rule("tcp", (8786, 8786), WORLD, "sgr-y"),
                              rule("tcp", (8787, 8787), WORLD, "sgr-z")]

    ec2.before_change = racer
    outcomes = aws_apply.apply_plan(plan, lambda a, r: ec2)
    assert [o.text for o in outcomes] == ["already done: InvalidPermission.Duplicate"] * 3 + [
        "already done: InvalidPermission.NotFound"]
    checks = verify.verify_fix(plan, results, lambda a, r: ec2)
    assert fix_exit_code(plan, outcomes, checks, complete=True) == EXIT_OK


def test_verification_catches_a_change_that_did_not_take() -> None:
    ec2, results, plan = setup({"sg-d": [rule("tcp", (22, 22), WORLD, "sgr-22")]})
    ec2.lying = True
    outcomes = aws_apply.apply_plan(plan, lambda a, r: ec2)
    assert all(o.result == APPLIED for o in outcomes)
    (check,) = verify.verify_fix(plan, results, lambda a, r: ec2)
    assert [f.kind for f in check.remaining] == ["missing", "missing"]
    assert fix_exit_code(plan, outcomes, [check], complete=True) == EXIT_DRIFT


def test_an_unreachable_region_fails_its_groups_only() -> None:
    ec2, _, plan = setup({"sg-a": ALL_FROM_WORLD})

    def client_for(account: str, region: str) -> Any:
        raise ConnectionError("endpoint unreachable")

    outcomes = aws_apply.apply_plan(plan, client_for)
    assert {o.text for o in outcomes} == {
        "failed: cannot re-read the group: ConnectionError: endpoint unreachable"}
    assert ec2.calls == [("describe", "sg-a")]  # only the plan's read


# -- backup and rollback ---------------------------------------------------------------------
def fixed(tmp_path: Path, groups: dict[str, list[Rule]],
          deny: set[tuple[str, str]] = frozenset()) -> tuple[FakeEC2, Path, dict[str, set[Any]]]:
    ec2, _, plan = setup(groups)
    ec2.deny |= deny
    before = state(ec2)
    path = tmp_path / "backup.json"
    writer = backup.BackupWriter(path, plan, documents.stamp("2026-03-01T02:00:00Z"))
    writer.write()
    outcomes = aws_apply.apply_plan(plan, lambda a, r: ec2, writer)
    writer.record_outcomes(outcomes)
    return ec2, path, before


def resign(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` signed with the backup's own key, as ``BackupWriter`` would have."""
    from sgaudit.remediate import signing

    key = signing.key_path(path).read_bytes().strip()
    path.write_text(json.dumps(signing.sign(doc, key, path)))


def state(ec2: FakeEC2) -> dict[str, set[Any]]:
    """Each group's rules as what they allow and their description (ids of re-added rules differ)."""
    return {gid: {(*signature(r), r.description) for r in rules} for gid, rules in ec2.groups.items()}


def test_the_backup_records_every_affected_group_and_each_change_with_its_result(tmp_path: Path) -> None:
    _, path, _ = fixed(tmp_path, {"sg-a": ALL_FROM_WORLD, "sg-b": RDP, "sg-ok": RDP[:2]})
    doc = json.loads(path.read_text())
    assert doc["sgaudit_backup"] == 1
    assert [g["group_id"] for g in doc["groups"]] == ["sg-a", "sg-b"]  # sg-ok needs nothing
    assert doc["groups"][0]["ingress"] == [
        {"rule_id": "sgr-all", "protocol": "-1", "from_port": -1, "to_port": -1, "source": WORLD,
         "description": None},
        {"rule_id": "sgr-self", "protocol": "-1", "from_port": -1, "to_port": -1, "source": "sg-a",
         "description": None}]
    assert [(c["seq"], c["action"], c["result"], c["new_rule_ids"]) for c in doc["changes"]] == [
        (1, "authorize", "applied", ["sgr-100"]), (2, "authorize", "applied", ["sgr-101"]),
        (3, "authorize", "applied", ["sgr-102"]), (4, "revoke", "applied", []),
        (5, "revoke", "applied", [])]
    assert doc["changes"][3]["rule"]["rule_id"] == "sgr-all"
    assert doc["changes"][3]["depends_on"] == [1, 2, 3]
    # no temporary file left behind; the signing key beside the backup, its owner's only
    assert sorted(tmp_path.iterdir()) == [path, tmp_path / "backup.json.key"]
    assert (tmp_path / "backup.json.key").stat().st_mode & 0o777 == 0o600
    assert doc["signature"]["algorithm"] == "hmac-sha256"


def test_the_journal_marks_a_change_pending_before_its_call(tmp_path: Path) -> None:
    ec2, _, plan = setup({"sg-b": RDP})
    path = tmp_path / "b.json"
    writer = backup.BackupWriter(path, plan, {})
    writer.write()
    seen: list[str] = []
    ec2.before_change = lambda action, gid: seen.append(json.loads(path.read_text())["changes"][0]["result"])
    aws_apply.apply_plan(plan, lambda a, r: ec2, writer)
    assert seen == ["pending"]
    assert json.loads(path.read_text())["changes"][0]["result"] == "applied"


def test_rollback_restores_exactly_the_rules_before_the_fix(tmp_path: Path) -> None:
    ec2, path, before = fixed(tmp_path, {"sg-a": ALL_FROM_WORLD, "sg-b": RDP})
    record = backup.load_backup(path)
    refs = list(record.before)
    plan = plan_rollback(record, aws_apply.read_groups(refs, lambda a, r: ec2))
    assert [(c.seq, c.group_id, c.action, describe_rule(c.rule, with_id=True))
            for c in plan.changes] == [
        (1, "sg-a", "authorize", "all traffic from 0.0.0.0/0"),
        (2, "sg-a", "revoke", "sgr-100 (tcp 22 from 0.0.0.0/0)"),
        (3, "sg-a", "revoke", "sgr-101 (tcp 8786 from 0.0.0.0/0)"),
        (4, "sg-a", "revoke", "sgr-102 (tcp 8787 from 0.0.0.0/0)"),
        (5, "sg-b", "authorize", "tcp 3389 from 0.0.0.0/0")]
    outcomes = aws_apply.apply_plan(plan, lambda a, r: ec2)
    assert all(o.result == APPLIED for o in outcomes)
    assert state(ec2) == before
    checks = verify.verify_rollback(record, plan, lambda a, r: ec2)
    assert [c.ok for c in checks] == [True, True]


def test_rollback_undoes_only_what_the_fix_did(tmp_path: Path) -> None:
    # sg-a's authorizes were denied, so its revoke never ran: nothing to undo there
    ec2, path, _ = fixed(tmp_path, {"sg-a": ALL_FROM_WORLD, "sg-b": RDP}, deny={("authorize", "sg-a")})
    record = backup.load_backup(path)
    plan = plan_rollback(record, aws_apply.read_groups(list(record.before), lambda a, r: ec2))
    assert [(c.group_id, c.action, c.rule.source, c.rule.from_port) for c in plan.changes] == [
        ("sg-b", "authorize", WORLD, 3389)]


def test_rollback_after_a_crash_finds_an_added_rule_whose_id_was_never_recorded(tmp_path: Path) -> None:
    ec2, path, _ = fixed(tmp_path, {"sg-d": [rule("tcp", (22, 22), WORLD, "sgr-22")]})
    doc = json.loads(path.read_text())
    doc["changes"][0].update(result="pending", new_rule_ids=[])  # the call went out, then a crash
    resign(path, doc)  # what the journal wrote just before that call
    record = backup.load_backup(path)
    plan = plan_rollback(record, aws_apply.read_groups(list(record.before), lambda a, r: ec2))
    assert [(c.action, c.rule.rule_id, c.rule.from_port) for c in plan.changes] == [
        ("revoke", "sgr-100", 8786), ("revoke", "sgr-101", 8787)]


def test_rolling_back_twice_is_harmless(tmp_path: Path) -> None:
    ec2, path, before = fixed(tmp_path, {"sg-a": ALL_FROM_WORLD})
    record = backup.load_backup(path)
    for _ in range(2):
        plan = plan_rollback(record, aws_apply.read_groups(list(record.before), lambda a, r: ec2))
        outcomes = aws_apply.apply_plan(plan, lambda a, r: ec2)
    assert {o.result for o in outcomes} == {ALREADY_DONE}
    assert state(ec2) == before


@pytest.mark.parametrize(("content", "message"), [
    ("{", "not a valid JSON backup"),
    ('{"SecurityGroups": []}', "not an sgaudit backup (no 'sgaudit_backup' version key)"),
    ('{"sgaudit_backup": 9, "groups": [], "changes": []}',
     "backup version 9 was written by a newer sgaudit; this one reads version 1"),
    ('{"sgaudit_backup": 1, "groups": [{"account": "1", "region": "r"}], "changes": []}',
     "groups[0].group_id: expected a non-empty string, got None"),
    ('{"sgaudit_backup": 1, "groups": [], "changes": [{"seq": 1, "action": "delete"}]}',
     "changes[0].action: expected authorize or revoke, got 'delete'"),
])
def test_a_bad_backup_is_one_line_naming_file_and_key(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(SgauditError) as info:
        backup.load_backup(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert info.value.exit_code == 2


def test_a_backup_is_never_overwritten_and_default_names_do_not_collide(tmp_path: Path) -> None:
    existing = tmp_path / "b.json"
    existing.write_text("{}")
    with pytest.raises(SgauditError, match="the file exists; a backup is never overwritten"):
        documents.check_target(existing)
    from datetime import UTC, datetime

    when = datetime(2026, 3, 1, 2, 0, 0, tzinfo=UTC)
    first = documents.default_path(when, tmp_path)
    assert first.name == "sgaudit-backup-20260301T020000Z.json"
    first.write_text("{}")
    assert documents.default_path(when, tmp_path).name == "sgaudit-backup-20260301T020000Z-1.json"


@pytest.mark.parametrize(("args", "message"), [
    (["--dry-run"], "--dry-run only applies with --fix"),
    (["--yes", "--backup", "b.json"], "--yes, --backup only apply with --fix"),
    (["--max-changes", "5"], "--max-changes only applies with --fix"),
    (["--max-changes", "50", "--dry-run"], "--dry-run, --max-changes only apply with --fix"),
    (["--record-what-if"], "--record-what-if only applies with --history (it records a what-if scan)"),
    (["--no-rule-ids", "--snapshot", "sg.json"],
     "--no-rule-ids applies to a live AWS scan (snapshots carry the ids they hold); it cannot be "
     "used with --snapshot"),
    (["--fix", "--format", "html"], "with --fix, stdout shows the plan and what was done; write the "
                                    "report with -o FILE (--format json alone prints the plan and its "
                                    "results as JSON)"),
])
def test_fix_options_without_fix_or_with_a_format_for_stdout_are_usage_errors(
        sgaudit: Any, args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = sgaudit("check", *args)
    assert (run.code, run.out, run.err) == (2, "", f"sgaudit: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_rollback_leaves_a_group_alone_when_an_added_rule_id_now_allows_something_else(
        tmp_path: Path) -> None:
    """The backup says sgaudit added sgr-100 as tcp 22 from the world; if that id now names
    another rule, revoking it would take away what the fix never made."""
    ec2, path, _ = fixed(tmp_path, {"sg-a": ALL_FROM_WORLD, "sg-b": RDP})
    ec2.groups["sg-a"] = [r._replace(source="10.9.0.0/16") if r.rule_id == "sgr-100" else r
                          for r in ec2.groups["sg-a"]]
    record = backup.load_backup(path)
    plan = plan_rollback(record, aws_apply.read_groups(list(record.before), lambda a, r: ec2))
    assert [(g.group_id, g.skipped, len(g.changes)) for g in plan.groups] == [
        ("sg-a", "its rule sgr-100 allows tcp 22 from 10.9.0.0/16, not tcp 22 from 0.0.0.0/0 as the "
                 "backup says sgaudit added; left alone", 0),
        ("sg-b", None, 1)]


def _dup_group(doc: dict[str, Any]) -> str:
    doc["groups"].append(doc["groups"][0])
    return "groups[2]: group sg-a (111122223333/eu-west-1) is listed twice"


def _late_dependency(doc: dict[str, Any]) -> str:
    doc["changes"][0]["depends_on"] = [4]
    return "changes[0].depends_on: #4 is not an earlier change of this backup"


def _unknown_result(doc: dict[str, Any]) -> str:
    doc["changes"][0]["result"] = "done"
    return ("changes[0].result: expected one of already done, applied, failed, pending, planned, "
            "skipped, got 'done'")


def _adds_what_stays(doc: dict[str, Any]) -> str:
    revoke = doc["changes"][4]  # sg-b's; sgr-http (tcp 8786-8787 from the world) stays
    doc["changes"].append({**revoke, "seq": 6, "action": "authorize", "new_rule_ids": ["sgr-900"],
                           "rule": {**revoke["rule"], "rule_id": None, "from_port": 8786,
                                    "to_port": 8787}})
    return ("changes[5].rule: authorizes tcp 8786-8787 from 0.0.0.0/0, which sg-b already had before "
            "the fix and kept; nothing was changed")


def _revoke_edited(doc: dict[str, Any]) -> str:
    doc["changes"][3]["rule"]["description"] = "changed"
    return ("changes[3].rule: revokes sgr-all (all traffic from 0.0.0.0/0), which is not in the recorded "
            "ingress of sg-a; a rollback would put back what was never there, so nothing was changed")


@pytest.mark.parametrize("edit", [_dup_group, _late_dependency, _unknown_result, _adds_what_stays,
                                  _revoke_edited])
def test_a_backup_that_contradicts_itself_is_refused_even_when_signed(tmp_path: Path, edit: Any) -> None:
    _, path, _ = fixed(tmp_path, {"sg-a": ALL_FROM_WORLD, "sg-b": RDP})
    doc = json.loads(path.read_text())
    message = edit(doc)
    resign(path, doc)
    with pytest.raises(SgauditError) as raised:
        backup.load_backup(path)
    assert str(raised.value) == f"{path}: {message}"
