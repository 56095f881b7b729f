"""Applying a GCP fix (or rollback) plan: one call per change through a ``FirewallApi`` passed
in (the Google client, in production), each operation waited for until ``DONE``.

- a rule is re-read just before it is patched, updated or deleted; if its fingerprint moved
  since the plan, the change is skipped as stale (and what depends on it is not attempted);
- an insert whose name was taken meanwhile (409) is tried again under a fresh name;
- a call or operation that fails, or an operation not done by the deadline, stops the fix:
  nothing after it is attempted, and the outcomes say what was applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sgaudit.remediate.gcp import shapes
from sgaudit.remediate.gcp.changes import GcpChange, GcpPlan
from sgaudit.sources.gcp_firewalls import CallError, FirewallApi

APPLIED = "applied"
SKIPPED = "skipped"
FAILED = "failed"
#: the operation was not DONE by the deadline: it may still take effect (a rollback undoes it)
TIMED_OUT = "timed out"
#: seconds an operation may take before the fix stops
DEADLINE = 300.0
#: seconds between reads of an operation the API answered as not done
POLL = 1.0
#: fresh names tried when an insert's name is taken
RENAMES = 5


@dataclass(frozen=True, slots=True)
class GcpOutcome:
    change: GcpChange
    result: str
    detail: str = ""
    #: the name the rule has now (an insert may have been renamed)
    name: str = ""

    @property
    def ok(self) -> bool:
        return self.result == APPLIED

    @property
    def text(self) -> str:
        return f"{self.result}: {self.detail}" if self.detail else self.result


class Journal(Protocol):
    """Told before each call (with the rule's name) and after it (the backup records both)."""

    def started(self, change: GcpChange, name: str) -> None: ...

    def finished(self, outcome: GcpOutcome) -> None: ...


class _NoJournal:
    def started(self, change: GcpChange, name: str) -> None:
        pass

    def finished(self, outcome: GcpOutcome) -> None:
        pass


@dataclass
class Waiting:
    """How long operations may take, and the clock (tests pass their own)."""

    deadline: float = field(default_factory=lambda: DEADLINE)
    poll: float = field(default_factory=lambda: POLL)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def apply_plan(plan: GcpPlan, api: FirewallApi, journal: Journal | None = None,
               on_outcome: Callable[[GcpOutcome], None] | None = None,
               waiting: Waiting | None = None) -> list[GcpOutcome]:
    """Every change gets exactly one outcome, in order."""
    journal = journal or _NoJournal()
    waiting = waiting or Waiting()
    outcomes: list[GcpOutcome] = []
    results: dict[int, GcpOutcome] = {}
    stopped = ""
    for change in plan.changes:
        failed = [n for n in change.depends_on if n in results and not results[n].ok]
        if stopped:
            outcome = GcpOutcome(change, SKIPPED, f"not attempted: {stopped}")
        elif failed:
            outcome = GcpOutcome(change, SKIPPED, f"not attempted: #{failed[0]} did not succeed")
        else:
            outcome = _apply(change, api, journal, waiting)
            journal.finished(outcome)
            if outcome.result in (FAILED, TIMED_OUT):
                stopped = f"#{change.seq} {outcome.result}, so the fix stopped there"
        results[change.seq] = outcome
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return outcomes


def _apply(change: GcpChange, api: FirewallApi, journal: Journal, waiting: Waiting) -> GcpOutcome:
    if change.action == "insert":
        return _insert(change, api, journal, waiting)
    try:
        current = api.get(change.project, change.name)
    except CallError as exc:
        if exc.status == 404:
            return GcpOutcome(change, SKIPPED, f"stale: rule {change.name} is gone", change.name)
        return GcpOutcome(change, FAILED, f"cannot re-read rule {change.name}: {exc.message}", change.name)
    if shapes.fingerprint(current) != change.fingerprint:
        return GcpOutcome(change, SKIPPED, f"stale: rule {change.name} changed since the plan", change.name)
    journal.started(change, change.name)
    body = dict(change.body or {})
    try:
        if change.action == "delete":
            operation = api.delete(change.project, change.name)
        elif change.action == "patch":
            operation = api.patch(change.project, change.name, body)
        else:
            operation = api.update(change.project, change.name, body)
    except CallError as exc:
        return GcpOutcome(change, FAILED, f"{exc.code}: {exc.message}", change.name)
    return _waited(change, change.name, operation, api, waiting)


def _insert(change: GcpChange, api: FirewallApi, journal: Journal, waiting: Waiting) -> GcpOutcome:
    name = change.name
    tried = {name}
    for _ in range(RENAMES + 1):
        journal.started(change, name)
        try:
            operation = api.insert(change.project, {**(change.body or {}), "name": name})
        except CallError as exc:
            if exc.status == 409 and name.startswith("sgaudit-"):
                kind = change.kind or "rule"
                name = shapes.rule_name(kind, change.tag, f"{change.seq}|{name}|renamed", tried)
                tried.add(name)
                continue
            return GcpOutcome(change, FAILED, f"{exc.code}: {exc.message}", name)
        outcome = _waited(change, name, operation, api, waiting)
        if name != change.name and outcome.ok:
            outcome = replace(outcome, detail=f"as {name}: {change.name} was taken meanwhile")
        return outcome
    return GcpOutcome(change, FAILED, f"every name tried was taken ({', '.join(sorted(tried))})", name)


def _waited(change: GcpChange, name: str, operation: Mapping[str, Any], api: FirewallApi,
            waiting: Waiting) -> GcpOutcome:
    """Wait for the operation: APPLIED when DONE without an error."""
    end = waiting.clock() + waiting.deadline
    op_name = str(operation.get("name") or "")
    try:
        while operation.get("status") != "DONE":
            if waiting.clock() >= end or not op_name:
                return GcpOutcome(change, TIMED_OUT, f"operation {op_name or '(unnamed)'} not done after "
                                  f"{waiting.deadline:g} s; it may still take effect", name)
            operation = api.wait(change.project, op_name)
            if operation.get("status") != "DONE":
                waiting.sleep(waiting.poll)
    except CallError as exc:
        return GcpOutcome(change, FAILED, f"cannot read operation {op_name}: {exc.message}", name)
    error = operation.get("error")
    if error:
        return GcpOutcome(change, FAILED, f"operation {op_name} failed: {_errors(error)}", name)
    return GcpOutcome(change, APPLIED, "", name)


def _errors(error: Any) -> str:
    found = error.get("errors") if isinstance(error, Mapping) else None
    if not isinstance(found, list) or not found:
        return str(error)[:300]
    return "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}" if isinstance(e, Mapping) else str(e)
                     for e in found)[:300]
