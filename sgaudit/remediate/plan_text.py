"""The fix and rollback conversation's text: the plan, the results, the verification."""

from __future__ import annotations

from collections.abc import Sequence

from sgaudit.model import Rule
from sgaudit.remediate.plan import Outcome, Plan, Verification, describe_rule


def render_plan(plan: Plan, title: str = "Fix plan") -> str:
    changes = plan.changes
    touched = sum(1 for g in plan.groups if g.changes)
    lines = [f"{title}: {len(changes)} change(s) in {touched} group(s)"
             + (f"; {len(plan.skipped)} group(s) skipped" if plan.skipped else "")]
    for gp in plan.groups:
        head = f"{gp.group_id}" + (f" ({gp.group_name})" if gp.group_name else "") + \
            f"  account {gp.account}  region {gp.region}"
        lines.append("")
        if gp.skipped:
            lines.append(f"{head}\n  SKIPPED: {gp.skipped}")
            continue
        lines.append(head)
        for c in gp.changes:
            after = f"  (after #{', #'.join(map(str, c.depends_on))})" if c.depends_on else ""
            label = f'  "{c.rule.description}"' if c.action == "authorize" and c.rule.description else ""
            lines.append(f"  #{c.seq:<3} {c.action:<9} {describe_rule(c.rule, with_id=True)}{label}{after}")
            lines.append(f"        why: {c.reason}")
    return "\n".join(lines) + "\n"


def render_outcomes(outcomes: Sequence[Outcome], plan: Plan) -> str:
    from tabulate import tabulate

    rows: list[tuple[str, str, str, str, str]] = [(f"#{o.change.seq}", o.change.group_id, o.change.action,
             describe_rule(o.change.rule, with_id=True), o.text) for o in outcomes]
    rows += [("-", g.group_id, "-", "-", f"skipped: {g.skipped}") for g in plan.skipped]
    return tabulate(rows, headers=("#", "group", "action", "rule", "result"), tablefmt="simple",
                    maxcolwidths=[None, None, None, 60, 60]) + "\n"


def render_verification(checks: Sequence[Verification]) -> str:
    lines = []
    for v in checks:
        label = v.ref[2] + (f" ({v.group_name})" if v.group_name else "")
        if v.error:
            lines.append(f"  {label}: NOT VERIFIED: {v.error}")
        elif v.remaining:
            lines.append(f"  {label}: still drifted:")
            lines.extend(f"    - {f.kind} {describe_rule(Rule(f.protocol, f.from_port, f.to_port, f.source))}"
                         f": {f.reason}" for f in v.remaining)
        elif v.differences:
            lines.append(f"  {label}: differs from the backup:")
            lines.extend(f"    - {d}" for d in v.differences)
        else:
            lines.append(f"  {label}: verified")
    return "\n".join(lines) + ("\n" if lines else "")
