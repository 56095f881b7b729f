"""Done when (issue 7): a policy with cluster arguments for one cluster and legacy flags for the
rest audits both correctly, and ``explain`` shows where every expected rule came from: file and
line, the environment variable, or "default".  Run through the real entry point.

fixtures/modern/: the "ml" cluster is made by a current client (cluster_args: ingress from
203.0.113.0/24, ssh from `me` = client_ip 198.51.100.7, scheduler port 8786, extra port 8787);
"etl" and "reports" by an older one (account enable_public_http: true, dask config
enable-public-ssh: false); "batch" has a legacy firewall (8786, 8787, 9000 from 10.1.0.0/16).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT, Run

POLICY = "fixtures/modern/policy.yaml"
SNAPSHOT = ("--snapshot", "fixtures/modern/security-groups.json", "--snapshot", "fixtures/vpcs.json")
ML, ETL, BATCH, REPORTS = (f"sg-0e1100000000a00{i}" for i in range(1, 5))
DASK_FILE = "fixtures/modern/dask/coiled.yaml"
WARNINGS = [
    f"sgaudit: warning: cluster_args ({POLICY}:19) define the whole firewall of the clusters they "
    f"apply to; enable_public_ssh ({DASK_FILE}:4) does not apply to those",
    f"sgaudit: warning: cluster_args ({POLICY}:19) define the whole firewall of the clusters they "
    f"apply to; enable_public_http ({POLICY}:7) does not apply to those",
]


@pytest.fixture(autouse=True)
def _in_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths, as a new user types them; and no DASK_* variable from outside."""
    monkeypatch.chdir(ROOT)
    for name in list(os.environ):
        if name.startswith("DASK_"):
            monkeypatch.delenv(name)


def test_both_kinds_of_cluster_are_audited_exactly(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("check", "--policy", POLICY, *SNAPSHOT, "--format", "json", "--fail-on-drift")
    assert run.code == 1
    report = json.loads(run.out)
    assert report["complete"] is True
    assert {g["group_id"]: g["status"] for g in report["groups"]} == {
        ML: "drift", ETL: "ok", BATCH: "drift", REPORTS: "drift"}
    found = sorted((f["group_id"], f["kind"], f["severity"], f["protocol"], f["from_port"], f["to_port"],
                    f["source"], f["reason"]) for f in report["findings"])
    assert found == [
        # ml: ssh is wanted only from `me`; 15003 (use_dashboard_https's default) is missing
        (ML, "extra", "critical", "tcp", 22, 22, "0.0.0.0/0",
         "outside the envelope: tcp 22 from 0.0.0.0/0 except 198.51.100.7/32"),
        (ML, "missing", "medium", "tcp", 15003, 15003, "203.0.113.0/24",
         "no rule allows it; required because cluster_args: allow_spark is unset and "
         "use_dashboard_https is true: Spark Connect (15003) is open"),
        # batch: the legacy firewall wants 8787 from 10.1.0.0/16 only
        (BATCH, "extra", "high", "tcp", 8787, 8787, "0.0.0.0/0",
         "outside the envelope: tcp 8787 from 0.0.0.0/0 except 10.1.0.0/16"),
        # reports: the dask config turned public ssh off (inside the VPC's 10.0.0.0/15 is fine)
        (REPORTS, "extra", "critical", "tcp", 22, 22, "0.0.0.0/0",
         "outside the envelope: tcp 22 from 0.0.0.0/0 except 10.0.0.0/15"),
    ]
    assert run.err_lines[:2] == WARNINGS


def rules(run: Run) -> dict[str, list[tuple[Any, ...]]]:
    doc = json.loads(run.out)
    return {g["group_id"]: [(r["kind"], r["ports"], r["source"], r["origins"]) for r in g["rules"]]
            for g in doc}


def test_explain_names_where_every_rule_came_from(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("explain", "--policy", POLICY, *SNAPSHOT, "--format", "json", ML, ETL, BATCH)
    assert run.code == 0
    src = "allow_ingress_from=203.0.113.0/24 (fixtures/modern/policy.yaml:20)"
    assert rules(run) == {
        ML: [
            ("required", "8786", "203.0.113.0/24", [f"scheduler_port=8786 ({POLICY}:22)", src]),
            ("required", "15003", "203.0.113.0/24",
             ["allow_spark=unset (default)", "use_dashboard_https=true (default)", src]),
            ("required", "443", "203.0.113.0/24", [src]),
            ("required", "8787", "203.0.113.0/24", [f"open_extra_ports=[8787] ({POLICY}:23)", src]),
            ("required", "22", "198.51.100.7/32",
             [f"allow_ssh_from=me ({POLICY}:21)", f"client_ip=198.51.100.7/32 ({POLICY}:15)"]),
            ("permitted", "all", f"{ML} (itself)", []),
        ],
        ETL: [
            ("required", "8786", "0.0.0.0/0", [f"enable_public_http=true ({POLICY}:7)"]),
            ("required", "8787", "0.0.0.0/0", [f"enable_public_http=true ({POLICY}:7)"]),
            ("permitted", "22", "10.0.0.0/16", [f"enable_public_ssh=false ({DASK_FILE}:4)"]),
            ("permitted", "22", "10.1.0.0/16", [f"enable_public_ssh=false ({DASK_FILE}:4)"]),
            ("permitted", "all", f"{ETL} (itself)", []),
        ],
        BATCH: [
            *(("required", str(p), "10.1.0.0/16",
               [f"firewall={{ports: [9000], cidr: 10.1.0.0/16}} ({POLICY}:26)"])
              for p in (8786, 8787, 9000)),
            ("permitted", "22", "10.0.0.0/16", [f"enable_public_ssh=false ({DASK_FILE}:4)"]),
            ("permitted", "22", "10.1.0.0/16", [f"enable_public_ssh=false ({DASK_FILE}:4)"]),
            ("permitted", "all", f"{BATCH} (itself)", []),
        ],
    }


def test_explain_table_shows_the_places(sgaudit: Callable[..., Run]) -> None:
    run = sgaudit("explain", "--policy", POLICY, *SNAPSHOT, ML)
    assert run.code == 0
    lines = run.out.splitlines()
    header = next(line for line in lines if line.rstrip().endswith("set by"))
    column = header.index("set by")
    # the "set by" column, its wrapped cells joined again
    text = " ".join(line[column:].strip() for line in lines[lines.index(header) + 2:])
    for place in ("scheduler_port=8786 (fixtures/modern/policy.yaml:22)",
                  "client_ip=198.51.100.7/32 (fixtures/modern/policy.yaml:15)",
                  "use_dashboard_https=true (default)"):
        assert place in text


def test_explain_names_environment_variables(sgaudit: Callable[..., Run], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".config" / "dask").mkdir(parents=True)
    (home / ".config" / "dask" / "coiled.yaml").write_text(
        "coiled:\n  backend_options:\n    enable-public-http: false\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DASK_ROOT_CONFIG", str(tmp_path / "etc-dask"))
    monkeypatch.setenv("DASK_CONFIG", str(tmp_path / "dask-config"))
    monkeypatch.setattr("sgaudit.policy.daskconfig.SYS_PREFIX", str(tmp_path / "prefix"))
    monkeypatch.setenv("DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH", "True")
    policy = tmp_path / "policy.yaml"
    policy.write_text("dask_config: true\n", encoding="utf-8")
    run = sgaudit("explain", "--policy", policy, *SNAPSHOT, "--format", "json", ETL)
    assert run.code == 0
    http = f"enable_public_http=false ({home}/.config/dask/coiled.yaml:3)"
    ssh = "enable_public_ssh=true (env DASK_COILED__BACKEND_OPTIONS__ENABLE_PUBLIC_SSH)"
    assert rules(run)[ETL] == [
        ("required", "22", "0.0.0.0/0", [ssh]),
        ("permitted", "8786", "10.0.0.0/16", [http]), ("permitted", "8786", "10.1.0.0/16", [http]),
        ("permitted", "8787", "10.0.0.0/16", [http]), ("permitted", "8787", "10.1.0.0/16", [http]),
        ("permitted", "all", f"{ETL} (itself)", []),
    ]


# -- refusals through the CLI: exit 2, one line, no traceback ---------------------------------
@pytest.mark.parametrize(("policy", "message"), [
    ("clusters:\n  - match: {tags: {coiled-cluster: ml}}\n    cluster_args: {allow_ingress_from: me}\n",
     "{p}:3: clusters[0].cluster_args.allow_ingress_from: 'me' means the public address of whoever "
     "creates the cluster, which sgaudit never looks up; add client_ip: ADDRESS to the policy"),
    ("cluster_args: {allow_ssh: true}\nclusters:\n  - match: {tags: {coiled-cluster: ml}}\n"
     "    backend_options: {ingress: [{ports: [443], cidr: '::/0'}]}\n",
     "{p}:4: clusters[0].backend_options.ingress cannot be combined with cluster_args ({p}:1): "
     "coiled.Cluster refuses an ingress list together with cluster arguments, which build their own"),
    # two entries that both match the ml group: known only once the groups are read
    ("clusters:\n  - match: {tags: {owner: coiled}}\n"
     "    backend_options: {ingress: [{ports: [443], cidr: '::/0'}]}\n"
     "  - match: {tags: {coiled-cluster: ml}}\n    cluster_args: {}\n",
     "{p}:3: clusters[0].backend_options.ingress cannot be combined with clusters[1].cluster_args "
     "({p}:5): coiled.Cluster refuses an ingress list together with cluster arguments, which build "
     "their own"),
    ("backend_options:\n  firewall: {ports: [1], cidr: 10.0.0.0/8}\n"
     "  ingress: [{ports: [443], cidr: '::/0'}]\n",
     "{p}:3: backend_options.ingress cannot be combined with backend_options.firewall ({p}:2): "
     "Coiled refuses both at account level (set_backend_options)"),
])
def test_refusals_exit_2_with_one_line(sgaudit: Callable[..., Run], tmp_path: Path, policy: str,
                                       message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(policy, encoding="utf-8")
    for command in ("check", "explain"):
        run = sgaudit(command, "--policy", path, *SNAPSHOT)
        assert (run.code, run.out, run.err_lines) == (2, "", ["sgaudit: error: " + message.format(p=path)])


def test_the_fixture_is_where_the_tests_think() -> None:
    assert (FIXTURES / "modern" / "policy.yaml").is_file()
