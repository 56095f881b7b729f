"""What the human- and CI-facing reports (markdown, html, sarif, junit) compute alike from a
Report: counts, finding types, worst severities, and the optional notes of later features.

Nothing here changes a verdict; it only arranges what the engine decided.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sgaudit import ports
from sgaudit.engine.diff import ADMIN_PORTS
from sgaudit.model import SEVERITIES, Finding, GroupResult, Report, Severity
from sgaudit.report import format_ports, format_protocol
from sgaudit.scheduled import waivers

#: severity -> rank, worst first (for sorting: lower is worse)
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
KINDS = ("extra", "missing")
#: waivers that expire within this many days are called out (the waiver engine decides)
EXPIRING_DAYS = waivers.EXPIRING_DAYS

# Characters that can hide, reorder or break text in terminals, tables, HTML and XML: C0/C1
# controls, bidi overrides ("trojan source"), line separators, lone surrogates, non-characters.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e"
                     "\u2028\u2029\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
_NEWLINES = re.compile(r"[\r\n\t]+")


def clean(text: object) -> str:
    """Cloud text as one printable line: newlines and tabs become a space, and characters that
    could disguise text become U+FFFD, so a reviewer sees that something was there."""
    if text is None:
        return ""
    return _UNSAFE.sub("\ufffd", _NEWLINES.sub(" ", str(text)))


@dataclass(frozen=True, slots=True)
class FindingType:
    """A class of finding with an id that stays the same across versions (SARIF rule ids)."""

    rule_id: str
    name: str
    title: str
    help: str
    default_severity: Severity


FINDING_TYPES: tuple[FindingType, ...] = (
    FindingType("SGA001", "WorldOpenAdminPort", "Admin port open to the world",
                "An administrative port (22, 23, 3389, 5985-5986) is reachable from a world-scale "
                "public range. Remove the rule or narrow its source to the addresses that need it.",
                "critical"),
    FindingType("SGA002", "AllTraffic", "All traffic allowed",
                "A rule allows every protocol, or every port of tcp/udp, from a source the options "
                "do not permit. Replace it with the specific ports the cluster needs.",
                "critical"),
    FindingType("SGA003", "PublicIngress", "Extra ingress from public addresses",
                "A rule lets public addresses reach ports the cluster's options do not open to them. "
                "Remove the rule or narrow it to the desired state (see `sgaudit explain`).",
                "high"),
    FindingType("SGA004", "ExtraIngress", "Extra ingress",
                "A rule allows ingress from private ranges, other security groups or prefix lists "
                "beyond the permitted envelope. Remove it or add it to the policy's `allow` list.",
                "medium"),
    FindingType("SGA005", "MissingRequiredIngress", "Missing required ingress",
                "A rule the cluster's options require is absent or only partly present, so the "
                "cluster may not be reachable as configured. Add the rule or change the options.",
                "medium"),
)
TYPES_BY_ID: dict[str, FindingType] = {t.rule_id: t for t in FINDING_TYPES}


def finding_type(f: Finding) -> FindingType:
    """Classify a finding by what its rule is; the severity only separates public from private."""
    if f.kind == "missing":
        return TYPES_BY_ID["SGA005"]
    if f.protocol == "-1" or ports.every_port(
            f.protocol, (ports.axis_interval(f.protocol, f.from_port, f.to_port),)):
        return TYPES_BY_ID["SGA002"]
    axis = (ports.axis_interval(f.protocol, f.from_port, f.to_port),)
    if f.severity == "critical" and f.protocol == "tcp" and ports.intersect(axis, ADMIN_PORTS):
        return TYPES_BY_ID["SGA001"]
    if f.severity in ("critical", "high"):
        return TYPES_BY_ID["SGA003"]
    return TYPES_BY_ID["SGA004"]


def rule_text(protocol: str, from_port: int, to_port: int, source: str) -> str:
    """"tcp 22 from 0.0.0.0/0", "all traffic from sg-…"."""
    if protocol == "-1":
        return f"all traffic from {source}"
    return f"{format_protocol(protocol)} {format_ports(protocol, from_port, to_port)} from {source}"


def gcp_networks(report: Report) -> dict[str, str]:
    """Finding key -> network name, for the findings of GCP targets: a tag is unique only within
    its network, so the per-finding formats name the network where AWS names the region."""
    return {f.key: r.group.vpc_id or "" for r in report.results if r.group.cloud == "gcp"
            for f in r.findings}


def worst(findings: Iterable[Finding]) -> Severity | None:
    found = [f.severity for f in findings]
    return min(found, key=SEVERITY_RANK.__getitem__) if found else None


def active(result: GroupResult) -> list[Finding]:
    return [f for f in result.findings if f.active]


def accepted(result: GroupResult) -> list[Finding]:
    return [f for f in result.findings if not f.active]


def acceptance(f: Finding) -> str:
    """Why an accepted finding is accepted, in a few words."""
    if f.waived:
        return "waived" + (f": {clean(f.waiver_reason)}" if f.waiver_reason else "")
    if f.baselined:
        return "baselined"
    return ""


@dataclass(frozen=True, slots=True)
class Summary:
    complete: bool
    groups: int
    drifted: int
    unresolved: int
    ok: int
    accepted_groups: int
    active: int
    accepted: int
    by_severity: dict[str, int]
    by_kind: dict[str, int]
    accounts: tuple[str, ...]
    regions: tuple[str, ...]

    @property
    def verdict(self) -> str:
        """"incomplete", "drift" or "clean": an incomplete scan is never called clean."""
        if not self.complete:
            return "incomplete"
        return "drift" if self.active else "clean"


def summarize(report: Report) -> Summary:
    statuses = [r.status for r in report.results]
    act = report.active_findings
    accounts = {r.group.account for r in report.results} | {e.account for e in report.errors}
    regions = {r.group.region for r in report.results} | {e.region for e in report.errors}
    return Summary(
        complete=report.complete, groups=len(report.results), drifted=statuses.count("drift"),
        unresolved=statuses.count("unresolved"), ok=statuses.count("ok"),
        accepted_groups=statuses.count("accepted"), active=len(act),
        accepted=len(report.findings) - len(act),
        by_severity={s: sum(1 for f in act if f.severity == s) for s in SEVERITIES},
        by_kind={k: sum(1 for f in act if f.kind == k) for k in KINDS},
        accounts=tuple(sorted(a for a in accounts if a)),
        regions=tuple(sorted(r for r in regions if r)))


def by_location(results: Sequence[GroupResult]) -> dict[tuple[str, str], list[GroupResult]]:
    """Results per (account, region), sorted, groups in report order."""
    out: dict[tuple[str, str], list[GroupResult]] = {}
    for r in results:
        out.setdefault((r.group.account, r.group.region), []).append(r)
    return dict(sorted(out.items()))


# -- optional notes of later features (waivers, history) ------------------------------------

def note_rows(report: Report, key: str) -> list[dict[str, Any]]:
    """A list-of-dicts note, or [] when absent or not of that shape (notes are optional)."""
    value = report.notes.get(key)
    if not isinstance(value, list | tuple):
        return []
    return [dict(v) for v in value if isinstance(v, Mapping)]


def waiver_rows(report: Report, key: str) -> list[dict[str, str]]:
    """Waiver notices (group_id, protocol, ports, source, reason, expires, days_left) as text."""
    rows = []
    for w in note_rows(report, key):
        days = w.get("days_left")
        if key == "waivers_expiring" and isinstance(days, int) and days > EXPIRING_DAYS:
            continue
        ports = w.get("ports")
        if isinstance(ports, list | tuple):
            ports = ", ".join(str(p) for p in ports)
        rows.append({
            "group_id": clean(w.get("group_id")), "protocol": format_protocol(clean(w.get("protocol"))),
            "ports": clean(ports), "source": clean(w.get("source")), "reason": clean(w.get("reason")),
            "expires": clean(w.get("expires")), "days_left": "" if days is None else clean(days),
        })
    return rows


def trend_points(report: Report) -> list[tuple[str, int]]:
    """(scanned_at, open findings), oldest first; entries of another shape are skipped."""
    points = []
    for row in note_rows(report, "trend"):
        scanned_at, count = row.get("scanned_at"), row.get("open")
        if isinstance(count, int) and not isinstance(count, bool) and scanned_at is not None:
            points.append((clean(scanned_at), count))
    return points
