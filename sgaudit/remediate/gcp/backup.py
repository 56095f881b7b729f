"""The backup of a GCP ``--fix``: what it changed, written around every change, read back.

The backup is written (atomically) before the first change and again around each: every rule
the plan patches or deletes, whole, as it was read; every change with what became of it and,
for an insert, the name the rule got.  ``sgaudit rollback`` restores patched rules exactly
(``update`` with the whole resource), recreates deleted ones with every field (GCP gives them a
new id and creation time), and deletes the rules sgaudit inserted - only those, and only while
they are still as inserted (``gcp.rollback``).  A backup that contradicts itself is refused
(exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgaudit.fileio.files import parse_problem, read_input
from sgaudit.fileio.versioned import DocumentFormat, VersionError
from sgaudit.remediate import signing
from sgaudit.remediate.documents import PENDING, PLANNED, Journal, list_field, str_field
from sgaudit.remediate.gcp import shapes
from sgaudit.remediate.gcp.apply import APPLIED, TIMED_OUT, GcpOutcome
from sgaudit.remediate.gcp.changes import GcpChange, GcpPlan
from sgaudit.remediate.signing import BackupError

FORMAT = DocumentFormat("sgaudit_gcp_backup", 1, "Google Cloud backup")
RESULTS = (PLANNED, PENDING, APPLIED, TIMED_OUT, "skipped", "failed")
#: the results whose call may have reached GCP: a rollback undoes them
UNDONE = (APPLIED, PENDING, TIMED_OUT)
#: (project, rule name)
RuleRef = tuple[str, str]


def is_gcp_backup(path: str | Path) -> bool:
    """Whether the file claims to be a GCP backup (anything unreadable is left to the loader
    that reports it)."""
    try:
        return FORMAT.is_one(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError):
        return False


class GcpBackupWriter(Journal):
    """The fix's journal: every rule it patches or deletes, whole, and every change with what
    became of it."""

    def __init__(self, path: str | Path, plan: GcpPlan, meta: Mapping[str, Any]) -> None:
        touched = {(c.project, c.name) for c in plan.changes if c.action != "insert"}
        super().__init__(path, {
            **FORMAT.stamp(), **meta, "cloud": "gcp",
            "rules": [{"project": n.project, "network": n.network, "resource": dict(n.seen[name])}
                      for n in plan.networks for name in sorted(n.seen) if (n.project, name) in touched],
            "changes": [_change_dict(c) for c in plan.changes],
        }, (c.seq for c in plan.changes))

    def started(self, change: GcpChange, name: str) -> None:
        self._entry(change).update(result=PENDING, applied_name=name)
        self.write()

    def finished(self, outcome: GcpOutcome) -> None:
        self._entry(outcome.change).update(result=outcome.result, detail=outcome.detail,
                                           applied_name=outcome.name or None)
        self.write()

    def record_verification(self, problems: Sequence[str]) -> None:
        self.doc["verification"] = {"ok": not problems, "problems": list(problems)}
        self.write()


def _change_dict(c: GcpChange) -> dict[str, Any]:
    return {"seq": c.seq, "action": c.action, "project": c.project, "network": c.network,
            "tag": c.tag, "name": c.name, "kind": c.kind, "body": dict(c.body) if c.body else None,
            "fingerprint": c.fingerprint, "reason": c.reason, "depends_on": list(c.depends_on),
            "result": PLANNED, "detail": "", "applied_name": None}


# -- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GcpRecorded:
    change: GcpChange
    result: str
    applied_name: str | None


@dataclass(frozen=True, slots=True)
class GcpBackup:
    path: str
    #: every rule the fix touched, whole, as it was; with its network
    rules: dict[RuleRef, tuple[str, dict[str, Any]]]
    changes: tuple[GcpRecorded, ...]
    meta: dict[str, Any] = field(default_factory=dict)


def load_gcp_backup(path: str | Path, *, unsigned_ok: bool = False,
                    warn: Callable[[str], None] = lambda message: None) -> GcpBackup:
    """Read and check a GCP backup: its signature (``signing.verify``), then that it agrees with
    itself; every problem is one line naming the file and key."""
    text = str(path)
    try:
        doc = json.loads(read_input(path, label="backup", error=BackupError))
        doc = FORMAT.current(doc)
    except OSError as exc:
        raise BackupError(f"{text}: cannot read backup: {exc.strerror or exc}") from None
    except VersionError as exc:
        raise BackupError(f"{text}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise BackupError(f"{text}: not a valid JSON backup: {parse_problem(exc) or exc}") from None
    signing.verify(doc, text, unsigned_ok=unsigned_ok, warn=warn)
    rules: dict[RuleRef, tuple[str, dict[str, Any]]] = {}
    for i, entry in enumerate(list_field(doc, "rules", text)):
        where = f"{text}: rules[{i}]"
        project, network = str_field(entry, "project", where), str_field(entry, "network", where)
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            raise BackupError(f"{where}.resource: expected the rule as an object")
        name = str_field(resource, "name", f"{where}.resource")
        if not str(resource.get("network", "")).rstrip("/").endswith(f"/networks/{network}"):
            raise BackupError(f"{where}.resource.network: {resource.get('network')!r} is not network "
                              f"{network} that the entry names")
        if (project, name) in rules:
            raise BackupError(f"{where}: rule {name} of project {project} is in the backup twice")
        rules[(project, name)] = (network, resource)
    changes = tuple(_recorded(c, f"{text}: changes[{i}]")
                    for i, c in enumerate(list_field(doc, "changes", text)))
    _consistent(text, rules, changes)
    meta = {k: v for k, v in doc.items() if k not in ("rules", "changes", signing.SIGNATURE)}
    return GcpBackup(text, rules, changes, meta)


def _recorded(raw: Any, where: str) -> GcpRecorded:
    action = str_field(raw, "action", where)
    if action not in ("insert", "patch", "delete"):
        raise BackupError(f"{where}.action: expected insert, patch or delete, got {action!r}")
    seq = raw.get("seq")
    if type(seq) is not int:
        raise BackupError(f"{where}.seq: expected an integer")
    result = str_field(raw, "result", where)
    if result not in RESULTS:
        raise BackupError(f"{where}.result: expected one of {', '.join(RESULTS)}, got {result!r}")
    body = raw.get("body")
    if (body is None) != (action == "delete") or (body is not None and not isinstance(body, dict)):
        raise BackupError(f"{where}.body: expected {'null' if action == 'delete' else 'an object'}")
    applied = raw.get("applied_name")
    if applied is not None and not (isinstance(applied, str) and shapes.NAME.match(applied)):
        raise BackupError(f"{where}.applied_name: not a rule name: {applied!r}")
    depends = raw.get("depends_on") or []
    if not isinstance(depends, list) or not all(type(n) is int for n in depends):
        raise BackupError(f"{where}.depends_on: expected a list of change numbers")
    change = GcpChange(seq, action, str_field(raw, "project", where), str_field(raw, "network", where),  # type: ignore[arg-type]
                       str_field(raw, "tag", where), str_field(raw, "name", where), body,
                       raw.get("fingerprint") if isinstance(raw.get("fingerprint"), str) else None,
                       str(raw.get("reason") or ""), tuple(depends), str(raw.get("kind") or ""))
    return GcpRecorded(change, result, applied)


def _consistent(text: str, rules: Mapping[RuleRef, tuple[str, dict[str, Any]]],
                changes: Sequence[GcpRecorded]) -> None:
    """The changes agree with each other and with the rules kept: what a rollback needs."""
    seqs: set[int] = set()
    inserted: set[RuleRef] = set()
    for i, rec in enumerate(changes):
        c, where = rec.change, f"{text}: changes[{i}]"
        if c.seq in seqs:
            raise BackupError(f"{where}.seq: change #{c.seq} is in the backup twice")
        if any(n not in seqs for n in c.depends_on):
            raise BackupError(f"{where}.depends_on: names a change that does not come before it")
        seqs.add(c.seq)
        kept = rules.get((c.project, c.name))
        if c.action != "insert":
            if kept is None:
                raise BackupError(f"{where}: {c.action} of rule {c.name} of project {c.project}, "
                                  "but the backup does not hold that rule as it was")
            if kept[0] != c.network:
                raise BackupError(f"{where}.network: {c.network}, but the rule kept is of network {kept[0]}")
            continue
        name = rec.applied_name or c.name
        body = c.body or {}
        if kept is not None or (c.project, name) in rules:
            raise BackupError(f"{where}: insert of rule {name}, which the backup also holds as it "
                              "was before the fix")
        if (c.project, name) in inserted:
            raise BackupError(f"{where}: rule {name} inserted twice")
        if body.get("name") != c.name or body.get("targetTags") != [c.tag]:
            raise BackupError(f"{where}.body: not the rule the change names (name {body.get('name')!r}, "
                              f"targets {body.get('targetTags')!r})")
        inserted.add((c.project, name))
