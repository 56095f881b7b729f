"""What a live GCP scan counts as read completely: each network of a project read without an
error, including a listed network with no rules (its targets are gone); an error in the project
leaves all of its networks out.  The real client against the compute fake on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conftest import Run
from gcp_fake import ComputeFake, Fault, gcp_fake  # noqa: F401 - fixture
from gcp_files import dask_rule, network, rule, subnet

from sgaudit.sources.gcp.source import GcpSource

PROJECT = "acme-data"


def _serve(fake: ComputeFake) -> None:
    state = fake.project(PROJECT)
    rules = {"net1": [dask_rule(PROJECT, "net1", "coiled-etl"),
                      rule(PROJECT, "net1", "net1-rdp", "coiled-etl", 3389)],
             "net2": [dask_rule(PROJECT, "net2", "coiled-etl")]}
    state.networks = [network(PROJECT, n) for n in ("empty", "net1", "net2")]
    state.firewalls = [r for n in ("net1", "net2") for r in rules[n]]
    state.subnetworks = {"us-central1": [subnet(PROJECT, n, f"10.{i}.0.0/16")
                                         for i, n in enumerate(("empty", "net1", "net2"), start=1)]}
    state.effective = {n: {"firewalls": rules[n], "firewallPolicys": []} for n in ("net1", "net2")}


def test_every_network_of_a_project_read_whole_is_in_scope(gcp_fake: ComputeFake) -> None:  # noqa: F811
    _serve(gcp_fake)
    snap = GcpSource([PROJECT]).read()
    assert snap.errors == () and snap.read == ()
    assert snap.gcp is not None
    assert snap.gcp.read == ((PROJECT, "empty"), (PROJECT, "net1"), (PROJECT, "net2"))


def test_an_error_in_one_network_leaves_the_whole_project_out(gcp_fake: ComputeFake) -> None:  # noqa: F811
    _serve(gcp_fake)
    gcp_fake.faults.append(Fault(PROJECT, 403, "networks/net2/getEffectiveFirewalls"))
    snap = GcpSource([PROJECT]).read()
    assert [(e.account, e.code) for e in snap.errors] == [(PROJECT, "PERMISSION_DENIED")]
    assert snap.gcp is not None and snap.gcp.read == ()


def test_a_live_history_resolves_a_network_whose_rules_were_deleted(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run], tmp_path: Path) -> None:  # noqa: F811
    """Live scans read every network of the project: net1's 3389 rule deleted resolves its
    finding (the project's networks are all in scope)."""
    _serve(gcp_fake)
    db = tmp_path / "scans.db"
    assert sgaudit("check", "--gcp-project", PROJECT, "--history", db).code == 0
    state = gcp_fake.project(PROJECT)
    state.firewalls = [r for r in state.firewalls if r["name"] != "net1-rdp"]
    state.effective["net1"]["firewalls"] = [r for r in state.effective["net1"]["firewalls"]
                                            if r["name"] != "net1-rdp"]
    run = sgaudit("check", "--gcp-project", PROJECT, "--history", db, "-f", "json")
    assert run.code == 0, run.err
    doc = json.loads(sgaudit("history", "--history", db, "-f", "json").out)
    assert doc["scans"][1]["resolved"] == [
        {"key": f"extra|{PROJECT}|global|net1/coiled-etl|tcp|3389|3389|0.0.0.0/0|net1-rdp",
         "severity": "critical"}]
    # what stays open: Coiled's default options require 22 from the world, which no rule gives
    assert [o["key"] for o in doc["open"]] == [
        f"missing|{PROJECT}|global|{n}/coiled-etl|tcp|22|22|0.0.0.0/0" for n in ("net1", "net2")]
