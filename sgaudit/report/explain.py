"""``sgaudit explain``: every required and permitted rule of a group, and why it exists."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from sgaudit.engine.resolve import SELF, UNKNOWN_VPC
from sgaudit.model import Grant, GroupResult
from sgaudit.report import format_ports, format_protocol
from sgaudit.text import clean


def grant_rows(result: GroupResult) -> list[dict[str, Any]]:
    """The desired rules of a group, for every report that shows them."""
    rows = []
    for kind, grants in (("required", result.desired.required), ("permitted", result.desired.permitted)):
        for g in grants:
            rows.append(grant_dict(kind, g, result.group.group_id))
    return rows


def grant_dict(kind: str, g: Grant, group_id: str) -> dict[str, Any]:
    return {
        "kind": kind, "protocol": g.protocol, "from_port": g.from_port, "to_port": g.to_port,
        "ports": format_ports(g.protocol, g.from_port, g.to_port),
        "source": (f"{group_id} (itself)" if g.source == SELF
                   else "inside the VPC (CIDR unknown)" if g.source == UNKNOWN_VPC else g.source),
        "reason": g.reason, "origins": [str(o) for o in g.origins],
    }


def render_explain(results: Sequence[GroupResult], fmt: str) -> str:
    if fmt == "json":
        doc = [{"group_id": r.group.group_id, "group_name": r.group.group_name,
                "account": r.group.account, "region": r.group.region, "vpc_id": r.group.vpc_id,
                "role": r.role, "cloud": r.group.cloud,
                "unresolved": r.desired.unresolved, "warnings": list(r.desired.warnings),
                "rules": grant_rows(r)} for r in results]
        return json.dumps(doc, indent=2) + "\n"
    out: list[str] = []
    for r in results:
        g = r.group
        role = (f"  role {r.role} (a cluster-wide group: only its own traffic)"
                if r.role == "cluster" else "")
        if g.cloud == "gcp":
            out.append(clean(f"{g.group_id}  gcp project {g.account}  network {g.vpc_id or '-'}{role}"))
        else:
            out.append(clean(f"{g.group_id} ({g.group_name})  account {g.account}  region {g.region}  "
                             f"vpc {g.vpc_id or '-'}{role}"))
        if r.desired.unresolved:
            out.append(f"  UNRESOLVED: {clean(r.desired.unresolved)}")
        for w in r.desired.warnings:
            out.append(f"  warning: {clean(w)}")
        rows = [(row["kind"], format_protocol(row["protocol"]), row["ports"], clean(row["source"]),
                 clean(row["reason"]), clean("; ".join(row["origins"])) or "-") for row in grant_rows(r)]
        if rows:
            table = tabulate(rows, headers=("rule", "protocol", "ports", "source", "why", "set by"),
                             maxcolwidths=[None, None, None, None, 50, 50])
            out.extend("  " + line for line in table.splitlines())
        out.append("")
    return "\n".join(out)
