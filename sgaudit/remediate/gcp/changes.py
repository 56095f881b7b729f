"""The Google Cloud fix plan's records: one call (``GcpChange``), a network's changes and
refusals, and the plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["insert", "patch", "update", "delete"]
#: (project, network name)
NetRef = tuple[str, str]


@dataclass(frozen=True, slots=True)
class GcpChange:
    """One call: insert a rule, patch (the fields that change), update (the whole rule) or
    delete one."""

    seq: int
    action: Action
    project: str
    network: str
    tag: str
    name: str
    #: insert/update: the whole rule; patch: the fields that change; delete: None
    body: Mapping[str, Any] | None
    #: patch/update/delete: the rule's fingerprint when planned (the re-read must match)
    fingerprint: str | None
    reason: str
    depends_on: tuple[int, ...] = ()
    #: "allow" or "deny" for an insert (what it does), else the action
    kind: str = ""


@dataclass(frozen=True, slots=True)
class NetworkPlan:
    project: str
    network: str
    #: every VPC rule of the network as read when planning, by name
    seen: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    changes: tuple[GcpChange, ...] = ()
    #: one line per part of the fix that is not done, and why
    refused: tuple[str, ...] = ()
    #: why the whole network is left alone, or None
    skipped: str | None = None
    tags: tuple[str, ...] = ()
    #: per tag, the keys of the findings whose fix was refused (they stay after the fix)
    refused_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def ref(self) -> NetRef:
        return (self.project, self.network)


@dataclass(frozen=True, slots=True)
class GcpPlan:
    networks: tuple[NetworkPlan, ...]

    @property
    def changes(self) -> list[GcpChange]:
        return [c for n in self.networks for c in n.changes]

    @property
    def skipped(self) -> list[NetworkPlan]:
        return [n for n in self.networks if n.skipped]

    @property
    def refused(self) -> list[str]:
        return [line for n in self.networks for line in n.refused]
