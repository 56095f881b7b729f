"""Rule ids of drifted groups: DescribeSecurityGroupRules for the groups with extra findings only."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from sgaudit.model import GroupResult, Rule
from sgaudit.sources.awsjson import (
    read_ingress,
)

if TYPE_CHECKING:

    from sgaudit.sources.aws.source import AwsSource

from sgaudit.sources.aws.failures import AWS_FAILURES, error_of

#: a drifted group's place: account -> region -> group ids
Places = dict[str, dict[str, list[str]]]


def drifted_places(results: Sequence[GroupResult]) -> Places:
    """Where the groups with extra findings (and no rule ids yet) are."""
    places: Places = {}
    for result in results:
        if any(f.kind == "extra" and not f.rule_ids for f in result.findings):
            group = result.group
            places.setdefault(group.account, {}).setdefault(group.region, []).append(group.group_id)
    return places


def read_rule_ids(source: AwsSource,
                  results: Sequence[GroupResult]) -> tuple[tuple[GroupResult, ...], list[str]]:
    """Fill in ``rule_ids`` of extra findings: ``DescribeSecurityGroupRules`` for the groups
    with such findings only (≤ 200 ids a call, one series per account/region), so
    compliant groups cost nothing more.  A failure leaves the ids empty and is a warning:
    the verdict does not depend on them."""
    places = drifted_places(results)
    if not places:
        return tuple(results), []
    warnings: list[str] = []
    found: dict[tuple[str, str, str], tuple[Rule, ...]] = {}

    def read(account: str) -> None:  # one account's regions in turn: paced as the scan
        for region, group_ids in places[account].items():
            try:
                rules = read_ingress(source.client_for(account, region), group_ids)
            except (*AWS_FAILURES, ValueError) as exc:
                why = error_of(exc, account, region, "DescribeSecurityGroupRules").message \
                    if isinstance(exc, AWS_FAILURES) else str(exc)
                warnings.append(f"rule ids of {len(group_ids)} drifted group(s) in "
                                f"{account}/{region} could not be read: {why}")
                continue
            for gid, group_rules in rules.items():
                found[(account, region, gid)] = group_rules

    source.sessions.scan_deadline = time.monotonic() + source.timeout
    try:
        with ThreadPoolExecutor(max_workers=min(source.max_workers, len(places))) as pool:
            list(pool.map(read, list(places)))
    finally:
        source.sessions.scan_deadline = None
    return tuple(attach(r, found) for r in results), warnings


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
        replace(f, rule_ids=tuple(sorted(ids.get((f.protocol, f.from_port, f.to_port, f.source), ()))))
        if f.kind == "extra" and not f.rule_ids else f
        for f in result.findings)
    return replace(result, findings=findings)


