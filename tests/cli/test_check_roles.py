"""Cluster-wide and scheduler groups (issue 15) through the real entry point, as a new user
tries them on fixtures/roles: exact findings, the role in every report, and one clear line for
bad input.

fixtures/roles/policy.yaml leaves the options at Coiled's defaults (22, 8786, 8787 from the
world on a scheduler's group), names the cluster-wide groups `coiled-*-cluster` and tags
`coiled-role: workers` as cluster-wide, and allows tcp 443 from 198.51.100.0/24.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
from conftest import FIXTURES, Run

ROLES = FIXTURES / "roles"
POLICY = ROLES / "policy.yaml"
ARGS = ("--policy", POLICY, "--snapshot", ROLES / "security-groups.json",
        "--snapshot", FIXTURES / "vpcs.json")
SCHEMA = json.loads((Path(__file__).parent.parent / "report.schema.json").read_text())
ACCOUNT = "111122223333"
OWN = ("no rule allows it; required because the group is cluster-wide (role cluster): the "
       "cluster's machines reach each other on every port")

ROLE = {"sg-0c1a5500000000a1": "scheduler", "sg-0c1a5500000000a2": "cluster",
        "sg-0c1a5500000000b1": "scheduler", "sg-0c1a5500000000b2": "cluster",
        "sg-0c1a5500000000c2": "cluster", "sg-0c1a5500000000d2": "cluster"}
FINDINGS = [
    # coiled-ml-cluster: its own rule, and the scheduler port opened to the world
    ("sg-0c1a5500000000b2", "extra", "high", "tcp", 8786, 8786, "0.0.0.0/0",
     "outside the envelope: tcp 8786 from 0.0.0.0/0"),
    # coiled-bi-cluster: only the vendor VPN's 443 (allowed); its own rule is missing
    ("sg-0c1a5500000000c2", "missing", "medium", "-1", -1, -1, "sg-0c1a5500000000c2", OWN),
]


def check(sgaudit: Callable[..., Run], *more: object) -> Run:
    return sgaudit("check", *ARGS, *more)


def test_cluster_groups_are_judged_by_their_role(sgaudit: Callable[..., Run]) -> None:
    run = check(sgaudit, "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    jsonschema.validate(doc, SCHEMA)
    assert {g["group_id"]: g["role"] for g in doc["groups"]} == ROLE
    assert sorted((f["group_id"], f["kind"], f["severity"], f["protocol"], f["from_port"],
                   f["to_port"], f["source"], f["reason"]) for f in doc["findings"]) == FINDINGS
    # the scheduler groups (one holds a self-reference, one not) and the clean cluster groups
    assert {g["group_id"]: g["status"] for g in doc["groups"] if g["status"] == "ok"} == {
        "sg-0c1a5500000000a1": "ok", "sg-0c1a5500000000a2": "ok", "sg-0c1a5500000000b1": "ok",
        "sg-0c1a5500000000d2": "ok"}
    assert doc["warnings"] == []


def test_the_table_and_explain_name_the_role(sgaudit: Callable[..., Run]) -> None:
    run = check(sgaudit)
    assert (f"sg-0c1a5500000000b2 (coiled-ml-cluster)  account {ACCOUNT}  region unknown  "
            "vpc vpc-0c0ffee0000000001  status drift  role cluster") in run.out.splitlines()
    run = sgaudit("explain", *ARGS, "sg-0c1a5500000000d2", "sg-0c1a5500000000a1")
    lines = run.out.splitlines()
    assert (f"sg-0c1a5500000000d2 (gpu-workers)  account {ACCOUNT}  region unknown  "
                        "vpc vpc-0c0ffee0000000001  role cluster (a cluster-wide group: only its "
                        "own traffic)") in lines
    assert f"sg-0c1a5500000000a1 (coiled-etl-scheduler)  account {ACCOUNT}  region unknown  " \
           "vpc vpc-0c0ffee0000000001" in lines
    doc = json.loads(sgaudit("explain", *ARGS, "--format", "json", "sg-0c1a5500000000d2").out)
    assert doc[0]["role"] == "cluster"
    assert [(r["kind"], r["protocol"], r["ports"], r["source"], r["origins"]) for r in doc[0]["rules"]] == [
        ("required", "-1", "all", "sg-0c1a5500000000d2 (itself)", [f"role=cluster ({POLICY}:14)"]),
        ("permitted", "tcp", "443", "198.51.100.0/24",
         [f"allow=tcp from 198.51.100.0/24 ({POLICY}:19)"])]


def test_every_report_shows_the_role_of_a_cluster_group(sgaudit: Callable[..., Run]) -> None:
    md = check(sgaudit, "--format", "markdown").out
    assert ("| **high** | extra | sg-0c1a5500000000b2 (coiled-ml-cluster), role cluster | "
            f"{ACCOUNT} / unknown | tcp 8786 from 0.0.0.0/0 |") in md
    sarif = json.loads(check(sgaudit, "--format", "sarif").out)
    results = {r["properties"]["group_id"]: r for r in sarif["runs"][0]["results"]}
    assert results["sg-0c1a5500000000c2"]["properties"]["role"] == "cluster"
    assert results["sg-0c1a5500000000c2"]["message"]["text"].startswith(
        "medium missing ingress on sg-0c1a5500000000c2 (coiled-bi-cluster), role cluster in "
        f"{ACCOUNT}/unknown")
    junit = check(sgaudit, "--format", "junit").out
    assert 'name="sg-0c1a5500000000d2 (gpu-workers), role cluster"' in junit
    assert 'name="sg-0c1a5500000000a1 (coiled-etl-scheduler)"' in junit
    html = check(sgaudit, "--format", "html").out
    assert html.count("<small>role cluster</small>") == 4


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_a_group_matched_to_both_roles_is_one_line_and_exit_2(
        sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = write(tmp_path, POLICY.read_text().replace(
        "\n# Ingress", "  - match: {tags: {coiled-cluster: ml}}\n    role: scheduler\n\n# Ingress"))
    run = sgaudit("check", "--policy", policy, *ARGS[2:])
    assert run.code == 2
    assert run.err_lines == [
        f"sgaudit: error: {policy}: sg-0c1a5500000000b2 is matched to both roles: clusters[1] "
        f"({policy}:16) says scheduler, roles.cluster ({policy}:10) says cluster; give each "
        "group one role"]
    assert run.out == ""


def test_firewall_options_beside_role_cluster_are_warned_about(
        sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = write(tmp_path, POLICY.read_text().replace(
        "    role: cluster\n",
        "    role: cluster\n    backend_options: {firewall: {ports: [9000], cidr: 10.0.0.0/8}}\n"))
    run = sgaudit("check", "--policy", policy, *ARGS[2:], "--format", "json")
    assert run.code == 0
    warning = (f"{policy}:14: clusters[0]: role cluster: the firewall options (backend_options) "
               "do not apply to a cluster-wide group (it must allow only its own traffic and the "
               "policy's allow list); they are ignored for the groups this entry matches")
    assert f"sgaudit: warning: {warning}" in run.err_lines
    doc = json.loads(run.out)
    assert warning in doc["warnings"]
    # ignored indeed: the same findings as without them
    assert sorted((f["group_id"], f["kind"], f["source"]) for f in doc["findings"]) == [
        (g, k, s) for g, k, _, _, _, _, s, _ in FINDINGS]


BAD: list[tuple[str, str]] = [
    ("clusters:\n  - match: {names: [x]}\n    role: workers\n",
     "3: clusters[0].role: expected scheduler or cluster, got 'workers'"),
    ("clusters:\n  - match: {names: [x]}\n    role: clustr\n",
     "3: clusters[0].role: expected scheduler or cluster, got 'clustr'; did you mean 'cluster'?"),
    ("roles:\n  clusters: {names: [x]}\n",
     "2: roles.clusters: unknown key 'clusters'; did you mean 'cluster'?"),
    ("roles:\n  cluster: {}\n",
     "2: roles.cluster: needs tags, names or group_ids (an empty matcher would match every group)"),
    ("roles:\n  cluster: {nmes: [x]}\n",
     "2: roles.cluster.nmes: unknown key 'nmes'; did you mean 'names'?"),
    ("roles: [cluster]\n", "1: roles: expected a mapping, got ['cluster']"),
]


def test_bad_roles_are_one_line_naming_file_key_and_value(
        sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    for text, error in BAD:
        policy = write(tmp_path, text)
        run = sgaudit("check", "--policy", policy, "--snapshot", FIXTURES / "vpcs.json")
        assert run.code == 2, text
        assert run.err_lines == [f"sgaudit: error: {policy}:{error}"], text


def scheduler_view(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((f["key"], f["reason"], f["severity"]) for f in doc["findings"])


def test_the_bundled_demo_is_unchanged_by_an_empty_roles_section(
        sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    """A roles section that matches none of the demo's groups changes none of its findings."""
    demo = ("--snapshot", FIXTURES / "security-groups.json", "--snapshot", FIXTURES / "vpcs.json",
            "--format", "json")
    policy = write(tmp_path, (FIXTURES / "policy.yaml").read_text()
                   + 'roles:\n  cluster: {names: ["nothing-*"]}\n')
    before = json.loads(sgaudit("check", "--policy", FIXTURES / "policy.yaml", *demo).out)
    after = json.loads(sgaudit("check", "--policy", policy, *demo).out)
    assert scheduler_view(after) == scheduler_view(before) and before["findings"]
    assert {g["role"] for g in after["groups"]} == {"scheduler"}
