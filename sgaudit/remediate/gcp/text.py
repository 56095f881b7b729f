"""The GCP fix and rollback conversation's text (the plan, the results, the check after) and
its ``sgaudit.fix/v1`` JSON document.  Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sgaudit.model import Report
from sgaudit.remediate.documents import SCHEMA
from sgaudit.remediate.gcp.apply import GcpOutcome
from sgaudit.remediate.gcp.changes import GcpChange, GcpPlan
from sgaudit.text import clean


def describe(change: GcpChange) -> str:
    """"insert deny sgaudit-deny-… (priority 999): tcp 22 from 0.0.0.0/0" """
    body = change.body or {}
    if change.action == "delete":
        return f"delete {change.name}"
    matches = body.get("allowed") or body.get("denied") or []
    what = ", ".join(f"{m.get('IPProtocol')}" + (f" {','.join(m['ports'])}" if m.get("ports") else "")
                     for m in matches if isinstance(m, dict))
    sources = [*(body.get("sourceRanges") or ()), *(f"tag:{t}" for t in body.get("sourceTags") or ()),
               *(f"sa:{a}" for a in body.get("sourceServiceAccounts") or ())]
    shown = ", ".join(sources[:4]) + (f" and {len(sources) - 4} more" if len(sources) > 4 else "")
    match = f"{what} from {shown}" if what else (f"sources {shown}" if sources else "")
    if change.action == "insert":
        kind = "deny" if body.get("denied") else "allow"
        return f"insert {kind} {change.name} (priority {body.get('priority')}): {match}"
    if change.action == "patch":
        return f"patch {change.name} to: {match or ', '.join(sorted(body))}"
    return f"update {change.name} (the whole rule as it was)"


def render_plan(plan: GcpPlan, title: str = "Fix plan") -> str:
    touched = sum(1 for n in plan.networks if n.changes)
    lines = [f"{title}: {len(plan.changes)} change(s) in {touched} network(s)"
             + (f"; {len(plan.skipped)} network(s) skipped" if plan.skipped else "")
             + (f"; {len(plan.refused)} part(s) refused" if plan.refused else "")]
    for net in plan.networks:
        lines.append("")
        head = clean(f"network {net.network}  project {net.project}"
                     + (f"  tags {', '.join(net.tags)}" if net.tags else ""))
        lines.append(head)
        if net.skipped:
            lines.append(f"  SKIPPED: {clean(net.skipped)}")
        for c in net.changes:
            after = f"  (after #{', #'.join(map(str, c.depends_on))})" if c.depends_on else ""
            lines.append(clean(f"  #{c.seq:<3} [{c.tag}] {describe(c)}{after}"))
            lines.append(f"        why: {clean(c.reason)}")
        lines.extend(f"  REFUSED: {clean(line)}" for line in net.refused)
    return "\n".join(lines) + "\n"


def render_outcomes(outcomes: Sequence[GcpOutcome]) -> str:
    from tabulate import tabulate

    rows = [(f"#{o.change.seq}", clean(o.change.tag), o.change.action, clean(o.name or o.change.name),
             clean(o.text)) for o in outcomes]
    return tabulate(rows, headers=("#", "tag", "action", "rule", "result"), tablefmt="simple",
                    maxcolwidths=[None, None, None, 50, 60]) + "\n"


def render_check(problems: Sequence[str], what: str) -> str:
    if not problems:
        return f"  verified: {what}\n"
    return "".join(f"  NOT VERIFIED: {clean(p)}\n" for p in problems)


@dataclass
class GcpFixRecord:
    """What a GCP fix run produced, filled in as it goes."""

    plan: GcpPlan | None = None
    status: str = "nothing_to_change"
    outcomes: list[GcpOutcome] = field(default_factory=list)
    problems: list[str] | None = None
    backup: str | None = None


def render_json(record: GcpFixRecord, report: Report, *, now: str, dry_run: bool, exit_code: int) -> str:
    """The run as one ``sgaudit.fix/v1`` document (the AWS document's keys; a change is a GCP
    rule call: ``account`` is the project, ``group_id`` the tag)."""
    plan = record.plan or GcpPlan(())
    done = {o.change.seq: o for o in record.outcomes}
    doc: dict[str, Any] = {
        "schema": SCHEMA, "generated_at": now, "cloud": "gcp", "status": record.status,
        "dry_run": dry_run, "complete": report.complete,
        "errors": [{"account": e.account, "region": e.region, "operation": e.operation,
                    "code": e.code, "message": e.message} for e in report.errors],
        "changes": [_change(c, done.get(c.seq)) for c in plan.changes],
        "skipped_groups": [{"account": n.project, "region": "global", "network": n.network,
                            "group_ids": list(n.tags), "reason": n.skipped} for n in plan.skipped],
        "refused": [{"account": n.project, "network": n.network, "reason": line}
                    for n in plan.networks for line in n.refused],
        "verification": None if record.problems is None else {"ok": not record.problems,
                                                               "problems": record.problems},
        "backup": record.backup,
        "rollback_command": f"sgaudit rollback {record.backup}" if record.backup else None,
        "exit_code": exit_code,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _change(c: GcpChange, outcome: GcpOutcome | None) -> dict[str, Any]:
    return {"seq": c.seq, "action": c.action, "kind": c.kind, "account": c.project,
            "region": "global", "network": c.network, "group_id": c.tag, "group_name": c.tag,
            "rule": {"name": c.name, "body": dict(c.body) if c.body else None,
                     "fingerprint": c.fingerprint},
            "reason": c.reason, "depends_on": list(c.depends_on),
            "result": outcome.result if outcome else "planned",
            "detail": outcome.detail if outcome else "",
            "applied_name": outcome.name if outcome else None}
