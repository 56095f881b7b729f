"""Snapshot files: what ``aws ec2 describe-security-groups`` / ``describe-vpcs`` print, what
``gcloud compute firewall-rules|networks subnets|networks|instances list --format=json`` and
``gcloud compute networks get-effective-firewalls`` print, or what ``sgaudit snapshot`` saved (the
same shapes per account and region or per project, plus what failed).  Each file's kind is told
by its content."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sgaudit.errors import SnapshotError
from sgaudit.fileio.files import check_regular, parse_problem
from sgaudit.fileio.versioned import DocumentFormat, VersionError
from sgaudit.gcpause import pausing_collector
from sgaudit.model import UNKNOWN, AccountSummary, Group, Matcher, Rule, ScanError, Snapshot, Vpc
from sgaudit.sources import gcpjson
from sgaudit.sources.awsjson import (
    ShapeError,
    parse_group,
    parse_vpc,
    prefix_list_cidrs,
    selection,
)

#: the account of an organization-wide error (as ``sources.aws`` names it)
ORGANIZATION = "organization"

#: files that ``sgaudit snapshot`` writes: version 1 holds AWS only (and is still written for
#: AWS-only scans, so an older sgaudit reads them); version 2 adds Google Cloud projects, which
#: an older sgaudit refuses rather than skip
AWS_ONLY_VERSION = 1
FORMAT = DocumentFormat("sgaudit_snapshot", 2, "snapshot", upgrades={AWS_ONLY_VERSION: dict})


_ACCOUNT = re.compile(r"[0-9]{12}\Z")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\Z")
_PREFIX_LIST = re.compile(r"pl-[0-9a-f]{8,17}\Z")
_PREFIX_LIST_IN_NAME = re.compile(r"pl-[0-9a-f]{8,17}(?![0-9a-f])")


@dataclass(frozen=True, slots=True)
class SnapshotInput:
    """One ``--snapshot`` argument: a file and what it is about when its content does not say
    (AWS CLI output names no region, and ``get-managed-prefix-list-entries`` no list)."""

    path: str
    region: str | None = None
    account: str | None = None
    prefix_list: str | None = None
    #: ``--region``/``--account``: only for what neither the file nor its label says
    default_region: str | None = None
    default_account: str | None = None


def parse_input(text: str, region: str | None = None, account: str | None = None) -> SnapshotInput:
    """``[ACCOUNT:][REGION:][pl-ID:]FILE``; an existing file whose name holds a colon is a file.
    ``region``/``account`` (``--region``/``--account``) apply where no label says otherwise."""
    labels: dict[str, str] = {}
    parts = text.split(":")
    if not os.path.exists(text):
        while len(parts) > 1:
            kind = _label_kind(parts[0])
            if kind is None or kind in labels:
                break
            labels[kind] = parts.pop(0)
    return SnapshotInput(":".join(parts), labels.get("region"), labels.get("account"),
                         labels.get("prefix_list"), region, account)


def _label_kind(text: str) -> str | None:
    for kind, pattern in (("account", _ACCOUNT), ("region", _REGION), ("prefix_list", _PREFIX_LIST)):
        if pattern.match(text):
            return kind
    return None


def check_label(region: str | None, account: str | None) -> None:
    """``--region``/``--account`` as AWS spells them, or one line saying what is wrong."""
    if region is not None and not _REGION.match(region):
        raise SnapshotError(f"--region {region!r}: expected an AWS region such as us-east-1")
    if account is not None and not _ACCOUNT.match(account):
        raise SnapshotError(f"--account {account!r}: expected a 12-digit AWS account id")


class SnapshotSource:
    def __init__(self, paths: Sequence[str | SnapshotInput]) -> None:
        self.inputs = [p if isinstance(p, SnapshotInput) else parse_input(p) for p in paths]
        self.paths = [i.path for i in self.inputs]

    @pausing_collector
    def read(self, select: Matcher) -> Snapshot:
        from sgaudit.sources.gcpstate import GcpCollector

        reader = _Reader(select)
        gcp = GcpCollector()
        for source in self.inputs:
            path = source.path
            data = _load(path)
            try:
                if _gcp_input(data, source, gcp):
                    continue
                reader.check_selection(data)
                reader.organization(data)
                for section in _sections(data, source):
                    reader.section(section, path, source)
            except ShapeError as exc:
                raise SnapshotError(f"{path}: {exc}") from None
            del data
        reader.unread_prefix_lists()
        reader.check_organization()
        if not reader.saw_groups and not gcp.audit_input:
            raise SnapshotError(
                f"{', '.join(self.paths)}: no describe-security-groups output (a 'SecurityGroups' "
                "list) and no gcloud firewall rules in any --snapshot file: there is nothing to audit")
        state = gcp.state() if gcp.used else None
        return Snapshot(groups=tuple(reader.groups.values()), vpcs=reader.vpcs,
                        prefix_lists=reader.prefix_lists, errors=tuple(reader.errors + gcp.errors),
                        scanned=tuple(self.paths), read=tuple(reader.read),
                        gcp=state, accounts=reader.accounts)


def _gcp_input(data: Any, source: SnapshotInput, gcp: Any) -> bool:
    """Feed GCP content to the collector; True when the file holds nothing else (a gcloud file).
    An sgaudit snapshot's GCP projects are fed too, and its AWS sections are left to the caller.
    A label (``ACCOUNT:``, ``REGION:``, ``pl-ID:``) on a gcloud file is refused: its resources'
    URLs name their project, and the label would be ignored."""
    path = source.path
    if FORMAT.is_one(data):
        raw = data.get("gcp")
        if raw is None:
            return False
        if not isinstance(raw, list):
            raise ShapeError("$.gcp: expected a list of projects")
        for i, entry in enumerate(raw):
            gcp.add_project(project_data(entry, f"$.gcp[{i}]"), path)
        return False
    kind = gcpjson.detect(data)
    if kind is None:
        return False
    label = source.account or source.region or source.prefix_list
    if label:
        raise ShapeError(f"the label {label!r} applies to AWS CLI output only; a gcloud file names "
                         "its project in its resources' URLs (pass the file without the label)")
    if kind != "empty":  # gcloud prints [] when a list is empty: nothing to add, nothing to refuse
        gcp.add_file(data, kind, path)
    return True


def project_data(entry: Any, where: str) -> gcpjson.ProjectData:
    """One project of an sgaudit snapshot (see snapshot_writer.gcp_document)."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("Project"), str):
        raise ShapeError(f"{where}: expected an object with 'Project'")
    project = entry["Project"]

    def listed(key: str) -> list[Any] | None:
        value = entry.get(key)
        if value is not None and not isinstance(value, list):
            raise ShapeError(f"{where}.{key}: expected a list or null")
        return value

    effective = entry.get("EffectiveFirewalls") or {}
    if not isinstance(effective, Mapping):
        raise ShapeError(f"{where}.EffectiveFirewalls: expected an object (network -> answer)")
    regional = _regional_answers(entry.get("RegionalEffectiveFirewalls"), where)
    errors = [ScanError(account=str(e.get("account", project)), region=str(e.get("region", "global")),
                        operation=str(e.get("operation", "")), message=str(e.get("message", "")),
                        code=str(e.get("code", "")))
              for e in listed("Errors") or [] if isinstance(e, Mapping)]
    return gcpjson.ProjectData(project=project, networks=listed("Networks"),
                               firewalls=listed("Firewalls"), subnetworks=listed("Subnetworks"),
                               effective=dict(effective), regional=regional,
                               instances=listed("Instances"), errors=errors)


def _regional_answers(value: Any, where: str) -> dict[str, dict[str, Any]] | None:
    """network -> region -> answer; absent or null: not read (a snapshot by an older sgaudit)."""
    if value is None:
        return None
    where = f"{where}.RegionalEffectiveFirewalls"
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where}: expected an object (network -> region -> answer)")
    for network, by_region in value.items():
        if not isinstance(by_region, Mapping):
            raise ShapeError(f"{where}.{network}: expected an object (region -> answer)")
    return {network: dict(by_region) for network, by_region in value.items()}


class _Reader:
    """What the snapshot files have given so far."""

    def __init__(self, select: Matcher) -> None:
        self.select = select
        self.groups: dict[tuple[str, str, str], Group] = {}
        self.group_files: dict[tuple[str, str, str], str] = {}
        self.vpcs: dict[tuple[str, str], Vpc] = {}
        self.vpc_files: dict[tuple[str, str], str] = {}
        self.prefix_lists: dict[tuple[str, str], tuple[str, ...]] = {}
        self.errors: list[ScanError] = []
        #: names that describe-managed-prefix-lists gave, to say which list is unread
        self.prefix_list_names: dict[tuple[str, str], str] = {}
        self.saw_groups = False
        #: the (account, region) that sgaudit snapshot sections declare (AWS CLI files name none)
        self.read: dict[tuple[str, str], None] = {}
        #: an organization snapshot's account summary (several files: added up)
        self.accounts: AccountSummary | None = None

    def organization(self, data: Any) -> None:
        """The account summary an ``sgaudit snapshot --org-role`` file carries."""
        if not isinstance(data, Mapping) or "organization" not in data:
            return
        raw = data["organization"]
        counts: dict[str, Any] = {k: raw.get(k) if isinstance(raw, Mapping) else None
                  for k in ("discovered", "read", "failed", "excluded")}
        # written by newer versions: absent in older snapshots
        counts.update({k: raw.get(k, 0) for k in ("not_listed", "sections") if isinstance(raw, Mapping)})
        failed = raw.get("failed_accounts", []) if isinstance(raw, Mapping) else None
        names = raw.get("names", {}) if isinstance(raw, Mapping) else None
        if (not all(type(v) is int and v >= 0 for v in counts.values())
                or not isinstance(failed, list) or not all(isinstance(a, str) for a in failed)
                or not isinstance(names, Mapping)
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in names.items())):
            raise ShapeError("$.organization: expected {discovered, read, failed, excluded: "
                             "counts, failed_accounts: [ids], names: {id: name}}")
        scans = data.get("scans")
        if counts.get("sections") and isinstance(scans, list) and len(scans) != counts["sections"]:
            self._contradiction(f"the organization summary records {counts['sections']} account/region "
                                f"section(s), the file holds {len(scans)}")
        seen = self.accounts or AccountSummary(0, 0, 0, 0)
        self.accounts = AccountSummary(
            discovered=seen.discovered + counts["discovered"], read=seen.read + counts["read"],
            failed=seen.failed + counts["failed"], excluded=seen.excluded + counts["excluded"],
            failed_ids=tuple(sorted({*seen.failed_ids, *failed})),
            names=tuple(sorted({**dict(seen.names), **names}.items())),
            not_listed=seen.not_listed + counts.get("not_listed", 0))

    def check_organization(self) -> None:
        """An organization snapshot replays as complete only if its account summary agrees with
        its sections: every failed account has an error, every account read has a section, and
        the counts add up.  A contradiction (a section removed, an error deleted) is an error of
        the replay, so it reads as incomplete, never as a clean scan of fewer accounts."""
        summary = self.accounts
        if summary is None:
            return
        if not summary.adds_up():
            self._contradiction(f"its counts do not add up (discovered {summary.discovered} + not "
                                f"listed {summary.not_listed} against read {summary.read} + failed "
                                f"{summary.failed} ({len(summary.failed_ids)} listed) + excluded "
                                f"{summary.excluded})")
        with_errors = {e.account for e in self.errors}
        silent = [a for a in summary.failed_ids if a not in with_errors]
        if silent:
            self._contradiction(f"account(s) {', '.join(silent)} failed, but the snapshot holds no "
                                "error of them")
        sections = {account for account, _ in self.read} - set(summary.failed_ids)
        if len(sections) < summary.read:
            self._contradiction(f"{summary.read} account(s) were read, but the snapshot holds "
                                f"sections of {len(sections)}")

    def _contradiction(self, what: str) -> None:
        self.errors.append(ScanError(ORGANIZATION, UNKNOWN, "replay",
                                     f"the organization snapshot contradicts itself: {what}; the "
                                     "replay is incomplete", "InconsistentSnapshot"))

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

    def section(self, section: Mapping[str, Any], file: str,
                source: SnapshotInput | None = None) -> None:
        path = section["path"]
        source = source or SnapshotInput("")
        region = (_labelled(section, "Region", source.region) or source.default_region
                  or UNKNOWN)
        account = _labelled(section, "Account", source.account) or source.default_account
        if account and region != UNKNOWN and "SecurityGroups" in section:
            self.read[(account, region)] = None
        self._groups(section, path, region, account, file)
        raw_vpcs = section.get("Vpcs", [])
        if not isinstance(raw_vpcs, list):
            raise ShapeError(f"{path}.Vpcs: expected a list")
        for i, raw in enumerate(raw_vpcs):
            vpc = parse_vpc(raw, f"{path}.Vpcs[{i}]", region, account)
            self._add_vpc(vpc, file)
        raw_lists = section.get("PrefixLists", [])
        if not isinstance(raw_lists, list):
            raise ShapeError(f"{path}.PrefixLists: expected a list")
        for i, raw in enumerate(raw_lists):
            self._prefix_list(raw, f"{path}.PrefixLists[{i}]", region)
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

    def _prefix_list(self, raw: Any, where: str, region: str) -> None:
        """An entry of sgaudit's ``PrefixLists`` (id and entries), or of what
        ``describe-managed-prefix-lists`` prints (id and name, no entries: not its content)."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("PrefixListId"), str):
            raise ShapeError(f"{where}: expected an object with 'PrefixListId' and 'Entries'")
        key = (region, raw["PrefixListId"])
        if "Entries" not in raw:
            if isinstance(raw.get("PrefixListName"), str):
                self.prefix_list_names[key] = raw["PrefixListName"]
            return
        entries = prefix_list_cidrs(raw.get("Entries"), f"{where}.Entries")
        seen = self.prefix_lists.get(key)
        if seen is not None and sorted(seen) != sorted(entries):
            raise ShapeError(f"{where}: {key[1]} ({region}) is given twice with different entries "
                             "(which copy is current cannot be told)")
        self.prefix_lists[key] = entries

    def unread_prefix_lists(self) -> None:
        """A rule from a prefix list whose entries no file gave may allow anything (the list can
        hold 0.0.0.0/0): the scan is incomplete, as when the live scan cannot read it."""
        reported = {e.operation for e in self.errors}
        for group in self.groups.values():
            for rule in group.rules:
                if not rule.source.startswith("pl-"):
                    continue
                key = (group.region, rule.source)
                operation = f"GetManagedPrefixListEntries {rule.source}"
                if key in self.prefix_lists or operation in reported:
                    continue
                reported.add(operation)
                name = self.prefix_list_names.get(key)
                self.errors.append(ScanError(
                    group.account, group.region, operation,
                    f"{group.group_id} allows traffic from prefix list {rule.source}"
                    + (f" ({name})" if name else "") + ", whose entries no --snapshot file gives: "
                    "add the output of 'aws ec2 get-managed-prefix-list-entries --prefix-list-id "
                    f"{rule.source}' (as --snapshot {rule.source}:FILE)", "PrefixListNotRead"))

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
            selected, tags = selection(raw, self.select, where)
            if selected:
                group = parse_group(raw, where, region, account, tags)
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


    def _add_vpc(self, vpc: Vpc, file: str) -> None:
        """One VPC in two files must have the same blocks: otherwise the last file would win."""
        key = (vpc.region, vpc.vpc_id)
        seen = self.vpcs.get(key)
        if seen is not None and (seen.primary_cidr != vpc.primary_cidr
                                 or sorted(seen.cidrs) != sorted(vpc.cidrs)):
            raise SnapshotError(
                f"{file}: {vpc.vpc_id} ({vpc.region}) has blocks {', '.join(vpc.cidrs) or 'none'} "
                f"but {self.vpc_files[key]} gives it {', '.join(seen.cidrs) or 'none'}; pass one "
                "describe-vpcs answer per VPC (which copy is current cannot be told)")
        self.vpcs[key] = vpc
        self.vpc_files.setdefault(key, file)


def _same_group(a: Group, b: Group) -> bool:
    """Equal but for the order of their rules and tags (AWS lists them in no set order)."""
    def rule_key(r: Rule) -> tuple[str, int, int, str, str, str]:
        return (r.protocol, r.from_port, r.to_port, r.source, r.rule_id or "", r.description or "")

    return (replace(a, rules=(), tags=()) == replace(b, rules=(), tags=())
            and sorted(map(rule_key, a.rules)) == sorted(map(rule_key, b.rules))
            and sorted(a.tags) == sorted(b.tags))


class _DuplicateKey(ValueError):
    def __init__(self, key: str, obj: Mapping[str, Any]) -> None:
        super().__init__(key)
        self.key, self.obj = key, obj


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: with a second ``"IpRanges": []`` the last copy
    would silently win (neither AWS nor gcloud writes a key twice)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key, obj)
            seen.add(key)
    return obj


#: keys that name the object a duplicate key was found in
_IDENTIFYING = ("GroupId", "VpcId", "PrefixListId", "IpProtocol", "CidrBlock", "Region", "name")


def _duplicate_message(path: str, exc: _DuplicateKey) -> str:
    named = [f"{k} {_brief_value(exc.obj[k])}" for k in _IDENTIFYING
             if k in exc.obj and k != exc.key][:2]
    inside = f" in the object with {' and '.join(named)}" if named else ""
    return (f"{path}: duplicate key {_brief_value(exc.key)}{inside}: which copy is meant cannot be "
            "told (neither AWS nor gcloud writes a key twice)")


def _brief_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int)) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _load(path: str) -> Any:
    _check_regular(path)
    try:
        with open(path, "rb") as handle:
            return json.load(handle, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise SnapshotError(_duplicate_message(path, exc)) from None
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read snapshot: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SnapshotError(f"{path}: snapshot is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}: not valid JSON (truncated?): {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}") from None
    except (RecursionError, ValueError) as exc:
        problem = parse_problem(exc)
        if problem is None:
            raise
        raise SnapshotError(f"{path}: not valid JSON: {problem}") from None


def _check_regular(path: str) -> None:
    """A FIFO or a device as --snapshot would hang or never end: refused with one line."""
    try:
        check_regular(path, label="snapshot", error=SnapshotError)
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read snapshot: {exc.strerror or exc}") from None


def _labelled(section: Mapping[str, Any], key: str, label: str | None) -> str | None:
    """The section's own Region/Account, else the label's; the two disagreeing is an error."""
    own = _text(section, key, section["path"])
    if own and label and own != label:
        raise ShapeError(f"{section['path']}.{key}: the file says {own!r}, its --snapshot label "
                         f"says {label!r}")
    return own or label


def _entries_section(data: Mapping[str, Any], source: SnapshotInput | None) -> Mapping[str, Any]:
    """What ``aws ec2 get-managed-prefix-list-entries`` prints: the entries of one list, which
    the file does not name (the label or the file's name does)."""
    list_id = source.prefix_list if source else None
    if list_id is None and source is not None:
        found = set(_PREFIX_LIST_IN_NAME.findall(os.path.basename(source.path)))
        list_id = found.pop() if len(found) == 1 else None
    if list_id is None:
        raise ShapeError("$: get-managed-prefix-list-entries output does not say which prefix "
                         "list it is: pass it as --snapshot pl-…:FILE (or name the file after the list)")
    return {"path": "$", "PrefixLists": [{"PrefixListId": list_id, "Entries": data["Entries"]}]}


def _sections(data: Any, source: SnapshotInput | None = None) -> list[Mapping[str, Any]]:
    """One section per account and region; a plain AWS CLI file is one section."""
    if not isinstance(data, Mapping):
        raise ShapeError("$: expected a JSON object with 'SecurityGroups' and/or 'Vpcs'")
    if FORMAT.is_one(data):
        try:
            data = FORMAT.current(data)
        except VersionError as exc:
            raise ShapeError(str(exc)) from None
        scans = data.get("scans")
        if not isinstance(scans, list):
            raise ShapeError("$.scans: expected a list")
        return [_scan_section(s, i) for i, s in enumerate(scans)]
    if data.get("NextToken"):
        raise ShapeError("$.NextToken: this is one page of a longer answer; save the whole answer "
                         "(the AWS CLI without --max-items or --no-paginate)")
    if "Entries" in data and not any(k in data for k in ("SecurityGroups", "Vpcs", "PrefixLists")):
        return [_entries_section(data, source)]
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
