"""GitHub-flavoured Markdown for pull-request comments and ``$GITHUB_STEP_SUMMARY``.

Everything that came from the cloud (names, tags, descriptions, ids) or from files passes through
``md`` so that it is shown as text: it cannot end a table cell, start a code span, emphasis, a
link, an HTML tag or math, and it cannot @mention anyone.
"""

from __future__ import annotations

import re

from sgaudit.engine.summary import summarize
from sgaudit.model import Finding, Report, Severity
from sgaudit.report import view
from sgaudit.report.templating import render_template

#: a PR comment holds 65,536 characters; past this many rows a table says how many it left out
MAX_ROWS = 200

_ESCAPES = {
    "\\": "\\\\", "`": "\\`", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]", "~": "\\~",
    "|": "\\|", "#": "\\#", "$": "\\$", "&": "&amp;", "<": "&lt;", ">": "&gt;",
    # a zero-width space after @ stops GitHub from turning @name or @org/team into a mention
    "@": "@&#8203;",
}
_ESCAPE_RE = re.compile("[" + re.escape("".join(_ESCAPES)) + "]")
_ORDERED_ITEM = re.compile(r"^(\d+)([.)])")
#: what GitHub turns into a link without any markup: "https://…", "www.…" (and the schemes of its
#: extended autolinks); a zero-width space before the ":" or "." leaves them plain text
_AUTOLINK = re.compile(r"(?i)(?<![a-z0-9])(https?|ftp|mailto|xmpp|www)(?=:|\\?\.)")


def md(value: object) -> str:
    """Text as inert GitHub Markdown on one line, safe inside a table cell or list item."""
    text = _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group()], view.clean(value)).strip()
    text = _AUTOLINK.sub(r"\1&#8203;", text)
    # "- x", "+ x", "1. x" at the start of a list item would open a nested list
    if text[:1] in ("-", "+", "="):
        return "\\" + text
    return _ORDERED_ITEM.sub(r"\1\\\2", text, count=1)


def render(report: Report) -> str:
    summary = summarize(report)
    active = sorted(report.active_findings, key=_order)
    accepted = sorted((f for f in report.findings if not f.active), key=_order)
    roles = view.roles(report)
    nets = view.gcp_networks(report)
    return render_template(
        "report.md.j2", report=report, s=summary,
        active=[_row(f, roles, nets) for f in active[:MAX_ROWS]],
        active_left=max(0, len(active) - MAX_ROWS),
        accepted=[_row(f, roles, nets) for f in accepted[:MAX_ROWS]],
        accepted_left=max(0, len(accepted) - MAX_ROWS),
        open_since=any(f.first_seen for f in active),
        **view.waiver_sections(report),
        unresolved=[r for r in report.results if r.status == "unresolved"],
        expiring_days=view.EXPIRING_DAYS, md=md)


def _order(f: Finding) -> tuple[int, str, str, str, str]:
    return (Severity(f.severity).rank, f.account, f.region, f.group_id, f.key)


def _row(f: Finding, roles: dict[tuple[str, str, str], str],
         nets: dict[str, str] | None = None) -> dict[str, str]:
    network = (nets or {}).get(f.key)
    name = f" ({f.group_name})" if f.group_name and network is None else ""
    role = view.role_label(roles.get((f.account, f.region, f.group_id)))
    return {
        "severity": f.severity, "kind": f.kind, "group": md(f.group_id + name + role),
        "where": md(f"{f.account} / {f.region}" if network is None
                    else f"{f.account} / network {network} (gcp)"),
        "rule": md(view.rule_text(f.protocol, f.from_port, f.to_port, f.source)),
        "reason": md(f.reason), "why_accepted": md(view.acceptance(f)),
        "first_seen": md((f.first_seen or "")[:10]), "description": md(f.description or ""),
    }
