"""``check --fix --format json`` on AWS: the plan and what became of it as one versioned
document, so a change-approval step can read exactly what will be (or was) changed. Pure: no I/O."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sgaudit.model import Report
from sgaudit.remediate.aws.backup import rule_dict
from sgaudit.remediate.aws.changes import Outcome, Plan, Verification
from sgaudit.remediate.documents import PLANNED, SCHEMA

#: what the run did: nothing to change, only planned (--dry-run), declined by the operator, or
#: applied (each change's own result says how it went)
STATUSES = ("nothing_to_change", "dry_run", "declined", "applied")


@dataclass
class FixRecord:
    """What a fix run produced, filled in as it goes."""

    plan: Plan | None = None
    status: str = "nothing_to_change"
    outcomes: list[Outcome] = field(default_factory=list)
    checks: list[Verification] = field(default_factory=list)
    backup: str | None = None


def render(record: FixRecord, report: Report, *, now: str, dry_run: bool, exit_code: int) -> str:
    plan = record.plan or Plan(())
    done = {o.change.seq: o for o in record.outcomes}
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": now,
        "status": record.status,
        "dry_run": dry_run,
        "complete": report.complete,
        "errors": [{"account": e.account, "region": e.region, "operation": e.operation,
                    "code": e.code, "message": e.message} for e in report.errors],
        "changes": [_change(c, done.get(c.seq)) for c in plan.changes],
        "skipped_groups": [{"account": g.account, "region": g.region, "group_id": g.group_id,
                            "group_name": g.group_name, "reason": g.skipped} for g in plan.skipped],
        "verification": _verification(record.checks),
        "backup": record.backup,
        "rollback_command": f"sgaudit rollback {record.backup}" if record.backup else None,
        "exit_code": exit_code,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _change(change: Any, outcome: Outcome | None) -> dict[str, Any]:
    return {"seq": change.seq, "action": change.action, "account": change.account,
            "region": change.region, "group_id": change.group_id, "group_name": change.group_name,
            "rule": rule_dict(change.rule), "reason": change.reason,
            "depends_on": list(change.depends_on),
            "result": outcome.result if outcome else PLANNED,
            "detail": outcome.detail if outcome else "",
            "new_rule_ids": list(outcome.new_rule_ids) if outcome else []}


def _verification(checks: Sequence[Verification]) -> list[dict[str, Any]]:
    return [{"account": v.ref[0], "region": v.ref[1], "group_id": v.ref[2],
             "group_name": v.group_name, "ok": v.ok, "error": v.error,
             "still_drifted": [f.key for f in v.remaining], "differences": list(v.differences)}
            for v in checks]
