"""After a GCP fix: re-read the networks it changed and ask the engine again.  Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sgaudit.engine.diff import Differ
from sgaudit.model import GcpState, GroupResult
from sgaudit.remediate.gcp import prove
from sgaudit.remediate.gcp.changes import GcpPlan, NetworkPlan
from sgaudit.remediate.gcp.prove import NetworkRules, Target
from sgaudit.sources.awsjson import ShapeError
from sgaudit.text import clean


def verify_fix(plan: GcpPlan, results: Sequence[GroupResult], state: GcpState,
               current: Mapping[str, Sequence[Mapping[str, Any]] | str]) -> list[str]:
    """One line per problem (empty: verified): a fixed tag not compliant but for the parts the
    plan refused, another target whose effective ingress changed, a network not re-read."""
    by_tag = {(r.group.account, r.group.vpc_id, r.group.group_id): r for r in results}
    out: list[str] = []
    differ = Differ()
    for net in plan.networks:
        if net.changes:
            out.extend(_network(net, by_tag, state, current.get(net.project), differ))
    return out


def _network(net: NetworkPlan, by_tag: Mapping[tuple[str, str | None, str], GroupResult],
             state: GcpState, raw: Sequence[Mapping[str, Any]] | str | None, differ: Differ) -> list[str]:
    where = f"network {net.network} of project {net.project}"
    if raw is None or isinstance(raw, str):
        return [clean(f"{where}: cannot re-read its firewall rules: {raw or 'not read'}")]
    network = state.networks[(net.project, net.network)]
    instances = state.instances.get((net.project, net.network))
    try:
        now = prove.parse_rules(raw, f"project {net.project} firewalls")
        seen = prove.parse_rules(net.seen.values(), "rules as planned")
    except ShapeError as exc:
        return [clean(f"{where}: cannot read its firewall rules: {exc}")]
    before = NetworkRules(network, instances, seen)
    after = NetworkRules(network, instances, tuple(r for r in now if r.network == net.network))
    targets = []
    for tag in dict.fromkeys(c.tag for c in net.changes):
        result = by_tag[(net.project, net.network, tag)]
        targets.append(Target(result.group, result.desired,
                              frozenset(f.key for f in result.findings if not f.active)))
    return prove.problems(before, after, targets, net.refused_keys, differ, verb="changed")
