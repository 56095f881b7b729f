"""SARIF 2.1.0 for code-scanning tools: one result per active finding.

Rule ids are stable per finding type (``engine.finding_types``); a result's
``partialFingerprints`` carry the finding key, which is stable across runs, so a scanning
service tracks the same drift from one run to the next. Accepted (waived or baselined)
findings are not results. An incomplete scan is an unsuccessful invocation with one error
notification per thing that could not be read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from sgaudit import __version__
from sgaudit.engine.finding_types import FINDING_TYPES, FindingType, finding_type
from sgaudit.engine.summary import summarize
from sgaudit.model import Finding, Grant, Kind, Report, ScanError
from sgaudit.report import view

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
VERSION = "2.1.0"
FINGERPRINT = "sgauditFindingKey/v1"
CLOUD_BASE = "SGAUDITCLOUD"
#: GitHub code scanning takes at most this many results a run
MAX_RESULTS = 5000

#: severity -> SARIF level
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
#: severity -> GitHub code scanning's security-severity (CVSS-like, 0.0-10.0)
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.0", "low": "3.0"}


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, ensure_ascii=False) + "\n"


def document(report: Report) -> dict[str, Any]:
    summary = summarize(report)
    findings, omitted = _capped(report.active_findings)
    lines = governing_lines(report)
    index = {t.rule_id: i for i, t in enumerate(FINDING_TYPES)}
    roles = view.roles(report)
    nets = view.gcp_networks(report)
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "sgaudit", "version": __version__, "semanticVersion": __version__,
            "rules": [_rule(t) for t in FINDING_TYPES],
        }},
        "automationDetails": {"id": "sgaudit/check/"},
        "invocations": [_invocation(report)],
        "results": [_result(f, index, report.policy_path, roles.get((f.account, f.region, f.group_id)),
                            nets.get(f.key), lines.get(f.key, 1)) for f in findings],
        "properties": {
            "complete": report.complete, "groups": summary.groups, "drifted_groups": summary.drifted,
            "accepted_findings": summary.accepted, "scanned": [view.clean(s) for s in report.scanned],
        },
    }
    if omitted:
        run["properties"]["omitted_results"] = {
            "count": len(omitted), "limit": MAX_RESULTS,
            "by_severity": {s: n for s, n in Counter(str(f.severity) for f in omitted).items()},
            "why": f"code scanning takes at most {MAX_RESULTS} results a run; the worst are given"}
    if report.policy_path:
        run["originalUriBaseIds"] = {"POLICYROOT": {"description": {
            "text": "The directory the policy file was given relative to."}}}
    elif findings:
        run["originalUriBaseIds"] = {CLOUD_BASE: {"description": {
            "text": "Not a file: the cloud resource (account/region/group) a result is about; "
                    "given because code scanning rejects results without a physical location."}}}
    return {"$schema": SCHEMA_URI, "version": VERSION, "runs": [run]}


def _capped(findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """At most MAX_RESULTS findings, the worst first chosen, in report order; and the rest."""
    ranked = sorted(findings, key=view.severity_order)
    kept, omitted = ranked[:MAX_RESULTS], ranked[MAX_RESULTS:]
    return sorted(kept, key=lambda f: (f.account, f.region, f.group_id, f.key)), omitted


def governing_lines(report: Report) -> dict[str, int]:
    """Finding key -> the line of the policy file whose options decide it: for a missing
    finding, the option that requires the rule; for an extra one, the most specific option that
    shapes the group's envelope (the last in the file: per-cluster entries follow the account's
    options). Absent: line 1 (the defaults decide)."""
    if not report.policy_path:
        return {}
    out: dict[str, int] = {}
    for r in report.results:
        envelope = _line(report.policy_path, (*r.desired.required, *r.desired.permitted), max)
        for f in r.findings:
            line = envelope
            if f.kind == Kind.MISSING:
                grants = [g for g in r.desired.required if g.protocol == f.protocol and g.source == f.source
                          and g.from_port <= f.to_port and f.from_port <= g.to_port]
                line = _line(report.policy_path, grants, min) or envelope
            if line:
                out[f.key] = line
    return out


def _line(policy_path: str, grants: Iterable[Grant],
          choose: Callable[[list[int]], int]) -> int | None:
    """One line (``choose``: min or max) of the policy file among the grants' origins
    ("policy.yaml:7"); None when no origin is in the file."""
    found = []
    for g in grants:
        for origin in g.origins:
            if origin.key == "allow":  # an exception the policy grants, not what shapes the group
                continue
            path, _, line = origin.where.rpartition(":")
            if path == policy_path and line.isascii() and line.isdigit():
                found.append(int(line))
    return choose(found) if found else None


def _rule(t: FindingType) -> dict[str, Any]:
    return {
        "id": t.rule_id, "name": t.name,
        "shortDescription": {"text": t.title},
        "fullDescription": {"text": t.help},
        "help": {"text": t.help, "markdown": t.help},
        "defaultConfiguration": {"level": LEVELS[t.default_severity]},
        "properties": {"tags": ["security", "aws", "security-group"],
                       "security-severity": SECURITY_SEVERITY[t.default_severity]},
    }


def _invocation(report: Report) -> dict[str, Any]:
    inv: dict[str, Any] = {"executionSuccessful": report.complete, "endTimeUtc": report.generated_at}
    if report.errors:
        inv["toolExecutionNotifications"] = [_notification(e) for e in report.errors]
    if report.warnings:
        inv["toolConfigurationNotifications"] = [
            {"level": "warning", "message": {"text": view.clean(w)}} for w in report.warnings]
    return inv


def _notification(e: ScanError) -> dict[str, Any]:
    code = f"{e.code}: " if e.code else ""
    return {"level": "error", "message": {
        "text": view.clean(f"{e.account}/{e.region} {e.operation}: {code}{e.message}")}}


def _result(f: Finding, index: dict[str, int], policy_path: str | None,
            role: str | None = None, network: str | None = None, line: int = 1) -> dict[str, Any]:
    """One finding; ``network`` is given for a GCP target (a network tag in that network)."""
    t = finding_type(f)
    name = f" ({view.clean(f.group_name)})" if f.group_name and network is None else ""
    name += view.role_label(role)
    rule = view.rule_text(f.protocol, f.from_port, f.to_port, f.source)
    where = f"{f.account}/{f.region}" if network is None else f"project {f.account} network {network}"
    text = (f"{f.severity} {f.kind} ingress on {view.clean(f.group_id)}{name} "
            f"in {view.clean(where)}: {view.clean(rule)}; {view.clean(f.reason)}")
    qualified = (f"{f.account}/{f.region}/{f.group_id}" if network is None
                 else f"{f.account}/{network}/{f.group_id}")
    location: dict[str, Any] = {"logicalLocations": [{
        "name": view.clean(f.group_id),
        "fullyQualifiedName": view.clean(qualified),
        "kind": "resource"}]}
    # code scanning (GitHub) rejects a result without a physical location: without a policy
    # file, the group itself is the "file" (account/region/group id, one per group)
    artifact = _artifact(policy_path) if policy_path else _cloud_artifact(f)
    location["physicalLocation"] = {"artifactLocation": artifact,
                                    "region": {"startLine": line if policy_path else 1}}
    props: dict[str, Any] = {
        "severity": f.severity, "kind": f.kind, "account": f.account, "region": f.region,
        "group_id": f.group_id, "group_name": view.clean(f.group_name), "protocol": f.protocol,
        "from_port": f.from_port, "to_port": f.to_port, "source": f.source,
        "rule_ids": list(f.rule_ids), "security-severity": SECURITY_SEVERITY[f.severity],
    }
    if network is not None:
        props.update(cloud="gcp", network=view.clean(network))
    if f.description:
        props["description"] = view.clean(f.description)
    if f.first_seen:
        props["first_seen"] = f.first_seen
    if view.role_label(role):
        props["role"] = role
    return {
        "ruleId": t.rule_id, "ruleIndex": index[t.rule_id], "level": LEVELS[f.severity],
        "kind": "fail", "message": {"text": text}, "locations": [location],
        "partialFingerprints": {FINGERPRINT: f.key}, "properties": props,
    }


def _cloud_artifact(f: Finding) -> dict[str, Any]:
    parts = [f.account, f.region, f.group_id]
    return {"uri": "/".join(quote(view.clean(p), safe="") for p in parts), "uriBaseId": CLOUD_BASE}


def _artifact(path: str) -> dict[str, Any]:
    """The policy file as a SARIF artifact location: relative paths stay relative."""
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute():
        return {"uri": posix.as_uri()}
    return {"uri": quote(str(posix)), "uriBaseId": "POLICYROOT"}
