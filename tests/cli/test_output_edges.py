"""The command line's output edges: an unknown -o extension, saying where a report or baseline
went, -q silencing warnings, --update-baseline without a table, and inputs that used to end in
an internal error (exit 70) instead of one line and exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, Run

SNAPSHOTS = ["--snapshot", FIXTURES / "security-groups.json", "--snapshot", FIXTURES / "vpcs.json"]
DEMO = ["--policy", FIXTURES / "policy.yaml", *SNAPSHOTS]


def test_an_unknown_extension_is_refused_not_a_silent_table(sgaudit: Callable[..., Run],
                                                             tmp_path: Path) -> None:
    run = sgaudit("check", *DEMO, "-o", tmp_path / "report.foo")
    assert run.code == 2
    assert run.err_lines == [f"sgaudit: error: -o {tmp_path / 'report.foo'}: no report format has the "
                             "extension '.foo' (known: .txt, .json, .md, .markdown, .html, .htm, .sarif, "
                             ".xml, .asff, .ocsf); pass -f FORMAT"]
    assert list(tmp_path.iterdir()) == []
    forced = sgaudit("check", *DEMO, "-o", tmp_path / "report.foo", "-f", "json")
    assert forced.code == 0 and json.loads((tmp_path / "report.foo").read_text())["complete"] is True


def test_o_says_where_the_report_went_and_q_does_not(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    run = sgaudit("check", *DEMO, "-o", tmp_path / "r.html")
    assert run.out == ""
    assert run.err_lines[-2:] == [f"sgaudit: html report written to {tmp_path / 'r.html'}",
                                  "sgaudit: 6 group(s) audited; 4 drifted; 6 active finding(s) "
                                  "(2 critical, 1 high, 3 medium)"]
    quiet = sgaudit("check", *DEMO, "-o", tmp_path / "q.html", "-q")
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")
    assert (tmp_path / "q.html").read_text().startswith("<!DOCTYPE html>")


def test_q_silences_warnings(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("select: {names: [nothing-matches-this]}\n")
    loud = sgaudit("check", "--policy", policy, *SNAPSHOTS)
    assert "sgaudit: warning: no security group matched the selection" in loud.err
    quiet = sgaudit("check", "--policy", policy, *SNAPSHOTS, "-q")
    assert (quiet.code, quiet.err) == (0, "")
    assert quiet.out == "0 of 0 group(s) match their desired state.\n"


def test_q_still_shows_errors(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    run = sgaudit("check", "--policy", tmp_path / "missing.yaml", *SNAPSHOTS, "-q")
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {tmp_path / 'missing.yaml'}: cannot read "
                                             "policy file: No such file or directory"])


def test_update_baseline_alone_prints_no_table_and_says_where(sgaudit: Callable[..., Run],
                                                              tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    run = sgaudit("check", *DEMO, "--update-baseline", baseline)
    assert (run.code, run.out) == (0, "")
    assert run.err_lines[-2:] == [f"sgaudit: baseline written to {baseline}: 6 finding(s)",
                                  "sgaudit: 6 group(s) audited; 4 drifted; 6 active finding(s) "
                                  "(2 critical, 1 high, 3 medium)"]
    assert len(json.loads(baseline.read_text())["findings"]) == 6
    asked = sgaudit("check", *DEMO, "--update-baseline", baseline, "-f", "json")
    assert json.loads(asked.out)["schema"] == "sgaudit.report/v1"


def test_update_baseline_to_stdout(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    run = sgaudit("check", *DEMO, "--update-baseline", "-", "-q")
    assert run.code == 0 and json.loads(run.out)["sgaudit_baseline"] == 1
    both = sgaudit("check", *DEMO, "--update-baseline", "-", "-f", "json")
    assert (both.code, both.err_lines) == (2, ["sgaudit: error: --update-baseline -: stdout would carry "
                                               "both the baseline and the report; write the report with "
                                               "-o FILE"])


# -- internal errors that are bad input ---------------------------------------------------------
@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_policy(sgaudit: Callable[..., Run], tmp_path: Path, depth: int) -> None:
    policy = tmp_path / "deep.yaml"
    policy.write_text("backend_options:\n  firewall: " + "[" * depth + "]" * depth + "\n")
    run = sgaudit("check", "--policy", policy, *SNAPSHOTS)
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {policy}: invalid YAML: nested too "
                                             "deeply to read"])


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_deeply_nested_snapshot(sgaudit: Callable[..., Run], tmp_path: Path, depth: int) -> None:
    snap = tmp_path / "deep.json"
    snap.write_text('{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": '
                    + "[" * depth + "]" * depth + "}]}")
    run = sgaudit("check", "--snapshot", snap)
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {snap}: not valid JSON: nested too "
                                             "deeply to read"])


def test_deeply_nested_baseline(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    baseline.write_text("[" * 100_000 + "]" * 100_000)
    run = sgaudit("check", *DEMO, "--baseline", baseline)
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {baseline}: baseline is not valid JSON: "
                                             "nested too deeply to read"])


def test_a_5000_digit_port_in_a_snapshot(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    text = (FIXTURES / "security-groups.json").read_text()
    snap = tmp_path / "big.json"
    snap.write_text(text.replace('"FromPort": 22', '"FromPort": ' + "2" * 5000, 1))
    run = sgaudit("check", "--snapshot", snap)
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {snap}: not valid JSON: a number too long "
                                             "to read (more than 4300 digits)"])


def test_a_5000_digit_port_in_a_policy(sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    policy = tmp_path / "big.yaml"
    policy.write_text("backend_options:\n  firewall: {ports: [" + "9" * 5000 + "], cidr: 10.0.0.0/8}\n")
    run = sgaudit("check", "--policy", policy, *SNAPSHOTS)
    assert run.code == 2 and len(run.err_lines) == 1
    assert run.err_lines[0].startswith(f"sgaudit: error: {policy}: line 2: invalid YAML:")


def test_a_lone_surrogate_in_a_group_name_still_writes_the_table(sgaudit: Callable[..., Run],
                                                                 tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "security-groups.json").read_text())
    data["SecurityGroups"][1]["GroupName"] = "half \ud83d of an emoji"
    snap = tmp_path / "s.json"
    snap.write_text(json.dumps(data))  # "\ud83d" in the file: valid JSON, not valid Unicode
    run = sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snap,
                  "--snapshot", FIXTURES / "vpcs.json")
    assert run.code == 0, run.err
    assert "(half \ufffd of an emoji)" in run.out
    out = tmp_path / "r.md"
    assert sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snap,
                   "--snapshot", FIXTURES / "vpcs.json", "-o", out).code == 0
    assert "half \ufffd of an emoji" in out.read_text(encoding="utf-8")


def test_a_lone_surrogate_in_a_group_id_is_recorded_in_history(sgaudit: Callable[..., Run],
                                                               tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "security-groups.json").read_text())
    data["SecurityGroups"][2]["GroupId"] = "sg-\ud800x"
    snap = tmp_path / "s.json"
    snap.write_text(json.dumps(data))
    db, baseline = tmp_path / "h.db", tmp_path / "b.json"
    args = ("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snap,
            "--snapshot", FIXTURES / "vpcs.json", "--history", db, "--update-baseline", baseline,
            "-f", "json")
    run = sgaudit(*args)
    assert run.code == 0, run.err
    found = json.loads(run.out)["findings"]
    odd = [f for f in found if f["group_id"] == "sg-\ud800x"]
    assert odd and all(f["first_seen"] for f in found)
    again = json.loads(sgaudit(*args).out)["findings"]
    assert {f["key"]: f["first_seen"] for f in again} == {f["key"]: f["first_seen"] for f in found}
    history = sgaudit("history", "--history", db)
    assert history.code == 0 and "sg-\ufffdx" in history.out
