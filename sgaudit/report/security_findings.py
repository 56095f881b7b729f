"""What the formats for security tools (ASFF for AWS Security Hub, OCSF for SIEMs) say of a
finding alike: which group it is on, a title and a description a reviewer understands without
sgaudit, and what ``sgaudit check --fix`` would do about it.

Nothing here changes a verdict; the texts are cleaned (they quote names from the cloud).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sgaudit.engine.finding_types import FindingType, finding_type
from sgaudit.model import Finding, Group, Kind, Report
from sgaudit.report import view

#: the prefix of every id sgaudit derives from a finding key (Security Hub's ``Id``)
ID_PREFIX = "sgaudit/v1/"


@dataclass(frozen=True, slots=True)
class Located:
    """An active finding with the group (or GCP network tag) it is on."""

    finding: Finding
    group: Group
    role: str
    #: its type (classified once: every text names it)
    type: FindingType

    @property
    def gcp(self) -> bool:
        return self.group.cloud == "gcp"


def located(report: Report) -> list[Located]:
    """The report's active findings, in the order every report lists them (worst first)."""
    out = [Located(f, r.group, r.role, finding_type(f)) for r in report.results for f in r.findings
           if f.active]
    return sorted(out, key=lambda x: view.severity_order(x.finding))


def json_lines(items: list[Any]) -> str:
    """A JSON array with one item a line: readable, diffable, and written by json's C encoder
    (the indenting one is pure Python, minutes for a big scan)."""
    if not items:
        return "[]"
    return "[\n" + ",\n".join(json.dumps(item, ensure_ascii=False) for item in items) + "\n]"


def finding_id(key: str) -> str:
    """A bounded id derived from the stable key only: the same finding gets the same id in every
    run (so an import updates it), and no cloud text can make it too long or odd."""
    return ID_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def where(x: Located) -> str:
    """"sg-1 (coiled-etl) in 123456789012/us-east-1", "tag coiled-etl in project p network n"."""
    g = x.group
    if x.gcp:
        return f"network tag {view.clean(g.group_id)} in project {view.clean(g.account)} network " \
               f"{view.clean(g.vpc_id or '')}"
    name = f" ({view.clean(g.group_name)})" if g.group_name else ""
    return f"security group {view.clean(g.group_id)}{name} in {view.clean(g.account)}/{view.clean(g.region)}"


def rule(f: Finding) -> str:
    return view.clean(view.rule_text(f.protocol, f.from_port, f.to_port, f.source))


def title(x: Located) -> str:
    """"Admin port open to the world: tcp 22 from 0.0.0.0/0"."""
    return f"{x.type.title}: {rule(x.finding)}"


def description(x: Located) -> str:
    f = x.finding
    what = ("allows ingress its cluster's options do not permit" if f.kind == Kind.EXTRA
            else "lacks ingress its cluster's options require")
    return (f"The {where(x)}{view.role_label(x.role)} {what}: {rule(f)} ({view.clean(f.reason)}). "
            f"{x.type.help}")


def remediation(x: Located) -> str:
    """What ``sgaudit check --fix`` would do (AWS), or what to change (GCP)."""
    f = x.finding
    if x.gcp:
        change = ("take this ingress away from the tag (narrow or deny the rule that grants it)"
                  if f.kind == Kind.EXTRA else "allow this ingress to the tag")
        return f"Change the firewall rules of the network to {change}: {rule(f)}; " \
               "`sgaudit explain` shows the rules that decide it."
    if f.kind == Kind.EXTRA:
        return (f"`sgaudit check --fix` revokes this rule ({rule(f)}) by its rule id and "
                "re-authorizes only the part the options permit, after a backup that "
                "`sgaudit rollback` restores.")
    return (f"`sgaudit check --fix` authorizes the required rule ({rule(f)}), after a backup "
            "that `sgaudit rollback` restores.")


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, with an ellipsis when cut (the services' field limits)."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
