"""The ``--fix`` plan on Google Cloud: pure functions of the scan's results, what was read of
each network (policies, instances) and the network's VPC firewall rules re-read just before
planning (whole resources, so the backup can restore them exactly).  Applying is
``gcp.apply``'s job.

A VPC rule can reach many tags, so the fix works on one audited tag's *effective* ingress and
never changes what another target gets:

- extra ingress from a rule that targets only this tag: the rule is patched down to what the
  envelope permits of it, or deleted when nothing is permitted (parts of it that one rule cannot
  hold are inserted first, as rules of their own at its priority);
- extra ingress from a rule that also reaches others (no targets, several tags, service
  accounts): a deny that targets only this tag, just above that rule, covering exactly the part
  outside the envelope (when that part is "all other protocols", a deny of all of the rule's
  match with an allow of its permitted part just above);
- missing required ingress taken away by VPC rules: an allow of the required rule that targets
  only this tag, just above the first rule that took it;
- anything decided by a firewall policy (hierarchical, system, network) is refused with one
  line naming its rule: sgaudit does not edit policies.

A new rule's priority is in the gap between the rule to beat and the tag's rule before it;
without one (priority 0, or no free number) that part is refused.  Then the plan is proved with
the engine (``gcp.prove``): applied to the rules read, every fixed tag is compliant (but for the
refused parts) and every other target's effective ingress is unchanged; a tag whose changes do
not prove is refused whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sgaudit.model import GcpState, GroupResult
from sgaudit.remediate.gcp import prove
from sgaudit.remediate.gcp.changes import GcpPlan, NetRef, NetworkPlan
from sgaudit.remediate.gcp.planner import Planner
from sgaudit.remediate.gcp.prove import NetworkRules
from sgaudit.sources.awsjson import ShapeError


def candidates(results: Iterable[GroupResult]) -> list[GroupResult]:
    """The GCP targets a fix would touch: resolved, with an active finding."""
    return [r for r in results if r.group.cloud == "gcp" and not r.desired.unresolved
            and any(f.active for f in r.findings)]


def plan_gcp_fix(results: Sequence[GroupResult], state: GcpState,
                 read: Mapping[str, Sequence[Mapping[str, Any]] | str], scan: str) -> GcpPlan:
    """The changes that bring every candidate tag to its desired state.  ``read`` maps each
    project to its VPC firewall rules as re-read now (whole resources), or to why they could
    not be read; ``scan`` names the scan in the new rules' descriptions."""
    by_net: dict[NetRef, list[GroupResult]] = {}
    for result in candidates(results):
        by_net.setdefault((result.group.account, result.group.vpc_id or ""), []).append(result)
    plans = []
    seq = 0
    for (project, name), found in sorted(by_net.items()):
        plan = _network_plan(project, name, found, state, read.get(project), scan, seq)
        seq += len(plan.changes)
        plans.append(plan)
    return GcpPlan(tuple(plans))


def _network_plan(project: str, name: str, results: list[GroupResult], state: GcpState,
                  raw: Sequence[Mapping[str, Any]] | str | None, scan: str, seq: int) -> NetworkPlan:
    tags = tuple(r.group.group_id for r in results)
    base = NetworkPlan(project, name, tags=tags)
    if raw is None or isinstance(raw, str):
        return replace(base, skipped=f"cannot read its firewall rules: {raw or 'not read'}")
    try:
        rules = prove.parse_rules(raw, f"project {project} firewalls")
    except ShapeError as exc:
        return replace(base, skipped=f"cannot read its firewall rules: {exc}")
    mine = [(r, dict(body)) for r, body in zip(rules, raw, strict=True) if r.network == name]
    seen = {r.name: body for r, body in mine}
    base = replace(base, seen=seen)
    scanned = {r for r in state.firewalls if (r.project, r.network) == (project, name)}
    moved = _difference(scanned, {r for r, _ in mine})
    if moved:
        return replace(base, skipped=f"stale: its firewall rules changed since the scan ({moved})")
    network = state.networks.get((project, name))
    if network is None or network.policies is None:
        return replace(base, skipped="its firewall policies were not read: what a change would do "
                                     "cannot be proved")
    before = NetworkRules(network, state.instances.get((project, name)), tuple(r for r, _ in mine))
    planner = Planner(before, seen, {str(r.get("name")) for r in raw}, scan)
    for result in results:
        planner.plan_tag(result)
    return planner.finish(base, seq)


def _difference(before: set[Any], after: set[Any]) -> str:
    added, gone = sorted(r.name for r in after - before), sorted(r.name for r in before - after)
    parts = ([f"changed or added: {', '.join(added[:3])}"] if added else []) + (
        [f"changed or removed: {', '.join(gone[:3])}"] if gone else [])
    return "; ".join(parts)
