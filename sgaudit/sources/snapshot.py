"""Snapshot files -> a Snapshot: what ``aws ec2 describe-security-groups`` / ``describe-vpcs``
print, what ``gcloud compute firewall-rules|networks subnets|networks|instances list
--format=json`` and ``gcloud compute networks get-effective-firewalls`` print, or what
``sgaudit snapshot`` saved (the same shapes per account and region or per project, plus what
failed), assembled from every file, with copies that contradict each other refused.  Reading
the files themselves: ``snapshot_files``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sgaudit.errors import SnapshotError
from sgaudit.gcpause import pausing_collector
from sgaudit.model import UNKNOWN, AccountSummary, Group, Matcher, Rule, ScanError, Snapshot, Vpc
from sgaudit.sources.awsjson import (
    ShapeError,
    parse_group,
    parse_vpc,
    prefix_list_cidrs,
    selection,
)
from sgaudit.sources.snapshot_files import (
    AWS_ONLY_VERSION,
    FORMAT,
    SnapshotInput,
    check_label,
    gcp_input,
    labelled,
    load,
    parse_input,
    project_data,
    sections,
)

__all__ = ["AWS_ONLY_VERSION", "FORMAT", "ORGANIZATION", "SnapshotInput", "SnapshotSource",
           "check_label", "parse_input", "project_data"]

#: the account of an organization-wide error (as ``sources.aws`` names it)
ORGANIZATION = "organization"


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
            data = load(path)
            try:
                if gcp_input(data, source, gcp):
                    continue
                reader.check_selection(data)
                reader.organization(data)
                for section in sections(data, source):
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


class _Reader:
    """What the snapshot files have given so far."""

    def __init__(self, select: Matcher) -> None:
        self.select = select
        self.groups: dict[tuple[str, str, str], Group] = {}
        #: the prefix lists (``pl-…`` sources) a group's rules name, in rule order, by the key
        #: of ``groups``: noted while parsing, so that no walk of every rule looks for them
        self.group_prefix_lists: dict[tuple[str, str, str], list[str]] = {}
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
        region = (labelled(section, "Region", source.region) or source.default_region
                  or UNKNOWN)
        account = labelled(section, "Account", source.account) or source.default_account
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
        for group_key, group in self.groups.items():
            for source in self.group_prefix_lists.get(group_key, ()):
                key = (group.region, source)
                operation = f"GetManagedPrefixListEntries {source}"
                if key in self.prefix_lists or operation in reported:
                    continue
                reported.add(operation)
                name = self.prefix_list_names.get(key)
                self.errors.append(ScanError(
                    group.account, group.region, operation,
                    f"{group.group_id} allows traffic from prefix list {source}"
                    + (f" ({name})" if name else "") + ", whose entries no --snapshot file gives: "
                    "add the output of 'aws ec2 get-managed-prefix-list-entries --prefix-list-id "
                    f"{source}' (as --snapshot {source}:FILE)", "PrefixListNotRead"))

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
                prefix_lists: list[str] = []
                group = parse_group(raw, where, region, account, tags, prefix_lists)
                if self.select.matches(group):
                    self._add(group, file, prefix_lists)
            raw_groups[i] = None  # free the parsed JSON as we go: peak memory stays near the file's

    def _add(self, group: Group, file: str, prefix_lists: list[str]) -> None:
        """The same group twice is fine when both copies agree; when they differ, which one is
        the truth is not sgaudit's to guess.  ``prefix_lists``: the group's ``pl-…`` sources."""
        key = (group.account, group.region, group.group_id)
        seen = self.groups.get(key)
        if seen is not None and not _same_group(seen, group):
            raise SnapshotError(
                f"{file}: {group.group_id} ({group.account}/{group.region}) is also in "
                f"{self.group_files[key]} with different rules or tags; pass one snapshot per "
                "group (which copy is current cannot be told)")
        self.groups[key] = group
        if prefix_lists:  # a copy that agrees names the same lists (maybe in another order)
            self.group_prefix_lists[key] = prefix_lists
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
