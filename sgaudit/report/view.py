"""What the human- and CI-facing reports (markdown, html, sarif, junit) arrange alike from a
Report: safe text, worst severities, rows of the optional parts (waivers, trend).

Nothing here changes a verdict; it only arranges what the engine decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sgaudit.model import Finding, GroupResult, Kind, Report, Severity, WaiverNotice, WaiverNotices
from sgaudit.report import format_ports, format_protocol
from sgaudit.scheduled import waivers
from sgaudit.text import clean  # the one sanitiser of every output (re-exported)

KINDS: tuple[Kind, ...] = tuple(Kind)
#: waivers that expire within this many days are called out (the waiver engine decides)
EXPIRING_DAYS = waivers.EXPIRING_DAYS


def rule_text(protocol: str, from_port: int, to_port: int, source: str) -> str:
    """"tcp 22 from 0.0.0.0/0", "all traffic from sg-…"."""
    if protocol == "-1":
        return f"all traffic from {source}"
    return f"{format_protocol(protocol)} {format_ports(protocol, from_port, to_port)} from {source}"


def roles(report: Report) -> dict[tuple[str, str, str], str]:
    """(account, region, group id) -> the group's role, for formats that list findings."""
    return {(r.group.account, r.group.region, r.group.group_id): r.role for r in report.results}


def role_label(role: str | None) -> str:
    """", role cluster" after a group's name; nothing for a scheduler's group (the default), so
    reports of policies without roles read as before."""
    return f", role {role}" if role and role != "scheduler" else ""


def gcp_networks(report: Report) -> dict[str, str]:
    """Finding key -> network name, for the findings of GCP targets: a tag is unique only within
    its network, so the per-finding formats name the network where AWS names the region."""
    return {f.key: r.group.vpc_id or "" for r in report.results if r.group.cloud == "gcp"
            for f in r.findings}


def worst(findings: Iterable[Finding]) -> Severity | None:
    return Severity.worst(f.severity for f in findings)


def severity_order(f: Finding) -> tuple[int, str]:
    """Worst first, then by key: the order every report lists findings in."""
    return (Severity(f.severity).rank, f.key)


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


def by_location(results: Sequence[GroupResult]) -> dict[tuple[str, str], list[GroupResult]]:
    """Results per (account, region), sorted, groups in report order."""
    out: dict[tuple[str, str], list[GroupResult]] = {}
    for r in results:
        out.setdefault((r.group.account, r.group.region), []).append(r)
    return dict(sorted(out.items()))


# -- optional parts: waiver notices and the trend ---------------------------------------------

def waiver_rows(notices: Sequence[WaiverNotice]) -> list[dict[str, str]]:
    """Waiver notices (group_id, protocol, ports, source, reason, expires, days_left) as text;
    the group names the waiver's place when it has one."""
    return [{
        "group_id": clean(n.waiver.group_id)
        + ("" if n.waiver.place.anywhere else clean(f" in {n.waiver.place}")) + role_label(n.role),
        "protocol": format_protocol(clean(n.waiver.protocol)),
        "ports": clean(waivers.waiver_ports(n.waiver)), "source": clean(n.waiver.source),
        "reason": clean(n.waiver.reason), "expires": clean(n.waiver.expires),
        "days_left": clean(n.days_left),
    } for n in notices]


def waiver_sections(report: Report) -> dict[str, list[dict[str, str]]]:
    """expiring / expired / stale rows; all empty when the policy has no waivers."""
    notices = report.waivers or WaiverNotices()
    return {"expiring": waiver_rows(notices.expiring), "expired": waiver_rows(notices.expired),
            "stale": waiver_rows(notices.stale)}


def trend_points(report: Report) -> list[tuple[str, int]]:
    """(scanned_at, open findings), oldest first."""
    return [(clean(t.scanned_at), t.open) for t in report.trend or ()]
