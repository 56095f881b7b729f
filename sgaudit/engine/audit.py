"""The engine: policy x snapshot -> report. Pure: no boto3, no click, no files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from sgaudit.engine.diff import Differ
from sgaudit.engine.resolve import effective_options, group_role, resolve, resolve_cluster
from sgaudit.gcpause import pausing_collector
from sgaudit.model import (
    DesiredState,
    GcpState,
    Grant,
    Group,
    GroupResult,
    Matcher,
    Options,
    Origin,
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
    selector = Selector(policy)
    results: list[GroupResult] = []
    errors = list(snapshot.errors)
    warnings: dict[str, None] = dict.fromkeys(policy.warnings)
    for group in snapshot.groups:
        if not policy.select.matches(group):
            continue
        desired = desired_state(policy, group, find_vpc(group.region, group.vpc_id), states, warnings,
                                selector)
        if desired.unresolved:
            errors.append(ScanError(group.account, group.region, "resolve",
                                    f"{group.group_id}: {desired.unresolved}", "Unresolved"))
        results.append(GroupResult(group, desired, differ.diff(group, desired)))
    if snapshot.gcp is not None:
        results.extend(audit_gcp(policy, snapshot.gcp, differ, errors, warnings))
    if not results and not errors:  # with errors, those are the reason: the report lists them
        described = describe_matcher(policy.select, with_gcp=snapshot.gcp is not None)
        warnings[f"no security group matched the selection ({described}); nothing was audited"] = None
    return Report(complete=not errors, errors=tuple(errors), results=tuple(results),
                  warnings=tuple(warnings), generated_at=generated_at,
                  policy_path=policy.path, scanned=snapshot.scanned, read=snapshot.read,
                  networks_read=snapshot.gcp.read if snapshot.gcp is not None else ())


@pausing_collector
def audit_gcp(policy: Policy, state: GcpState, differ: Differ, errors: list[ScanError],
              warnings: dict[str, None]) -> list[GroupResult]:
    """Google Cloud targets: one per selected network tag and network, judged by effect.
    (The cyclic GC is paused, as for the whole audit: hundreds of thousands of small records
    live until the report is written, so collections would scan them all for nothing.)
    Its modules are imported here: an AWS-only audit does not need them."""
    from sgaudit.engine import gcp_effective, gcp_findings, gcp_targets

    results: list[GroupResult] = []
    states: dict[tuple[object, ...], DesiredState] = {}
    selector = Selector(policy)
    for net in gcp_targets.networks(state):
        groups = gcp_targets.targets(net, policy.select)
        if not groups:
            continue
        network = net.network
        if network.policies is None:
            errors.append(ScanError(network.project, gcp_targets.REGION, "firewall-policies",
                                    f"network {network.name}: its firewall policies were not read, "
                                    "so what is effectively reachable is unknown (add the output of "
                                    "`gcloud compute networks get-effective-firewalls`)",
                                    "PoliciesNotRead"))
        vpc = gcp_targets.network_vpc(network)
        index = gcp_effective.NetworkIndex(network, net.rules)
        memo = gcp_findings.Memo()
        for group in groups:
            desired = desired_state(policy, group, vpc, states, warnings, selector)
            if desired.unresolved:
                errors.append(ScanError(group.account, group.region, "resolve",
                                        f"{network.name}/{group.group_id}: {desired.unresolved}",
                                        "Unresolved"))
            effective = index.effective(group.group_id, net.instances)
            findings, applied = gcp_findings.judge(group, desired, effective, differ, memo)
            group = replace(group, rules=gcp_findings.allow_rules(effective, memo))
            results.append(GroupResult(group, desired, findings, applied))
    return results


class Selector:
    """A group's options, matched ``clusters`` entries and role, computed once per distinct
    value of what the policy's matchers read (``Matcher.matches``: the cloud, the values of the
    tag keys they name, and the name or id when some ``clusters`` or ``roles`` entry selects by
    them): a fleet's groups share a few such values, while their ids, names and Name tags are
    their own."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        matchers = [c.matcher for c in policy.clusters] + [r.matcher for r in policy.roles]
        self._tag_keys = tuple(dict.fromkeys(k for m in matchers for k, _ in m.tags))
        self._names = any(m.names for m in matchers)
        self._ids = any(m.group_ids or m.network_tags for m in matchers)
        self._seen: dict[tuple[object, ...], tuple[Options, tuple[int, ...], str, Origin | None]] = {}
        #: every ``allow`` entry applies everywhere: each group gets them all
        self._allow_anywhere = all(g.place.anywhere for g in policy.allow)

    def allow_for(self, group: Group) -> tuple[tuple[Grant, ...], tuple[int, ...] | None]:
        """The policy's ``allow`` entries for this group's place (account, region, GCP network),
        and which they are (None: every entry, as when no entry names a place)."""
        allow = self.policy.allow
        if self._allow_anywhere:
            return allow, None
        which = tuple(i for i, g in enumerate(allow) if g.place.holds(group))
        return tuple(allow[i] for i in which), which

    def options_and_role(self, group: Group) -> tuple[Options, tuple[int, ...], str, Origin | None]:
        """``effective_options`` and ``group_role`` (a refusal is not remembered: the group
        that meets it first is the one named, as without the memo)."""
        have = dict(group.tags) if self._tag_keys else {}  # as Matcher.matches reads them
        key = (group.cloud, tuple(map(have.get, self._tag_keys)),
               group.group_name if self._names else None, group.group_id if self._ids else None)
        found = self._seen.get(key)
        if found is None:
            options, matched = effective_options(self.policy, group)
            found = (options, matched, *group_role(self.policy, group, matched))
            self._seen[key] = found
        return found


def desired_state(policy: Policy, group: Group, vpc: Vpc | None,
                  states: dict[tuple[object, ...], DesiredState],
                  warnings: dict[str, None], selector: Selector | None = None) -> DesiredState:
    """A group's desired state, by its role (scheduler or cluster-wide), computed once per
    distinct combination of matched entries, VPC and role; its warnings collected once."""
    selector = selector or Selector(policy)
    options, matched, role, role_origin = selector.options_and_role(group)
    allow, which = selector.allow_for(group)
    key = (matched, vpc, role, role_origin, which)
    desired = states.get(key)
    if desired is None:
        if role == "cluster":
            desired = resolve_cluster(policy, matched, role_origin, allow)
        else:
            desired = resolve(options, vpc, allow)
        if desired.unresolved and group.cloud == "gcp":
            desired = replace(desired, unresolved=_gcp_unresolved(vpc))
        states[key] = desired
        warnings.update(dict.fromkeys(desired.warnings))
    return desired


def _gcp_unresolved(vpc: Vpc | None) -> str:
    """Why a GCP target's desired state could not be resolved, in Google Cloud's words (the
    resolver speaks of AWS's describe-vpcs)."""
    if vpc is None:
        return ("the network's subnet ranges are needed but unknown (add the output of `gcloud "
                "compute networks subnets list --format=json` to the snapshot, or see why it could "
                "not be read)")
    return ("the network's first IPv4 subnet range is needed (the source of ingress \"from the "
            "network\") but the network has no IPv4 subnet range in `gcloud compute networks "
            "subnets list`")


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


def describe_matcher(matcher: Matcher, with_gcp: bool = True) -> str:
    """The selection in words; the GCP part only when Google Cloud was read (``with_gcp``)."""
    parts = [f"tag {k}={v}" for k, v in matcher.tags]
    parts += [f"name {n}" for n in matcher.names]
    parts += list(matcher.group_ids)
    text = " and ".join(parts)
    if with_gcp and matcher.network_tags:  # the other cloud's criteria: a separate selection, not "and"
        gcp = "GCP network tags " + ", ".join(matcher.network_tags)
        text = f"{text}; {gcp}" if text else gcp
    return text or "every group"
