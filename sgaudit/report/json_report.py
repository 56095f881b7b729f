"""The JSON report: the contract of DESIGN.md section 5 (schema sgaudit.report/v1)."""

from __future__ import annotations

import json
from typing import Any

from sgaudit.model import SEVERITIES, Finding, Report, ScanError

SCHEMA = "sgaudit.report/v1"


def render(report: Report) -> str:
    """Indented at the top, one line per group and finding: readable, diffable, and fast
    (json's C encoder only runs without ``indent``)."""
    doc = document(report)
    lines = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            body = ",\n    ".join(json.dumps(v) for v in value)
            lines.append(f"  {json.dumps(key)}: [\n    {body}\n  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def document(report: Report) -> dict[str, Any]:
    findings = report.findings
    active = [f for f in findings if f.active]
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": report.generated_at,
        "policy": report.policy_path,
        "scanned": list(report.scanned),
        "complete": report.complete,
        "errors": [error_dict(e) for e in report.errors],
        "warnings": list(report.warnings),
        "summary": {
            "groups": len(report.results),
            "drifted_groups": sum(1 for r in report.results if r.status == "drift"),
            "findings": len(findings),
            "active": len(active),
            "by_severity": {s: sum(1 for f in active if f.severity == s) for s in SEVERITIES},
            "by_kind": {k: sum(1 for f in active if f.kind == k) for k in ("extra", "missing")},
        },
        "groups": [
            {"group_id": r.group.group_id, "group_name": r.group.group_name,
             "vpc_id": r.group.vpc_id, "region": r.group.region, "account": r.group.account,
             "status": r.status}
            for r in report.results
        ],
        "findings": [finding_dict(f) for f in findings],
    }
    if report.accounts is not None:  # additive: only organization scans have it
        doc["accounts"] = report.accounts.as_dict()
    doc.update({k: v for k, v in report.notes.items() if k not in doc})
    return doc


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "key": f.key, "account": f.account, "region": f.region, "group_id": f.group_id,
        "group_name": f.group_name, "kind": f.kind, "severity": f.severity,
        "protocol": f.protocol, "from_port": f.from_port, "to_port": f.to_port,
        "source": f.source, "rule_ids": list(f.rule_ids), "description": f.description,
        "reason": f.reason, "waived": f.waived, "waiver_reason": f.waiver_reason,
        "baselined": f.baselined, "first_seen": f.first_seen,
    }


def error_dict(e: ScanError) -> dict[str, str]:
    return {"account": e.account, "region": e.region, "operation": e.operation,
            "code": e.code, "message": e.message}
