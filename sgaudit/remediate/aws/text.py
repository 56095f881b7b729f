"""The AWS fix and rollback conversation's text: the plan, the results, the verification."""

from __future__ import annotations

from collections.abc import Sequence

from sgaudit.model import Rule
from sgaudit.remediate.aws.changes import Outcome, Plan, Verification
from sgaudit.remediate.aws.rules import describe_rule as _describe_rule
from sgaudit.text import clean


def render_plan(plan: Plan, title: str = "Fix plan") -> str:
    changes = plan.changes
    touched = sum(1 for g in plan.groups if g.changes)
    lines = [f"{title}: {len(changes)} change(s) in {touched} group(s)"
             + (f"; {len(plan.skipped)} group(s) skipped" if plan.skipped else "")]
    for gp in plan.groups:
        head = clean(f"{gp.group_id}" + (f" ({gp.group_name})" if gp.group_name else "")
                     + f"  account {gp.account}  region {gp.region}")
        lines.append("")
        if gp.skipped:
            lines.append(f"{head}\n  SKIPPED: {clean(gp.skipped)}")
            continue
        lines.append(head)
        for c in gp.changes:
            after = f"  (after #{', #'.join(map(str, c.depends_on))})" if c.depends_on else ""
            described = c.action == "authorize" and c.rule.description
            label = f'  "{clean(c.rule.description)}"' if described else ""
            lines.append(f"  #{c.seq:<3} {c.action:<9} {describe_rule(c.rule, with_id=True)}{label}{after}")
            lines.append(f"        why: {clean(c.reason)}")
    return "\n".join(lines) + "\n"


def render_outcomes(outcomes: Sequence[Outcome], plan: Plan) -> str:
    from tabulate import tabulate

    rows: list[tuple[str, str, str, str, str]] = [
        (f"#{o.change.seq}", clean(o.change.group_id), o.change.action,
         describe_rule(o.change.rule, with_id=True), clean(o.text)) for o in outcomes]
    rows += [("-", clean(g.group_id), "-", "-", clean(f"skipped: {g.skipped}")) for g in plan.skipped]
    return tabulate(rows, headers=("#", "group", "action", "rule", "result"), tablefmt="simple",
                    maxcolwidths=[None, None, None, 60, 60]) + "\n"


def render_verification(checks: Sequence[Verification]) -> str:
    lines = []
    for v in checks:
        label = clean(v.ref[2] + (f" ({v.group_name})" if v.group_name else ""))
        if v.error:
            lines.append(f"  {label}: NOT VERIFIED: {clean(v.error)}")
        elif v.remaining:
            lines.append(f"  {label}: still drifted:")
            lines.extend(f"    - {f.kind} {describe_rule(Rule(f.protocol, f.from_port, f.to_port, f.source))}"
                         f": {clean(f.reason)}" for f in v.remaining)
        elif v.differences:
            lines.append(f"  {label}: differs from the backup:")
            lines.extend(f"    - {clean(d)}" for d in v.differences)
        else:
            lines.append(f"  {label}: verified")
    return "\n".join(lines) + ("\n" if lines else "")


def describe_rule(rule: Rule, with_id: bool = False) -> str:
    """The plan's rule text, cleaned: a source or rule id read from the cloud is data."""
    return clean(_describe_rule(rule, with_id=with_id))
