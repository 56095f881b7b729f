"""Google Cloud scope is project + network: a scan of one network resolves nothing of another
(history, baseline), and waivers and allow entries name the project and network they are for.

The setups are gcloud files written by ``gcp_files``: a cluster tag ``coiled-etl`` whose dask
ports are open to the world (required by the policy) plus a world-open 3389 (an extra, critical:
an admin port from the world), in each network named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import Run
from gcp_files import dask_rule, rule, write

POLICY = "backend_options:\n  enable_public_ssh: false\n"
NOW = "2026-03-01T02:00:00Z"


def rdp_key(project: str, network: str) -> str:
    return (f"extra|{project}|global|{network}/coiled-etl|tcp|3389|3389|0.0.0.0/0|"
            f"{network}-rdp")


def cluster(project: str, network: str, rdp: bool = True) -> list[dict[str, Any]]:
    rules = [dask_rule(project, network, "coiled-etl")]
    if rdp:
        rules.append(rule(project, network, f"{network}-rdp", "coiled-etl", 3389))
    return rules


@pytest.fixture
def scan(sgaudit: Callable[..., Run], tmp_path: Path) -> Callable[..., Run]:
    """``check`` of the files of the given networks (``{(project, network): rules}``) with the
    policy (POLICY, or the text given) and the extra arguments."""
    count = iter(range(1000))

    def run(networks: dict[tuple[str, str], list[dict[str, Any]]], *args: object,
            policy: str = POLICY) -> Run:
        folder = tmp_path / f"scan{next(count)}"
        files = write(folder, networks)
        (folder / "policy.yaml").write_text(policy)
        snapshots: list[object] = []
        for path in files:
            snapshots += ["--snapshot", path]
        return sgaudit("check", "--policy", folder / "policy.yaml", *snapshots, *args)

    return run


def findings(run: Run) -> list[tuple[str, str, bool]]:
    """(key, severity, waived) of a JSON report's findings."""
    return sorted((f["key"], f["severity"], f["waived"]) for f in json.loads(run.out)["findings"])


# -- history -----------------------------------------------------------------------------------
def test_a_scan_of_one_network_leaves_the_other_networks_findings_open_in_the_history(
        scan: Callable[..., Run], sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    db = tmp_path / "scans.db"
    both = {("acme", "net1"): cluster("acme", "net1"), ("acme", "net2"): cluster("acme", "net2")}
    first = scan(both, "--history", db, "-f", "json")
    assert first.code == 0, first.err
    assert findings(first) == [(rdp_key("acme", "net1"), "critical", False),
                               (rdp_key("acme", "net2"), "critical", False)]
    # net1 alone, unchanged: net2 was not read, so its finding is still open
    assert scan({("acme", "net1"): cluster("acme", "net1")}, "--history", db, "-f", "json").code == 0
    # net1 alone, its 3389 rule gone: net1's finding is resolved, net2's is not
    assert scan({("acme", "net1"): cluster("acme", "net1", rdp=False)}, "--history", db).code == 0
    doc = json.loads(sgaudit("history", "--history", db, "-f", "json").out)
    assert [(s["opened"], s["resolved"]) for s in doc["scans"]] == [
        ([{"key": rdp_key("acme", "net1"), "severity": "critical"},
          {"key": rdp_key("acme", "net2"), "severity": "critical"}], []),
        ([], []),
        ([], [{"key": rdp_key("acme", "net1"), "severity": "critical"}]),
    ]
    assert [o["key"] for o in doc["open"]] == [rdp_key("acme", "net2")]
    import sqlite3

    with sqlite3.connect(db) as conn:
        scopes = [json.loads(s) for (s,) in conn.execute("SELECT scope FROM scans ORDER BY id")]
    assert scopes == [[["acme", "global", "net1"], ["acme", "global", "net2"]],
                      [["acme", "global", "net1"]], [["acme", "global", "net1"]]]


def test_a_network_with_an_error_resolves_nothing_of_its_project(
        scan: Callable[..., Run], sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    """An error names a project, not a network: no network of that project is known whole."""
    db = tmp_path / "scans.db"
    both = {("acme", "net1"): cluster("acme", "net1"), ("acme", "net2"): cluster("acme", "net2")}
    assert scan(both, "--history", db).code == 0
    folder = tmp_path / "partial"
    files = write(folder, {("acme", "net1"): cluster("acme", "net1", rdp=False),
                           ("acme", "net2"): cluster("acme", "net2")})
    effective2 = [p for p in files if p.name == "effective-firewalls-acme-net2.json"]
    args: list[object] = []
    for path in files:
        if path not in effective2:  # net2's policies unread: the project is incomplete
            args += ["--snapshot", path]
    (folder / "policy.yaml").write_text(POLICY)
    run = sgaudit("check", "--policy", folder / "policy.yaml", *args, "--history", db, "--allow-partial")
    assert run.code == 0, run.err
    doc = json.loads(sgaudit("history", "--history", db, "-f", "json").out)
    assert doc["scans"][1]["resolved"] == []
    assert [o["key"] for o in doc["open"]] == [rdp_key("acme", "net1"), rdp_key("acme", "net2")]


# -- baseline ------------------------------------------------------------------------------------
def test_a_scan_of_one_network_keeps_the_other_networks_baseline_entries(
        scan: Callable[..., Run], tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    both = {("acme", "net1"): cluster("acme", "net1"), ("acme", "net2"): cluster("acme", "net2")}
    assert scan(both, "--update-baseline", baseline).code == 0
    doc = json.loads(baseline.read_text())
    assert doc["scope"] == [{"account": "acme", "region": "global", "network": "net1"},
                            {"account": "acme", "region": "global", "network": "net2"}]
    assert [(e["key"], e["network"]) for e in doc["findings"]] == [
        (rdp_key("acme", "net1"), "net1"), (rdp_key("acme", "net2"), "net2")]
    fixed = {("acme", "net1"): cluster("acme", "net1", rdp=False)}
    # net1's entry is gone (fixed); net2's was not looked at
    check = scan(fixed, "--baseline", baseline, "-f", "json")
    assert check.code == 0, check.err
    assert check.err_lines[0] == ("sgaudit: warning: 1 baseline entry is no longer found; "
                                  "--update-baseline drops them, so that drift cannot return unnoticed")
    assert scan(fixed, "--update-baseline", baseline).code == 0
    doc = json.loads(baseline.read_text())
    assert [e["key"] for e in doc["findings"]] == [rdp_key("acme", "net2")]
    assert doc["scope"] == [{"account": "acme", "region": "global", "network": "net1"}]


def test_a_baseline_entry_written_before_networks_takes_its_network_from_its_key(
        scan: Callable[..., Run], tmp_path: Path) -> None:
    """A baseline by the previous sgaudit (no "network"): net2's entry is kept by a net1 scan."""
    baseline = tmp_path / "baseline.json"
    both = {("acme", "net1"): cluster("acme", "net1"), ("acme", "net2"): cluster("acme", "net2")}
    assert scan(both, "--update-baseline", baseline).code == 0
    doc = json.loads(baseline.read_text())
    for entry in doc["findings"]:
        del entry["network"]
    doc["scope"] = [{"account": "acme", "region": "global"}]
    baseline.write_text(json.dumps(doc))
    fixed = {("acme", "net1"): cluster("acme", "net1", rdp=False)}
    assert scan(fixed, "--update-baseline", baseline).code == 0
    assert [(e["key"], e["network"]) for e in json.loads(baseline.read_text())["findings"]] == [
        (rdp_key("acme", "net2"), "net2")]


# -- waivers -----------------------------------------------------------------------------------
TWO_PROJECTS = {("staging", "default"): cluster("staging", "default"),
                ("prod", "default"): cluster("prod", "default")}


def waiver_policy(*place: str) -> str:
    lines = "".join(f"    {line}\n" for line in place)
    return (POLICY + "waivers:\n  - group_id: coiled-etl\n    ports: [3389]\n    source: 0.0.0.0/0\n"
            f"    reason: staging jump host, ticket SEC-9\n    expires: 2026-04-30\n{lines}")


def test_a_waiver_naming_a_tag_of_two_projects_is_refused(
        scan: Callable[..., Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", NOW)
    run = scan(TWO_PROJECTS, "-f", "json", policy=waiver_policy())
    assert run.code == 2 and run.out == ""
    assert run.err_lines == [
        f"sgaudit: error: {tmp_path / 'scan0' / 'policy.yaml'}:4: waiver for coiled-etl "
        "matches targets in 2 places (project prod network default, project staging network "
        "default); add account and network to the waiver to say which it is for"]


def test_a_waiver_with_its_project_waives_only_that_projects_finding(
        scan: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", NOW)
    run = scan(TWO_PROJECTS, "-f", "json", "--fail-on-drift", policy=waiver_policy("account: staging"))
    assert run.code == 1, run.err
    assert findings(run) == [(rdp_key("prod", "default"), "critical", False),
                             (rdp_key("staging", "default"), "critical", True)]
    # the same with the network named too
    run = scan(TWO_PROJECTS, "-f", "json", policy=waiver_policy("account: staging", "network: default"))
    assert findings(run) == [(rdp_key("prod", "default"), "critical", False),
                             (rdp_key("staging", "default"), "critical", True)]
    assert json.loads(run.out)["waivers_stale"] == []


def test_a_waiver_for_another_network_is_stale_not_applied(
        scan: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", NOW)
    run = scan(TWO_PROJECTS, "-f", "json", policy=waiver_policy("account: staging", "network: other"))
    assert run.code == 0, run.err
    assert [waived for _, _, waived in findings(run)] == [False, False]
    [stale] = json.loads(run.out)["waivers_stale"]
    assert (stale["account"], stale["network"], stale["why"]) == (
        "staging", "other", "group not in this scan")
    assert any(line.endswith(": waiver for coiled-etl in account staging network other tcp 3389 from "
                             "0.0.0.0/0 is stale: group not in this scan") for line in run.err_lines)
    other = waiver_policy("account: staging", "network: other")
    markdown = scan(TWO_PROJECTS, "-f", "markdown", policy=other)
    assert ("| coiled-etl in account staging network other | tcp 3389 from 0.0.0.0/0 | staging jump "
            "host, ticket SEC-9 | 2026-04-30 |") in markdown.out


def test_one_project_scanned_alone_needs_no_place(scan: Callable[..., Run],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal is about the targets this scan sees: staging alone is not ambiguous."""
    monkeypatch.setenv("SGAUDIT_NOW", NOW)
    run = scan({("staging", "default"): cluster("staging", "default")}, "-f", "json",
               policy=waiver_policy())
    assert run.code == 0, run.err
    assert findings(run) == [(rdp_key("staging", "default"), "critical", True)]


# -- allow -------------------------------------------------------------------------------------
def test_an_allow_entry_with_a_project_permits_only_there(scan: Callable[..., Run]) -> None:
    policy = POLICY + ("allow:\n  - {protocol: tcp, ports: [3389], source: 0.0.0.0/0, account: staging,"
                       " network: default}\n")
    run = scan(TWO_PROJECTS, "-f", "json", policy=policy)
    assert run.code == 0, run.err
    assert findings(run) == [(rdp_key("prod", "default"), "critical", False)]


# -- GCP sources that are not addresses ------------------------------------------------------------
def _token_rules(project: str, net: str) -> list[dict[str, Any]]:
    return [dask_rule(project, net, "coiled-etl"),
            rule(project, net, "from-bastion", "coiled-etl", 22, sourceRanges=[], sourceTags=["bastion"]),
            rule(project, net, "from-runner", "coiled-etl", 5432, sourceRanges=[],
                 sourceServiceAccounts=["runner@acme.iam.gserviceaccount.com"])]


FQDN_POLICY = {"name": "fqdn-policy", "type": "NETWORK", "rules": [{
    "priority": 100, "action": "allow", "direction": "INGRESS",
    "match": {"srcFqdns": ["ci.example.com"], "layer4Configs": [{"ipProtocol": "tcp", "ports": ["9000"]}]},
    "targetSecureTags": [], "ruleName": "ci"}]}


def _token_scan(sgaudit: Callable[..., Run], tmp_path: Path, policy: str) -> Run:
    files = write(tmp_path / "tokens", {("acme", "net1"): _token_rules("acme", "net1")},
                  {("acme", "net1"): [FQDN_POLICY]})
    (tmp_path / "policy.yaml").write_text(policy)
    args: list[object] = []
    for path in files:
        args += ["--snapshot", path]
    return sgaudit("check", "--policy", tmp_path / "policy.yaml", *args, "-f", "json")


TOKENS = ("tag:bastion", "sa:runner@acme.iam.gserviceaccount.com", "srcFqdns:ci.example.com")


def _sources(run: Run) -> Sequence[tuple[str, int, bool]]:
    return sorted((f["source"], f["from_port"], f["waived"]) for f in json.loads(run.out)["findings"])


def test_findings_from_tag_sa_and_policy_sources_can_be_waived_as_printed(
        sgaudit: Callable[..., Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", NOW)
    plain = _token_scan(sgaudit, tmp_path, POLICY)
    assert plain.code == 0, plain.err
    assert _sources(plain) == [("sa:runner@acme.iam.gserviceaccount.com", 5432, False),
                               ("srcFqdns:ci.example.com", 9000, False), ("tag:bastion", 22, False)]
    waivers = "".join(
        f"  - {{group_id: coiled-etl, ports: [{port}], source: '{source}', reason: r, "
        f"expires: 2026-04-30, account: acme, network: net1}}\n"
        for source, port, _ in _sources(plain))
    run = _token_scan(sgaudit, tmp_path, POLICY + "waivers:\n" + waivers)
    assert run.code == 0, run.err
    assert _sources(run) == [(s, p, True) for s, p, _ in _sources(plain)]


def test_findings_from_tag_sa_and_policy_sources_can_be_allowed(
        sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    allow = "".join(f"  - {{protocol: tcp, ports: [{port}], source: '{source}'}}\n"
                    for source, port in zip(TOKENS, (22, 5432, 9000), strict=True))
    run = _token_scan(sgaudit, tmp_path, POLICY + "allow:\n" + allow)
    assert run.code == 0, run.err
    assert _sources(run) == []
    # a token covers only itself: another tag is still drift
    other = POLICY + "allow:\n  - {protocol: tcp, ports: [22], source: 'tag:bastion2'}\n"
    assert ("tag:bastion", 22, False) in _sources(_token_scan(sgaudit, tmp_path, other))
