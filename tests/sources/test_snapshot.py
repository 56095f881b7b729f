"""Snapshot files: malformed, truncated or wrong-shaped input is one line naming the file (exit 2);
a group whose VPC CIDR is needed but unknown is unresolved and the scan incomplete (exit 3), never
"compliant"; several files combine; sgaudit's own snapshot format carries accounts, regions,
prefix lists and what could not be read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, Run

from sgaudit.model import Matcher
from sgaudit.sources.snapshot import SnapshotSource

POLICY = FIXTURES / "policy.yaml"
GROUPS = FIXTURES / "security-groups.json"
VPCS = FIXTURES / "vpcs.json"
OWNER = [{"Key": "owner", "Value": "coiled"}]


def sg(gid: str = "sg-1", perms: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"GroupId": gid, "GroupName": f"coiled-{gid}", "VpcId": "vpc-0c0ffee0000000001",
            "OwnerId": "111122223333", "Tags": OWNER, "IpPermissions": perms or [], **extra}


def write(tmp_path: Path, data: Any, name: str = "snap.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


BAD_SHAPES: list[tuple[str, Any, str]] = [
    ("empty file", "", "not valid JSON (truncated?): Expecting value at line 1 column 1"),
    ("not json", "SecurityGroups:\n  - GroupId: sg-1\n",
     "not valid JSON (truncated?): Expecting value at line 1 column 1"),
    ("top-level list of numbers", [1],
     "$[0]: expected an object (a gcloud --format=json item), got 1"),
    ("other AWS output", {"Reservations": []},
     "$: expected 'SecurityGroups' (describe-security-groups) or 'Vpcs' (describe-vpcs); "
     "found keys ['Reservations']"),
    ("groups not a list", {"SecurityGroups": {}}, "$.SecurityGroups: expected a list"),
    ("group not an object", {"SecurityGroups": [1]}, "$.SecurityGroups[0]: expected an object, got 1"),
    ("group without id", {"SecurityGroups": [{"GroupName": "x", "Tags": OWNER}]},
     "$.SecurityGroups[0]: missing key 'GroupId'"),
    ("tags not a list", {"SecurityGroups": [{"GroupId": "sg-1", "Tags": "owner"}]},
     "$.SecurityGroups[0].Tags: expected a list, got 'owner'"),
    ("permissions not a list", {"SecurityGroups": [sg(IpPermissions={})]},
     "$.SecurityGroups[0].IpPermissions: expected a list, got {}"),
    ("no protocol", {"SecurityGroups": [sg(perms=[{"FromPort": 22}])]},
     "$.SecurityGroups[0].IpPermissions[0]: missing key 'IpProtocol'"),
    ("unknown protocol", {"SecurityGroups": [sg(perms=[{"IpProtocol": "foo"}])]},
     "$.SecurityGroups[0].IpPermissions[0].IpProtocol: unknown protocol 'foo'"),
    ("port as text", {"SecurityGroups": [sg(perms=[{"IpProtocol": "tcp", "FromPort": "22", "ToPort": 22}])]},
     "$.SecurityGroups[0].IpPermissions[0].FromPort: expected an integer, got '22'"),
    ("port out of range", {"SecurityGroups": [sg(perms=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 70000,
                                                           "IpRanges": [{"CidrIp": "1.2.3.4/32"}]}])]},
     "$.SecurityGroups[0].IpPermissions[0]: ports 22-70000 outside 0-65535"),
    ("invalid cidr", {"SecurityGroups": [sg(perms=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                      "IpRanges": [{"CidrIp": "1.2.3.400/32"}]}])]},
     "$.SecurityGroups[0].IpPermissions[0].IpRanges[0].CidrIp: invalid CIDR '1.2.3.400/32'"),
    ("ranges not a list", {"SecurityGroups": [sg(perms=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                           "IpRanges": "0.0.0.0/0"}])]},
     "$.SecurityGroups[0].IpPermissions[0].IpRanges: expected a list, got '0.0.0.0/0'"),
    ("group pair without id", {"SecurityGroups": [sg(perms=[{"IpProtocol": "-1",
                                                               "UserIdGroupPairs": [{"UserId": "1"}]}])]},
     "$.SecurityGroups[0].IpPermissions[0].UserIdGroupPairs[0]: missing key 'GroupId'"),
    ("vpc without id", {"Vpcs": [{"CidrBlock": "10.0.0.0/16"}]}, "$.Vpcs[0]: missing key 'VpcId'"),
    ("vpc invalid cidr", {"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.300/16"}]},
     "$.Vpcs[0].CidrBlock: invalid CIDR '10.0.0.300/16'"),
    ("vpcs not a list", {"Vpcs": {}}, "$.Vpcs: expected a list"),
    ("future sgaudit snapshot", {"sgaudit_snapshot": 3, "scans": []},
     "snapshot version 3 was written by a newer sgaudit; this one reads version 2 (upgrade sgaudit)"),
    ("sgaudit snapshot without scans", {"sgaudit_snapshot": 1, "scans": {}}, "$.scans: expected a list"),
    ("sgaudit snapshot region not text",
     {"sgaudit_snapshot": 1, "scans": [{"Region": 5, "SecurityGroups": []}]},
     "$.scans[0].Region: expected a string"),
]


@pytest.mark.parametrize(("data", "error"), [pytest.param(d, e, id=i) for i, d, e in BAD_SHAPES])
def test_bad_snapshot_is_one_line_naming_the_file(sgaudit: Callable[..., Run], tmp_path: Path,
                                                   data: Any, error: str) -> None:
    path = write(tmp_path, data)
    run = sgaudit("check", "--policy", POLICY, "--snapshot", VPCS, "--snapshot", path)
    assert run.code == 2
    assert run.out == ""
    assert run.err_lines == [f"sgaudit: error: {path}: {error}"]


def test_truncated_snapshot(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    text = GROUPS.read_text()
    for cut in (1, len(text) // 3, len(text) // 2, len(text) - 3):
        path = write(tmp_path, text[:cut], f"cut{cut}.json")
        run = sgaudit("check", "--policy", POLICY, "--snapshot", path, "--snapshot", VPCS)
        assert run.code == 2 and run.out == ""
        [line] = run.err_lines
        assert line.startswith(f"sgaudit: error: {path}: not valid JSON (truncated?): ")
        assert "Traceback" not in run.err


def test_missing_snapshot_file(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    run = sgaudit("check", "--policy", POLICY, "--snapshot", path)
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [f"sgaudit: error: {path}: cannot read snapshot: No such file or directory"]


def test_snapshot_that_is_a_folder(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    run = sgaudit("check", "--policy", POLICY, "--snapshot", tmp_path)
    assert (run.code, run.out) == (2, "")
    [line] = run.err_lines
    assert line.startswith("sgaudit: error: ") and str(tmp_path) in line


def test_not_utf8(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"SecurityGroups": [{"GroupId": "sg-1", "GroupName": "caf\xe9"}]}')
    run = sgaudit("check", "--policy", POLICY, "--snapshot", path)
    assert (run.code, run.out) == (2, "")
    [line] = run.err_lines
    assert line.startswith(f"sgaudit: error: {path}: ")


def test_bad_second_file_is_named(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    bad = write(tmp_path, {"Vpcs": [{"VpcId": 5}]})
    run = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", bad)
    assert run.err_lines == [f"sgaudit: error: {bad}: $.Vpcs[0].VpcId: expected a string, got 5"]


# -- unknown VPC: unresolved, incomplete, never compliant ------------------------------------

def test_groups_without_their_vpc_are_unresolved(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--format", "json")
    assert run.code == 3
    doc = json.loads(run.out)
    assert doc["complete"] is False
    assert {g["status"] for g in doc["groups"]} == {"unresolved"}
    assert len(doc["groups"]) == 6
    # nothing can be missing without the VPC, but what is extra whatever the VPC is, is reported
    assert [(f["group_id"], f["kind"], f["protocol"], f["from_port"], f["to_port"], f["source"])
            for f in doc["findings"]] == [
        ("sg-0a11ce0000000002", "extra", "tcp", 22, 22, "0.0.0.0/0"),
        ("sg-0a11ce0000000002", "missing", "tcp", 8787, 8787, "0.0.0.0/0"),  # needs no VPC
        ("sg-0a11ce0000000003", "extra", "-1", -1, -1, "0.0.0.0/0"),
        ("sg-0a11ce0000000005", "extra", "tcp", 8786, 8787, "10.0.0.0/8"),
        ("sg-0a11ce0000000005", "extra", "tcp", 8787, 8787, "::/0"),
        ("sg-0a11ce0000000006", "extra", "tcp", 5432, 5432, "sg-0badbeef00000099"),
    ]
    # the note appears where "inside the VPC" could have permitted the ports (22 here, and the
    # -1 rule), not on the analytics group's firewall ports or a group reference
    noted = {f["group_id"] for f in doc["findings"]
             if "the VPC's CIDR is unknown, but no VPC can hold all of this" in f["reason"]}
    assert noted == {"sg-0a11ce0000000002", "sg-0a11ce0000000003"}
    assert [e["message"].split(":")[0] for e in doc["errors"]] == [g["group_id"] for g in doc["groups"]]
    assert all("VPC" in e["message"] and e["code"] == "Unresolved" for e in doc["errors"])
    assert "INCOMPLETE" in run.err_lines[-1]


def test_unresolved_is_not_compliant_in_the_table(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS)
    assert run.code == 3
    assert run.out.startswith("INCOMPLETE SCAN")
    assert "sg-0a11ce0000000001: the VPC's CIDR is needed but unknown" in run.out
    assert run.out.rstrip().endswith("0 of 6 group(s) match their desired state.")


@pytest.mark.parametrize("flags", [(), ("--fail-on-drift",)])
def test_incomplete_beats_drift_and_compliance(sgaudit: Callable[..., Run], flags: tuple[str, ...]) -> None:
    assert sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, *flags).code == 3


def test_allow_partial_reports_what_it_could(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    other = write(tmp_path, {"Vpcs": [{"VpcId": "vpc-other", "CidrBlock": "192.168.0.0/16"}]})
    run = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", other,
                  "--format", "json", "--allow-partial")
    assert run.code == 0
    assert json.loads(run.out)["complete"] is False


def test_unknown_vpc_is_fine_when_the_options_do_not_need_it(sgaudit: Callable[..., Run],
                                                             tmp_path: Path) -> None:
    policy = tmp_path / "defaults.yaml"
    policy.write_text("backend_options: {enable_public_ssh: true, enable_public_http: true}\n")
    run = sgaudit("check", "--policy", policy, "--snapshot", GROUPS, "--format", "json")
    assert run.code == 0
    doc = json.loads(run.out)
    assert doc["complete"] is True and doc["errors"] == []
    assert "unresolved" not in {g["status"] for g in doc["groups"]}


def test_group_outside_any_vpc_needing_one_is_unresolved(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    classic = {k: v for k, v in sg("sg-classic").items() if k != "VpcId"}
    path = write(tmp_path, {"SecurityGroups": [classic]})
    run = sgaudit("check", "--policy", POLICY, "--snapshot", path, "--snapshot", VPCS, "--format", "json")
    assert run.code == 3
    assert [g["status"] for g in json.loads(run.out)["groups"]] == ["unresolved"]


def test_disassociated_vpc_blocks_are_not_inside_the_vpc(tmp_path: Path) -> None:
    vpcs = write(tmp_path, {"Vpcs": [{
        "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16",
        "CidrBlockAssociationSet": [
            {"CidrBlock": "10.0.0.0/16", "CidrBlockState": {"State": "associated"}},
            {"CidrBlock": "10.9.0.0/16", "CidrBlockState": {"State": "disassociated"}},
            {"CidrBlock": "10.2.0.0/16", "CidrBlockState": {"State": "associated"}}],
        "Ipv6CidrBlockAssociationSet": [
            {"Ipv6CidrBlock": "2600:1f18:abcd:ef00::/56", "Ipv6CidrBlockState": {"State": "associated"}}]}],
        "SecurityGroups": []})
    snap = SnapshotSource([str(vpcs)]).read(Matcher())
    [vpc] = snap.vpcs.values()
    assert vpc.primary_cidr == "10.0.0.0/16"
    assert vpc.cidrs == ("10.0.0.0/16", "10.2.0.0/16", "2600:1f18:abcd:ef00::/56")


# -- several files -----------------------------------------------------------------------------

def test_groups_and_vpcs_from_separate_files_combine(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    data = json.loads(GROUPS.read_text())
    first = write(tmp_path, {"SecurityGroups": data["SecurityGroups"][:3]}, "a.json")
    second = write(tmp_path, {"SecurityGroups": data["SecurityGroups"][2:]}, "b.json")  # one group in both
    split = sgaudit("check", "--policy", POLICY, "--snapshot", first, "--snapshot", VPCS,
                    "--snapshot", second, "--format", "json")
    whole = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", VPCS, "--format", "json")
    assert split.code == whole.code == 0
    a, b = json.loads(split.out), json.loads(whole.out)
    assert sorted(g["group_id"] for g in a["groups"]) == sorted(g["group_id"] for g in b["groups"])
    assert sorted(f["key"] for f in a["findings"]) == sorted(f["key"] for f in b["findings"])
    assert a["scanned"] == [str(first), str(VPCS), str(second)]


def test_one_file_with_groups_and_vpcs(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    both = write(tmp_path, {**json.loads(GROUPS.read_text()), **json.loads(VPCS.read_text())})
    one = sgaudit("check", "--policy", POLICY, "--snapshot", both, "--format", "json")
    two = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", VPCS, "--format", "json")
    keys = [[f["key"] for f in json.loads(r.out)["findings"]] for r in (one, two)]
    assert keys[0] == keys[1]


# -- sgaudit's own snapshot format -------------------------------------------------------------

def sgaudit_snapshot(*scans: dict[str, Any]) -> dict[str, Any]:
    return {"sgaudit_snapshot": 1, "taken_at": "2026-01-01T00:00:00Z", "sgaudit_version": "0.1.0",
            "scans": list(scans)}


def scan(region: str, groups: list[dict[str, Any]], vpc_cidr: str, **extra: Any) -> dict[str, Any]:
    return {"Account": "444455556666", "Region": region, "SecurityGroups": groups,
            "Vpcs": [{"VpcId": "vpc-0c0ffee0000000001", "CidrBlock": vpc_cidr}],
            "PrefixLists": [], "Errors": [], **extra}


def ssh_from(*cidrs: str, lists: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": c} for c in cidrs],
             "PrefixListIds": [{"PrefixListId": p} for p in lists]},
            {"IpProtocol": "tcp", "FromPort": 8786, "ToPort": 8787, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def test_sgaudit_snapshot_regions_accounts_and_their_own_vpcs(sgaudit: Callable[..., Run],
                                                             tmp_path: Path) -> None:
    """The same VPC id in two regions with different CIDRs: each group is judged by its own."""
    path = write(tmp_path, sgaudit_snapshot(
        scan("eu-west-1", [sg("sg-eu", ssh_from("10.0.0.0/16"))], "10.0.0.0/16"),
        scan("us-east-1", [sg("sg-us", ssh_from("10.0.0.0/16"))], "172.16.0.0/16")))
    run = sgaudit("check", "--policy", POLICY, "--snapshot", path, "--format", "json")
    assert run.code == 0
    doc = json.loads(run.out)
    assert [(g["group_id"], g["account"], g["region"]) for g in doc["groups"]] == [
        ("sg-eu", "444455556666", "eu-west-1"), ("sg-us", "444455556666", "us-east-1")]
    assert [(f["kind"], f["group_id"], f["region"], f["source"]) for f in doc["findings"]] == [
        ("extra", "sg-us", "us-east-1", "10.0.0.0/16")]
    assert doc["findings"][0]["key"] == "extra|444455556666|us-east-1|sg-us|tcp|22|22|10.0.0.0/16"


def test_sgaudit_snapshot_prefix_lists(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    lists = [{"PrefixListId": "pl-0vpc", "Entries": [{"Cidr": "10.0.0.0/17"}, {"Cidr": "10.0.128.0/17"}]},
             {"PrefixListId": "pl-0office",
              "Entries": [{"Cidr": "198.51.100.0/24", "Description": "office"}]}]
    group = sg("sg-1", ssh_from(lists=("pl-0vpc", "pl-0office", "pl-0unread")))
    path = write(tmp_path, sgaudit_snapshot(scan("eu-west-1", [group], "10.0.0.0/16", PrefixLists=lists)))
    run = sgaudit("check", "--policy", POLICY, "--snapshot", path, "--format", "json")
    assert [(f["source"], f["severity"], f["reason"]) for f in json.loads(run.out)["findings"]] == [
        ("pl-0office", "high", "outside the envelope: tcp 22 from 198.51.100.0/24"),
        ("pl-0unread", "medium", "outside the envelope: tcp 22 from pl-0unread"),
    ]


def test_sgaudit_snapshot_errors_make_the_scan_incomplete(sgaudit: Callable[..., Run],
                                                          tmp_path: Path) -> None:
    error = {"account": "444455556666", "region": "ap-south-1", "operation": "DescribeSecurityGroups",
             "code": "UnauthorizedOperation", "message": "You are not authorized to perform this operation."}
    path = write(tmp_path, sgaudit_snapshot(
        scan("eu-west-1", [sg("sg-1", ssh_from("10.0.0.0/16"))], "10.0.0.0/16"),
        {"Account": "444455556666", "Region": "ap-south-1", "SecurityGroups": [], "Vpcs": [],
         "PrefixLists": [], "Errors": [error]}))
    run = sgaudit("check", "--policy", POLICY, "--snapshot", path, "--format", "json")
    assert run.code == 3
    doc = json.loads(run.out)
    assert doc["complete"] is False
    assert doc["errors"] == [error]
    assert doc["findings"] == []  # what could be read is compliant, but the verdict is "incomplete"
    table = sgaudit("check", "--policy", POLICY, "--snapshot", path)
    assert table.code == 3
    assert ("  - 444455556666/ap-south-1 DescribeSecurityGroups: UnauthorizedOperation: You are not "
            "authorized to perform this operation.") in table.out.splitlines()


def test_sgaudit_snapshot_plus_plain_vpcs_file(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    """A region-less describe-vpcs file still serves groups of a known region (VPC ids are unique)."""
    path = write(tmp_path, sgaudit_snapshot(
        {"Account": "444455556666", "Region": "eu-west-1",
         "SecurityGroups": [sg("sg-1", ssh_from("10.0.0.0/16"))]}))
    run = sgaudit("check", "--policy", POLICY, "--snapshot", path, "--snapshot", VPCS, "--format", "json")
    assert run.code == 0
    assert json.loads(run.out)["findings"] == []


def test_only_selected_groups_are_read() -> None:
    snap = SnapshotSource([str(GROUPS)]).read(Matcher(tags=(("owner", "coiled"),)))
    assert len(snap.groups) == 6
    assert "sg-0d15ab1ed0000007" not in {g.group_id for g in snap.groups}
    snap = SnapshotSource([str(GROUPS)]).read(Matcher(names=("web-*",)))
    assert [g.group_id for g in snap.groups] == ["sg-0d15ab1ed0000007"]


# -- snapshots that cannot be the whole truth -------------------------------------------------

def test_no_security_groups_in_any_file_is_refused(sgaudit: Callable[..., Run]) -> None:
    """Only describe-vpcs output is no audit at all: not a green "no drift"."""
    run = sgaudit("check", "--policy", POLICY, "--snapshot", VPCS, "--fail-on-drift")
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: {VPCS}: no describe-security-groups output (a "
                             "'SecurityGroups' list) and no gcloud firewall rules in any --snapshot "
                             "file: there is nothing to audit"]


def test_the_same_group_differing_in_two_files_is_refused(sgaudit: Callable[..., Run],
                                                           tmp_path: Path) -> None:
    data = json.loads(GROUPS.read_text())
    day1 = write(tmp_path, data, "day1.json")
    fixed = json.loads(GROUPS.read_text())
    fixed["SecurityGroups"][2]["IpPermissions"] = []  # sg-0a11ce0000000003 fixed on day 2
    day2 = write(tmp_path, fixed, "day2.json")
    for first, second in ((day1, day2), (day2, day1)):
        run = sgaudit("check", "--policy", POLICY, "--snapshot", first, "--snapshot", second,
                      "--snapshot", VPCS)
        assert run.code == 2
        assert run.err_lines == [
            f"sgaudit: error: {second}: sg-0a11ce0000000003 (111122223333/unknown) is also in "
            f"{first} with different rules or tags; pass one snapshot per group (which copy is "
            "current cannot be told)"]
    same = sgaudit("check", "--policy", POLICY, "--snapshot", day1, "--snapshot", day1,
                   "--snapshot", VPCS, "--format", "json")
    assert same.code == 0 and len(json.loads(same.out)["findings"]) == 6
    shuffled = json.loads(GROUPS.read_text())
    for g in shuffled["SecurityGroups"]:  # AWS lists rules and tags in no set order
        g["IpPermissions"].reverse()
        g["Tags"].reverse()
    other_order = write(tmp_path, shuffled, "other-order.json")
    again = sgaudit("check", "--policy", POLICY, "--snapshot", day1, "--snapshot", other_order,
                    "--snapshot", VPCS, "--format", "json")
    assert again.code == 0 and len(json.loads(again.out)["findings"]) == 6


def _sgaudit_snapshot(tmp_path: Path, select: dict[str, Any]) -> Path:
    data = json.loads(GROUPS.read_text())
    coiled = [g for g in data["SecurityGroups"]
              if {"Key": "owner", "Value": "coiled"} in g.get("Tags", [])]
    return write(tmp_path, {"sgaudit_snapshot": 1, "taken_at": "2026-03-01T02:00:00Z",
                            "select": select,
                            "scans": [{"Account": "111122223333", "Region": "us-east-1",
                                       "SecurityGroups": coiled,
                                       "Vpcs": json.loads(VPCS.read_text())["Vpcs"]}]}, "s.json")


def test_replay_under_a_wider_selection_is_incomplete(sgaudit: Callable[..., Run],
                                                      tmp_path: Path) -> None:
    """The snapshot's scan fetched only owner=coiled groups; a policy that selects every group
    cannot know what the others were."""
    snap = _sgaudit_snapshot(tmp_path, {"tags": {"owner": "coiled"}, "group_ids": []})
    narrow = sgaudit("check", "--policy", POLICY, "--snapshot", snap, "--format", "json")
    assert narrow.code == 0
    everything = write(tmp_path, "select: {}\n", "wide.yaml")
    wide = sgaudit("check", "--policy", everything, "--snapshot", snap, "--format", "json")
    assert wide.code == 3
    [error] = json.loads(wide.out)["errors"]
    assert (error["operation"], error["code"]) == ("replay", "SelectionWider")
    assert "taken selecting only tag owner=coiled" in error["message"]
    ids = write(tmp_path, "select: {group_ids: [sg-0a11ce0000000001]}\n", "ids.yaml")
    assert sgaudit("check", "--policy", ids, "--snapshot", snap).code == 3  # tags dropped: wider
    both = write(tmp_path, "select: {tags: {owner: coiled}, group_ids: [sg-0a11ce0000000001]}\n",
                 "both.yaml")
    assert sgaudit("check", "--policy", both, "--snapshot", snap).code == 0


# -- malformed snapshots fail closed (issue 14, defect 9) ------------------------------------

WORLD_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}

FAIL_OPEN_SHAPES: list[tuple[str, str, str]] = [
    ("second SecurityGroups hides every group",
     '{"SecurityGroups": [{"GroupId": "sg-1", "Tags": [{"Key": "owner", "Value": "coiled"}]}], '
     '"SecurityGroups": []}',
     'duplicate key "SecurityGroups": which copy is meant cannot be told (neither AWS nor gcloud '
     'writes a key twice)'),
    ("second IpRanges hides world ssh",
     '{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", '
     '"FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "IpRanges": []}]}]}',
     'duplicate key "IpRanges" in the object with IpProtocol "tcp": which copy is meant cannot '
     'be told (neither AWS nor gcloud writes a key twice)'),
    ("duplicate key in a vpc",
     '{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "CidrBlock": "0.0.0.0/0"}]}',
     'duplicate key "CidrBlock" in the object with VpcId "vpc-1": '
     'which copy is meant cannot be told (neither AWS nor gcloud writes a key twice)'),
    ("world as a vpc block",
     json.dumps({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "0.0.0.0/0"}]}),
     "$.Vpcs[0].CidrBlock: 0.0.0.0/0 is not a VPC block (AWS allows IPv4 /16 to /28)"),
    ("a /29 vpc block",
     json.dumps({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/29"}]}),
     "$.Vpcs[0].CidrBlock: 10.0.0.0/29 is not a VPC block (AWS allows IPv4 /16 to /28)"),
    ("an associated /8",
     json.dumps({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "CidrBlockAssociationSet": [
         {"CidrBlock": "11.0.0.0/8", "CidrBlockState": {"State": "associated"}}]}]}),
     "$.Vpcs[0].CidrBlockAssociationSet[0].CidrBlock: 11.0.0.0/8 is not a VPC block (AWS allows "
     "IPv4 /16 to /28)"),
    ("an ipv6 /32",
     json.dumps({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16",
                           "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2600::/32"}]}]}),
     "$.Vpcs[0].Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock: 2600::/32 is not a VPC block (AWS "
     "allows IPv6 /44 to /64)"),
    ("state as a string",
     json.dumps({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "CidrBlockAssociationSet": [
         {"CidrBlock": "10.9.0.0/16", "CidrBlockState": "disassociated"}]}]}),
     "$.Vpcs[0].CidrBlockAssociationSet[0].CidrBlockState: expected an object such as "
     "{\"State\": \"associated\"}, got 'disassociated'"),
    ("state value not text",
     json.dumps({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "CidrBlockAssociationSet": [
         {"CidrBlock": "10.9.0.0/16", "CidrBlockState": {"State": False}}]}]}),
     "$.Vpcs[0].CidrBlockAssociationSet[0].CidrBlockState.State: expected a string, got False"),
    ("IpRanges false",
     json.dumps({"SecurityGroups": [sg(perms=[{**WORLD_SSH, "IpRanges": False}])]}),
     "$.SecurityGroups[0].IpPermissions[0].IpRanges: expected a list, got False"),
    ("reversed port range",
     json.dumps({"SecurityGroups": [sg(perms=[{**WORLD_SSH, "FromPort": 3389, "ToPort": 22}])]}),
     "$.SecurityGroups[0].IpPermissions[0]: FromPort 3389 and ToPort 22 are not a port range "
     "(FromPort must not exceed ToPort; -1 means every port only in both)"),
    ("half of every port",
     json.dumps({"SecurityGroups": [sg(perms=[{**WORLD_SSH, "FromPort": -1, "ToPort": 22}])]}),
     "$.SecurityGroups[0].IpPermissions[0]: FromPort -1 and ToPort 22 are not a port range "
     "(FromPort must not exceed ToPort; -1 means every port only in both)"),
    ("icmp type 300",
     json.dumps({"SecurityGroups": [sg(perms=[{**WORLD_SSH, "IpProtocol": "icmp", "FromPort": 300,
                                               "ToPort": -1}])]}),
     "$.SecurityGroups[0].IpPermissions[0]: icmp type 300 code -1: type and code are 0-255 (-1: any)"),
    ("icmpv6 code 256",
     json.dumps({"SecurityGroups": [sg(perms=[{**WORLD_SSH, "IpProtocol": "icmpv6", "FromPort": 1,
                                               "ToPort": 256}])]}),
     "$.SecurityGroups[0].IpPermissions[0]: icmpv6 type 1 code 256: type and code are 0-255 (-1: any)"),
    ("icmp code without a type",
     json.dumps({"SecurityGroups": [sg(perms=[{**WORLD_SSH, "IpProtocol": "icmp", "FromPort": -1,
                                               "ToPort": 4}])]}),
     "$.SecurityGroups[0].IpPermissions[0]: icmp code 4 without a type (FromPort -1)"),
    ("UserIdGroupPairs empty object",
     json.dumps({"SecurityGroups": [sg(perms=[{**WORLD_SSH, "UserIdGroupPairs": {}}])]}),
     "$.SecurityGroups[0].IpPermissions[0].UserIdGroupPairs: expected a list, got {}"),
]


@pytest.mark.parametrize(("text", "error"), [pytest.param(t, e, id=i) for i, t, e in FAIL_OPEN_SHAPES])
def test_snapshots_that_would_fail_open_are_refused(sgaudit: Callable[..., Run], tmp_path: Path,
                                                    text: str, error: str) -> None:
    path = write(tmp_path, text)
    run = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", path)
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [f"sgaudit: error: {path}: {error}"]


def test_one_vpc_with_different_blocks_in_two_files_is_refused(sgaudit: Callable[..., Run],
                                                                tmp_path: Path) -> None:
    vpc_id = json.loads(VPCS.read_text())["Vpcs"][0]["VpcId"]
    other = write(tmp_path, {"Vpcs": [{"VpcId": vpc_id, "CidrBlock": "10.200.0.0/16"}]}, "other.json")
    run = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", VPCS,
                  "--snapshot", other)
    assert (run.code, run.out) == (2, "")
    [line] = run.err_lines
    assert line.startswith(f"sgaudit: error: {other}: {vpc_id} (unknown) has blocks 10.200.0.0/16 "
                           f"but {VPCS} gives it ")
    assert line.endswith("pass one describe-vpcs answer per VPC (which copy is current cannot be told)")


def test_one_vpc_alike_in_two_files_is_fine(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    copy = write(tmp_path, VPCS.read_text(), "copy.json")
    once = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", VPCS, "--format", "json")
    twice = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", VPCS,
                    "--snapshot", copy, "--format", "json")
    assert twice.code == once.code == 0
    assert json.loads(twice.out)["findings"] == json.loads(once.out)["findings"]


# -- prefix lists in AWS CLI snapshots (defect 7) ----------------------------------------------

PL = "pl-0123456789abcdef0"
ALL_FROM_LIST = [{"IpProtocol": "-1", "PrefixListIds": [{"PrefixListId": PL}]}]
ENTRIES = {"Entries": [{"Cidr": "0.0.0.0/0", "Description": "oops"}]}


def _pl_run(sgaudit: Callable[..., Run], tmp_path: Path, *extra: object) -> Run:
    groups = write(tmp_path, {"SecurityGroups": [sg("sg-1", ssh_from("0.0.0.0/0") + ALL_FROM_LIST)]},
                   "groups.json")
    return sgaudit("check", "--policy", POLICY, "--snapshot", groups, "--snapshot", VPCS,
                   *extra, "--format", "json")


def test_a_prefix_list_no_file_gives_makes_the_scan_incomplete(sgaudit: Callable[..., Run],
                                                               tmp_path: Path) -> None:
    run = _pl_run(sgaudit, tmp_path)
    assert run.code == 3
    doc = json.loads(run.out)
    assert doc["complete"] is False
    [error] = doc["errors"]
    assert error["operation"] == f"GetManagedPrefixListEntries {PL}"
    assert error["message"] == (
        f"sg-1 allows traffic from prefix list {PL}, whose entries no --snapshot file gives: add the "
        f"output of 'aws ec2 get-managed-prefix-list-entries --prefix-list-id {PL}' "
        f"(as --snapshot {PL}:FILE)")


def test_describe_managed_prefix_lists_names_the_unread_list(sgaudit: Callable[..., Run],
                                                             tmp_path: Path) -> None:
    described = write(tmp_path, {"PrefixLists": [{
        "PrefixListId": PL, "AddressFamily": "IPv4", "State": "create-complete",
        "PrefixListName": "partners", "MaxEntries": 10, "Version": 3, "OwnerId": "111122223333"}]},
        "lists.json")
    run = _pl_run(sgaudit, tmp_path, "--snapshot", described)
    assert run.code == 3
    [error] = json.loads(run.out)["errors"]
    assert error["message"].startswith(f"sg-1 allows traffic from prefix list {PL} (partners), ")


@pytest.mark.parametrize("labelled", [True, False])
def test_get_managed_prefix_list_entries_completes_the_scan(sgaudit: Callable[..., Run], tmp_path: Path,
                                                            labelled: bool) -> None:
    """Labelled ``pl-…:FILE``, or a file named after the list: the list is read, and what it
    holds (the whole internet) is judged — all traffic from the world is critical."""
    entries = write(tmp_path, ENTRIES, "entries.json" if labelled else f"{PL}.json")
    run = _pl_run(sgaudit, tmp_path, "--snapshot", f"{PL}:{entries}" if labelled else entries)
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["complete"] is True and doc["errors"] == []
    assert [(f["kind"], f["protocol"], f["source"], f["severity"]) for f in doc["findings"]] == [
        ("extra", "tcp", "0.0.0.0/0", "critical"), ("extra", "-1", PL, "critical")]
    assert doc["findings"][1]["reason"].endswith("; udp, icmp, icmpv6, all other protocols from 0.0.0.0/0")


def test_entries_of_an_unnamed_list_are_refused(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    entries = write(tmp_path, ENTRIES, "entries.json")
    run = _pl_run(sgaudit, tmp_path, "--snapshot", entries)
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [
        f"sgaudit: error: {entries}: $: get-managed-prefix-list-entries output does not say which "
        "prefix list it is: pass it as --snapshot pl-…:FILE (or name the file after the list)"]


def test_one_page_of_a_longer_answer_is_refused(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    page = write(tmp_path, {"SecurityGroups": [sg("sg-1")], "NextToken": "abc"}, "page.json")
    run = sgaudit("check", "--policy", POLICY, "--snapshot", page, "--snapshot", VPCS)
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [
        f"sgaudit: error: {page}: $.NextToken: this is one page of a longer answer; save the whole "
        "answer (the AWS CLI without --max-items or --no-paginate)"]


# -- labelling AWS CLI files with their region and account ---------------------------------------

def _places(run: Run) -> list[tuple[str, str, str]]:
    assert run.code in (0, 3), run.err
    return [(g["group_id"], g["account"], g["region"]) for g in json.loads(run.out)["groups"]]


def test_snapshot_labels_give_region_and_account(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    groups = write(tmp_path, {"SecurityGroups": [sg("sg-1", ssh_from("0.0.0.0/0"))]}, "g.json")
    plain = sgaudit("check", "--policy", POLICY, "--snapshot", groups, "--snapshot", VPCS, "-f", "json")
    assert _places(plain) == [("sg-1", "111122223333", "unknown")]
    labelled = sgaudit("check", "--policy", POLICY, "--snapshot", f"999988887777:eu-west-1:{groups}",
                       "--snapshot", f"999988887777:eu-west-1:{VPCS}", "-f", "json")
    assert _places(labelled) == [("sg-1", "999988887777", "eu-west-1")]
    assert json.loads(labelled.out)["findings"][0]["key"].startswith("extra|999988887777|eu-west-1|sg-1|")
    by_option = sgaudit("check", "--policy", POLICY, "--snapshot", groups, "--snapshot", VPCS,
                        "--region", "us-east-2", "-f", "json")
    assert _places(by_option) == [("sg-1", "111122223333", "us-east-2")]
    label_wins = sgaudit("check", "--policy", POLICY, "--snapshot", f"ap-south-1:{groups}",
                         "--snapshot", f"ap-south-1:{VPCS}", "--region", "us-east-2", "-f", "json")
    assert _places(label_wins) == [("sg-1", "111122223333", "ap-south-1")]


def test_a_file_whose_name_holds_a_colon_is_a_file(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    groups = write(tmp_path, {"SecurityGroups": [sg("sg-1", ssh_from("0.0.0.0/0"))]}, "us-east-1:g.json")
    run = sgaudit("check", "--policy", POLICY, "--snapshot", groups, "--snapshot", VPCS, "-f", "json")
    assert _places(run) == [("sg-1", "111122223333", "unknown")]


def test_a_label_contradicting_an_sgaudit_snapshot_is_refused(sgaudit: Callable[..., Run],
                                                              tmp_path: Path) -> None:
    path = write(tmp_path, sgaudit_snapshot(scan("eu-west-1", [sg("sg-1")], "10.0.0.0/16")))
    run = sgaudit("check", "--policy", POLICY, "--snapshot", f"us-east-1:{path}")
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [f"sgaudit: error: {path}: $.scans[0].Region: the file says 'eu-west-1', "
                             "its --snapshot label says 'us-east-1'"]
    # --region only fills in what files do not say: the file's own region stands
    run = sgaudit("check", "--policy", POLICY, "--snapshot", path, "--region", "us-east-1", "-f", "json")
    assert _places(run) == [("sg-1", "444455556666", "eu-west-1")]


@pytest.mark.parametrize(("args", "error"), [
    (("--region", "narnia"), "--region 'narnia': expected an AWS region such as us-east-1"),
    (("--account", "12"), "--account '12': expected a 12-digit AWS account id"),
])
def test_bad_labels_are_one_line(sgaudit: Callable[..., Run], args: tuple[str, ...], error: str) -> None:
    run = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, *args)
    assert (run.code, run.out, run.err_lines) == (2, "", [f"sgaudit: error: {error}"])


def test_labels_without_snapshots_are_refused(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("check", "--policy", POLICY, "--region", "us-east-1")
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == ["sgaudit: error: --region labels --snapshot files; a live scan names "
                             "its own (use --regions to choose regions)"]


def test_unknown_keys_in_a_baseline_are_warned_about(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    warning = ("sgaudit: warning: 6 group(s) have no region or account (AWS CLI snapshot files name "
               "none): their finding keys say 'unknown' and will not match a live scan's in the "
               "baseline or history; label the file (--snapshot us-east-1:FILE) or pass --region "
               "and --account")
    base = tmp_path / "baseline.json"
    plain = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", VPCS,
                    "--update-baseline", base)
    assert warning in plain.err_lines
    labelled = sgaudit("check", "--policy", POLICY, "--snapshot", f"us-east-1:{GROUPS}",
                       "--snapshot", f"us-east-1:{VPCS}", "--update-baseline", tmp_path / "b2.json")
    assert not [line for line in labelled.err_lines if "have no region or account" in line]
    no_baseline = sgaudit("check", "--policy", POLICY, "--snapshot", GROUPS, "--snapshot", VPCS)
    assert warning not in no_baseline.err_lines


def _unread_by_walking_every_rule(snap: Any, given: set[tuple[str, str]]) -> list[tuple[str, ...]]:
    """The unread prefix lists as the reader found them before it noted them while parsing:
    every rule of every group walked, in order, each list reported once."""
    out: list[tuple[str, ...]] = []
    for group in snap.groups:
        for rule in group.rules:
            operation = f"GetManagedPrefixListEntries {rule.source}"
            if (rule.source.startswith("pl-") and (group.region, rule.source) not in given
                    and operation not in [o[2] for o in out]):
                out.append((group.account, group.region, operation, f"{group.group_id} allows "
                            f"traffic from prefix list {rule.source}"))
    return out


def test_unread_prefix_lists_noted_while_parsing_are_those_every_rule_names(tmp_path: Path) -> None:
    """Lists named by PrefixListIds and by a UserIdGroupPairs GroupId that is a list id, in
    several groups and regions, a group repeated in another file with its rules in another
    order, a list whose entries are given and a group not selected: the errors, in their
    order, are those a walk over every rule gives."""
    def perm(port: int, *lists: str, pairs: tuple[str, ...] = ()) -> dict[str, Any]:
        return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}], "Ipv6Ranges": [{"CidrIpv6": "fd00::/8"}],
                "PrefixListIds": [{"PrefixListId": pl} for pl in lists],
                "UserIdGroupPairs": [{"GroupId": g, "UserId": "111122223333"} for g in pairs]}

    groups = [sg("sg-1", [perm(22, "pl-0000000b", "pl-0000000a"), perm(80, pairs=("sg-9", "pl-000000ee"))]),
              sg("sg-2", [perm(443, "pl-00000009", "pl-0000000c", "pl-0000000b")]),
              sg("sg-3", [perm(22, "pl-000000dd")], Tags=[{"Key": "owner", "Value": "other"}]),
              sg("sg-4", [perm(22, pairs=("sg-1",))])]
    again = sg("sg-1", [perm(80, pairs=("pl-000000ee", "sg-9")), perm(22, "pl-0000000a", "pl-0000000b")])
    first = write(tmp_path, {"SecurityGroups": groups}, "a.json")
    second = write(tmp_path, {"SecurityGroups": [again]}, "b.json")
    third = write(tmp_path, {"SecurityGroups": [sg("sg-5", [perm(22, "pl-0000000a")])]}, "c.json")
    given = write(tmp_path, {"Entries": [{"Cidr": "10.0.0.0/8"}]}, "given.json")
    snap = SnapshotSource([f"eu-west-1:{first}", f"eu-west-1:{second}", f"us-east-1:{third}",
                           f"eu-west-1:pl-00000009:{given}"]).read(Matcher(tags=(("owner", "coiled"),)))
    got = [(e.account, e.region, e.operation, e.message.split(",")[0]) for e in snap.errors]
    assert got == _unread_by_walking_every_rule(snap, {("eu-west-1", "pl-00000009")})
    assert [e[2].split()[1] for e in got] == ["pl-000000ee", "pl-0000000a", "pl-0000000b",
                                                 "pl-0000000c"]
    assert {e.code for e in snap.errors} == {"PrefixListNotRead"}
