"""The counts every report, the summary line and the history agree on, computed in one place."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sgaudit.model import SEVERITIES, Kind, Report, Status


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
    statuses = [r.status for r in report.results]
    findings = report.findings
    active = [f for f in findings if f.active]
    accounts = {r.group.account for r in report.results} | {e.account for e in report.errors}
    regions = {r.group.region for r in report.results} | {e.region for e in report.errors}
    return Summary(
        complete=report.complete, groups=len(report.results),
        drifted=statuses.count(Status.DRIFT), unresolved=statuses.count(Status.UNRESOLVED),
        ok=statuses.count(Status.OK), accepted_groups=statuses.count(Status.ACCEPTED),
        findings=len(findings), active=len(active), accepted=len(findings) - len(active),
        waived=sum(1 for f in findings if f.waived),
        baselined=sum(1 for f in findings if f.baselined and not f.waived),
        by_severity=_per(Counter(f.severity for f in active), SEVERITIES),
        open_by_severity=_per(Counter(f.severity for f in findings), SEVERITIES),
        by_kind=_per(Counter(f.kind for f in active), tuple(Kind)),
        accounts=tuple(sorted(a for a in accounts if a)),
        regions=tuple(sorted(r for r in regions if r)),
        clouds=tuple(sorted({r.group.cloud for r in report.results})))


def _per(counts: Counter[str], keys: tuple[str, ...]) -> dict[str, int]:
    """Every key, in order, with its count (0 when absent): one pass over the findings, not
    one per key."""
    return {k: counts.get(k, 0) for k in keys}
