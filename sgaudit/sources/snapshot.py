"""Snapshot files: what ``aws ec2 describe-security-groups`` / ``describe-vpcs`` print, or what
``sgaudit snapshot`` saved (the same shapes per account and region, plus what failed)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sgaudit.errors import SnapshotError
from sgaudit.gcpause import pausing_collector
from sgaudit.model import UNKNOWN, Group, Matcher, Rule, ScanError, Snapshot, Vpc
from sgaudit.sources.awsjson import (
    ShapeError,
    group_selected,
    parse_group,
    parse_vpc,
    prefix_list_cidrs,
)

FORMAT_KEY = "sgaudit_snapshot"
FORMAT_VERSION = 1


class SnapshotSource:
    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)

    @pausing_collector
    def read(self, select: Matcher) -> Snapshot:
        reader = _Reader(select)
        for path in self.paths:
            data = _load(path)
            try:
                reader.check_selection(data)
                for section in _sections(data):
                    reader.section(section, path)
            except ShapeError as exc:
                raise SnapshotError(f"{path}: {exc}") from None
            del data
        if not reader.saw_groups:
            raise SnapshotError(
                f"{', '.join(self.paths)}: no describe-security-groups output (a 'SecurityGroups' "
                "list) in any --snapshot file: there is nothing to audit")
        return Snapshot(groups=tuple(reader.groups.values()), vpcs=reader.vpcs,
                        prefix_lists=reader.prefix_lists, errors=tuple(reader.errors),
                        scanned=tuple(self.paths), read=tuple(reader.read))


class _Reader:
    """What the snapshot files have given so far."""

    def __init__(self, select: Matcher) -> None:
        self.select = select
        self.groups: dict[tuple[str, str, str], Group] = {}
        self.group_files: dict[tuple[str, str, str], str] = {}
        self.vpcs: dict[tuple[str, str], Vpc] = {}
        self.prefix_lists: dict[tuple[str, str], tuple[str, ...]] = {}
        self.errors: list[ScanError] = []
        self.saw_groups = False
        #: the (account, region) that sgaudit snapshot sections declare (AWS CLI files name none)
        self.read: dict[tuple[str, str], None] = {}

    def check_selection(self, data: Any) -> None:
        """An sgaudit snapshot holds only the groups its scan selected (tags and ids are
        server-side filters): replayed under a wider selection, the others were never saved."""
        if not isinstance(data, Mapping) or not isinstance(data.get("select"), Mapping):
            return
        saved = data["select"]
        tags = saved.get("tags") or {}
        group_ids = saved.get("group_ids") or []
        if not isinstance(tags, Mapping) or not isinstance(group_ids, list):
            raise ShapeError("$.select: expected {tags: {…}, group_ids: […]}")
        wanted = dict(self.select.tags)
        narrower_tags = all(wanted.get(k) == v for k, v in tags.items())
        narrower_ids = not group_ids or (bool(self.select.group_ids)
                                         and set(self.select.group_ids) <= set(group_ids))
        if not (narrower_tags and narrower_ids):
            taken = ", ".join([f"tag {k}={v}" for k, v in tags.items()] + list(group_ids))
            self.errors.append(ScanError(
                UNKNOWN, UNKNOWN, "replay",
                f"the snapshot was taken selecting only {taken}; this policy selects more, and "
                "groups outside that selection were never saved", "SelectionWider"))

    def section(self, section: Mapping[str, Any], file: str) -> None:
        path = section["path"]
        region = _text(section, "Region", path) or UNKNOWN
        account = _text(section, "Account", path)
        if account and region != UNKNOWN and "SecurityGroups" in section:
            self.read[(account, region)] = None
        self._groups(section, path, region, account, file)
        raw_vpcs = section.get("Vpcs", [])
        if not isinstance(raw_vpcs, list):
            raise ShapeError(f"{path}.Vpcs: expected a list")
        for i, raw in enumerate(raw_vpcs):
            vpc = parse_vpc(raw, f"{path}.Vpcs[{i}]", region, account)
            self.vpcs[(region, vpc.vpc_id)] = vpc
        raw_lists = section.get("PrefixLists", [])
        if not isinstance(raw_lists, list):
            raise ShapeError(f"{path}.PrefixLists: expected a list")
        for i, raw in enumerate(raw_lists):
            where = f"{path}.PrefixLists[{i}]"
            if not isinstance(raw, Mapping) or not isinstance(raw.get("PrefixListId"), str):
                raise ShapeError(f"{where}: expected an object with 'PrefixListId' and 'Entries'")
            self.prefix_lists[(region, raw["PrefixListId"])] = prefix_list_cidrs(
                raw.get("Entries"), f"{where}.Entries")
        raw_errors = section.get("Errors", [])
        if not isinstance(raw_errors, list):
            raise ShapeError(f"{path}.Errors: expected a list")
        for i, raw in enumerate(raw_errors):
            if not isinstance(raw, Mapping):
                raise ShapeError(f"{path}.Errors[{i}]: expected an object")
            self.errors.append(ScanError(account=str(raw.get("account", account or UNKNOWN)),
                                         region=str(raw.get("region", region)),
                                         operation=str(raw.get("operation", "")),
                                         message=str(raw.get("message", "")),
                                         code=str(raw.get("code", ""))))

    def _groups(self, section: Mapping[str, Any], path: str, region: str, account: str | None,
                file: str) -> None:
        if "SecurityGroups" not in section:
            return
        self.saw_groups = True
        raw_groups = section["SecurityGroups"]
        if not isinstance(raw_groups, list):
            raise ShapeError(f"{path}.SecurityGroups: expected a list")
        for i, raw in enumerate(raw_groups):
            where = f"{path}.SecurityGroups[{i}]"
            if group_selected(raw, self.select, where):
                group = parse_group(raw, where, region, account)
                if self.select.matches(group):
                    self._add(group, file)
            raw_groups[i] = None  # free the parsed JSON as we go: peak memory stays near the file's

    def _add(self, group: Group, file: str) -> None:
        """The same group twice is fine when both copies agree; when they differ, which one is
        the truth is not sgaudit's to guess."""
        key = (group.account, group.region, group.group_id)
        seen = self.groups.get(key)
        if seen is not None and not _same_group(seen, group):
            raise SnapshotError(
                f"{file}: {group.group_id} ({group.account}/{group.region}) is also in "
                f"{self.group_files[key]} with different rules or tags; pass one snapshot per "
                "group (which copy is current cannot be told)")
        self.groups[key] = group
        self.group_files.setdefault(key, file)


def _same_group(a: Group, b: Group) -> bool:
    """Equal but for the order of their rules and tags (AWS lists them in no set order)."""
    def rule_key(r: Rule) -> tuple[str, int, int, str, str, str]:
        return (r.protocol, r.from_port, r.to_port, r.source, r.rule_id or "", r.description or "")

    return (replace(a, rules=(), tags=()) == replace(b, rules=(), tags=())
            and sorted(map(rule_key, a.rules)) == sorted(map(rule_key, b.rules))
            and sorted(a.tags) == sorted(b.tags))


def _load(path: str) -> Any:
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read snapshot: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SnapshotError(f"{path}: snapshot is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}: not valid JSON (truncated?): {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}") from None


def _sections(data: Any) -> list[Mapping[str, Any]]:
    """One section per account and region; a plain AWS CLI file is one section."""
    if not isinstance(data, Mapping):
        raise ShapeError("$: expected a JSON object with 'SecurityGroups' and/or 'Vpcs'")
    if FORMAT_KEY in data:
        version = data[FORMAT_KEY]
        if version != FORMAT_VERSION:
            raise ShapeError(f"$.{FORMAT_KEY}: unsupported snapshot version {version!r} "
                             f"(this sgaudit reads version {FORMAT_VERSION})")
        scans = data.get("scans")
        if not isinstance(scans, list):
            raise ShapeError("$.scans: expected a list")
        return [_scan_section(s, i) for i, s in enumerate(scans)]
    if not any(k in data for k in ("SecurityGroups", "Vpcs", "PrefixLists")):
        raise ShapeError("$: expected 'SecurityGroups' (describe-security-groups) or 'Vpcs' "
                         f"(describe-vpcs); found keys {sorted(data)[:5]}")
    return [{"path": "$", **data}]


def _scan_section(scan: Any, index: int) -> Mapping[str, Any]:
    if not isinstance(scan, Mapping):
        raise ShapeError(f"$.scans[{index}]: expected an object")
    return {"path": f"$.scans[{index}]", **scan}


def _text(section: Mapping[str, Any], key: str, path: str) -> str | None:
    value = section.get(key)
    if value is not None and not isinstance(value, str):
        raise ShapeError(f"{path}.{key}: expected a string")
    return value
