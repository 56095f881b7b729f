"""Waivers, baselines and history with cluster-wide groups (issue 15): they keep working on the
findings of a cluster group, and say the group's role where they name it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, Run

ROLES = FIXTURES / "roles"
SNAPSHOTS = ("--snapshot", ROLES / "security-groups.json", "--snapshot", FIXTURES / "vpcs.json")
BI, ML = "sg-0c1a5500000000c2", "sg-0c1a5500000000b2"
MISSING_OWN = f"missing|111122223333|unknown|{BI}|-1|-1|-1|{BI}"
EXTRA_8786 = f"extra|111122223333|unknown|{ML}|tcp|8786|8786|0.0.0.0/0"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")


def policy_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text((ROLES / "policy.yaml").read_text() + extra)
    return path


def test_a_waiver_covers_the_missing_self_reference_and_names_the_role(
        sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = policy_with(tmp_path, f"""
waivers:
  - {{group_id: {BI}, protocol: -1, source: {BI}, reason: being rebuilt, expires: 2026-03-10}}
  - {{group_id: {ML}, protocol: tcp, ports: [22], source: 0.0.0.0/0, reason: old, expires: 2026-06-01}}
""")
    run = sgaudit("check", "--policy", policy, *SNAPSHOTS, "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    waived = {f["key"]: f["waived"] for f in doc["findings"]}
    assert waived == {MISSING_OWN: True, EXTRA_8786: False}
    assert [(w["group_id"], w["role"], w["days_left"]) for w in doc["waivers_expiring"]] == [
        (BI, "cluster", 9)]
    assert [(w["group_id"], w["role"], w["why"]) for w in doc["waivers_stale"]] == [
        (ML, "cluster", "matched no finding")]
    assert (f"sgaudit: warning: {policy}:23: waiver for {ML} (role cluster) tcp 22 from 0.0.0.0/0 "
            "is stale: matched no finding") in run.err_lines
    md = sgaudit("check", "--policy", policy, *SNAPSHOTS, "--format", "markdown").out
    assert f"| {BI}, role cluster | all all from {BI} | being rebuilt | 2026-03-10 | 9 |" in md


def test_a_baseline_accepts_cluster_findings_and_records_the_role(
        sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    policy = ROLES / "policy.yaml"
    run = sgaudit("check", "--policy", policy, *SNAPSHOTS, "--update-baseline", baseline)
    assert run.code == 0, run.err
    entries = {e["key"]: e.get("role") for e in json.loads(baseline.read_text())["findings"]}
    assert entries == {MISSING_OWN: "cluster", EXTRA_8786: "cluster"}
    run = sgaudit("check", "--policy", policy, *SNAPSHOTS, "--baseline", baseline,
                  "--fail-on-drift", "--format", "json")
    assert run.code == 0, run.err
    assert {f["key"]: f["baselined"] for f in json.loads(run.out)["findings"]} == {
        MISSING_OWN: True, EXTRA_8786: True}


def test_history_records_cluster_findings(sgaudit: Callable[..., Run], history_target: str) -> None:
    db = history_target
    run = sgaudit("check", "--policy", ROLES / "policy.yaml", *SNAPSHOTS, "--history", db,
                  "--record-what-if", "--format", "json")
    assert run.code == 0, run.err
    assert {f["key"]: f["first_seen"] for f in json.loads(run.out)["findings"]} == {
        MISSING_OWN: "2026-03-01T02:00:00Z", EXTRA_8786: "2026-03-01T02:00:00Z"}
    doc = json.loads(sgaudit("history", "--history", db, "--format", "json").out)
    assert sorted(o["key"] for o in doc["open"]) == sorted([EXTRA_8786, MISSING_OWN])
