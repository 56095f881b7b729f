"""The GitHub Action (action.yml): its shell steps, taken out of action.yml and run with bash in
the environment GitHub gives a composite action's steps (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
GITHUB_ACTION_PATH, RUNNER_TEMP, the inputs through env), against the real sgaudit."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from conftest import FIXTURES, ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS = {s.get("id") or s.get("name"): s for s in ACTION["runs"]["steps"]}
SARIF_SCHEMA = json.loads((ROOT / "tests" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
MIB = 1024 * 1024


def _inputs(**given: str) -> dict[str, str]:
    """INPUT_* as the step's env maps them: every input, defaults where not given."""
    out = {}
    for name, spec in ACTION["inputs"].items():
        out[name] = given.get(name.replace("-", "_"), str(spec.get("default", "")))
    env = STEPS["check"]["env"]
    return {var: out[expr.split("inputs.")[1].rstrip(" }")] for var, expr in env.items()}


def run_step(step: str, tmp_path: Path, env: dict[str, str],
             path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """One step's ``run`` script, as the runner runs it (bash, the step's env)."""
    (tmp_path / "runner").mkdir(exist_ok=True)
    full = {
        "PATH": f"{path or Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path), "GITHUB_ACTION_PATH": str(ROOT), "RUNNER_TEMP": str(tmp_path / "runner"),
        "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GITHUB_WORKSPACE": str(tmp_path), "SGAUDIT_NOW": "2026-01-02T03:04:05Z", **env,
    }
    return subprocess.run(["bash", "-e", "-c", STEPS[step]["run"]], env=full, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)


def outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "output").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_a_composite_action_whose_scripts_take_inputs_only_from_the_environment() -> None:
    assert ACTION["runs"]["using"] == "composite"
    for step in ACTION["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], step["name"]  # no expression can inject shell code
    assert '"${GITHUB_ACTION_PATH}[gcp,postgres]"' in STEPS["install"]["run"]  # the action's own ref
    upload = STEPS["Upload SARIF to code scanning"]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "inputs.upload-sarif == 'true'" in upload["if"]
    assert upload["with"]["sarif_file"] == "${{ steps.check.outputs.sarif }}"
    assert set(ACTION["inputs"]) >= {"policy", "snapshots", "regions", "role-arn", "org-role", "gcp-project",
                                     "baseline", "history", "fail-on-drift", "upload-sarif", "args"}


def test_drift_gives_a_summary_a_sarif_code_scanning_takes_and_exit_1(tmp_path: Path) -> None:
    env = _inputs(policy=str(FIXTURES / "policy.yaml"),
                  snapshots=f"  {FIXTURES / 'security-groups.json'}\n\n{FIXTURES / 'vpcs.json'}  \n")
    run = run_step("check", tmp_path, env)
    assert run.returncode == 0, run.stderr  # the step itself succeeds; the last step exits
    got = outputs(tmp_path)
    assert got["exit-code"] == "1"
    summary = (tmp_path / "summary").read_text(encoding="utf-8")
    assert summary.startswith("## ❌ sgaudit: drift in 4 of 6 security group(s)\n")
    assert summary == Path(got["markdown"]).read_text(encoding="utf-8")
    sarif = json.loads(Path(got["sarif"]).read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == 6
    for r in results:  # code scanning rejects a result without a physical location
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
        assert r["partialFingerprints"]["sgauditFindingKey/v1"]
    last = run_step("Exit as sgaudit did", tmp_path, {"SGAUDIT_EXIT": got["exit-code"]})
    assert last.returncode == 1
    assert last.stdout == "::error title=sgaudit::active drift (exit 1)\n"


def test_without_fail_on_drift_and_with_extra_arguments(tmp_path: Path) -> None:
    env = _inputs(policy=str(FIXTURES / "policy.yaml"), fail_on_drift="false", args="--allow-partial -q",
                  snapshots=f"{FIXTURES / 'security-groups.json'}\n{FIXTURES / 'vpcs.json'}")
    run = run_step("check", tmp_path, env)
    assert outputs(tmp_path)["exit-code"] == "0"
    assert run.stderr == ""  # -q reached sgaudit
    assert run_step("Exit as sgaudit did", tmp_path, {"SGAUDIT_EXIT": "0"}).returncode == 0


def test_bad_usage_writes_a_summary_line_and_exits_2(tmp_path: Path) -> None:
    env = _inputs(policy=str(tmp_path / "missing.yaml"), snapshots=str(FIXTURES / "security-groups.json"))
    run_step("check", tmp_path, env)
    assert outputs(tmp_path)["exit-code"] == "2"
    assert (tmp_path / "summary").read_text(encoding="utf-8") == (
        "**sgaudit stopped with exit code 2 before writing a report: see the step's log.**\n")
    assert run_step("Exit as sgaudit did", tmp_path, {"SGAUDIT_EXIT": "2"}).returncode == 2
    assert run_step("Exit as sgaudit did", tmp_path, {"SGAUDIT_EXIT": "3"}).returncode == 3
    assert run_step("Exit as sgaudit did", tmp_path, {"SGAUDIT_EXIT": ""}).returncode == 2


def _fake_sgaudit(tmp_path: Path, markdown: str) -> Path:
    """A stand-in sgaudit that writes a given Markdown report to its --report file (a real
    report over 1 MiB needs tens of thousands of findings)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "big.md").write_text(markdown, encoding="utf-8")
    script = bin_dir / "sgaudit"
    script.write_text(f"#!/bin/bash\nwhile [ $# -gt 0 ]; do\n  case $1 in --report) cp {tmp_path / 'big.md'} "
                      f"\"$2\"; shift;; -o) echo '{{}}' > \"$2\"; shift;; esac\n  shift\ndone\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_a_summary_over_1_mib_is_cut_on_a_line_with_a_note(tmp_path: Path) -> None:
    line = "| critical | extra | tcp | 22 | 0.0.0.0/0 | ünïcode ✓ world-open ssh |\n"
    report = "## ❌ sgaudit: drift\n" + line * (2 * MIB // len(line.encode()))
    run = run_step("check", tmp_path, _inputs(), path=_fake_sgaudit(tmp_path, report))
    assert run.returncode == 0, run.stderr
    summary = (tmp_path / "summary").read_bytes()
    assert len(summary) < MIB
    body, note = summary.decode("utf-8").rsplit("\n\n**The report was cut here**: ", 1)
    assert body.endswith(line) and report.startswith(body)  # whole lines only
    assert note == (f"{len(body.encode())} of {len(report.encode())} bytes shown, GitHub takes at most "
                    "1 MiB a step summary. The whole report is in the SARIF upload and at the "
                    "`markdown` output.\n")
    assert outputs(tmp_path)["exit-code"] == "1"


def test_list_inputs_become_one_option_per_line(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "sgaudit"
    script.write_text(f"#!/bin/bash\nprintf '%s\\n' \"$@\" > {tmp_path / 'argv'}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = _inputs(role_arn="arn:aws:iam::111111111111:role/a\n arn:aws:iam::222222222222:role/b \n",
                  regions="us-east-1,eu-west-1", history="h.db", args="--max-workers 4")
    run_step("check", tmp_path, env, path=bin_dir)
    argv: list[Any] = (tmp_path / "argv").read_text().splitlines()
    sarif, md = outputs(tmp_path)["sarif"], outputs(tmp_path)["markdown"]
    assert argv == ["check", "-o", sarif, "--report", md, "--role-arn", "arn:aws:iam::111111111111:role/a",
                    "--role-arn", "arn:aws:iam::222222222222:role/b", "--regions", "us-east-1,eu-west-1",
                    "--history", "h.db", "--fail-on-drift", "--max-workers", "4"]
