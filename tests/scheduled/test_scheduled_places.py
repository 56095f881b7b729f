"""Places (account, region, GCP network) in the scheduled stage, pure: the scope a report read,
waivers that say where they apply, the refusal of an ambiguous waiver, and history rows placed
by their keys (old and new alike)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from sgaudit.errors import PolicyError
from sgaudit.model import (
    ANYWHERE,
    DesiredState,
    Finding,
    Group,
    GroupResult,
    Place,
    Report,
    ScanError,
    Waiver,
)
from sgaudit.scheduled.history.read import open_findings
from sgaudit.scheduled.history.record import record_scan
from sgaudit.scheduled.history.schema import open_history
from sgaudit.scheduled.scope import complete_scope, network_in_key, place_of
from sgaudit.scheduled.waivers import apply_waivers, covers, notices

TODAY = date(2026, 3, 1)
AWS_ACCOUNT = "111122223333"


def gcp_group(project: str, network: str, tag: str = "coiled-etl") -> Group:
    return Group(tag, tag, network, "global", project, cloud="gcp")


def aws_group(region: str = "us-east-1", account: str = AWS_ACCOUNT, gid: str = "sg-1") -> Group:
    return Group(gid, "g", "vpc-1", region, account)


def finding_of(group: Group, port: int = 3389) -> Finding:
    target = f"{group.vpc_id}/{group.group_id}" if group.cloud == "gcp" else group.group_id
    key = f"extra|{group.account}|{group.region}|{target}|tcp|{port}|{port}|0.0.0.0/0"
    return Finding(key=key, kind="extra", severity="critical", account=group.account,  # type: ignore[arg-type]
                   region=group.region, group_id=group.group_id, group_name=group.group_name,
                   protocol="tcp", from_port=port, to_port=port, source="0.0.0.0/0", rule_ids=(),
                   reason="r")


def report_of(*groups: Group, errors: tuple[ScanError, ...] = (),
              networks_read: tuple[tuple[str, str], ...] = ()) -> Report:
    results = tuple(GroupResult(g, DesiredState((), ()), (finding_of(g),)) for g in groups)
    return Report(complete=not errors, errors=errors, results=results, warnings=(), generated_at="t",
                  policy_path="p.yaml", scanned=(), networks_read=networks_read)


def waiver(group_id: str, place: Place = ANYWHERE, where: str = "policy.yaml:3") -> Waiver:
    return Waiver(group_id=group_id, protocol="tcp", from_port=3389, to_port=3389,
                  source="0.0.0.0/0", reason="ticket", expires="2026-04-30", where=where, place=place)


# -- scope ---------------------------------------------------------------------------------------
def test_gcp_scope_is_project_and_network() -> None:
    report = report_of(gcp_group("acme", "net1"), aws_group(),
                       networks_read=(("acme", "net1"), ("acme", "empty"), ("other", "net9")),
                       errors=(ScanError("other", "global", "compute.firewalls.list", "denied"),))
    assert complete_scope(report) == {("acme", "global", "net1"), ("acme", "global", "empty"),
                                      (AWS_ACCOUNT, "us-east-1", "")}
    assert place_of(gcp_group("acme", "net1")) == ("acme", "global", "net1")
    assert place_of(aws_group()) == (AWS_ACCOUNT, "us-east-1", "")


@pytest.mark.parametrize(("key", "account", "region", "network"), [
    ("extra|acme|global|net1/coiled-etl|tcp|22|22|0.0.0.0/0|rule-1", "acme", "global", "net1"),
    ("missing|acme|global|net-2/coiled-ml|tcp|8786|8786|0.0.0.0/0", "acme", "global", "net-2"),
    (f"extra|{AWS_ACCOUNT}|us-east-1|sg-1|tcp|22|22|0.0.0.0/0", AWS_ACCOUNT, "us-east-1", ""),
    # a key that does not start with its row's own account and region names no network
    ("extra|other|global|net1/t|tcp|22|22|0.0.0.0/0", "acme", "global", ""),
])
def test_network_in_key(key: str, account: str, region: str, network: str) -> None:
    assert network_in_key(key, account, region) == network


# -- waivers -------------------------------------------------------------------------------------
def test_a_waiver_covers_only_findings_of_its_place() -> None:
    staging, prod = gcp_group("staging", "default"), gcp_group("prod", "default")
    w = waiver("coiled-etl", Place(account="staging"))
    assert covers(w, finding_of(staging), "default")
    assert not covers(w, finding_of(prod), "default")
    assert not covers(waiver("coiled-etl", Place(network="other")), finding_of(staging), "default")
    east, west = aws_group("us-east-1"), aws_group("us-west-2")
    w = waiver("sg-1", Place(AWS_ACCOUNT, "us-west-2"))
    assert covers(w, finding_of(west)) and not covers(w, finding_of(east))
    assert not covers(waiver("sg-1", Place(account="222233334444")), finding_of(east))


def test_an_ambiguous_aws_waiver_is_refused_too() -> None:
    """A security group id seen in two regions (copies of one snapshot labelled twice)."""
    report = report_of(aws_group("us-east-1"), aws_group("us-west-2"))
    with pytest.raises(PolicyError) as raised:
        apply_waivers(report, [waiver("sg-1")], TODAY)
    assert str(raised.value) == (
        "policy.yaml:3: waiver for sg-1 matches targets in 2 places (account 111122223333 region "
        "us-east-1, account 111122223333 region us-west-2); add account and region to the waiver "
        "to say which it is for")
    done, _ = apply_waivers(report, [waiver("sg-1", Place(region="us-west-2"))], TODAY)
    assert [(f.region, f.waived) for f in done.findings] == [("us-east-1", False), ("us-west-2", True)]


def test_the_refusal_names_a_few_places_and_counts_the_rest() -> None:
    groups = [gcp_group(f"project-{i}", "default") for i in range(7)]
    with pytest.raises(PolicyError) as raised:
        apply_waivers(report_of(*groups), [waiver("coiled-etl", Place(network="default"))], TODAY)
    assert str(raised.value) == (
        "policy.yaml:3: waiver for coiled-etl matches targets in 7 places (project project-0 "
        "network default, project project-1 network default, project project-2 network default, "
        "project project-3 network default and 3 more); add account and network to the waiver to "
        "say which it is for")


def test_an_expired_ambiguous_waiver_is_refused_as_well() -> None:
    """The refusal is about what the policy says, not about today's date."""
    expired = Waiver("coiled-etl", "tcp", 3389, 3389, "0.0.0.0/0", "r", "2026-01-01", "policy.yaml:9")
    with pytest.raises(PolicyError):
        apply_waivers(report_of(gcp_group("a-1", "n"), gcp_group("a-2", "n")), [expired], TODAY)


def test_the_stale_notice_names_the_place() -> None:
    _, check = apply_waivers(report_of(gcp_group("staging", "default")),
                             [waiver("coiled-etl", Place(account="prod"))], TODAY)
    assert notices(check, TODAY) == [
        "policy.yaml:3: waiver for coiled-etl in account prod tcp 3389 from 0.0.0.0/0 is stale: "
        "group not in this scan"]


# -- history rows are placed by their keys ---------------------------------------------------------
def test_history_resolves_only_in_the_networks_read(tmp_path: Path) -> None:
    net1, net2 = gcp_group("acme", "net1"), gcp_group("acme", "net2")
    with open_history(tmp_path / "h.db", create=True) as conn:
        record_scan(conn, report_of(net1, net2, networks_read=(("acme", "net1"), ("acme", "net2"))),
                    "2026-03-01T02:00:00Z")
        # net1 read again, with nothing left in it; net2 not read
        empty = Report(complete=True, errors=(), results=(), warnings=(), generated_at="t",
                       policy_path=None, scanned=(), networks_read=(("acme", "net1"),))
        record_scan(conn, empty, "2026-03-02T02:00:00Z")
        assert [o.key for o in open_findings(conn)] == [finding_of(net2).key]
        [(scope,)] = conn.execute("SELECT scope FROM scans WHERE id = 2").fetchall()
        assert json.loads(scope) == [["acme", "global", "net1"]]
