"""The GCP rollback plan from a checked backup, and the check after it: every rule put back as
the backup holds it, every rule sgaudit inserted (and nobody changed since) deleted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sgaudit.remediate.gcp import shapes
from sgaudit.remediate.gcp.backup import UNDONE, GcpBackup, GcpRecorded
from sgaudit.remediate.gcp.changes import GcpChange, GcpPlan, NetworkPlan


def plan_rollback(backup: GcpBackup,
                  current: Mapping[str, Sequence[Mapping[str, Any]] | str]) -> GcpPlan:
    """Restore (update) or recreate (insert) every rule the fix patched or deleted, then delete
    the rules it inserted that are still as inserted, last first.  ``current``: each project's rules now."""
    restore: list[GcpChange] = []
    remove: list[GcpChange] = []
    skipped: dict[tuple[str, str], str] = {}
    notes: dict[tuple[str, str], list[str]] = {}
    for rec in backup.changes:
        c = rec.change
        now = current.get(c.project)
        if rec.result not in UNDONE:
            continue
        if now is None or isinstance(now, str):
            skipped[(c.project, c.network)] = f"cannot read its firewall rules: {now or 'not read'}"
            continue
        by_name = {str(r.get("name")): r for r in now}
        if c.action == "insert":
            change = _undo_insert(rec, by_name, notes.setdefault((c.project, c.network), []))
            if change is not None:
                remove.append(change)
        else:
            restore.append(_undo_change(rec, backup.rules[(c.project, c.name)][1], by_name))
    # inserts go in reverse: a deny before the allow inserted above it (the permitted part of
    # an "all protocols" rule is never denied on the way back)
    ordered = [*_dedup(restore), *reversed(remove)]
    numbered = [GcpChange(i + 1, c.action, c.project, c.network, c.tag, c.name, c.body, c.fingerprint,
                          c.reason, (), c.kind) for i, c in enumerate(ordered)]
    nets = sorted({(c.project, c.network) for c in numbered} | set(skipped) | set(notes))
    return GcpPlan(tuple(
        NetworkPlan(p, n, changes=tuple(c for c in numbered if (c.project, c.network) == (p, n)),
                    refused=tuple(notes.get((p, n), ())), skipped=skipped.get((p, n)))
        for p, n in nets))


def _undo_insert(rec: GcpRecorded, by_name: Mapping[str, Mapping[str, Any]],
                 notes: list[str]) -> GcpChange | None:
    c = rec.change
    name = rec.applied_name or c.name
    found = by_name.get(name)
    if found is None:
        return None  # never made, or already gone
    expected = {**(c.body or {}), "name": name}
    if any(found.get(k) != v for k, v in expected.items()):  # GCP adds defaults (logConfig …)
        notes.append(f"{name}: changed since sgaudit inserted it; left in place (delete it by hand "
                     "if it should go)")
        return None
    return GcpChange(0, "delete", c.project, c.network, c.tag, name, None, shapes.fingerprint(found),
                     f"rollback #{c.seq}: remove the rule sgaudit inserted", kind="delete")


def _undo_change(rec: GcpRecorded, before: dict[str, Any],
                 by_name: Mapping[str, Mapping[str, Any]]) -> GcpChange:
    c = rec.change
    found = by_name.get(c.name)
    if found is None:
        return GcpChange(0, "insert", c.project, c.network, c.tag, c.name, shapes.comparable(before),
                         None, f"rollback #{c.seq}: recreate {c.name} as it was", kind="recreate")
    return GcpChange(0, "update", c.project, c.network, c.tag, c.name, dict(before),
                     shapes.fingerprint(found), f"rollback #{c.seq}: put {c.name} back as it was",
                     kind="update")


def _dedup(changes: list[GcpChange]) -> list[GcpChange]:
    """One restore per rule (a rule patched twice is put back once, as it first was)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for c in changes:
        if (c.project, c.name) not in seen:
            seen.add((c.project, c.name))
            out.append(c)
    return out


def rollback_problems(backup: GcpBackup, plan: GcpPlan,
                      current: Mapping[str, Sequence[Mapping[str, Any]] | str]) -> list[str]:
    """After a rollback: each rule restored must equal the backup (but for the id and creation
    time GCP gives a recreated rule), each rule removed must be gone."""
    out = []
    for c in plan.changes:
        now = current.get(c.project)
        if now is None or isinstance(now, str):
            out.append(f"{c.name}: cannot re-read project {c.project}: {now or 'not read'}")
            continue
        found = next((r for r in now if r.get("name") == c.name), None)
        if c.action == "delete":
            if found is not None:
                out.append(f"{c.name}: still there")
            continue
        before = backup.rules[(c.project, c.name)][1]
        if found is None:
            out.append(f"{c.name}: missing")
        elif shapes.comparable(found) != shapes.comparable(before):
            out.append(f"{c.name}: differs from the backup")
    return out
