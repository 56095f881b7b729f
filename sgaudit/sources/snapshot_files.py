"""Snapshot files as documents: the ``--snapshot`` argument and its labels, reading one file
(a regular file of UTF-8 JSON with no key twice), and the sections and Google Cloud projects
it holds.  Each file's kind is told by its content."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sgaudit.errors import SnapshotError
from sgaudit.fileio.files import check_regular, parse_problem
from sgaudit.fileio.versioned import DocumentFormat, VersionError
from sgaudit.model import ScanError
from sgaudit.sources import gcpjson
from sgaudit.sources.awsjson import ShapeError

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


def gcp_input(data: Any, source: SnapshotInput, gcp: Any) -> bool:
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


class _DuplicateKey(ValueError):
    def __init__(self, key: str, obj: Mapping[str, Any]) -> None:
        super().__init__(key)
        self.key, self.obj = key, obj


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: with a second ``"IpRanges": []`` the last copy
    would silently win (neither AWS nor gcloud writes a key twice).

    This hook costs about a third of ``json.load`` on a large snapshot.  Loading without it
    and proving afterwards that no key was dropped (keys counted in the text against the sizes
    of the loaded objects) was measured and is no cheaper in Python: an ``object_hook`` that
    counts costs as much as this one, walking the loaded objects costs more, and a value such
    as ``"::/0"`` looks like a key to a text count."""
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


def load(path: str) -> Any:
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


def labelled(section: Mapping[str, Any], key: str, label: str | None) -> str | None:
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


def sections(data: Any, source: SnapshotInput | None = None) -> list[Mapping[str, Any]]:
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
