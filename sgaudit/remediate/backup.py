"""The backup file of ``check --fix``: what each affected group held, and every change made.

Written (atomically, fsync'd) before the first change and again around each change, so that
whatever happens to the process, the file says what was there and which calls may have
reached AWS.  Every version is signed with the key beside it (``signing``).  ``sgaudit
rollback`` reads it back, checks the signature and that the file agrees with itself
(``backup_check``) before anything changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sgaudit.errors import UsageError
from sgaudit.fileio.files import atomic_write, parse_problem, read_input
from sgaudit.fileio.versioned import DocumentFormat, VersionError
from sgaudit.model import Rule
from sgaudit.remediate import signing
from sgaudit.remediate.backup_check import check_consistency
from sgaudit.remediate.plan import (
    BackupRecord,
    Change,
    Outcome,
    Plan,
    Recorded,
    Ref,
    Verification,
)
from sgaudit.remediate.signing import BackupError

FORMAT = DocumentFormat("sgaudit_backup", 1, "backup")
PLANNED = "planned"
PENDING = "pending"

__all__ = ["BackupError", "BackupWriter", "check_target", "default_path", "load_backup", "stamp"]


def default_path(now: datetime | None = None, folder: str | Path = ".") -> Path:
    """``sgaudit-backup-20260131T020000Z.json`` in ``folder``; never an existing file (nor
    one whose key file exists)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = Path(folder) / f"sgaudit-backup-{stamp}"
    path = base.with_suffix(".json")
    n = 1
    while path.exists() or signing.key_path(path).exists():
        path = Path(f"{base}-{n}.json")
        n += 1
    return path


def check_target(path: str | Path) -> None:
    """Refuse to overwrite a backup (it may be the only way back) before anything changes."""
    target = Path(path)
    if str(path) == "-":
        raise UsageError("--backup -: a backup is a file (it is rewritten around every change); "
                         "give a path")
    if target.exists():
        raise UsageError(f"--backup {path}: the file exists; a backup is never overwritten, "
                         "choose another path")
    if signing.key_path(target).exists():
        raise UsageError(f"--backup {path}: its key file {signing.key_path(target)} exists (the key "
                         "of another backup?); choose another path")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--backup {path}: folder {folder} does not exist")


def rule_dict(rule: Rule) -> dict[str, Any]:
    out = {"rule_id": rule.rule_id, "protocol": rule.protocol, "from_port": rule.from_port,
           "to_port": rule.to_port, "source": rule.source, "description": rule.description}
    if rule.peer_account:  # the reference's owner: a rollback must not re-create it as ours
        out["user_id"] = rule.peer_account
    if rule.peering_id:
        out["vpc_peering_connection_id"] = rule.peering_id
    return out


class BackupWriter:
    """The fix's journal: rewrites the whole file atomically after each step."""

    def __init__(self, path: str | Path, plan: Plan, meta: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self._key: bytes | None = None
        affected = [g for g in plan.groups if g.changes and not g.skipped]
        self._index = {c.seq: i for i, c in enumerate(plan.changes)}
        self.doc: dict[str, Any] = {
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
        }

    def write(self) -> None:
        """The whole file, signed; the key file is created before the first version."""
        if self._key is None:
            self._key = signing.create_key(self.path)
        signed = signing.sign(self.doc, self._key, self.path)
        atomic_write(self.path, json.dumps(signed, indent=2) + "\n", label="backup")

    def started(self, change: Change) -> None:
        self._entry(change)["result"] = PENDING
        self.write()

    def finished(self, outcome: Outcome) -> None:
        entry = self._entry(outcome.change)
        entry.update(result=outcome.result, detail=outcome.detail,
                     new_rule_ids=list(outcome.new_rule_ids))
        self.write()

    def record_outcomes(self, outcomes: list[Outcome]) -> None:
        """Outcomes of changes that never reached a call (skipped, failed re-reads)."""
        for outcome in outcomes:
            entry = self._entry(outcome.change)
            if entry["result"] == PLANNED:
                entry.update(result=outcome.result, detail=outcome.detail)
        self.write()

    def record_verification(self, checks: list[Verification]) -> None:
        self.doc["verification"] = [
            {"account": v.ref[0], "region": v.ref[1], "group_id": v.ref[2], "ok": v.ok,
             "error": v.error, "still_drifted": [f.key for f in v.remaining]}
            for v in checks]
        self.write()

    def pending(self) -> set[int]:
        """The changes whose call was started and never answered (an interrupted run)."""
        return {c["seq"] for c in self.doc["changes"] if c["result"] == PENDING}

    def _entry(self, change: Change) -> dict[str, Any]:
        entry: dict[str, Any] = self.doc["changes"][self._index[change.seq]]
        return entry


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
    for i, g in enumerate(_list(doc, "groups", text_path)):
        where = f"{text_path}: groups[{i}]"
        ref = (_str(g, "account", where), _str(g, "region", where), _str(g, "group_id", where))
        if ref in before:
            raise BackupError(f"{where}: group {ref[2]} ({ref[0]}/{ref[1]}) is listed twice")
        names[ref] = str(g.get("group_name") or "")
        before[ref] = tuple(_rule(r, f"{where}.ingress[{j}]")
                            for j, r in enumerate(_list(g, "ingress", where)))
    changes = [_recorded(c, f"{text_path}: changes[{i}]")
               for i, c in enumerate(_list(doc, "changes", text_path))]
    meta = {k: v for k, v in doc.items() if k not in ("groups", "changes", signing.SIGNATURE)}
    return BackupRecord(text_path, before, names, tuple(changes), meta)


def _recorded(c: Any, where: str) -> Recorded:
    action = _str(c, "action", where)
    if action not in ("authorize", "revoke"):
        raise BackupError(f"{where}.action: expected authorize or revoke, got {action!r}")
    seq = c.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise BackupError(f"{where}.seq: expected an integer")
    depends = c.get("depends_on") or []
    if not isinstance(depends, list) or not all(type(x) is int for x in depends):
        raise BackupError(f"{where}.depends_on: expected a list of change numbers")
    change = Change(seq, action, _str(c, "account", where), _str(c, "region", where),  # type: ignore[arg-type]
                    _str(c, "group_id", where), str(c.get("group_name") or ""),
                    _rule(c.get("rule"), f"{where}.rule"), str(c.get("reason") or ""), tuple(depends))
    ids = c.get("new_rule_ids") or []
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise BackupError(f"{where}.new_rule_ids: expected a list of rule ids")
    return Recorded(change, _str(c, "result", where), tuple(ids))


def _list(obj: Any, key: str, where: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if not isinstance(value, list):
        raise BackupError(f"{where}.{key}: expected a list")
    return value


def _str(obj: Any, key: str, where: str) -> str:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if not isinstance(value, str) or not value:
        raise BackupError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise BackupError(f"{where}: expected an object")
    for key in ("from_port", "to_port"):
        if not isinstance(raw.get(key), int) or isinstance(raw.get(key), bool):
            raise BackupError(f"{where}.{key}: expected an integer, got {raw.get(key)!r}")
    rule_id = raw.get("rule_id")
    description = raw.get("description")
    return Rule(_str(raw, "protocol", where), raw["from_port"], raw["to_port"], _str(raw, "source", where),
                rule_id if isinstance(rule_id, str) else None,
                description if isinstance(description, str) else None,
                _optional_str(raw, "user_id", where), _optional_str(raw, "vpc_peering_connection_id", where))


def _optional_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """Absent in backups written before sgaudit kept references' owners (then: not compared)."""
    if obj.get(key) is None:
        return None
    return _str(obj, key, where)


def stamp(now: str) -> dict[str, Any]:
    """The header fields of a new backup."""
    from sgaudit import __version__

    return {"created_at": now, "sgaudit_version": __version__}
