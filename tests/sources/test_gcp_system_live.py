"""A live scan (the fake compute API on 127.0.0.1) of a network with a Google-managed regional
system policy: the regional answer names its region, the instances' zones are read, and its
rules decide right after the hierarchical policies - for certain (issue 19, item 1)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from conftest import FIXTURES, Run
from gcp_fake import ComputeFake, gcp_fake  # noqa: F401 - fixture

from sgaudit.sources.gcp.source import GcpSource

GCP = FIXTURES / "gcp"
PROJECT = "coiled-demo"
TARGETS = ["coiled-batch", "coiled-etl", "coiled-gpu", "coiled-ml", "coiled-ok"]


@pytest.fixture
def fake(gcp_fake: ComputeFake) -> ComputeFake:  # noqa: F811 - the fixture above
    gcp_fake.load_gcloud(PROJECT, GCP)
    state = gcp_fake.projects[PROJECT]
    state.firewalls = [r for r in state.firewalls if not r.get("targetServiceAccounts")]
    state.effective["coiled-net"]["firewalls"] = state.firewalls
    answer = json.loads(json.dumps(state.effective["coiled-net"]))
    deny = {"priority": 10, "action": "deny", "direction": "INGRESS",
            "match": {"srcIpRanges": ["0.0.0.0/0"],
                      "layer4Configs": [{"ipProtocol": "tcp", "ports": ["8787"]}]}}
    answer["firewallPolicys"].append({"name": "gke-sys", "type": "SYSTEM_REGIONAL", "priority": 1000,
                                      "rules": [deny]})
    state.regional[("coiled-net", "us-central1")] = answer
    return gcp_fake


def test_a_regional_system_deny_decides_for_certain_in_its_region(sgaudit: Callable[..., Run],
                                                                   fake: ComputeFake) -> None:
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT, "-f", "json")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["complete"] is True
    missing = sorted(f["group_id"] for f in report["findings"]
                     if f["kind"] == "missing" and f["from_port"] == 8787)
    assert missing == TARGETS
    why = {f["reason"].split("; required because")[0] for f in report["findings"]
           if f["kind"] == "missing" and f["from_port"] == 8787}
    assert why == {"not effectively allowed; taken away by us-central1/gke-sys/10 (deny, priority 10 of "
                   "regional system policy gke-sys (us-central1))"}
    assert any("aggregated/instances" in c for c in fake.calls(PROJECT))  # zones decide it


def test_the_system_policy_is_kept_with_its_region(fake: ComputeFake) -> None:
    snap = GcpSource([PROJECT]).read()
    policies = snap.gcp.networks[(PROJECT, "coiled-net")].policies
    assert [(p.name, p.kind, p.region) for p in policies] == [
        ("org-baseline", "hierarchical", None), ("gke-sys", "system", "us-central1")]
