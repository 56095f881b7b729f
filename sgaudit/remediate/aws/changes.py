"""The AWS fix plan's records: one API call (``Change``), a group's changes, the plan, what
became of each change and of each group re-read after it, and the exit code they make."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_OK
from sgaudit.model import Finding, Group, Rule

Action = Literal["authorize", "revoke"]
#: (account, region, group id): one security group, wherever it lives
Ref = tuple[str, str, str]
#: (account, region) -> an EC2 client for them
ClientFor = Callable[[str, str], Any]

RESTORED_DESCRIPTION = "restored by sgaudit (required ingress)"
APPLIED = "applied"
ALREADY_DONE = "already done"
SKIPPED = "skipped"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Change:
    """One API call: authorize one rule, or revoke one rule by its id."""

    seq: int
    action: Action
    account: str
    region: str
    group_id: str
    group_name: str
    #: revoke: the actual rule, with its id; authorize: the rule to add, with its description
    rule: Rule
    reason: str
    #: changes (by seq) that must have succeeded first, or this one is not attempted
    depends_on: tuple[int, ...] = ()

    @property
    def ref(self) -> Ref:
        return (self.account, self.region, self.group_id)


@dataclass(frozen=True, slots=True)
class GroupPlan:
    account: str
    region: str
    group_id: str
    group_name: str
    #: the group's ingress as read when planning: the re-read before applying must match it
    seen: tuple[Rule, ...]
    changes: tuple[Change, ...] = ()
    #: why the group is left alone (changed since the scan, unreadable), or None
    skipped: str | None = None

    @property
    def ref(self) -> Ref:
        return (self.account, self.region, self.group_id)


@dataclass(frozen=True, slots=True)
class Plan:
    groups: tuple[GroupPlan, ...]

    @property
    def changes(self) -> list[Change]:
        return [c for g in self.groups for c in g.changes]

    @property
    def skipped(self) -> list[GroupPlan]:
        return [g for g in self.groups if g.skipped]


@dataclass(frozen=True, slots=True)
class Outcome:
    change: Change
    result: str  # APPLIED, ALREADY_DONE, SKIPPED or FAILED
    detail: str = ""
    #: the ids AWS gave the rules an authorize created (rollback revokes exactly these)
    new_rule_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result in (APPLIED, ALREADY_DONE)

    @property
    def text(self) -> str:
        return f"{self.result}: {self.detail}" if self.detail else self.result


@dataclass(frozen=True, slots=True)
class Verification:
    """A changed group re-read after the fix: what is still drifted, or why it could not be read."""

    ref: Ref
    group_name: str
    remaining: tuple[Finding, ...] = ()
    error: str | None = None
    #: rollback: how the group now differs from the backup ("missing …", "unexpected …")
    differences: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None and not self.remaining and not self.differences


def new_change(seq: int, action: Action, group: Group, rule: Rule, reason: str,
               depends_on: tuple[int, ...] = ()) -> Change:
    """A change of ``group``, numbered ``seq``."""
    return Change(seq, action, group.account, group.region, group.group_id, group.group_name,
                  rule, reason, depends_on)


def fix_exit_code(plan: Plan, outcomes: Sequence[Outcome], checks: Sequence[Verification],
                  complete: bool, allow_partial: bool = False) -> int:
    """0 only when every planned change was applied (or already done) and verified."""
    if not complete and not allow_partial:
        return EXIT_INCOMPLETE
    everything = (not plan.skipped and len(outcomes) == len(plan.changes)
                  and all(o.ok for o in outcomes) and all(c.ok for c in checks))
    return EXIT_OK if everything else EXIT_DRIFT
