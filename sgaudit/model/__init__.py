"""The values that flow through sgaudit: plain frozen records, no behaviour beyond naming.

One module per kind of record, from the bottom up: ``frozen`` (fast construction), ``terms``
(roles, severities, kinds, verdicts), ``groups`` and ``gcp`` (what a cloud holds), ``scan`` (what
a source read), ``policy`` (what the policy asks) and ``findings`` (the verdicts and the report).
Callers import from here.
"""

from __future__ import annotations

from sgaudit.model.findings import (
    AppliedRule,
    Finding,
    GroupResult,
    Report,
    Resolved,
    TrendPoint,
    WaiverNotice,
    WaiverNotices,
    make_finding,
)
from sgaudit.model.frozen import quick_init
from sgaudit.model.gcp import (
    PUBLIC_SOURCE_KINDS,
    FirewallMatch,
    FirewallPolicy,
    FirewallRule,
    GcpInstance,
    GcpNetwork,
    GcpState,
)
from sgaudit.model.groups import Group, Rule, Vpc, make_rule
from sgaudit.model.policy import (
    ANYWHERE,
    NOTIFY_ON,
    ClusterOverride,
    DesiredState,
    Grant,
    Matcher,
    NotifyConfig,
    Options,
    Origin,
    Place,
    Policy,
    RoleSelector,
    Waiver,
)
from sgaudit.model.scan import AccountSummary, ScanError, Snapshot
from sgaudit.model.terms import CLUSTER, ROLES, SCHEDULER, SEVERITIES, UNKNOWN, Kind, Severity, Status

__all__ = [
    "ANYWHERE",
    "CLUSTER",
    "NOTIFY_ON",
    "PUBLIC_SOURCE_KINDS",
    "ROLES",
    "SCHEDULER",
    "SEVERITIES",
    "UNKNOWN",
    "AccountSummary",
    "AppliedRule",
    "ClusterOverride",
    "DesiredState",
    "Finding",
    "FirewallMatch",
    "FirewallPolicy",
    "FirewallRule",
    "GcpInstance",
    "GcpNetwork",
    "GcpState",
    "Grant",
    "Group",
    "GroupResult",
    "Kind",
    "Matcher",
    "NotifyConfig",
    "Options",
    "Origin",
    "Place",
    "Policy",
    "Report",
    "Resolved",
    "RoleSelector",
    "Rule",
    "ScanError",
    "Severity",
    "Snapshot",
    "Status",
    "TrendPoint",
    "Vpc",
    "Waiver",
    "WaiverNotice",
    "WaiverNotices",
    "make_finding",
    "make_rule",
    "quick_init",
]
