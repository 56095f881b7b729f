"""What a scan reads of one project, in which order, and whether its answers can be read.

The calls a project needs follow from what the earlier answers hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sgaudit.sources import gcpjson as gj
from sgaudit.sources.awsjson import ShapeError
from sgaudit.sources.gcp.scanner import Failure, ProjectScanner
from sgaudit.sources.gcpstate import GcpCollector

#: policy types whose rules apply by the instances' zones
_BY_ZONE = ("NETWORK_REGIONAL", "SYSTEM_REGIONAL")


def scan_project(scanner: ProjectScanner, project: str) -> gj.ProjectData:
    """Networks, firewall rules, subnets, the effective firewalls of each network in use, and
    instances only when a rule or a policy needs them; a failed call ends the project there."""
    data = gj.ProjectData(project)
    try:
        data.networks = scanner.listed("networks", project)
        firewalls = scanner.listed("firewalls", project)
        rules = _parse_rules(firewalls)
        data.firewalls = firewalls
        data.subnetworks = scanner.aggregated("subnetworks", project)
        read_policies(scanner, data, sorted({r.network for r in rules if r.project == project}))
        if gj.needs_instances(rules) or _policies_target_accounts(data) or _regional_rules(data):
            data.instances = scanner.aggregated("instances", project)
    except Failure as exc:
        data.errors.append(gj.scan_error(project, exc.operation, exc.message, exc.code))
    return _validated(data)


def read_policies(scanner: ProjectScanner, data: gj.ProjectData, networks: Sequence[str]) -> None:
    """The effective firewalls of each network in use, and of each region where it has
    subnets (a regional policy applies only to instances there; no subnet, no instance)."""
    regions = _regions(data.subnetworks or [], data.project)
    data.regional = {}
    for network in networks:
        data.effective[network] = scanner.effective(data.project, network)
        for region in regions.get(network, ()):
            data.regional.setdefault(network, {})[region] = scanner.regional(data.project, region, network)


def _regions(subnets: list[Any], project: str) -> dict[str, list[str]]:
    """network name -> the regions (sorted) where it has subnets, of this project's networks."""
    out: dict[str, set[str]] = {}
    try:
        for i, raw in enumerate(subnets):
            where = f"subnetworks[{i}]"
            owner, network, _ranges = gj.subnet_ranges(raw, where)
            region = gj.subnet_region(raw, where)
            if owner == project and region:
                out.setdefault(network, set()).add(region)
    except ShapeError as exc:
        raise Failure("compute.subnetworks.aggregatedList", "MalformedAnswer", str(exc)[:300]) from None
    return {network: sorted(found) for network, found in out.items()}


def _parse_rules(raw: list[Any]) -> list[Any]:
    try:
        return [gj.parse_firewall(r, f"firewalls[{i}]") for i, r in enumerate(raw)]
    except ShapeError as exc:
        raise Failure("compute.firewalls.list", "MalformedAnswer", str(exc)[:300]) from None


def _answers(data: gj.ProjectData) -> list[Any]:
    regional = [a for by_region in (data.regional or {}).values() for a in by_region.values()]
    return [*data.effective.values(), *regional]


def _policy_rules(data: gj.ProjectData, regional_only: bool = False) -> list[dict[str, Any]]:
    """The rules of every policy the answers hold (of the regional policies only, if asked)."""
    return [rule for answer in _answers(data) for policy in answer.get("firewallPolicys") or []
            if isinstance(policy, dict) and (not regional_only or policy.get("type") in _BY_ZONE)
            for rule in policy.get("rules") or [] if isinstance(rule, dict)]


def _policies_target_accounts(data: gj.ProjectData) -> bool:
    return any(rule.get("targetServiceAccounts") for rule in _policy_rules(data))


def _regional_rules(data: gj.ProjectData) -> bool:
    """Whether a regional policy has rules: which apply depends on the instances' zones."""
    return bool(_policy_rules(data, regional_only=True))


def _validated(data: gj.ProjectData) -> gj.ProjectData:
    """An answer sgaudit cannot read is a project it could not read (exit 3), not bad input."""
    try:
        collector = GcpCollector()
        collector.add_project(data, data.project)
        collector.state()
    except Exception as exc:
        message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return gj.ProjectData(data.project, errors=[*data.errors, gj.scan_error(
            data.project, "read answers", message, "MalformedAnswer")])
    return data
