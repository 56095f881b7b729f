"""``check --gcp-project … --fix`` end to end: the real google client against the compute fake
(tests/gcp_fake.py) on 127.0.0.1, the plan proved by the engine, the backup, and
``sgaudit rollback``.  (Before issue 22 a GCP scan refused --fix; that test's expectation is now
that --fix with both clouds, or with --org-role, is refused.)"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, Run
from gcp_fake import NET_URL, PROJECT, SUBNET, ComputeFake, gcp_fake, rule, serve, tcp  # noqa: F401

from sgaudit.cli.fix import FixOptions
from sgaudit.errors import UsageError

POLICY = FIXTURES / "gcp" / "policy.yaml"  # enable_public_ssh false: 8786, 8787 required from anywhere


def new_user_rules() -> list[dict[str, Any]]:
    """The issue's network: coiled-a has world SSH from its own rule; every instance has world
    RDP from an untargeted rule other teams use; coiled-b's required 8787 is taken away by a
    deny; web is another team's tag."""
    return [
        rule("a-dask", allowed=tcp("8786", "8787"), tags=("coiled-a",)),
        rule("a-ssh-world", allowed=tcp("22"), tags=("coiled-a",), description="temporary, remove"),
        rule("b-dask", allowed=tcp("8786-8787"), tags=("coiled-b",)),
        rule("b-dashboard-deny", denied=tcp("8787"), priority=900, tags=("coiled-b",)),
        rule("shared-rdp", allowed=tcp("3389"), description="jump hosts of every team"),
        rule("web-http", allowed=tcp("80", "443"), tags=("web",)),
    ]


@pytest.fixture
def fake(gcp_fake: ComputeFake) -> ComputeFake:  # noqa: F811 - the fixture above
    serve(gcp_fake, new_user_rules())
    return gcp_fake


def check(sgaudit: Callable[..., Run], *args: object) -> Run:
    return sgaudit("check", "--policy", POLICY, "--gcp-project", PROJECT, *args)


def by_name(fake: ComputeFake) -> dict[str, dict[str, Any]]:
    return {r["name"]: copy.deepcopy(r) for r in fake.project(PROJECT).firewalls}


def test_dry_run_plans_for_the_two_tags_only_and_changes_nothing(
        fake: ComputeFake, sgaudit: Callable[..., Run]) -> None:
    before = by_name(fake)
    run = check(sgaudit, "--fix", "--dry-run", "--format", "json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert (doc["schema"], doc["cloud"], doc["status"], doc["dry_run"]) == (
        "sgaudit.fix/v1", "gcp", "dry_run", True)
    changes = [(c["seq"], c["action"], c["kind"], c["group_id"], c["rule"]["body"] and
                c["rule"]["body"].get("priority"), c["depends_on"]) for c in doc["changes"]]
    assert changes == [
        (1, "insert", "allow", "coiled-b", 899, []),
        (2, "insert", "deny", "coiled-a", 999, []),
        (3, "insert", "deny", "coiled-b", 999, [1]),
        (4, "patch", "patch", "coiled-a", None, []),
    ]
    allow, deny_a, deny_b, patch = (c["rule"]["body"] for c in doc["changes"])
    assert {k: allow[k] for k in ("allowed", "sourceRanges", "targetTags", "network")} == {
        "allowed": tcp("8787"), "sourceRanges": ["0.0.0.0/0"], "targetTags": ["coiled-b"],
        "network": NET_URL}
    for deny, tag in ((deny_a, "coiled-a"), (deny_b, "coiled-b")):
        assert {k: deny[k] for k in ("denied", "sourceRanges", "targetTags")} == {
            "denied": tcp("3389"), "sourceRanges": ["0.0.0.0/0"], "targetTags": [tag]}
        assert deny["name"].startswith(f"sgaudit-deny-{tag}-") and len(deny["name"]) <= 63
        assert "shared-rdp" in deny["description"] and doc["generated_at"] in deny["description"]
    assert patch == {"sourceRanges": [SUBNET]}
    assert doc["changes"][3]["rule"]["name"] == "a-ssh-world"
    assert doc["refused"] == [] and doc["skipped_groups"] == [] and doc["backup"] is None
    assert by_name(fake) == before
    assert fake.writes == []


def test_fix_then_rollback_puts_every_rule_back_exactly(
        fake: ComputeFake, sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    before = by_name(fake)
    backup = tmp_path / "b.json"
    run = check(sgaudit, "--fix", "--yes", "--backup", backup)
    assert run.code == 0, run.out + run.err
    assert "verified: every fixed tag is compliant" in run.out
    after = by_name(fake)
    assert after["shared-rdp"] == before["shared-rdp"]  # the untargeted rule: untouched
    assert after["web-http"] == before["web-http"] and after["b-dask"] == before["b-dask"]
    added = {n: r for n, r in after.items() if n not in before}
    assert sorted(r["targetTags"] for r in added.values()) == [["coiled-a"], ["coiled-b"], ["coiled-b"]]
    assert after["a-ssh-world"]["sourceRanges"] == [SUBNET]
    assert {k: v for k, v in after["a-ssh-world"].items() if k != "sourceRanges"} == \
        {k: v for k, v in before["a-ssh-world"].items() if k != "sourceRanges"}
    # the scan of the fixed network now finds no drift
    assert check(sgaudit, "--fail-on-drift").code == 0
    kinds = [m for m, _ in fake.writes if m != "POST" or "operations" not in _]
    assert kinds == ["POST", "POST", "POST", "PATCH"]
    assert any("operations/" in path for _, path in fake.writes)  # waited for each operation

    undo = sgaudit("rollback", backup, "--yes")
    assert undo.code == 0, undo.out + undo.err
    assert "verified: every rule is as the backup holds it" in undo.out
    assert by_name(fake) == before
    assert check(sgaudit, "--fail-on-drift").code == 1


def test_fix_refuses_both_clouds_at_once_and_whole_organizations() -> None:
    options = FixOptions(fix=True)
    with pytest.raises(UsageError) as both:
        options.refuse_clouds(True, None, aws_too=True)
    assert str(both.value) == ("--fix repairs one cloud at a time: run it with the AWS options or "
                               "with --gcp-project, not both")
    with pytest.raises(UsageError) as org:
        options.refuse_clouds(False, "sgaudit-read")
    assert str(org.value) == "--fix does not combine with --org-role: fix an account with --role-arn"
    options.refuse_clouds(True, None)  # Google Cloud alone: goes on
