"""The counts every report, the summary line and the history agree on, computed in one place."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from operator import itemgetter

from sgaudit.model import SEVERITIES, Finding, Kind, Report, Status


@dataclass(frozen=True, slots=True)
class Summary:
    complete: bool
    groups: int
    drifted: int
    unresolved: int
    ok: int
    accepted_groups: int
    #: every finding, active or accepted
    findings: int
    active: int
    accepted: int
    waived: int
    #: baselined and not waived (a waiver is the stronger acceptance)
    baselined: int
    #: active findings per severity, worst first; every severity present
    by_severity: dict[str, int]
    #: every finding (active or accepted) per severity, worst first
    open_by_severity: dict[str, int]
    #: active findings per kind; every kind present
    by_kind: dict[str, int]
    accounts: tuple[str, ...]
    regions: tuple[str, ...]

    #: the clouds of the audited units ("aws", "gcp"), sorted
    clouds: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        """What was audited, in words: AWS security groups, GCP network tags, or both."""
        if self.clouds == ("gcp",):
            return "network tag"
        return "audited target" if len(self.clouds) > 1 else "security group"

    @property
    def verdict(self) -> str:
        """"incomplete", "drift" or "clean": an incomplete scan is never called clean."""
        if not self.complete:
            return "incomplete"
        return "drift" if self.active else "clean"


def summarize(report: Report) -> Summary:
    """The counts, in passes that run in C over a report of hundreds of thousands of findings
    (the JSON report and the summary line each ask)."""
    statuses = [r.status for r in report.results]
    findings = report.findings
    waived = sum(map(_WAIVED, findings))
    # ``Finding.active``: neither waived nor baselined (usually every finding is)
    accepted_any = waived or any(map(_BASELINED, findings))
    active = [f for f in findings if f.active] if accepted_any else findings
    accounts = {r.group.account for r in report.results} | {e.account for e in report.errors}
    regions = {r.group.region for r in report.results} | {e.region for e in report.errors}
    return Summary(
        complete=report.complete, groups=len(report.results),
        drifted=statuses.count(Status.DRIFT), unresolved=statuses.count(Status.UNRESOLVED),
        ok=statuses.count(Status.OK), accepted_groups=statuses.count(Status.ACCEPTED),
        findings=len(findings), active=len(active), accepted=len(findings) - len(active),
        waived=waived,
        baselined=len(findings) - len(active) - waived,  # not active = waived, or else baselined
        by_severity=_per(Counter(map(_SEVERITY, active)), SEVERITIES),
        open_by_severity=_per(Counter(map(_SEVERITY, findings)), SEVERITIES),
        by_kind=_per(Counter(map(_KIND, active)), tuple(Kind)),
        accounts=tuple(sorted(a for a in accounts if a)),
        regions=tuple(sorted(r for r in regions if r)),
        clouds=tuple(sorted({r.group.cloud for r in report.results})))


#: a finding's fields by position (a named tuple's are read by name one lookup at a time)
_WAIVED, _BASELINED, _SEVERITY, _KIND = (itemgetter(Finding._fields.index(name))
                                         for name in ("waived", "baselined", "severity", "kind"))


def _per(counts: Counter[str], keys: tuple[str, ...]) -> dict[str, int]:
    """Every key, in order, with its count (0 when absent): one pass over the findings, not
    one per key."""
    return {k: counts.get(k, 0) for k in keys}
