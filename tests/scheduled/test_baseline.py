"""Baselines: the ratchet (only new drift fails), scope (a scan of one region neither hides nor
forgets the findings of another), and the file (versioned, atomic, clear errors)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sgaudit.errors import PolicyError
from sgaudit.model import DesiredState, Finding, Group, GroupResult, Report, ScanError
from sgaudit.scheduled.baseline import (
    Baseline,
    Entry,
    complete_scope,
    from_document,
    mark_baselined,
    read_baseline,
    to_document,
    updated_baseline,
    write_baseline,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ACCOUNT = "111122223333"
FIXTURE_KEYS = {  # the drift in fixtures/security-groups.json, under the demo policy
    "extra|{r}|sg-0a11ce0000000002|tcp|22|22|0.0.0.0/0",
    "missing|{r}|sg-0a11ce0000000002|tcp|8787|8787|0.0.0.0/0",
    "extra|{r}|sg-0a11ce0000000003|-1|-1|-1|0.0.0.0/0",
    "extra|{r}|sg-0a11ce0000000005|tcp|8786|8787|10.0.0.0/8",
    "extra|{r}|sg-0a11ce0000000005|tcp|8787|8787|::/0",
    "extra|{r}|sg-0a11ce0000000006|tcp|5432|5432|sg-0badbeef00000099",
}


def keys_in(region: str) -> set[str]:
    return {k.format(r=f"{ACCOUNT}|{region}") for k in FIXTURE_KEYS}


# -- building inputs -----------------------------------------------------------------------
def fixture_groups() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "security-groups.json").read_text())["SecurityGroups"]


def fixture_vpcs() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "vpcs.json").read_text())["Vpcs"]


def add_rule(groups: list[dict[str, Any]], group_id: str, port: int, cidr: str) -> None:
    group = next(g for g in groups if g["GroupId"] == group_id)
    group["IpPermissions"].append({"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                                   "IpRanges": [{"CidrIp": cidr}], "Ipv6Ranges": [],
                                   "PrefixListIds": [], "UserIdGroupPairs": []})


def drop_rule(groups: list[dict[str, Any]], group_id: str, port: int) -> None:
    group = next(g for g in groups if g["GroupId"] == group_id)
    group["IpPermissions"] = [p for p in group["IpPermissions"] if p.get("FromPort") != port]


def write_snapshot(path: Path, regions: dict[str, list[dict[str, Any]] | str]) -> Path:
    """An sgaudit snapshot: per region, the groups (with the fixture VPCs), or an error text."""
    scans = []
    for region, groups in regions.items():
        if isinstance(groups, str):
            scans.append({"Account": ACCOUNT, "Region": region, "SecurityGroups": [], "Vpcs": [],
                          "Errors": [{"operation": "DescribeSecurityGroups",
                                      "code": "UnauthorizedOperation", "message": groups}]})
        else:
            scans.append({"Account": ACCOUNT, "Region": region, "SecurityGroups": groups,
                          "Vpcs": fixture_vpcs()})
    path.write_text(json.dumps({"sgaudit_snapshot": 1, "scans": scans}))
    return path


def check(sgaudit, snapshot: Path, *args: object):
    run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snapshot,
                  "-f", "json", *args)
    doc = json.loads(run.out) if run.out.startswith("{") else None
    return run, doc


def status(doc: dict[str, Any]) -> dict[str, str]:
    return {f["key"]: ("waived" if f["waived"] else "baselined" if f["baselined"] else "active")
            for f in doc["findings"]}


# -- the ratchet ---------------------------------------------------------------------------
def test_only_new_drift_fails(sgaudit, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")
    groups = fixture_groups()
    day1 = write_snapshot(tmp_path / "day1.json", {"us-east-1": groups})
    baseline = tmp_path / "baseline.json"

    run, _ = check(sgaudit, day1, "--update-baseline", baseline)
    assert run.code == 0
    assert {e["key"] for e in json.loads(baseline.read_text())["findings"]} == keys_in("us-east-1")

    run, doc = check(sgaudit, day1, "--baseline", baseline, "--fail-on-drift")
    assert run.code == 0, run.err
    assert set(status(doc).values()) == {"baselined"}
    assert doc["summary"]["active"] == 0

    add_rule(groups, "sg-0a11ce0000000001", 9999, "203.0.113.0/24")
    day2 = write_snapshot(tmp_path / "day2.json", {"us-east-1": groups})
    run, doc = check(sgaudit, day2, "--baseline", baseline, "--fail-on-drift")
    assert run.code == 1
    new = f"extra|{ACCOUNT}|us-east-1|sg-0a11ce0000000001|tcp|9999|9999|203.0.113.0/24"
    assert [k for k, s in status(doc).items() if s == "active"] == [new]
    assert len(doc["findings"]) == 7


def test_fixed_drift_leaves_the_baseline_and_cannot_come_back_unnoticed(sgaudit, tmp_path: Path,
                                                                        monkeypatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")
    groups = fixture_groups()
    baseline = tmp_path / "baseline.json"
    check(sgaudit, write_snapshot(tmp_path / "a.json", {"us-east-1": groups}),
          "--update-baseline", baseline)

    fixed = copy.deepcopy(groups)
    drop_rule(fixed, "sg-0a11ce0000000006", 5432)
    snap = write_snapshot(tmp_path / "b.json", {"us-east-1": fixed})
    run, _ = check(sgaudit, snap, "--baseline", baseline, "--fail-on-drift")
    assert run.code == 0
    assert ("sgaudit: warning: 1 baseline entry is no longer found; --update-baseline drops them, "
            "so that drift cannot return unnoticed") in run.err_lines
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-02T02:00:00Z")
    check(sgaudit, snap, "--baseline", baseline, "--update-baseline", baseline)
    doc = json.loads(baseline.read_text())
    gone = f"extra|{ACCOUNT}|us-east-1|sg-0a11ce0000000006|tcp|5432|5432|sg-0badbeef00000099"
    assert {e["key"] for e in doc["findings"]} == keys_in("us-east-1") - {gone}
    assert {e["since"] for e in doc["findings"]} == {"2026-03-01T02:00:00Z"}  # kept, not reset
    assert doc["written_at"] == "2026-03-02T02:00:00Z"

    run, doc = check(sgaudit, write_snapshot(tmp_path / "c.json", {"us-east-1": groups}),
                     "--baseline", baseline, "--fail-on-drift")
    assert run.code == 1
    assert [k for k, s in status(doc).items() if s == "active"] == [gone]


# -- scope ---------------------------------------------------------------------------------
def test_a_one_region_update_keeps_the_other_regions_entries(sgaudit, tmp_path: Path,
                                                             monkeypatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")
    both = write_snapshot(tmp_path / "both.json", {"us-east-1": fixture_groups(),
                                                   "eu-west-1": fixture_groups()})
    baseline = tmp_path / "baseline.json"
    check(sgaudit, both, "--update-baseline", baseline)
    assert len(json.loads(baseline.read_text())["findings"]) == 12

    # the east region's drift is fixed; only the east region is scanned and the baseline updated
    east_fixed = fixture_groups()
    drop_rule(east_fixed, "sg-0a11ce0000000006", 5432)
    east = write_snapshot(tmp_path / "east.json", {"us-east-1": east_fixed})
    check(sgaudit, east, "--update-baseline", baseline)
    doc = json.loads(baseline.read_text())
    assert doc["scope"] == [{"account": ACCOUNT, "region": "us-east-1"}]
    east_gone = f"extra|{ACCOUNT}|us-east-1|sg-0a11ce0000000006|tcp|5432|5432|sg-0badbeef00000099"
    assert {e["key"] for e in doc["findings"]} == (keys_in("us-east-1") - {east_gone}) | keys_in("eu-west-1")

    # the next two-region scan: the west region's accepted drift is still accepted
    run, doc = check(sgaudit, both, "--baseline", baseline, "--fail-on-drift")
    assert run.code == 1
    assert [k for k, s in status(doc).items() if s == "active"] == [east_gone]


def test_a_one_region_baseline_does_not_hide_another_regions_drift(sgaudit, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    check(sgaudit, write_snapshot(tmp_path / "east.json", {"us-east-1": fixture_groups()}),
          "--update-baseline", baseline)
    both = write_snapshot(tmp_path / "both.json", {"us-east-1": fixture_groups(),
                                                   "eu-west-1": fixture_groups()})
    run, doc = check(sgaudit, both, "--baseline", baseline, "--fail-on-drift")
    assert run.code == 1
    assert {k for k, s in status(doc).items() if s == "active"} == keys_in("eu-west-1")
    assert {k for k, s in status(doc).items() if s == "baselined"} == keys_in("us-east-1")


def test_a_region_that_failed_keeps_its_entries(sgaudit, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    check(sgaudit, write_snapshot(tmp_path / "both.json", {"us-east-1": fixture_groups(),
                                                           "eu-west-1": fixture_groups()}),
          "--update-baseline", baseline)
    denied = write_snapshot(tmp_path / "denied.json", {"us-east-1": fixture_groups(),
                                                       "eu-west-1": "not authorized"})
    run, doc = check(sgaudit, denied, "--baseline", baseline, "--update-baseline", baseline,
                     "--fail-on-drift")
    assert run.code == 3  # incomplete, and never "no drift"
    assert doc["complete"] is False
    kept = json.loads(baseline.read_text())
    assert kept["scope"] == [{"account": ACCOUNT, "region": "us-east-1"}]
    assert {e["key"] for e in kept["findings"]} == keys_in("us-east-1") | keys_in("eu-west-1")


# -- pure functions ------------------------------------------------------------------------
def finding(group_id: str, region: str, port: int, *, waived: bool = False) -> Finding:
    key = f"extra|{ACCOUNT}|{region}|{group_id}|tcp|{port}|{port}|0.0.0.0/0"
    return Finding(key=key, kind="extra", severity="high", account=ACCOUNT, region=region,
                   group_id=group_id, group_name="g", protocol="tcp", from_port=port, to_port=port,
                   source="0.0.0.0/0", rule_ids=(), reason="r", waived=waived)


def report_of(*findings: Finding, groups: tuple[tuple[str, str], ...],
              errors: tuple[tuple[str, str], ...] = ()) -> Report:
    results = tuple(
        GroupResult(Group(gid, "g", None, region, ACCOUNT), DesiredState((), ()),
                    tuple(f for f in findings if (f.group_id, f.region) == (gid, region)))
        for gid, region in groups)
    return Report(complete=not errors, errors=tuple(ScanError(ACCOUNT, r, "op", m) for r, m in errors),
                  results=results, warnings=(), generated_at="t", policy_path="p.yaml",
                  scanned=("s.json",))


def test_complete_scope_is_what_was_audited_minus_what_failed() -> None:
    report = report_of(groups=(("sg-1", "us-east-1"), ("sg-2", "eu-west-1")),
                       errors=(("eu-west-1", "denied"), ("ap-south-1", "denied")))
    assert complete_scope(report) == {(ACCOUNT, "us-east-1", "")}


def test_waived_findings_stay_out_of_the_baseline() -> None:
    waived, plain = finding("sg-1", "us-east-1", 22, waived=True), finding("sg-1", "us-east-1", 80)
    new = updated_baseline(report_of(waived, plain, groups=(("sg-1", "us-east-1"),)), None,
                           written_at="2026-03-01T02:00:00Z", policy_sha256="abc")
    assert list(new.entries) == [plain.key]
    assert new.entries[plain.key] == Entry(plain.key, ACCOUNT, "us-east-1", "sg-1", "extra", "high",
                                           "2026-03-01T02:00:00Z")
    assert new.policy_sha256 == "abc" and new.scope == ((ACCOUNT, "us-east-1", ""),)


def test_mark_baselined_is_set_membership_and_pure() -> None:
    a, b = finding("sg-1", "us-east-1", 22), finding("sg-1", "us-east-1", 80)
    report = report_of(a, b, groups=(("sg-1", "us-east-1"),))
    base = Baseline("t", None, "", (), {a.key: Entry(a.key, ACCOUNT, "us-east-1", "sg-1", "extra",
                                                     "high", "t")})
    marked = mark_baselined(report, base)
    assert [(f.key, f.baselined) for f in marked.findings] == [(a.key, True), (b.key, False)]
    assert [f.key for f in marked.active_findings] == [b.key]
    assert not any(f.baselined for f in report.findings)


# -- the file ------------------------------------------------------------------------------
def test_round_trip_and_versioned_document(tmp_path: Path) -> None:
    a = finding("sg-1", "us-east-1", 22)
    new = updated_baseline(report_of(a, groups=(("sg-1", "us-east-1"),)), None,
                           written_at="2026-03-01T02:00:00Z", policy_sha256="abc")
    path = tmp_path / "b.json"
    write_baseline(path, new)
    assert read_baseline(path) == new
    assert json.loads(path.read_text()) == {
        "sgaudit_baseline": 1, "written_at": "2026-03-01T02:00:00Z", "policy": "p.yaml",
        "policy_sha256": "abc", "scope": [{"account": ACCOUNT, "region": "us-east-1"}],
        "sources": ["s.json"],
        "findings": [{"key": a.key, "account": ACCOUNT, "region": "us-east-1", "group_id": "sg-1",
                      "kind": "extra", "severity": "high", "since": "2026-03-01T02:00:00Z"}]}
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]  # no temporary file left behind
    assert from_document(to_document(new)) == new


@pytest.mark.parametrize(("text", "message"), [
    ('{"sgaudit_baseline": 1, "written_at": "t", "findings": [', "baseline is not valid JSON "
     "(corrupt or truncated?): Expecting value at line 1 column 57"),
    ('{"sgaudit_baseline": 2, "written_at": "t", "findings": []}', "baseline version 2 was written "
     "by a newer sgaudit; this one reads version 1 (upgrade sgaudit)"),
    ('{"SecurityGroups": []}', "not an sgaudit baseline (no 'sgaudit_baseline' version key)"),
    ('[1, 2]', "not an sgaudit baseline (no 'sgaudit_baseline' version key)"),
    ('{"sgaudit_baseline": "1", "written_at": "t"}',
     "$.sgaudit_baseline: expected a version number, got '1'"),
    ('{"sgaudit_baseline": 1, "written_at": "t", "findings": {}}', "$.findings: expected a list, got {}"),
    ('{"sgaudit_baseline": 1, "written_at": "t", "findings": [{"key": 5}]}',
     "$.findings[0].key: expected a string, got 5"),
    ('{"sgaudit_baseline": 1, "written_at": "t", "findings": [{"key": "k"}]}',
     "$.findings[0].account: missing"),
    ('{"sgaudit_baseline": 1}', "$.written_at: missing"),
])
def test_bad_baselines_are_one_line_and_exit_2(sgaudit, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(PolicyError) as raised:
        read_baseline(path)
    assert str(raised.value) == f"{path}: {message}"
    run = sgaudit("check", "--snapshot", FIXTURES / "security-groups.json", "--baseline", path)
    assert (run.code, run.out, run.err_lines) == (2, "", [f"sgaudit: error: {path}: {message}"])


def test_a_missing_baseline_says_how_to_create_one(sgaudit, tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    run = sgaudit("check", "--snapshot", FIXTURES / "security-groups.json", "--baseline", path)
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {path}: cannot read baseline: "
                                             "No such file or directory (create one with "
                                             "--update-baseline)"])


def test_a_corrupt_baseline_to_update_is_refused_and_left_alone(sgaudit, tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text("{not json")
    run = sgaudit("check", "--snapshot", FIXTURES / "security-groups.json", "--update-baseline", path)
    assert run.code == 2
    assert run.err_lines[0].startswith(f"sgaudit: error: {path}: baseline is not valid JSON")
    assert path.read_text() == "{not json"


def test_an_unwritable_baseline_is_one_line_and_exit_2(sgaudit, tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "baseline.json"
    run = sgaudit("check", "--snapshot", FIXTURES / "security-groups.json", "--update-baseline", path)
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {path}: cannot write baseline: folder "
                             f"'{path.parent}' does not exist"]


def test_a_baseline_from_another_policy_is_warned_about(sgaudit, tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    snap = FIXTURES / "security-groups.json"
    sgaudit("check", "--snapshot", snap, "--update-baseline", path)  # default policy
    run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snap,
                  "--snapshot", FIXTURES / "vpcs.json", "--baseline", path)
    assert (f"sgaudit: warning: {path}: written with a different policy file; findings whose keys "
            "the change moved will show as new") in run.err_lines
