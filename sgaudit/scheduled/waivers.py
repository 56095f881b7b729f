"""Waivers: accepted exceptions that expire. Pure: no clock, no files; ``today`` is passed in.

A waiver covers a finding when the group is the same, the protocol matches (a waiver for
protocol -1 covers every protocol) and the finding's ports and source lie inside the waiver's:
comparison is by what they allow (port intervals, CIDR containment), never by their text.
An expired waiver covers nothing; a live waiver that covered nothing is stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from sgaudit import addresses, intervals, ports
from sgaudit.model import Finding, GroupResult, Report, Waiver, WaiverNotice, WaiverNotices

#: waivers that expire within this many days are listed in the report
EXPIRING_DAYS = 14
#: an expiry further ahead than this is warned about: exceptions should be reviewed
LONGEST_DAYS = 365


@dataclass(frozen=True, slots=True)
class WaiverCheck:
    """How each waiver fared in one scan."""

    expiring: tuple[Waiver, ...]
    expired: tuple[Waiver, ...]
    #: live waivers that covered nothing, with why ("matched no finding", "group not in this scan")
    stale: tuple[tuple[Waiver, str], ...]
    #: group id -> its role, for the groups of this scan that are not a scheduler's (the
    #: default): the notices say which waivers are for cluster-wide groups
    roles: dict[str, str] = field(default_factory=dict)


def expires_on(waiver: Waiver) -> date:
    return date.fromisoformat(waiver.expires)


def days_left(waiver: Waiver, today: date) -> int:
    """0 on the last day the waiver is valid; negative once it has expired."""
    return (expires_on(waiver) - today).days


def is_expired(waiver: Waiver, today: date) -> bool:
    return days_left(waiver, today) < 0


def covers(waiver: Waiver, finding: Finding) -> bool:
    """True when everything the finding names lies inside what the waiver accepts."""
    if waiver.group_id != finding.group_id:
        return False
    if waiver.protocol != ports.ALL:
        if waiver.protocol != finding.protocol:
            return False
        outer = ports.axis_interval(waiver.protocol, waiver.from_port, waiver.to_port)
        inner = ports.axis_interval(finding.protocol, finding.from_port, finding.to_port)
        # 1-65535 waives every port: port 0 is not a real port (as "every port" in severity)
        if not (intervals.covers((outer,), (inner,)) or ports.every_port(waiver.protocol, (outer,))):
            return False
    return source_inside(finding.source, waiver.source)


def source_inside(inner: str, outer: str) -> bool:
    """CIDR containment for addresses; other groups and prefix lists only match themselves."""
    inner_is_cidr = addresses.is_cidr_source(inner)
    if inner_is_cidr != addresses.is_cidr_source(outer):
        return False
    if not inner_is_cidr:
        return inner == outer
    try:
        return intervals.covers((addresses.cidr_interval(outer),), (addresses.cidr_interval(inner),))
    except ValueError:
        return False


def apply_waivers(report: Report, waivers: Sequence[Waiver], today: date) -> tuple[Report, WaiverCheck]:
    """Mark covered findings waived (first live waiver in file order gives the reason) and put
    the waiver notices into ``report.waivers`` (only when the policy has waivers)."""
    if not waivers:
        return report, WaiverCheck((), (), ())
    live = [w for w in waivers if not is_expired(w, today)]
    used: set[int] = set()
    results: list[GroupResult] = []
    for result in report.results:
        findings: list[Finding] = []
        for finding in result.findings:
            hits = [i for i, w in enumerate(live) if covers(w, finding)]
            used.update(hits)
            if hits:
                finding = replace(finding, waived=True, waiver_reason=live[hits[0]].reason)
            findings.append(finding)
        results.append(replace(result, findings=tuple(findings)))
    audited = {r.group.group_id for r in report.results}
    roles = {r.group.group_id: r.role for r in report.results if r.role != "scheduler"}
    check = WaiverCheck(
        expiring=tuple(w for w in live if days_left(w, today) <= EXPIRING_DAYS),
        expired=tuple(w for w in waivers if is_expired(w, today)),
        stale=tuple((w, "matched no finding" if w.group_id in audited else "group not in this scan")
                    for i, w in enumerate(live) if i not in used),
        roles=roles,
    )
    notices = WaiverNotices(
        expiring=tuple(WaiverNotice(w, days_left(w, today), role=roles.get(w.group_id))
                       for w in check.expiring),
        expired=tuple(WaiverNotice(w, days_left(w, today), role=roles.get(w.group_id))
                      for w in check.expired),
        stale=tuple(WaiverNotice(w, days_left(w, today), why, roles.get(w.group_id))
                    for w, why in check.stale),
    )
    return replace(report, results=tuple(results), waivers=notices), check


def waiver_ports(waiver: Waiver) -> str:
    if waiver.protocol == ports.ALL:
        return "all"
    axis = ports.axis_interval(waiver.protocol, waiver.from_port, waiver.to_port)
    return ports.format_axis(waiver.protocol, [axis])


def describe(waiver: Waiver, role: str | None = None) -> str:
    """One line naming a waiver: where it is written and what it accepts."""
    proto = "all protocols" if waiver.protocol == ports.ALL else waiver.protocol
    group = f"{waiver.group_id} (role {role})" if role else waiver.group_id
    return (f"{waiver.where}: waiver for {group} {proto} {waiver_ports(waiver)} "
            f"from {waiver.source}")


def notices(check: WaiverCheck, today: date) -> list[str]:
    """Lines for stderr: expired waivers first (they no longer hide anything), then stale ones."""
    role = check.roles.get
    out = [f"{describe(w, role(w.group_id))} expired on {w.expires}; it no longer covers any finding"
           for w in check.expired]
    out.extend(f"{describe(w, role(w.group_id))} is stale: {why}" for w, why in check.stale)
    out.extend(f"{describe(w, role(w.group_id))} expires on {w.expires} "
               f"({_in_days(days_left(w, today))})" for w in check.expiring)
    return out


def far_expiry_warnings(waivers: Iterable[Waiver], today: date) -> list[str]:
    """Waivers that run more than a year: exceptions that nobody will look at again."""
    return [f"{describe(w)} expires on {w.expires}, more than a year ahead; "
            f"waivers should be reviewed at least yearly"
            for w in waivers if days_left(w, today) > LONGEST_DAYS]


def _in_days(n: int) -> str:
    return "today is its last day" if n == 0 else f"in {n} day{'s' if n != 1 else ''}"
