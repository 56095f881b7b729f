"""The scheduled scan, as a new user would run it: a nightly job with --history and --baseline
fails only on new drift, and `sgaudit history` shows when each finding appeared and disappeared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
R = "111122223333|unknown"  # the AWS CLI files name no region
NEW = f"extra|{R}|sg-0a11ce0000000001|tcp|9999|9999|203.0.113.0/24"
DB_RULE = f"extra|{R}|sg-0a11ce0000000006|tcp|5432|5432|sg-0badbeef00000099"
ACCEPTED = {
    f"extra|{R}|sg-0a11ce0000000002|tcp|22|22|0.0.0.0/0",
    f"missing|{R}|sg-0a11ce0000000002|tcp|8787|8787|0.0.0.0/0",
    f"extra|{R}|sg-0a11ce0000000003|-1|-1|-1|0.0.0.0/0",
    f"extra|{R}|sg-0a11ce0000000005|tcp|8786|8787|10.0.0.0/8",
    f"extra|{R}|sg-0a11ce0000000005|tcp|8787|8787|::/0",
    DB_RULE,
}


def edited_fixture(path: Path, *, add_9999: bool = False, drop_5432: bool = False) -> Path:
    """A copy of fixtures/security-groups.json with some drift added or fixed."""
    data: dict[str, Any] = json.loads((FIXTURES / "security-groups.json").read_text())
    groups = {g["GroupId"]: g for g in data["SecurityGroups"]}
    if add_9999:
        groups["sg-0a11ce0000000001"]["IpPermissions"].append(
            {"IpProtocol": "tcp", "FromPort": 9999, "ToPort": 9999,
             "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "vendor test"}],
             "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []})
    if drop_5432:
        group = groups["sg-0a11ce0000000006"]
        group["IpPermissions"] = [p for p in group["IpPermissions"] if p.get("FromPort") != 5432]
    path.write_text(json.dumps(data))
    return path


def test_nightly_job(sgaudit, tmp_path: Path, monkeypatch, history_target: str) -> None:
    baseline, db = tmp_path / "baseline.json", history_target
    unchanged = edited_fixture(tmp_path / "sg-unchanged.json")
    new_drift = edited_fixture(tmp_path / "sg-new-drift.json", add_9999=True)
    new_drift_db_fixed = edited_fixture(tmp_path / "sg-db-fixed.json", add_9999=True, drop_5432=True)
    db_fixed = edited_fixture(tmp_path / "sg-all-fixed.json", drop_5432=True)

    def nightly(day: int, snapshot: Path, *extra: object):
        monkeypatch.setenv("SGAUDIT_NOW", f"2026-03-0{day}T02:00:00Z")
        run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snapshot,
                      "--snapshot", FIXTURES / "vpcs.json", "--baseline", baseline,
                      "--history", db, "--record-what-if", "--fail-on-drift",
                      "-o", tmp_path / f"day{day}.json", *extra)
        doc = json.loads((tmp_path / f"day{day}.json").read_text())
        return run.code, {f["key"]: (f["baselined"], f["first_seen"]) for f in doc["findings"]}, doc

    # day 0: accept what is there today
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T01:00:00Z")
    run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", unchanged,
                  "--snapshot", FIXTURES / "vpcs.json", "--update-baseline", baseline, "-q")
    assert run.code == 0

    day1 = "2026-03-01T02:00:00Z"
    code, found, doc = nightly(1, unchanged)
    assert code == 0
    assert found == {k: (True, day1) for k in ACCEPTED}
    assert doc["trend"] == [{"scanned_at": day1, "open": 6, "active": 0}]

    day2 = "2026-03-02T02:00:00Z"
    code, found, doc = nightly(2, new_drift)  # someone opens 9999 to a vendor range
    assert code == 1
    assert found == {**{k: (True, day1) for k in ACCEPTED}, NEW: (False, day2)}

    code, found, _ = nightly(3, new_drift_db_fixed)  # still open; the database rule is fixed
    assert code == 1
    assert found == {**{k: (True, day1) for k in ACCEPTED - {DB_RULE}}, NEW: (False, day2)}

    code, found, doc = nightly(4, db_fixed)  # 9999 closed again
    assert code == 0
    assert found == {k: (True, day1) for k in ACCEPTED - {DB_RULE}}
    assert [(t["scanned_at"][:10], t["open"], t["active"]) for t in doc["trend"]] == [
        ("2026-03-01", 6, 0), ("2026-03-02", 7, 1), ("2026-03-03", 6, 1), ("2026-03-04", 5, 0)]

    run = sgaudit("history", "--history", db)
    assert run.code == 0
    assert run.out == f"""\
scan    scanned at                      complete    groups    open    active    waived    baselined    critical    high    medium    low    opened    resolved
------  ------------------------------  ----------  --------  ------  --------  --------  -----------  ----------  ------  --------  -----  --------  ----------
1       2026-03-01T02:00:00Z (what-if)  yes         6         6       0         0         6            0/2         0/1     0/3       0/0    +6        -0
2       2026-03-02T02:00:00Z (what-if)  yes         6         7       1         0         6            0/2         1/2     0/3       0/0    +1        -0
3       2026-03-03T02:00:00Z (what-if)  yes         6         6       1         0         5            0/2         1/2     0/2       0/0    +0        -1
4       2026-03-04T02:00:00Z (what-if)  yes         6         5       0         0         5            0/2         0/1     0/2       0/0    +0        -1
(severity columns: active/open; open also counts waived and baselined findings)

scan 1 at 2026-03-01T02:00:00Z:
  opened    critical  extra|{R}|sg-0a11ce0000000002|tcp|22|22|0.0.0.0/0
  opened    critical  extra|{R}|sg-0a11ce0000000003|-1|-1|-1|0.0.0.0/0
  opened    medium    extra|{R}|sg-0a11ce0000000005|tcp|8786|8787|10.0.0.0/8
  opened    high      extra|{R}|sg-0a11ce0000000005|tcp|8787|8787|::/0
  opened    medium    extra|{R}|sg-0a11ce0000000006|tcp|5432|5432|sg-0badbeef00000099
  opened    medium    missing|{R}|sg-0a11ce0000000002|tcp|8787|8787|0.0.0.0/0

scan 2 at 2026-03-02T02:00:00Z:
  opened    high      {NEW}

scan 3 at 2026-03-03T02:00:00Z:
  resolved  medium    {DB_RULE}

scan 4 at 2026-03-04T02:00:00Z:
  resolved  high      {NEW}

Open now (5):
open since            severity    status     key
--------------------  ----------  ---------  ------------------------------------------------------------------------
2026-03-01T02:00:00Z  critical    baselined  extra|{R}|sg-0a11ce0000000002|tcp|22|22|0.0.0.0/0
2026-03-01T02:00:00Z  critical    baselined  extra|{R}|sg-0a11ce0000000003|-1|-1|-1|0.0.0.0/0
2026-03-01T02:00:00Z  medium      baselined  extra|{R}|sg-0a11ce0000000005|tcp|8786|8787|10.0.0.0/8
2026-03-01T02:00:00Z  high        baselined  extra|{R}|sg-0a11ce0000000005|tcp|8787|8787|::/0
2026-03-01T02:00:00Z  medium      baselined  missing|{R}|sg-0a11ce0000000002|tcp|8787|8787|0.0.0.0/0
"""  # noqa: E501

    run = sgaudit("history", "--history", db, "-f", "json", "--limit", "2")
    doc = json.loads(run.out)
    assert doc["total_scans"] == 4
    assert [(s["scan"], s["opened"], s["resolved"]) for s in doc["scans"]] == [
        (3, [], [{"key": DB_RULE, "severity": "medium"}]),
        (4, [], [{"key": NEW, "severity": "high"}])]
    assert {o["key"]: o["first_seen"] for o in doc["open"]} == {k: day1 for k in ACCEPTED - {DB_RULE}}


def _region_snapshot(path: Path, groups: list[dict[str, Any]]) -> Path:
    """An `sgaudit snapshot` file of one account/region read whole."""
    vpcs = json.loads((FIXTURES / "vpcs.json").read_text())["Vpcs"]
    path.write_text(json.dumps({"sgaudit_snapshot": 1, "taken_at": "2026-03-01T02:00:00Z",
                                "select": {"tags": {"owner": "coiled"}, "group_ids": []},
                                "scans": [{"Account": "111122223333", "Region": "us-east-1",
                                           "SecurityGroups": groups, "Vpcs": vpcs}]}))
    return path


def test_a_deleted_group_resolves_its_findings(sgaudit, tmp_path: Path, monkeypatch,
                                              history_target: str) -> None:
    """Coiled clusters come and go: when the region was read whole and the group is gone, its
    findings are resolved in the history and dropped from the baseline, not open forever."""
    groups = json.loads((FIXTURES / "security-groups.json").read_text())["SecurityGroups"]
    scratch = [g for g in groups if g["GroupId"] == "sg-0a11ce0000000003"]  # -1 from the world
    day1 = _region_snapshot(tmp_path / "day1.json", scratch)
    day2 = _region_snapshot(tmp_path / "day2.json", [])  # the cluster was deleted
    db, baseline = history_target, tmp_path / "baseline.json"
    policy = FIXTURES / "policy.yaml"
    key = "extra|111122223333|us-east-1|sg-0a11ce0000000003|-1|-1|-1|0.0.0.0/0"

    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")
    first = sgaudit("check", "--policy", policy, "--snapshot", day1, "--history", db, "--record-what-if",
                    "--update-baseline", baseline, "-f", "json")
    assert [f["key"] for f in json.loads(first.out)["findings"]] == [key]
    assert [e["key"] for e in json.loads(baseline.read_text())["findings"]] == [key]

    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-02T02:00:00Z")
    second = sgaudit("check", "--policy", policy, "--snapshot", day2, "--history", db, "--record-what-if",
                     "--baseline", baseline, "--update-baseline", baseline, "-f", "json")
    assert second.code == 0 and json.loads(second.out)["findings"] == []
    assert json.loads(baseline.read_text())["findings"] == []
    history = json.loads(sgaudit("history", "--history", db, "-f", "json").out)
    assert [([c["key"] for c in s["opened"]], [c["key"] for c in s["resolved"]])
            for s in history["scans"]] == [([key], []), ([], [key])]


def test_a_late_scan_is_kept_but_does_not_rewrite_what_is_open(sgaudit, tmp_path: Path, monkeypatch,
                                                              history_target: str) -> None:
    """A scan older than the latest (a replayed snapshot, a slow concurrent run) is recorded,
    opens and resolves nothing, and can only move a first_seen earlier."""
    db, policy = history_target, FIXTURES / "policy.yaml"
    base = ("check", "--policy", policy, "--snapshot", FIXTURES / "vpcs.json", "--history", db,
            "--record-what-if", "-f", "json")
    with_9999 = edited_fixture(tmp_path / "new.json", add_9999=True)
    plain = FIXTURES / "security-groups.json"
    for day, snap in (("2026-03-05", plain), ("2026-03-06", with_9999)):
        monkeypatch.setenv("SGAUDIT_NOW", f"{day}T02:00:00Z")
        assert sgaudit(*base, "--snapshot", snap).code == 0
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")  # older than both, and without 9999
    late = json.loads(sgaudit(*base, "--snapshot", plain).out)
    assert {f["first_seen"] for f in late["findings"]} == {"2026-03-01T02:00:00Z"}
    history = json.loads(sgaudit("history", "--history", db, "-f", "json").out)
    assert [(s["scanned_at"][:10], len(s["opened"]), len(s["resolved"])) for s in history["scans"]] == [
        ("2026-03-05", 6, 0), ("2026-03-06", 1, 0), ("2026-03-01", 0, 0)]
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-07T02:00:00Z")
    now = json.loads(sgaudit(*base, "--snapshot", with_9999).out)
    first_seen = {f["key"]: f["first_seen"] for f in now["findings"]}
    assert first_seen[NEW] == "2026-03-06T02:00:00Z"  # still open: the late scan did not resolve it
    assert {first_seen[k] for k in ACCEPTED} == {"2026-03-01T02:00:00Z"}  # seen earlier, late
