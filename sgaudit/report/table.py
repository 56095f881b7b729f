"""The terminal report: findings grouped by security group, one tabulate table each."""

from __future__ import annotations

from tabulate import tabulate

from sgaudit.model import Report
from sgaudit.report import format_ports, format_protocol
from sgaudit.text import clean as _clean

HEADERS = ("severity", "kind", "protocol", "ports", "source", "reason")


def render(report: Report) -> str:
    out: list[str] = []
    if not report.complete:
        out.append("INCOMPLETE SCAN: these could not be read, so drift may be hidden:")
        out.extend(_clean(f"  - {e.account}/{e.region} {e.operation}: {e.code + ': ' if e.code else ''}"
                         f"{e.message}") for e in report.errors)
        out.append("")
    clean = 0
    for result in report.results:
        if not result.findings:
            clean += result.status == "ok"
            continue
        g = result.group
        name = f" ({g.group_name})" if g.group_name else ""
        role = f"  role {result.role}" if result.role != "scheduler" else ""
        if g.cloud == "gcp":  # a network tag: its project and network say where it is
            out.append(_clean(f"{g.group_id}  gcp project {g.account}  network {g.vpc_id or '-'}  "
                              f"status {result.status}{role}"))
        else:
            out.append(_clean(f"{g.group_id}{name}  account {g.account}  region {g.region}  "
                              f"vpc {g.vpc_id or '-'}  status {result.status}{role}"))
        rows = [(f.severity + _mark(f), f.kind, _clean(format_protocol(f.protocol)),
                 format_ports(f.protocol, f.from_port, f.to_port), _clean(f.source), _clean(f.reason))
                for f in result.findings]
        out.append(tabulate(rows, headers=HEADERS, tablefmt="simple", maxcolwidths=[None] * 5 + [70]))
        out.append("")
    total = len(report.results)
    out.append(f"{clean} of {total} group(s) match their desired state.")
    return "\n".join(out) + "\n"


def _mark(finding: object) -> str:
    if getattr(finding, "waived", False):
        return " (waived)"
    if getattr(finding, "baselined", False):
        return " (baselined)"
    return ""
