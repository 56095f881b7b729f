"""The AWS rollback plan: a backup's record of a fix, and the changes that undo exactly what
it did. Pure: ``aws.backup`` reads the record, ``aws.apply`` applies the plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sgaudit.model import Group, Rule
from sgaudit.remediate.aws.changes import APPLIED, Change, GroupPlan, Plan, Ref, new_change
from sgaudit.remediate.aws.rules import describe_rule, signature


@dataclass(frozen=True, slots=True)
class Recorded:
    """A change as the backup file recorded it, with what became of it."""

    change: Change
    result: str  # "planned", "pending" (the call may or may not have reached AWS), or an Outcome's
    new_rule_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BackupRecord:
    """What ``--fix`` saved before its first change."""

    path: str
    #: every affected group's ingress before the fix, with ids
    before: dict[Ref, tuple[Rule, ...]]
    names: dict[Ref, str]
    changes: tuple[Recorded, ...]
    meta: dict[str, Any] = field(default_factory=dict)


def plan_rollback(record: BackupRecord, current: Mapping[Ref, Sequence[Rule] | str]) -> Plan:
    """Undo exactly what the fix did: re-authorize what it revoked, revoke (by id) what it added.

    A change whose call may have reached AWS before a crash ("pending") is undone too: a revoked
    rule is re-authorized (a duplicate is harmless); an added rule is found by what it allows
    among the rules that were not there before.
    """
    by_group: dict[Ref, list[Recorded]] = {}
    for rec in record.changes:
        by_group.setdefault(rec.change.ref, []).append(rec)
    groups: list[GroupPlan] = []
    seq = 0
    for ref, recs in by_group.items():
        undo = [r for r in recs if r.result in (APPLIED, "pending")]
        if not undo:
            continue
        account, region, gid = ref
        base = GroupPlan(account, region, gid, record.names.get(ref, ""), ())
        rules = current.get(ref)
        if rules is None or isinstance(rules, str):
            groups.append(replace(base, skipped=f"cannot read its rules: {rules or 'not read'}"))
            continue
        moved = _moved_ids(undo, tuple(rules))
        if moved:
            groups.append(replace(base, seen=tuple(rules), skipped=moved))
            continue
        changes = _undo_changes(record, ref, undo, tuple(rules), seq)
        seq += len(changes)
        groups.append(replace(base, seen=tuple(rules), changes=tuple(changes)))
    return Plan(tuple(groups))


def _moved_ids(undo: list[Recorded], rules: tuple[Rule, ...]) -> str | None:
    """Why a group is left alone: a rule id the backup says sgaudit added now allows something
    else, so revoking it would take away a rule the fix never made."""
    now = {r.rule_id: r for r in rules if r.rule_id}
    for rec in undo:
        if rec.change.action != "authorize":
            continue
        for rule_id in rec.new_rule_ids:
            current = now.get(rule_id)
            if current is not None and signature(current) != signature(rec.change.rule):
                return (f"its rule {rule_id} allows {describe_rule(current)}, not "
                        f"{describe_rule(rec.change.rule)} as the backup says sgaudit added; left alone")
    return None


def _undo_changes(record: BackupRecord, ref: Ref, undo: list[Recorded], rules: tuple[Rule, ...],
                  seq: int) -> list[Change]:
    """Re-authorizations first (access comes back before anything is taken away), then revokes."""
    account, region, gid = ref
    group = Group(gid, record.names.get(ref, ""), None, region, account)
    before_ids = {r.rule_id for r in record.before.get(ref, ())}
    changes: list[Change] = []
    for rec in undo:
        if rec.change.action == "revoke":
            changes.append(new_change(seq + len(changes) + 1, "authorize", group,
                                      rec.change.rule._replace(rule_id=None),
                                      f"rollback #{rec.change.seq}: put back {rec.change.rule.rule_id}"))
    for rec in undo:
        if rec.change.action != "authorize":
            continue
        ids = list(rec.new_rule_ids)
        if not ids:  # a crash before the ids were recorded: find the rule by what it allows
            ids = [r.rule_id for r in rules if signature(r) == signature(rec.change.rule)
                   and r.rule_id not in before_ids and r.rule_id]
        for rule_id in ids:
            changes.append(new_change(seq + len(changes) + 1, "revoke", group,
                                      rec.change.rule._replace(rule_id=rule_id),
                                      f"rollback #{rec.change.seq}: remove the rule sgaudit added"))
    return changes
