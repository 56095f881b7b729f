"""``--fix`` on Google Cloud, case by case, against the compute fake (tests/gcp_fake.py) with the
real google client: refusals that change nothing, deletes and their rollback, "all protocols"
rules, races (a rule changed meanwhile, a name taken meanwhile), operations that fail or never
end, Ctrl-C, a backup that contradicts itself, and the engine's proof that other targets keep
their ingress."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, Run
from gcp_fake import NET_URL, PROJECT, SUBNET, ComputeFake, gcp_fake, rule, serve, tcp  # noqa: F401

from sgaudit.remediate import signing
from sgaudit.remediate.gcp import apply as gcp_apply
from sgaudit.remediate.gcp import shapes as gcp_shapes
from sgaudit.remediate.gcp.prove import UNTAGGED, NetworkRules
from sgaudit.sources import gcpjson
from sgaudit.sources.gcp.write import ComputeFirewalls
from sgaudit.sources.gcp_firewalls import CallError

POLICY = FIXTURES / "gcp" / "policy.yaml"


def check(sgaudit: Callable[..., Run], *args: object) -> Run:
    return sgaudit("check", "--policy", POLICY, "--gcp-project", PROJECT, *args)


def rules_of(fake: ComputeFake) -> dict[str, dict[str, Any]]:
    return {r["name"]: json.loads(json.dumps(r)) for r in fake.project(PROJECT).firewalls}


def dry_json(sgaudit: Callable[..., Run]) -> dict[str, Any]:
    run = check(sgaudit, "--fix", "--dry-run", "--format", "json")
    assert run.code in (0, 1), run.err
    doc: dict[str, Any] = json.loads(run.out)
    return doc


BASE = [rule("a-dask", allowed=tcp("8786", "8787"), tags=("coiled-a",)),
        rule("a-ssh-world", allowed=tcp("22"), tags=("coiled-a",))]


def org_policy(port: str) -> dict[str, Any]:
    return {"name": "264536271998", "shortName": "org-baseline", "type": "HIERARCHY", "rules": [
        {"priority": 1000, "action": "deny", "direction": "INGRESS",
         "match": {"srcIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "tcp", "ports": [port]}]}}]}


# -- refusals ------------------------------------------------------------------------------------
def test_a_policy_taking_required_ingress_is_refused_and_the_rest_goes_on(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run]) -> None:  # noqa: F811
    serve(gcp_fake, list(BASE), [org_policy("8786")])
    doc = dry_json(sgaudit)
    assert [(c["action"], c["rule"]["name"]) for c in doc["changes"]] == [("patch", "a-ssh-world")]
    [refused] = doc["refused"]
    assert refused["reason"].startswith("coiled-a: required tcp 8786 from 0.0.0.0/0 is taken away by "
                                        "org-baseline/1000 (deny, priority 1000 of hierarchical policy")
    assert refused["reason"].endswith("sgaudit does not edit firewall policies")
    assert gcp_fake.writes == []


@pytest.mark.parametrize(("rules", "line"), [
    ([rule("shared-rdp", allowed=tcp("3389"), priority=0)],
     "coiled-a: no free priority above shared-rdp (priority 0): it has priority 0"),
    ([rule("shared-rdp", allowed=tcp("3389")),
      rule("a-web", allowed=tcp("8786"), priority=999, tags=("coiled-a",))],
     "coiled-a: no free priority above shared-rdp (priority 1000): the priorities between 999 and "
     "1000 are taken"),
])
def test_no_free_priority_refuses_that_part_only(gcp_fake: ComputeFake, sgaudit: Callable[..., Run],  # noqa: F811
                                                 rules: list[dict[str, Any]], line: str) -> None:
    serve(gcp_fake, [*BASE, *rules])
    doc = dry_json(sgaudit)
    assert [r["reason"] for r in doc["refused"]] == [line]
    assert [c["rule"]["name"] for c in doc["changes"]] == ["a-ssh-world"]


def test_max_changes_and_no_terminal_change_nothing(gcp_fake: ComputeFake,  # noqa: F811
                                                    sgaudit: Callable[..., Run]) -> None:
    serve(gcp_fake, [*BASE, rule("shared-rdp", allowed=tcp("3389"))])
    before = rules_of(gcp_fake)
    run = check(sgaudit, "--fix", "--yes", "--max-changes", "1")
    assert run.code == 2
    assert run.err_lines[-1] == ("sgaudit: error: the plan has 2 changes, more than --max-changes 1; "
                                 "nothing was changed")
    run = check(sgaudit, "--fix")
    assert run.code == 2 and run.err_lines[-1].endswith("pass --yes to apply this plan")
    assert rules_of(gcp_fake) == before and gcp_fake.writes == []


# -- what gets written ---------------------------------------------------------------------------
def test_an_own_rule_with_nothing_permitted_is_deleted_and_rollback_recreates_it(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run], tmp_path: Path) -> None:  # noqa: F811
    jobs = rule("a-jobs", allowed=[{"IPProtocol": "tcp", "ports": ["9000-9100"]}, {"IPProtocol": "udp"}],
                tags=("coiled-a",), description="batch jobs")
    serve(gcp_fake, [BASE[0], jobs])
    before = rules_of(gcp_fake)
    run = check(sgaudit, "--fix", "--yes", "--backup", tmp_path / "b.json")
    assert run.code == 0, run.out + run.err
    assert "a-jobs" not in rules_of(gcp_fake)
    backup = json.loads((tmp_path / "b.json").read_text())
    assert backup["rules"] == [{"project": PROJECT, "network": "shared-net", "resource": before["a-jobs"]}]
    assert [(c["action"], c["result"]) for c in backup["changes"]] == [("delete", "applied")]
    assert sgaudit("rollback", tmp_path / "b.json", "--yes").code == 0
    after = rules_of(gcp_fake)
    # every field back; GCP gives a recreated rule a new id and creation time
    assert gcp_shapes.comparable(after["a-jobs"]) == gcp_shapes.comparable(before["a-jobs"])
    assert after["a-jobs"]["id"] != before["a-jobs"]["id"]
    assert after["a-dask"] == before["a-dask"]


def test_a_shared_all_protocols_rule_gets_a_deny_with_its_permitted_part_above(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run]) -> None:  # noqa: F811
    serve(gcp_fake, [BASE[0], rule("everything", allowed=[{"IPProtocol": "all"}], priority=500)])
    before = rules_of(gcp_fake)
    doc = dry_json(sgaudit)
    inserted = [(c["kind"], c["rule"]["body"]["priority"], c["rule"]["body"].get("denied") or
                 c["rule"]["body"].get("allowed"), c["rule"]["body"]["sourceRanges"])
                for c in doc["changes"]]
    assert inserted == [
        ("allow", 498, tcp("22"), [SUBNET]),
        ("allow", 498, tcp("8786-8787"), ["0.0.0.0/0"]),
        ("deny", 499, [{"IPProtocol": "all"}], ["0.0.0.0/0"]),
    ]
    assert rules_of(gcp_fake) == before


def test_fix_of_an_all_protocols_rule_applies_and_the_tag_is_compliant(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run], tmp_path: Path) -> None:  # noqa: F811
    serve(gcp_fake, [BASE[0], rule("everything", allowed=[{"IPProtocol": "all"}], priority=500),
                     rule("web", allowed=tcp("80"), tags=("web",))])
    before = rules_of(gcp_fake)
    run = check(sgaudit, "--fix", "--yes", "--backup", tmp_path / "b.json")
    assert run.code == 0, run.out + run.err
    assert check(sgaudit, "--fail-on-drift").code == 0
    after = rules_of(gcp_fake)
    assert after["everything"] == before["everything"] and after["web"] == before["web"]
    assert all(r["targetTags"] == ["coiled-a"] for n, r in after.items() if n not in before)
    plan = sgaudit("rollback", tmp_path / "b.json", "--dry-run")
    removed = [line.split()[3] for line in plan.out.splitlines() if " delete " in line]
    assert [n.split("-")[1] for n in removed] == ["deny", "allow", "allow"]  # the deny goes first
    assert sgaudit("rollback", tmp_path / "b.json", "--yes").code == 0
    assert rules_of(gcp_fake) == before


# -- races, failures, interruptions -------------------------------------------------------------
def test_a_rule_changed_meanwhile_is_skipped_as_stale(gcp_fake: ComputeFake,  # noqa: F811
                                                     sgaudit: Callable[..., Run], tmp_path: Path) -> None:
    serve(gcp_fake, [*BASE, rule("shared-rdp", allowed=tcp("3389"))])

    def someone_edits(method: str, name: str) -> None:
        if method == "POST":
            gcp_fake.rule(PROJECT, "a-ssh-world")["description"] = "edited by a colleague"

    gcp_fake.before_write = someone_edits
    run = check(sgaudit, "--fix", "--yes", "--backup", tmp_path / "b.json")
    assert run.code == 1
    assert "stale: rule a-ssh-world changed since the plan" in run.out
    assert rules_of(gcp_fake)["a-ssh-world"]["sourceRanges"] == ["0.0.0.0/0"]  # not narrowed
    assert f"To undo what was applied: sgaudit rollback {tmp_path / 'b.json'}" in run.out


def test_a_name_taken_meanwhile_gets_a_fresh_one(gcp_fake: ComputeFake, sgaudit: Callable[..., Run],  # noqa: F811
                                                 tmp_path: Path) -> None:
    serve(gcp_fake, [BASE[0], rule("shared-rdp", allowed=tcp("3389"))])
    taken: list[str] = []

    def someone_takes_the_name(method: str, name: str) -> None:
        if method == "POST" and not taken:
            taken.append(name)
            taker = {**rule(name, allowed=tcp("1"), tags=("other",)), "disabled": True}
            gcp_fake.project(PROJECT).firewalls.append(taker)

    gcp_fake.before_write = someone_takes_the_name
    run = check(sgaudit, "--fix", "--yes", "--backup", tmp_path / "b.json")
    assert run.code == 0, run.out + run.err
    [entry] = json.loads((tmp_path / "b.json").read_text())["changes"]
    assert entry["name"] == taken[0] and entry["applied_name"] != taken[0]
    assert entry["detail"] == f"as {entry['applied_name']}: {taken[0]} was taken meanwhile"
    assert sgaudit("rollback", tmp_path / "b.json", "--yes").code == 0
    assert set(rules_of(gcp_fake)) == {"a-dask", "shared-rdp", taken[0]}  # only its own insert went


@pytest.mark.parametrize("stuck", [False, True])
def test_an_operation_that_fails_or_never_ends_stops_the_fix(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, stuck: bool) -> None:
    serve(gcp_fake, [*BASE, rule("shared-rdp", allowed=tcp("3389"))])
    monkeypatch.setattr(gcp_apply, "DEADLINE", 0.2)
    first: list[str] = []

    def trouble(method: str, name: str) -> None:
        if not first:
            first.append(name)
            (gcp_fake.stuck_ops if stuck else gcp_fake.fail_ops).add(name)

    gcp_fake.before_write = trouble
    before = rules_of(gcp_fake)
    run = check(sgaudit, "--fix", "--yes", "--backup", tmp_path / "b.json")
    assert run.code == 1
    changes = json.loads((tmp_path / "b.json").read_text())["changes"]
    assert [c["result"] for c in changes] == ["timed out" if stuck else "failed", "skipped"]
    assert changes[1]["detail"] == f"not attempted: #1 {changes[0]['result']}, so the fix stopped there"
    assert rules_of(gcp_fake) == before
    assert f"To undo what was applied: sgaudit rollback {tmp_path / 'b.json'}" in run.out


def test_ctrl_c_says_what_was_applied_and_how_to_undo_it(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sgaudit.cli import gcp_fix

    serve(gcp_fake, [*BASE, rule("shared-rdp", allowed=tcp("3389"))])

    class Interrupted(ComputeFirewalls):
        def patch(self, project: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
            raise KeyboardInterrupt

    monkeypatch.setattr(gcp_fix, "api_for", lambda url: Interrupted(url))
    path = tmp_path / "b.json"
    run = check(sgaudit, "--fix", "--yes", "--backup", path)
    assert run.code == 130
    assert run.err_lines[-6:] == [
        "sgaudit: interrupted during the fix.", "  applied: #1",
        "  in flight when interrupted (may or may not have reached Google Cloud): #2",
        "  not attempted: none", f"  backup: {path}", f"  to undo what was done: sgaudit rollback {path}"]
    doc = json.loads(path.read_text())
    assert doc["interrupted"] is True and [c["result"] for c in doc["changes"]] == ["applied", "pending"]
    assert sgaudit("rollback", path, "--yes").code == 0
    assert len(rules_of(gcp_fake)) == 3


# -- backups ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["changes"][0].update(name="a-ssh-world", applied_name="a-ssh-world",
                                      body={**d["changes"][0]["body"], "name": "a-ssh-world"}),
     "changes[0]: insert of rule a-ssh-world, which the backup also holds as it was before the fix"),
    (lambda d: d["rules"].clear(),
     "changes[1]: patch of rule a-ssh-world of project team-demo, but the backup does not hold that "
     "rule as it was"),
    (lambda d: d["changes"][1].update(depends_on=[7]),
     "changes[1].depends_on: names a change that does not come before it"),
    (lambda d: d["changes"][0]["body"].update(targetTags=["web"]),
     "changes[0].body: not the rule the change names (name "),
])
def test_a_backup_that_contradicts_itself_is_refused(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run], tmp_path: Path,  # noqa: F811
        edit: Callable[[dict[str, Any]], None], message: str) -> None:
    serve(gcp_fake, [*BASE, rule("shared-rdp", allowed=tcp("3389"))])
    path = tmp_path / "b.json"
    assert check(sgaudit, "--fix", "--yes", "--backup", path).code == 0
    doc = json.loads(path.read_text())
    edit(doc)
    key = signing.key_path(path).read_bytes().strip()  # signed anew: the check under the signature
    path.write_text(json.dumps(signing.sign(doc, key, path)))
    after = rules_of(gcp_fake)
    run = sgaudit("rollback", path, "--yes")
    assert run.code == 2
    [line] = run.err_lines
    assert line.startswith(f"sgaudit: error: {path}: {message}")
    assert rules_of(gcp_fake) == after


# -- the fake refuses what GCP refuses ----------------------------------------------------------
def test_an_edited_or_unsigned_gcp_backup_is_refused(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run], tmp_path: Path) -> None:  # noqa: F811
    """A GCP backup is signed as an AWS one is: an edit is caught before anything changes, and
    an unsigned one needs --unsigned-ok (then its own consistency check still runs)."""
    serve(gcp_fake, [*BASE, rule("shared-rdp", allowed=tcp("3389"))])
    path = tmp_path / "b.json"
    assert check(sgaudit, "--fix", "--yes", "--backup", path).code == 0
    assert oct(signing.key_path(path).stat().st_mode & 0o777) == "0o600"
    doc = json.loads(path.read_text())
    edited = json.loads(json.dumps(doc))
    edited["rules"][0]["resource"]["sourceRanges"] = ["0.0.0.0/1", "128.0.0.0/1"]
    path.write_text(json.dumps(edited))
    after = rules_of(gcp_fake)
    run = sgaudit("rollback", path, "--yes")
    assert (run.code, run.err_lines) == (2, [
        f"sgaudit: error: {path}: the backup was changed after sgaudit wrote it (its signature does "
        f"not match its key {signing.key_path(path)}); nothing was changed"])
    del doc[signing.SIGNATURE]
    path.write_text(json.dumps(doc))
    run = sgaudit("rollback", path, "--yes")
    assert run.code == 2 and "the backup is not signed" in run.err
    assert rules_of(gcp_fake) == after
    run = sgaudit("rollback", path, "--yes", "--unsigned-ok")
    assert run.code == 0, run.err
    assert "the backup is not signed" in run.err and rules_of(gcp_fake) != after


def test_the_fake_refuses_what_gcp_refuses_and_operations_run_before_done(gcp_fake: ComputeFake) -> None:  # noqa: F811
    serve(gcp_fake, list(BASE))
    api = ComputeFirewalls()
    good = {"name": "ok-rule", "network": NET_URL, "allowed": tcp("1"), "targetTags": ["x"]}
    for body, status in [({**good, "name": "Bad_Name"}, 400), ({**good, "priority": 65536}, 400),
                         ({**good, "denied": tcp("2")}, 400), ({**good, "name": "a-dask"}, 409)]:
        with pytest.raises(CallError) as refused:
            api.insert(PROJECT, body)
        assert refused.value.status == status
    operation = api.insert(PROJECT, good)
    assert operation["status"] == "RUNNING" and gcp_fake.rule(PROJECT, "ok-rule") is None
    assert api.wait(PROJECT, operation["name"])["status"] == "RUNNING"
    assert api.wait(PROJECT, operation["name"])["status"] == "DONE"
    assert api.get(PROJECT, "ok-rule")["allowed"] == tcp("1")
    effective = gcp_fake.answer(f"/compute/v1/projects/{PROJECT}/global/networks/shared-net/"
                                "getEffectiveFirewalls", {})[1]
    assert [r["name"] for r in effective["firewalls"]] == ["a-dask", "a-ssh-world", "ok-rule"]
    with pytest.raises(CallError) as gone:
        api.get(PROJECT, "nope")
    assert gone.value.status == 404


# -- the proof ----------------------------------------------------------------------------------
def test_the_proof_sees_every_other_target_whose_ingress_changes() -> None:
    from sgaudit.model import GcpNetwork

    def parsed(*raw: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(gcpjson.parse_firewall(r, "t") for r in raw)

    network = GcpNetwork(PROJECT, "shared-net", policies=())
    mine = rule("a-dask", allowed=tcp("8786"), tags=("coiled-a",))
    web = rule("web", allowed=tcp("80"), tags=("web",))
    before = NetworkRules(network, None, parsed(mine, web, rule("open", allowed=tcp("3389"))))
    same = NetworkRules(network, None, parsed(mine, web, rule("open", allowed=tcp("3389"))))
    narrowed = NetworkRules(network, None, parsed(mine, web, rule("open", allowed=tcp("3389"),
                                                                  sources=("10.0.0.0/8",))))
    from sgaudit.remediate.gcp.prove import changed_targets

    assert changed_targets(before, same, ()) == []
    assert changed_targets(before, narrowed, ()) == sorted([UNTAGGED, "coiled-a", "web"])
    assert changed_targets(before, narrowed, ["coiled-a"]) == sorted([UNTAGGED, "web"])


def test_a_rule_of_several_tags_is_left_alone_and_the_tag_gets_a_deny(
        gcp_fake: ComputeFake, sgaudit: Callable[..., Run], tmp_path: Path) -> None:  # noqa: F811
    serve(gcp_fake, [BASE[0], rule("rdp-two-teams", allowed=tcp("3389"), tags=("coiled-a", "web"))])
    before = rules_of(gcp_fake)
    run = check(sgaudit, "--fix", "--yes", "--backup", tmp_path / "b.json")
    assert run.code == 0, run.out + run.err
    after = rules_of(gcp_fake)
    assert after["rdp-two-teams"] == before["rdp-two-teams"]
    [added] = [r for n, r in after.items() if n not in before]
    assert (added["denied"], added["targetTags"], added["priority"]) == (tcp("3389"), ["coiled-a"], 999)
    assert "it also targets coiled-a, web" in added["description"]
