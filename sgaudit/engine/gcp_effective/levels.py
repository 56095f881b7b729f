"""Which rules apply to a target, and the levels GCP evaluates them in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from sgaudit.engine.gcp_effective.shapes import (
    BEFORE_CLASSIC,
    SYSTEM_GLOBAL,
    UNPLACED,
    UNPLACED_WHY,
    VPC_LEVEL,
)
from sgaudit.model import UNKNOWN, FirewallPolicy, FirewallRule, GcpInstance, GcpNetwork


# -- which rules apply -------------------------------------------------------------------------
def applicability(rule: FirewallRule, tag: str,
                  instances: Sequence[GcpInstance] | None) -> tuple[bool, str | None]:
    """(applies at all, why only possibly).  A rule applies to the tag when its target tags hold
    it or it names no target; service-account targets are decided from the instances that carry
    the tag when they were read; secure tags cannot be checked, so they possibly apply.  A rule
    of a regional policy applies only to the tag's instances in its region.  A match field that
    narrows the rule and that sgaudit cannot evaluate (a network type, destination ranges …)
    makes it only possibly apply: it is ANDed with the rule's sources, never a source itself."""
    applies, why = _targets(rule, tag, instances)
    if applies and rule.region is not None:
        applies, why = _in_region(rule, rule.region, tag, instances, why)
    if applies and rule.conditions:
        narrowing = [c for c in rule.conditions if c != UNPLACED]
        if narrowing:
            why = _also(why, "is narrowed by " + ", ".join(narrowing))
        if len(narrowing) < len(rule.conditions):
            why = _also(why, UNPLACED_WHY)
    return applies, why


def _targets(rule: FirewallRule, tag: str,
             instances: Sequence[GcpInstance] | None) -> tuple[bool, str | None]:
    if rule.target_secure_tags:
        return True, "targets secure tags " + ", ".join(rule.target_secure_tags)
    if rule.target_tags:
        return tag in rule.target_tags, None
    if not rule.target_service_accounts:
        return True, None
    accounts = set(rule.target_service_accounts)
    why = "targets service account " + ", ".join(rule.target_service_accounts)
    if instances is None:
        return True, why + " (instances not read)"
    carriers = [i for i in instances if tag in i.tags]
    running = [i for i in carriers if accounts & set(i.service_accounts)]
    if not carriers:
        return True, why + " (no instance carries the tag)"
    if not running:
        return False, None
    if len(running) < len(carriers):
        return True, why + f" ({len(running)} of {len(carriers)} instances run as it)"
    return True, None


def _in_region(rule: FirewallRule, region: str, tag: str, instances: Sequence[GcpInstance] | None,
               why: str | None) -> tuple[bool, str | None]:
    """A regional rule, after its targets: certain only when every instance carrying the tag is
    in its region (and the targets were certain); possible while an instance in the region (or
    of an unknown zone) may be one it targets; not at all when none can be."""
    if region == UNKNOWN:
        return True, _also(why, "belongs to a regional policy of an unknown region")
    if instances is None:
        return True, _also(why, f"belongs to a regional policy of {region}; instances not read")
    carriers = [i for i in instances if tag in i.tags]
    if not carriers:
        return True, _also(why, f"belongs to a regional policy of {region}; no instance carries the tag")
    accounts = set(rule.target_service_accounts)
    targeted = [i for i in carriers if not accounts or accounts & set(i.service_accounts)]
    inside = sum(i.region == region for i in targeted)
    unknown = sum(not i.region for i in targeted)
    if inside + unknown == 0:
        return False, None
    if inside == len(carriers):
        return True, why
    where = f"{inside} of {len(carriers)} instances are in {region}"
    if unknown:
        where += f", {unknown} in an unknown zone"
    return True, _also(why, f"belongs to a regional policy of {region}: {where}")


def _also(why: str | None, more: str) -> str:
    return f"{why}; {more}" if why else more


def levels(network: GcpNetwork, vpc_rules: Sequence[FirewallRule]) -> list[tuple[str, list[FirewallRule]]]:
    """The levels of evaluation, in order, each with its ingress rules by priority."""
    policies = list(network.policies or ())
    hier = sorted((p for p in policies if p.kind == "hierarchical"), key=lambda p: p.order)
    net = [p for p in policies if p.kind == "network"]
    reg = [p for p in policies if p.kind == "regional"]
    system = [p for kind in ("system", SYSTEM_GLOBAL) for p in policies if p.kind == kind]
    vpc = (VPC_LEVEL, sorted(_live(vpc_rules), key=lambda r: (r.priority, r.action != "deny")))
    after = [_policy_level(p) for p in (*net, *reg)]
    out = [_policy_level(p) for p in hier]
    out += [_unplaced(_policy_level(p)) if p.kind == SYSTEM_GLOBAL else _policy_level(p) for p in system]
    if network.enforcement_order == BEFORE_CLASSIC:
        out.extend([*after, vpc])
    else:
        out.extend([vpc, *after])
    return out


def _unplaced(level: tuple[str, list[FirewallRule]]) -> tuple[str, list[FirewallRule]]:
    """A global system policy's level, its allow and deny rules marked ``UNPLACED``."""
    name, rules = level
    return name, [r if r.action == "goto_next" else replace(r, conditions=(*r.conditions, UNPLACED))
                  for r in rules]


def _policy_level(policy: FirewallPolicy) -> tuple[str, list[FirewallRule]]:
    kind = {"hierarchical": "hierarchical policy", "network": "network policy",
            "regional": "regional network policy", "system": "regional system policy",
            SYSTEM_GLOBAL: "global system policy"}.get(policy.kind, f"{policy.kind} policy")
    region = {None: "", UNKNOWN: " (region unknown)"}.get(policy.region, f" ({policy.region})")
    return f"{kind} {policy.name}{region}", sorted(_live(policy.rules), key=lambda r: r.priority)


def _live(rules: Iterable[FirewallRule]) -> Iterable[FirewallRule]:
    """Disabled rules do not exist; egress rules do not decide ingress."""
    return (r for r in rules if not r.disabled and r.direction.upper() == "INGRESS")
