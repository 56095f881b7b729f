"""The JSON report: the contract of DESIGN.md section 5 (schema sgaudit.report/v1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from typing import Any

from sgaudit.engine.summary import summarize
from sgaudit.gcpause import collector_paused
from sgaudit.model import Finding, GroupResult, Report, ScanError, WaiverNotice
from sgaudit.report.json_lines import finding_blocks, group_line
from sgaudit.scheduled.waivers import waiver_ports

SCHEMA = "sgaudit.report/v1"


class _Rows:
    """A report list left as its records until rendered: each becomes one line of JSON, exactly
    as ``json.dumps`` of its dict would be, without building the dicts."""

    __slots__ = ("blocks", "empty")

    def __init__(self, blocks: Iterator[list[str]], empty: bool) -> None:
        self.blocks = blocks
        self.empty = empty


def render(report: Report) -> str:
    """Indented at the top, one line per group and finding: readable, diffable, and fast
    (json's C encoder only runs without ``indent``)."""
    return "".join(render_chunks(report))


#: lines of groups or findings per chunk of ``render_chunks``
CHUNK_LINES = 2048


def render_chunks(report: Report) -> Iterator[str]:
    """``render``'s text in chunks of at most ``CHUNK_LINES`` lines, so that a report of
    hundreds of thousands of findings is written as it is made, never held whole."""
    with collector_paused():
        doc = document(report, rows=True)
        parts = ["{\n"]
        items = list(doc.items())
        for i, (key, value) in enumerate(items):
            comma = "," if i < len(items) - 1 else ""
            if isinstance(value, _Rows):
                if value.empty:
                    parts.append(f"  {json.dumps(key)}: []{comma}\n")
                    continue
                parts.append(f"  {json.dumps(key)}: [\n    ")
                yield "".join(parts)
                yield from _row_chunks(value)
                parts = [f"\n  ]{comma}\n"]
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                body = ",\n    ".join(json.dumps(v) for v in value)
                parts.append(f"  {json.dumps(key)}: [\n    {body}\n  ]{comma}\n")
            else:
                parts.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}\n")
        parts.append("}\n")
        yield "".join(parts)


def _row_chunks(rows: _Rows) -> Iterator[str]:
    """The rows' lines, joined by ``,\\n    ``, a block (a chunk) at a time."""
    first = True
    for block in rows.blocks:
        if not first:
            block.insert(0, "")  # the separator before the block, without copying the chunk
        first = False
        yield ",\n    ".join(block)


def _blocks(lines: Iterator[str]) -> Iterator[list[str]]:
    """``CHUNK_LINES`` lines at a time."""
    while block := list(islice(lines, CHUNK_LINES)):
        yield block


def document(report: Report, rows: bool = False) -> dict[str, Any]:
    """The report as JSON-ready values; with ``rows``, groups and findings stay records that
    ``render`` encodes line by line."""
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
        "groups": (_Rows(_blocks(map(group_line, report.results)), not report.results) if rows
                   else [group_dict(r) for r in report.results]),
        "findings": (_Rows(finding_blocks(report.results, CHUNK_LINES), not summary.findings)
                     if rows else [finding_dict(f) for f in report.findings]),
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
    place = {k: v for k, v in (("account", w.place.account), ("region", w.place.region),
                               ("network", w.place.network)) if v is not None}
    return {**({"role": notice.role} if notice.role else {}), "group_id": w.group_id, **place,
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


def group_dict(r: GroupResult) -> dict[str, Any]:
    return {"group_id": r.group.group_id, "group_name": r.group.group_name,
            "vpc_id": r.group.vpc_id, "region": r.group.region, "account": r.group.account,
            "status": r.status, "role": r.role, "cloud": r.group.cloud}


def error_dict(e: ScanError) -> dict[str, str]:
    return {"account": e.account, "region": e.region, "operation": e.operation,
            "code": e.code, "message": e.message}
