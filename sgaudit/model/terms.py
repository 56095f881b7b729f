"""The words records are labelled with: group roles, severities, finding kinds and verdicts."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

#: the two kinds of Coiled group: the scheduler's (opened by the firewall options) and the
#: cluster-wide one (all traffic among the cluster's machines, nothing from outside)
SCHEDULER = "scheduler"
CLUSTER = "cluster"
ROLES: tuple[str, ...] = (SCHEDULER, CLUSTER)
UNKNOWN = "unknown"


class Severity(StrEnum):
    """How bad a finding is; declared worst first, so the order is the declaration order.
    String-valued: the JSON report and the history database store the plain words."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for the worst; sorting by rank puts the worst first."""
        return _SEVERITY_RANK[self]

    @classmethod
    def worst(cls, levels: Iterable[str]) -> Severity | None:
        found = [cls(level) for level in levels]
        return min(found, key=_SEVERITY_RANK.__getitem__) if found else None


_SEVERITY_RANK: dict[str, int] = {s.value: i for i, s in enumerate(Severity)}
#: every severity, worst first
SEVERITIES: tuple[Severity, ...] = tuple(Severity)


class Kind(StrEnum):
    EXTRA = "extra"
    MISSING = "missing"


class Status(StrEnum):
    """A group's verdict in a report."""

    OK = "ok"
    DRIFT = "drift"
    ACCEPTED = "accepted"
    UNRESOLVED = "unresolved"
