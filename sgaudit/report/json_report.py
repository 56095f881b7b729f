"""The JSON report: the contract of DESIGN.md section 5 (schema sgaudit.report/v1)."""

from __future__ import annotations

import json
from typing import Any

from sgaudit.engine.summary import summarize
from sgaudit.model import Finding, Report, ScanError, WaiverNotice
from sgaudit.scheduled.waivers import waiver_ports

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
    summary = summarize(report)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": report.generated_at,
        "policy": report.policy_path,
        "scanned": list(report.scanned),
        "complete": report.complete,
        "errors": [error_dict(e) for e in report.errors],
        "warnings": list(report.warnings),
        "summary": {
            "groups": summary.groups,
            "drifted_groups": summary.drifted,
            "findings": summary.findings,
            "active": summary.active,
            "by_severity": summary.by_severity,
            "by_kind": summary.by_kind,
        },
        "groups": [
            {"group_id": r.group.group_id, "group_name": r.group.group_name,
             "vpc_id": r.group.vpc_id, "region": r.group.region, "account": r.group.account,
             "status": r.status, "role": r.role, "cloud": r.group.cloud}
            for r in report.results
        ],
        "findings": [finding_dict(f) for f in report.findings],
    }
    if report.accounts is not None:  # additive: only organization scans have it
        doc["accounts"] = report.accounts.as_dict()
    if report.waivers is not None:
        doc["waivers_expiring"] = [waiver_dict(n) for n in report.waivers.expiring]
        doc["waivers_expired"] = [waiver_dict(n) for n in report.waivers.expired]
        doc["waivers_stale"] = [{**waiver_dict(n), "why": n.why} for n in report.waivers.stale]
    if report.trend is not None:
        doc["trend"] = [{"scanned_at": t.scanned_at, "open": t.open, "active": t.active}
                        for t in report.trend]
    return doc


def waiver_dict(notice: WaiverNotice) -> dict[str, object]:
    w = notice.waiver
    return {**({"role": notice.role} if notice.role else {}), "group_id": w.group_id,
            "protocol": w.protocol, "ports": waiver_ports(w), "source": w.source,
            "reason": w.reason, "expires": w.expires, "days_left": notice.days_left, "where": w.where}


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
