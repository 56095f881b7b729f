"""Waivers: accepted exceptions that expire. Pure: no clock, no files; ``today`` is passed in.

A waiver covers a finding when the group is the same and in the waiver's place (account,
region, GCP network, when it names them), the protocol matches (a waiver for protocol -1 covers
every protocol) and the finding's ports and source lie inside the waiver's: comparison is by
what they allow (port intervals, CIDR containment), never by their text; a source that is not
an address (sg-…, pl-…, a GCP tag:, sa: or policy token) covers only itself.  A waiver whose
target name stands for targets in several places of a scan, without saying which, is refused:
a network tag is a name in one network, and staging's exception must not hide prod's drift.
An expired waiver covers nothing; a live waiver that covered nothing is stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from sgaudit.errors import PolicyError
from sgaudit.model import Finding, GroupResult, Report, Waiver, WaiverNotice, WaiverNotices
from sgaudit.net import addresses, intervals, ports
from sgaudit.scheduled.scope import Scope, describe_place, place_of

#: waivers that expire within this many days are listed in the report
EXPIRING_DAYS = 14
#: an expiry further ahead than this is warned about: exceptions should be reviewed
LONGEST_DAYS = 365
#: an ambiguous waiver's refusal names this many places, then counts the rest
PLACES_NAMED = 4


@dataclass(frozen=True, slots=True)
class WaiverCheck:
    """How each waiver fared in one scan."""

    expiring: tuple[Waiver, ...]
    expired: tuple[Waiver, ...]
    #: live waivers that covered nothing, with why ("matched no finding", "group not in this scan")
    stale: tuple[tuple[Waiver, str], ...]
    #: waiver -> the role of the group it is for, when that is not a scheduler's (the
    #: default): the notices say which waivers are for cluster-wide groups
    roles: dict[Waiver, str] = field(default_factory=dict)


def expires_on(waiver: Waiver) -> date:
    return date.fromisoformat(waiver.expires)


def days_left(waiver: Waiver, today: date) -> int:
    """0 on the last day the waiver is valid; negative once it has expired."""
    return (expires_on(waiver) - today).days


def is_expired(waiver: Waiver, today: date) -> bool:
    return days_left(waiver, today) < 0


def covers(waiver: Waiver, finding: Finding, network: str = "") -> bool:
    """True when everything the finding names lies inside what the waiver accepts; ``network``
    is the finding's GCP network ("" on AWS)."""
    if waiver.group_id != finding.group_id or not _in_place(waiver, finding, network):
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


def _in_place(waiver: Waiver, finding: Finding, network: str) -> bool:
    place = waiver.place
    return ((place.account is None or place.account == finding.account)
            and (place.region is None or place.region == finding.region)
            and (place.network is None or place.network == network))


def source_inside(inner: str, outer: str) -> bool:
    """CIDR containment for addresses; other groups, prefix lists and GCP tokens (``tag:…``,
    ``sa:…``, policy sources, a target's own tag) only match themselves."""
    if inner == outer:
        return True
    if not (addresses.is_cidr_source(inner) and addresses.is_cidr_source(outer)):
        return False
    try:
        return intervals.covers((addresses.cidr_interval(outer),), (addresses.cidr_interval(inner),))
    except ValueError:  # a token that is not an sg-/pl- id: equal or not at all
        return False


def waiver_targets(waivers: Iterable[Waiver],
                   results: Iterable[GroupResult]) -> dict[Waiver, list[GroupResult]]:
    """Each waiver's targets in this scan: its group id, in its place."""
    by_name: dict[str, list[GroupResult]] = {}
    for result in results:
        by_name.setdefault(result.group.group_id, []).append(result)
    return {w: [r for r in by_name.get(w.group_id, ()) if w.place.holds(r.group)] for w in waivers}


def refuse_ambiguous(targets: Mapping[Waiver, Sequence[GroupResult]]) -> None:
    """A waiver whose target name matches this scan's targets in more than one place (a network
    tag in two projects or networks) without its place saying which is refused, exit 2: which
    one was meant cannot be told, and covering all of them could hide another team's drift."""
    for w, found in targets.items():
        places = sorted({place_of(r.group) for r in found})
        if len(places) > 1:
            raise PolicyError(_ambiguous(w, places))


def _ambiguous(waiver: Waiver, places: list[Scope]) -> str:
    named = ", ".join(describe_place(p) for p in places[:PLACES_NAMED])
    more = f" and {len(places) - PLACES_NAMED} more" if len(places) > PLACES_NAMED else ""
    keys = "account and network" if any(p[2] for p in places) else "account and region"
    return (f"{waiver.where}: waiver for {waiver.group_id} matches targets in {len(places)} places "
            f"({named}{more}); add {keys} to the waiver to say which it is for")


def apply_waivers(report: Report, waivers: Sequence[Waiver], today: date) -> tuple[Report, WaiverCheck]:
    """Mark covered findings waived (first live waiver in file order gives the reason) and put
    the waiver notices into ``report.waivers`` (only when the policy has waivers).  An
    ambiguous waiver is refused first (``refuse_ambiguous``)."""
    if not waivers:
        return report, WaiverCheck((), (), ())
    targets = waiver_targets(waivers, report.results)
    refuse_ambiguous(targets)
    live = [w for w in waivers if not is_expired(w, today)]
    used: set[int] = set()
    results: list[GroupResult] = []
    for result in report.results:
        network = place_of(result.group)[2]
        findings: list[Finding] = []
        for finding in result.findings:
            hits = [i for i, w in enumerate(live) if covers(w, finding, network)]
            used.update(hits)
            if hits:
                finding = finding._replace(waived=True, waiver_reason=live[hits[0]].reason)
            findings.append(finding)
        results.append(replace(result, findings=tuple(findings)))
    roles = {w: found[0].role for w, found in targets.items() if found and found[0].role != "scheduler"}
    check = WaiverCheck(
        expiring=tuple(w for w in live if days_left(w, today) <= EXPIRING_DAYS),
        expired=tuple(w for w in waivers if is_expired(w, today)),
        stale=tuple((w, "matched no finding" if targets[w] else "group not in this scan")
                    for i, w in enumerate(live) if i not in used),
        roles=roles,
    )
    notices = WaiverNotices(
        expiring=tuple(WaiverNotice(w, days_left(w, today), role=roles.get(w)) for w in check.expiring),
        expired=tuple(WaiverNotice(w, days_left(w, today), role=roles.get(w)) for w in check.expired),
        stale=tuple(WaiverNotice(w, days_left(w, today), why, roles.get(w)) for w, why in check.stale),
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
    group = f"{waiver.group_id} in {waiver.place}" if not waiver.place.anywhere else waiver.group_id
    group = f"{group} (role {role})" if role else group
    return (f"{waiver.where}: waiver for {group} {proto} {waiver_ports(waiver)} "
            f"from {waiver.source}")


def notices(check: WaiverCheck, today: date) -> list[str]:
    """Lines for stderr: expired waivers first (they no longer hide anything), then stale ones."""
    role = check.roles.get
    out = [f"{describe(w, role(w))} expired on {w.expires}; it no longer covers any finding"
           for w in check.expired]
    out.extend(f"{describe(w, role(w))} is stale: {why}" for w, why in check.stale)
    out.extend(f"{describe(w, role(w))} expires on {w.expires} "
               f"({_in_days(days_left(w, today))})" for w in check.expiring)
    return out


def far_expiry_warnings(waivers: Iterable[Waiver], today: date) -> list[str]:
    """Waivers that run more than a year: exceptions that nobody will look at again."""
    return [f"{describe(w)} expires on {w.expires}, more than a year ahead; "
            f"waivers should be reviewed at least yearly"
            for w in waivers if days_left(w, today) > LONGEST_DAYS]


def _in_days(n: int) -> str:
    return "today is its last day" if n == 0 else f"in {n} day{'s' if n != 1 else ''}"
