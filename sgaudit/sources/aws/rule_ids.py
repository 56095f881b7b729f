"""Rule ids of drifted groups: DescribeSecurityGroupRules for the groups with extra findings only.

A report that shows ids (json, sarif, ...) needs them after the audit; reading them then would
make the user wait for one more series of calls.  So a scan that is told which groups of a
region will want ids (``EarlyRuleIds``) reads them in the same job that read the region, while
the other regions are still being read; after the audit, only what that missed is read.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from sgaudit.model import GroupResult, Rule, Snapshot
from sgaudit.sources.aws.failures import AWS_FAILURES, error_of
from sgaudit.sources.awsjson import read_ingress

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from sgaudit.sources.aws.source import AwsSource

#: a drifted group's place: account -> region -> group ids
Places = dict[str, dict[str, list[str]]]
#: (account, region, group id) -> the group's ingress rules, with their ids
Found = dict[tuple[str, str, str], tuple[Rule, ...]]
#: one account/region's snapshot -> the ids of its groups whose rule ids will be shown (the
#: command audits the part on its own: the groups with extra findings)
WantedIds = Callable[[Snapshot], Collection[str]]
#: what a rule read can fail with besides AWS's failures: no credentials of the account
#: (ValueError), or an answer that is not AWS's (any of these)
OTHER_FAILURES = (ValueError, KeyError, TypeError, AttributeError)


def drifted_places(results: Sequence[GroupResult]) -> Places:
    """Where the groups with extra findings (and no rule ids yet) are."""
    places: Places = {}
    for result in results:
        if any(f.kind == "extra" and not f.rule_ids for f in result.findings):
            group = result.group
            places.setdefault(group.account, {}).setdefault(group.region, []).append(group.group_id)
    return places


def read_place(client: Callable[[], BaseClient], account: str, region: str,
               group_ids: Sequence[str]) -> tuple[dict[str, tuple[Rule, ...]], str | None]:
    """One account/region's ingress rules of ``group_ids``, or why they could not be read."""
    try:
        return read_ingress(client(), group_ids), None
    except AWS_FAILURES as exc:
        return {}, error_of(exc, account, region, "DescribeSecurityGroupRules").message
    except ValueError as exc:
        return {}, str(exc)
    except OTHER_FAILURES as exc:
        return {}, f"unexpected answer: {type(exc).__name__}: {exc}"


class EarlyRuleIds:
    """The rule reads a scan makes as it goes: for each account/region read, the groups
    ``wanted`` names, read by the job that read the region (same client, same deadlines).
    Thread-safe: the scan's workers add to it."""

    def __init__(self, wanted: WantedIds) -> None:
        self.wanted = wanted
        self._lock = threading.Lock()
        #: (account, region) -> the group ids read there (or tried)
        self.requested: dict[tuple[str, str], frozenset[str]] = {}
        #: (account, region) -> why its rules could not be read
        self.failed: dict[tuple[str, str], str] = {}
        self.found: Found = {}

    def read(self, client: BaseClient, account: str, region: str, part: Snapshot) -> None:
        """After ``part`` (one account/region) is read: the rules of its wanted groups."""
        group_ids = sorted(set(self.wanted(part)))
        if not group_ids:
            return
        rules, why = read_place(lambda: client, account, region, group_ids)
        with self._lock:
            self.requested[(account, region)] = frozenset(group_ids)
            if why is not None:
                self.failed[(account, region)] = why
            for gid, group_rules in rules.items():
                self.found[(account, region, gid)] = group_rules

    def missed(self, places: Places) -> Places:
        """The drifted groups that no early read covered (wanted named them not)."""
        out: Places = {}
        for account, regions in places.items():
            for region, group_ids in regions.items():
                done = self.requested.get((account, region), frozenset())
                left = [gid for gid in group_ids if gid not in done]
                if left:
                    out.setdefault(account, {})[region] = left
        return out

    def warnings(self, places: Places) -> list[str]:
        """One warning per drifted account/region whose early read failed (as a late one would)."""
        return [failure(len(group_ids), account, region, self.failed[(account, region)])
                for account, regions in places.items() for region, group_ids in regions.items()
                if (account, region) in self.failed]


def failure(count: int, account: str, region: str, why: str) -> str:
    return f"rule ids of {count} drifted group(s) in {account}/{region} could not be read: {why}"


def read_rule_ids(source: AwsSource, results: Sequence[GroupResult],
                  early: EarlyRuleIds | None = None) -> tuple[tuple[GroupResult, ...], list[str]]:
    """Fill in ``rule_ids`` of extra findings: ``DescribeSecurityGroupRules`` for the groups
    with such findings only (≤ 200 ids a call, one series per account/region), so
    compliant groups cost nothing more.  What ``early`` read during the scan is used as it is
    (a failed early read is not tried again); the rest is read now.  A failure leaves the ids
    empty and is a warning: the verdict does not depend on them."""
    places = drifted_places(results)
    if not places:
        return tuple(results), []
    found: Found = dict(early.found) if early is not None else {}
    warnings = early.warnings(places) if early is not None else []
    late = early.missed(places) if early is not None else places
    if late:
        late_found, late_warnings = _read_late(source, late)
        found.update(late_found)
        warnings.extend(late_warnings)
    return tuple(attach(r, found) for r in results), warnings


def _read_late(source: AwsSource, places: Places) -> tuple[Found, list[str]]:
    """After the audit: each account's drifted regions in turn, accounts concurrently, with a
    fresh --timeout of their own."""
    warnings: list[str] = []
    found: Found = {}

    def read(account: str) -> None:  # one account's regions in turn: paced as the scan
        for region, group_ids in places[account].items():
            rules, why = read_place(functools.partial(source.client_for, account, region),
                                    account, region, group_ids)
            if why is not None:
                warnings.append(failure(len(group_ids), account, region, why))
            for gid, group_rules in rules.items():
                found[(account, region, gid)] = group_rules

    source.sessions.scan_deadline = time.monotonic() + source.timeout
    try:
        with ThreadPoolExecutor(max_workers=min(source.max_workers, len(places))) as pool:
            list(pool.map(read, list(places)))
    finally:
        source.sessions.scan_deadline = None
    return found, warnings


def attach(result: GroupResult, found: Mapping[tuple[str, str, str], tuple[Rule, ...]]) -> GroupResult:
    """An extra finding names one actual rule (protocol, ports, one source): its ids are those
    of the rules with exactly that shape."""
    group = result.group
    rules = found.get((group.account, group.region, group.group_id))
    if not rules:
        return result
    ids: dict[tuple[str, int, int, str], list[str]] = {}
    for rule in rules:
        if rule.rule_id:
            shape = (rule.protocol, rule.from_port, rule.to_port, rule.source)
            ids.setdefault(shape, []).append(rule.rule_id)
    findings = tuple(
        f._replace(rule_ids=tuple(sorted(ids.get((f.protocol, f.from_port, f.to_port, f.source), ()))))
        if f.kind == "extra" and not f.rule_ids else f
        for f in result.findings)
    return replace(result, findings=findings)
