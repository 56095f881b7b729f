"""The backup file of an AWS ``check --fix``: what each affected group held, every change made.

Written (atomically, fsync'd) before the first change and again around each change, so that
whatever happens to the process, the file says what was there and which calls may have
reached AWS.  Every version is signed with the key beside it (``signing``).  ``sgaudit
rollback`` reads it back, checks the signature and that the file agrees with itself
(``backup_check``) before anything changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sgaudit.fileio.files import parse_problem, read_input
from sgaudit.fileio.versioned import DocumentFormat, VersionError
from sgaudit.model import Rule
from sgaudit.remediate import signing
from sgaudit.remediate.aws.backup_check import check_consistency
from sgaudit.remediate.aws.changes import Change, Outcome, Plan, Ref, Verification
from sgaudit.remediate.aws.rollback import BackupRecord, Recorded
from sgaudit.remediate.documents import PENDING, PLANNED, Journal, list_field, str_field
from sgaudit.remediate.signing import BackupError

FORMAT = DocumentFormat("sgaudit_backup", 1, "backup")

def rule_dict(rule: Rule) -> dict[str, Any]:
    out = {"rule_id": rule.rule_id, "protocol": rule.protocol, "from_port": rule.from_port,
           "to_port": rule.to_port, "source": rule.source, "description": rule.description}
    if rule.peer_account:  # the reference's owner: a rollback must not re-create it as ours
        out["user_id"] = rule.peer_account
    if rule.peering_id:
        out["vpc_peering_connection_id"] = rule.peering_id
    return out


class BackupWriter(Journal):
    """The fix's journal: what each affected group held, every change and what became of it."""

    def __init__(self, path: str | Path, plan: Plan, meta: Mapping[str, Any]) -> None:
        affected = [g for g in plan.groups if g.changes and not g.skipped]
        super().__init__(path, {
            **FORMAT.stamp(),
            **meta,
            "groups": [{"account": g.account, "region": g.region, "group_id": g.group_id,
                        "group_name": g.group_name, "ingress": [rule_dict(r) for r in g.seen]}
                       for g in affected],
            "changes": [{"seq": c.seq, "action": c.action, "account": c.account, "region": c.region,
                         "group_id": c.group_id, "group_name": c.group_name, "rule": rule_dict(c.rule),
                         "reason": c.reason, "depends_on": list(c.depends_on), "result": PLANNED,
                         "detail": "", "new_rule_ids": []}
                        for c in plan.changes],
        }, (c.seq for c in plan.changes))

    def started(self, change: Change) -> None:
        self._entry(change)["result"] = PENDING
        self.write()

    def finished(self, outcome: Outcome) -> None:
        entry = self._entry(outcome.change)
        entry.update(result=outcome.result, detail=outcome.detail,
                     new_rule_ids=list(outcome.new_rule_ids))
        self.write()

    def record_verification(self, checks: list[Verification]) -> None:
        self.doc["verification"] = [
            {"account": v.ref[0], "region": v.ref[1], "group_id": v.ref[2], "ok": v.ok,
             "error": v.error, "still_drifted": [f.key for f in v.remaining]}
            for v in checks]
        self.write()


# -- reading --------------------------------------------------------------------------------
def load_backup(path: str | Path, *, unsigned_ok: bool = False,
                warn: Callable[[str], None] = lambda message: None) -> BackupRecord:
    """Read and check a backup: its shape, its signature (``signing.verify``), and that it
    agrees with itself (``check_consistency``).  Every problem is one line naming the file and
    key, raised before anything changes."""
    text_path = str(path)
    try:
        doc = json.loads(read_input(path, label="backup", error=BackupError))
    except OSError as exc:
        raise BackupError(f"{text_path}: cannot read backup: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:  # also too deep, or a 5,000-digit number
        raise BackupError(f"{text_path}: not a valid JSON backup: {parse_problem(exc) or exc}") from None
    try:
        doc = FORMAT.current(doc)
    except VersionError as exc:
        raise BackupError(f"{text_path}: {exc}") from None
    record = _record(doc, text_path)
    signing.verify(doc, text_path, unsigned_ok=unsigned_ok, warn=warn)
    check_consistency(record)
    return record


def _record(doc: Mapping[str, Any], text_path: str) -> BackupRecord:
    before: dict[Ref, tuple[Rule, ...]] = {}
    names: dict[Ref, str] = {}
    for i, g in enumerate(list_field(doc, "groups", text_path)):
        where = f"{text_path}: groups[{i}]"
        ref = (str_field(g, "account", where), str_field(g, "region", where), str_field(g, "group_id", where))
        if ref in before:
            raise BackupError(f"{where}: group {ref[2]} ({ref[0]}/{ref[1]}) is listed twice")
        names[ref] = str(g.get("group_name") or "")
        before[ref] = tuple(_rule(r, f"{where}.ingress[{j}]")
                            for j, r in enumerate(list_field(g, "ingress", where)))
    changes = [_recorded(c, f"{text_path}: changes[{i}]")
               for i, c in enumerate(list_field(doc, "changes", text_path))]
    meta = {k: v for k, v in doc.items() if k not in ("groups", "changes", signing.SIGNATURE)}
    return BackupRecord(text_path, before, names, tuple(changes), meta)


def _recorded(c: Any, where: str) -> Recorded:
    action = str_field(c, "action", where)
    if action not in ("authorize", "revoke"):
        raise BackupError(f"{where}.action: expected authorize or revoke, got {action!r}")
    seq = c.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise BackupError(f"{where}.seq: expected an integer")
    depends = c.get("depends_on") or []
    if not isinstance(depends, list) or not all(type(x) is int for x in depends):
        raise BackupError(f"{where}.depends_on: expected a list of change numbers")
    change = Change(seq, action, str_field(c, "account", where), str_field(c, "region", where),  # type: ignore[arg-type]
                    str_field(c, "group_id", where), str(c.get("group_name") or ""),
                    _rule(c.get("rule"), f"{where}.rule"), str(c.get("reason") or ""), tuple(depends))
    ids = c.get("new_rule_ids") or []
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise BackupError(f"{where}.new_rule_ids: expected a list of rule ids")
    return Recorded(change, str_field(c, "result", where), tuple(ids))


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise BackupError(f"{where}: expected an object")
    for key in ("from_port", "to_port"):
        if not isinstance(raw.get(key), int) or isinstance(raw.get(key), bool):
            raise BackupError(f"{where}.{key}: expected an integer, got {raw.get(key)!r}")
    rule_id = raw.get("rule_id")
    description = raw.get("description")
    return Rule(str_field(raw, "protocol", where), raw["from_port"], raw["to_port"],
                str_field(raw, "source", where),
                rule_id if isinstance(rule_id, str) else None,
                description if isinstance(description, str) else None,
                _optional_str(raw, "user_id", where), _optional_str(raw, "vpc_peering_connection_id", where))


def _optional_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """Absent in backups written before sgaudit kept references' owners (then: not compared)."""
    if obj.get(key) is None:
        return None
    return str_field(obj, key, where)
