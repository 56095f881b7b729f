"""One account/region's scan (groups, VPCs, prefix lists) and the snapshot it normalises into."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sgaudit.model import AccountSummary, Group, Matcher, ScanError, Snapshot, Vpc
from sgaudit.sources.awsjson import (
    ShapeError,
    chunks,
    group_selected,
    parse_group,
    parse_vpc,
    prefix_list_cidrs,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient
from sgaudit.sources.aws.failures import AWS_FAILURES, answer_items, error_of

PAGE_SIZE = 1000
#: AWS accepts at most 200 values in one filter



@dataclass(slots=True)
class RegionScan:
    """The raw AWS shapes read in one account and region, and what failed there."""

    account: str
    region: str
    security_groups: list[dict[str, Any]] = field(default_factory=list)
    vpcs: list[dict[str, Any]] = field(default_factory=list)
    #: pl-id -> GetManagedPrefixListEntries Entries
    prefix_lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[ScanError] = field(default_factory=list)


def group_filters(select: Matcher) -> list[list[dict[str, Any]]]:
    """Server-side filters for DescribeSecurityGroups; one filter list per request series.

    Tag filters are exact here, since every tag of ``select`` must match; a value AWS would
    read as a wildcard only widens the answer, and the client re-checks every group."""
    base: list[dict[str, Any]] = []
    for key, value in select.tags:
        if value:
            base.append({"Name": f"tag:{key}", "Values": [value]})
        else:
            base.append({"Name": "tag-key", "Values": [key]})
    if not select.group_ids:
        return [base]
    return [[*base, {"Name": "group-id", "Values": chunk}]
            for chunk in chunks(sorted(set(select.group_ids)))]


def scan_region(ec2: BaseClient, account: str, region: str, select: Matcher) -> RegionScan:
    """Read one account/region with ``ec2``.  Never raises for an AWS failure: it is recorded."""
    scan = RegionScan(account, region)
    try:
        _read_groups(ec2, scan, select)
    except AWS_FAILURES as exc:
        scan.security_groups.clear()  # a region is read whole or not at all
        scan.errors.append(error_of(exc, account, region, "DescribeSecurityGroups"))
        return scan
    vpc_ids, list_ids = _references(scan.security_groups, select)
    if vpc_ids:
        try:
            paginator = ec2.get_paginator("describe_vpcs")
            for chunk in chunks(vpc_ids):
                for page in paginator.paginate(Filters=[{"Name": "vpc-id", "Values": chunk}]):
                    scan.vpcs.extend(answer_items(page, "Vpcs"))
        except AWS_FAILURES as exc:
            scan.vpcs.clear()
            scan.errors.append(error_of(exc, account, region, "DescribeVpcs"))
    for list_id in list_ids:
        _read_prefix_list(ec2, scan, list_id)
    return scan


def _read_groups(ec2: BaseClient, scan: RegionScan, select: Matcher) -> None:
    paginator = ec2.get_paginator("describe_security_groups")
    for filters in group_filters(select):
        params: dict[str, Any] = {"PaginationConfig": {"PageSize": PAGE_SIZE}}
        if filters:
            params["Filters"] = filters
        for page in paginator.paginate(**params):
            scan.security_groups.extend(answer_items(page, "SecurityGroups"))


def _read_prefix_list(ec2: BaseClient, scan: RegionScan, list_id: str) -> None:
    try:
        entries: list[dict[str, Any]] = []
        paginator = ec2.get_paginator("get_managed_prefix_list_entries")
        for page in paginator.paginate(PrefixListId=list_id):
            entries.extend(answer_items(page, "Entries"))
        scan.prefix_lists[list_id] = entries
    except AWS_FAILURES as exc:
        scan.errors.append(error_of(exc, scan.account, scan.region,
                                    f"GetManagedPrefixListEntries {list_id}"))


def _references(raw_groups: Sequence[Mapping[str, Any]], select: Matcher) -> tuple[list[str], list[str]]:
    """The VPC ids and prefix-list ids that the selected groups need, in first-seen order."""
    vpcs: dict[str, None] = {}
    lists: dict[str, None] = {}
    for raw in raw_groups:
        try:
            if not group_selected(raw, select, "group"):
                continue
        except ShapeError:
            pass  # malformed: keep it, normalising will report it
        if not isinstance(raw, Mapping):
            continue
        if isinstance(raw.get("VpcId"), str):
            vpcs[raw["VpcId"]] = None
        for perm in raw.get("IpPermissions") or ():
            for ref in (perm.get("PrefixListIds") or ()) if isinstance(perm, Mapping) else ():
                if isinstance(ref, Mapping) and isinstance(ref.get("PrefixListId"), str):
                    lists[ref["PrefixListId"]] = None
    return list(vpcs), list(lists)


# -- raw scans -> model ------------------------------------------------------------------

def to_snapshot(scans: Sequence[RegionScan], select: Matcher) -> Snapshot:
    """Normalise exactly as the snapshot source does with the same shapes (awsjson)."""
    groups: dict[tuple[str, str, str], Group] = {}
    vpcs: dict[tuple[str, str], Vpc] = {}
    prefix_lists: dict[tuple[str, str], tuple[str, ...]] = {}
    errors: list[ScanError] = []
    for scan in scans:
        where = f"aws {scan.account}/{scan.region}"
        for i, raw in enumerate(scan.security_groups):
            path = f"{where} SecurityGroups[{i}]"
            try:
                if group_selected(raw, select, path):
                    group = parse_group(raw, path, scan.region, scan.account)
                    if select.matches(group):
                        groups[(group.account, group.region, group.group_id)] = group
            except ShapeError as exc:
                errors.append(ScanError(scan.account, scan.region, "DescribeSecurityGroups",
                                        f"unexpected answer: {exc}", "MalformedResponse"))
        for i, raw in enumerate(scan.vpcs):
            try:
                vpc = parse_vpc(raw, f"{where} Vpcs[{i}]", scan.region, scan.account)
            except ShapeError as exc:
                errors.append(ScanError(scan.account, scan.region, "DescribeVpcs",
                                        f"unexpected answer: {exc}", "MalformedResponse"))
                continue
            vpcs[(scan.region, vpc.vpc_id)] = vpc
        for list_id, entries in scan.prefix_lists.items():
            try:
                prefix_lists[(scan.region, list_id)] = prefix_list_cidrs(
                    entries, f"{where} PrefixLists[{list_id}].Entries")
            except ShapeError as exc:
                errors.append(ScanError(scan.account, scan.region, "GetManagedPrefixListEntries",
                                        f"unexpected answer: {exc}", "MalformedResponse"))
        errors.extend(scan.errors)
    return Snapshot(groups=tuple(groups.values()), vpcs=vpcs, prefix_lists=prefix_lists,
                    errors=tuple(errors),
                    scanned=tuple(f"aws {s.account}/{s.region}" for s in scans),
                    read=tuple((s.account, s.region) for s in scans))


def merge_snapshots(parts: Sequence[Snapshot], accounts: AccountSummary | None = None) -> Snapshot:
    """One snapshot from the per-account/region ones a streaming scan made (in their order)."""
    vpcs: dict[tuple[str, str], Any] = {}
    prefix_lists: dict[tuple[str, str], tuple[str, ...]] = {}
    for part in parts:
        vpcs.update(part.vpcs)
        prefix_lists.update(part.prefix_lists)
    return Snapshot(groups=tuple(g for p in parts for g in p.groups), vpcs=vpcs,
                    prefix_lists=prefix_lists, errors=tuple(e for p in parts for e in p.errors),
                    scanned=tuple(x for p in parts for x in p.scanned),
                    read=tuple(x for p in parts for x in p.read), accounts=accounts)


# -- organizations ---------------------------------------------------------------------------
