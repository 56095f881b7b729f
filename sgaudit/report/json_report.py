"""The JSON report: the contract of DESIGN.md section 5 (schema sgaudit.report/v1)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring_ascii as _s
from typing import Any

from sgaudit.engine.summary import summarize
from sgaudit.gcpause import collector_paused
from sgaudit.model import Finding, GroupResult, Kind, Report, ScanError, Severity, Status, WaiverNotice
from sgaudit.scheduled.waivers import waiver_ports

SCHEMA = "sgaudit.report/v1"


class _Rows:
    """A report list left as its records until rendered: each becomes one line of JSON, exactly
    as ``json.dumps`` of its dict would be, without building the dicts."""

    __slots__ = ("items", "line")

    def __init__(self, items: Sequence[Any], line: Callable[[Any], str]) -> None:
        self.items = items
        self.line = line


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
                if not value.items:
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
    """The rows' lines, joined by ``,\\n    ``, a chunk at a time."""
    line, items = rows.line, rows.items
    for start in range(0, len(items), CHUNK_LINES):
        text = ",\n    ".join([line(item) for item in items[start:start + CHUNK_LINES]])
        yield text if start == 0 else ",\n    " + text


def document(report: Report, rows: bool = False) -> dict[str, Any]:
    """The report as JSON-ready values; with ``rows``, groups and findings stay records that
    ``render`` encodes line by line."""
    findings = report.findings
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
        "groups": (_Rows(report.results, _group_line) if rows
                   else [group_dict(r) for r in report.results]),
        "findings": _Rows(findings, _finding_line) if rows else [finding_dict(f) for f in findings],
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


def _v(value: Any) -> str:
    """One JSON value as ``json.dumps`` spells it (strings, enums of strings and ints
    directly: json.dumps encodes a str subclass as its text, by the same function)."""
    if isinstance(value, str):
        return _s(value)
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return int.__repr__(value)
    return json.dumps(value)


#: the words of the report's enums as json.dumps spells them, looked up on every finding
_ENUMS: dict[Any, str] = {m: _s(m.value) for e in (Kind, Severity, Status) for m in e}
#: a finding's last four fields when it is neither waived, nor baselined, nor seen before
_UNACCEPTED = '"waived": false, "waiver_reason": null, "baselined": false, "first_seen": null}'


def _group_line(r: GroupResult) -> str:
    """``json.dumps(group_dict(r))``, built directly."""
    g = r.group
    return (f'{{"group_id": {_s(g.group_id)}, "group_name": {_s(g.group_name)}, '
            f'"vpc_id": {_v(g.vpc_id)}, "region": {_s(g.region)}, "account": {_s(g.account)}, '
            f'"status": {_v(r.status)}, "role": {_v(r.role)}, "cloud": {_s(g.cloud)}}}')


def _finding_line(f: Finding) -> str:
    """``json.dumps(finding_dict(f))``, built directly (the hot path of a large report)."""
    return (f'{{"key": {_s(f.key)}, "account": {_s(f.account)}, "region": {_s(f.region)}, '
            f'"group_id": {_s(f.group_id)}, "group_name": {_s(f.group_name)}, '
            f'"kind": {_ENUMS.get(f.kind) or _v(f.kind)}, '
            f'"severity": {_ENUMS.get(f.severity) or _v(f.severity)}, '
            f'"protocol": {_s(f.protocol)}, "from_port": {_v(f.from_port)}, '
            f'"to_port": {_v(f.to_port)}, "source": {_s(f.source)}, '
            f'"rule_ids": {_v(list(f.rule_ids)) if f.rule_ids else "[]"}, '
            f'"description": {"null" if f.description is None else _v(f.description)}, '
            f'"reason": {_s(f.reason)}, {_accepted(f)}')


def _accepted(f: Finding) -> str:
    """The last four fields of a finding's line (the same text for most findings)."""
    if f.waived is False and f.waiver_reason is None and f.baselined is False and f.first_seen is None:
        return _UNACCEPTED
    return (f'"waived": {_v(f.waived)}, "waiver_reason": {_v(f.waiver_reason)}, '
            f'"baselined": {_v(f.baselined)}, "first_seen": {_v(f.first_seen)}}}')


def error_dict(e: ScanError) -> dict[str, str]:
    return {"account": e.account, "region": e.region, "operation": e.operation,
            "code": e.code, "message": e.message}
