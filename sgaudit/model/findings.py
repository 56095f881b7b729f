"""The verdicts: findings, each group's result, and the report that carries them with the
waivers it calls out, the trend and what the history resolved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple, cast

from sgaudit.model.frozen import quick_init
from sgaudit.model.groups import Group
from sgaudit.model.policy import DesiredState, Waiver
from sgaudit.model.scan import AccountSummary, ScanError
from sgaudit.model.terms import Kind, Severity, Status


class Finding(NamedTuple):
    """One extra or missing ingress.  A named tuple rather than a frozen dataclass: a report of
    a fleet that drifted a lot holds hundreds of thousands, and a tuple is made in one step
    (a slotted dataclass sets its 18 fields one by one, the largest single cost of the audit
    on such a fleet).  Change one with ``_replace``."""

    key: str
    kind: Kind
    severity: Severity
    account: str
    region: str
    group_id: str
    group_name: str
    protocol: str
    from_port: int
    to_port: int
    source: str
    rule_ids: tuple[str, ...]
    reason: str
    description: str | None = None
    waived: bool = False
    waiver_reason: str | None = None
    baselined: bool = False
    first_seen: str | None = None

    @property
    def active(self) -> bool:
        return not (self.waived or self.baselined)


#: ``Finding`` from all its fields, in order, as one tuple: made in C, where ``Finding(...)`` runs
#: a Python ``__new__`` (the differ's loop over hundreds of thousands of findings)
make_finding = cast(Callable[[tuple[object, ...]], Finding], partial(tuple.__new__, Finding))
if len(Finding._fields) != 18:  # make_finding's callers pass eighteen
    raise TypeError("Finding's fields changed: update make_finding's callers")


@dataclass(frozen=True, slots=True)
class Resolved:
    """A finding the history had open and a scan resolved (it read the finding's place
    completely and did not find it): what the history keeps of it."""

    key: str
    kind: str
    severity: str
    account: str
    region: str
    group_id: str
    first_seen: str


@quick_init
@dataclass(frozen=True, slots=True)
class AppliedRule:
    """A firewall rule (or policy rule) that applies to a GCP target, in evaluation order: what
    the reports show so a reader can follow GCP's own evaluation."""

    #: "hierarchical policy NAME", "VPC firewall rules", "network policy NAME", …
    level: str
    name: str
    priority: int
    action: str
    #: "yes", or "possibly: why" (a service account or secure tag sgaudit could not check)
    applies: str
    #: what it matches, e.g. "tcp 22 from 0.0.0.0/0"
    matches: str
    #: the keys of the findings this rule decides (an extra it grants, a missing it takes away)
    decides: tuple[str, ...] = ()


@quick_init
@dataclass(frozen=True, slots=True)
class GroupResult:
    group: Group
    desired: DesiredState
    findings: tuple[Finding, ...]
    #: GCP targets: the rules that apply, in evaluation order (empty for AWS groups)
    applied: tuple[AppliedRule, ...] = ()

    @property
    def status(self) -> Status:
        if self.desired.unresolved:
            return Status.UNRESOLVED
        if any(f.active for f in self.findings):
            return Status.DRIFT
        if self.findings:
            return Status.ACCEPTED
        return Status.OK

    @property
    def role(self) -> str:
        return self.desired.role


@dataclass(frozen=True, slots=True)
class WaiverNotice:
    """A waiver a report calls out, with the days left on the scan's date (negative: expired)
    and, for a stale waiver, why it is stale."""

    waiver: Waiver
    days_left: int
    why: str | None = None
    #: the waived group's role, when it is not a scheduler's (the default)
    role: str | None = None


@dataclass(frozen=True, slots=True)
class WaiverNotices:
    expiring: tuple[WaiverNotice, ...] = ()
    expired: tuple[WaiverNotice, ...] = ()
    stale: tuple[WaiverNotice, ...] = ()


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One recorded scan in the report's trend chart."""

    scanned_at: str
    open: int
    active: int


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a renderer needs; renderers compute nothing that changes the verdict."""

    complete: bool
    errors: tuple[ScanError, ...]
    results: tuple[GroupResult, ...]
    warnings: tuple[str, ...]
    generated_at: str
    policy_path: str | None
    scanned: tuple[str, ...]
    #: (account, region) of every AWS place the source read (see Snapshot.read)
    read: tuple[tuple[str, str], ...] = ()
    #: (project, network) of every Google Cloud network read completely (see GcpState.read)
    networks_read: tuple[tuple[str, str], ...] = ()
    #: waivers to call out (expiring, expired, stale); None when the policy has no waivers
    waivers: WaiverNotices | None = None
    #: open findings of the last scans, oldest first; None without a scan history
    trend: tuple[TrendPoint, ...] | None = None
    #: the accounts an organization-wide scan covered (see Snapshot.accounts)
    accounts: AccountSummary | None = None
    #: the findings this scan resolved, from the history; None without a history
    resolved: tuple[Resolved, ...] | None = None

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    @property
    def active_findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings if f.active]
