"""What a scan read completely (its scope), and the place of each finding in it.  Pure.

A place is (account, region, network).  On AWS it is an account and a region (network ""); on
Google Cloud a project and a network (region "global", as every GCP target's): a network tag is
a target only within its network, and a scan of one network says nothing about another network
of the same project.  The history and the baseline resolve findings only in places of the scope.
"""

from __future__ import annotations

from collections.abc import Iterator

from sgaudit.engine.gcp_targets import REGION as GCP_REGION
from sgaudit.model import Finding, Group, Report

#: (account, region, network); network "" on AWS
Scope = tuple[str, str, str]


def place_of(group: Group) -> Scope:
    network = (group.vpc_id or "") if group.cloud == "gcp" else ""
    return group.account, group.region, network


def complete_scope(report: Report) -> frozenset[Scope]:
    """The places this scan read completely: the source read them (or it audited targets there)
    and nothing there failed.  A region or network read whole with no selected group left is in
    scope: its old findings are gone.  Findings elsewhere were not looked at, so nothing about
    them is known.  An error of an account/region (a GCP project's errors are "global") takes
    out every place in it: an error names no network, so no network of that project is known
    to be whole."""
    seen = {place_of(r.group) for r in report.results}
    seen.update((account, region, "") for account, region in report.read)
    seen.update((project, GCP_REGION, network) for project, network in report.networks_read)
    failed = {(e.account, e.region) for e in report.errors}
    return frozenset(s for s in seen if s[:2] not in failed)


def placed_findings(report: Report) -> Iterator[tuple[Finding, Scope, str]]:
    """Each finding with its place and its group's role."""
    for result in report.results:
        place = place_of(result.group)
        for finding in result.findings:
            yield finding, place, result.role


def network_in_key(key: str, account: str, region: str) -> str:
    """The GCP network a finding key names ("KIND|PROJECT|global|NETWORK/TAG|…"), "" for an AWS
    key: for history rows and baseline entries written before places had a network."""
    kind = key.split("|", 1)[0]
    prefix = f"{kind}|{account}|{region}|"
    if region != GCP_REGION or not key.startswith(prefix):
        return ""
    target = key[len(prefix):].split("|", 1)[0]
    network, slash, _tag = target.partition("/")
    return network if slash else ""


def describe_place(place: Scope) -> str:
    """"project p network n" or "account a region r", as messages name a place."""
    account, region, network = place
    return f"project {account} network {network}" if network else f"account {account} region {region}"
