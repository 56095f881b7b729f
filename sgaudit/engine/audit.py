"""The engine: policy x snapshot -> report. Pure: no boto3, no click, no files."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sgaudit.engine.diff import Differ
from sgaudit.engine.resolve import effective_options, resolve
from sgaudit.gcpause import pausing_collector
from sgaudit.model import (
    DesiredState,
    GroupResult,
    Matcher,
    Policy,
    Report,
    ScanError,
    Snapshot,
    Vpc,
)


@pausing_collector
def audit(policy: Policy, snapshot: Snapshot, generated_at: str) -> Report:
    differ = Differ(snapshot.prefix_lists)
    find_vpc = vpc_finder(snapshot.vpcs)
    states: dict[tuple[object, ...], DesiredState] = {}
    results: list[GroupResult] = []
    errors = list(snapshot.errors)
    warnings: dict[str, None] = dict.fromkeys(policy.warnings)
    for group in snapshot.groups:
        if not policy.select.matches(group):
            continue
        vpc = find_vpc(group.region, group.vpc_id)
        options, matched = effective_options(policy, group)
        state_key = (matched, vpc)
        desired = states.get(state_key)
        if desired is None:
            desired = states[state_key] = resolve(options, vpc, policy.allow)
            warnings.update(dict.fromkeys(desired.warnings))
        if desired.unresolved:
            errors.append(ScanError(group.account, group.region, "resolve",
                                    f"{group.group_id}: {desired.unresolved}", "Unresolved"))
        results.append(GroupResult(group, desired, differ.diff(group, desired)))
    if not results and not errors:  # with errors, those are the reason: the report lists them
        warnings[f"no security group matched the selection ({describe_matcher(policy.select)}); "
                 "nothing was audited"] = None
    return Report(complete=not errors, errors=tuple(errors), results=tuple(results),
                  warnings=tuple(warnings), generated_at=generated_at,
                  policy_path=policy.path, scanned=snapshot.scanned, read=snapshot.read)


def vpc_finder(vpcs: Mapping[tuple[str, str], Vpc]) -> Callable[[str, str | None], Vpc | None]:
    """Look up a group's VPC; an AWS CLI file has no region, so fall back to a unique VPC id."""
    by_id: dict[str, list[Vpc]] = {}
    for (_, vpc_id), vpc in vpcs.items():
        by_id.setdefault(vpc_id, []).append(vpc)

    def find(region: str, vpc_id: str | None) -> Vpc | None:
        if vpc_id is None:
            return None
        found = vpcs.get((region, vpc_id))
        if found is None and len(by_id.get(vpc_id, ())) == 1:
            found = by_id[vpc_id][0]
        return found

    return find


def describe_matcher(matcher: Matcher) -> str:
    parts = [f"tag {k}={v}" for k, v in matcher.tags]
    parts += [f"name {n}" for n in matcher.names]
    parts += list(matcher.group_ids)
    return " and ".join(parts) or "every group"
