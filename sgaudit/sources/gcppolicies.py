"""Google Cloud's firewall policies -> ``FirewallPolicy`` records, in evaluation order.

They come as the ``firewallPolicys`` of get-effective-firewalls answers; each keeps the rules
that reach the network's VMs.

Strict as ``gcpjson`` (whose field readers and protocol/port/CIDR parsing it shares): a value GCP
would refuse, or a match field sgaudit does not know, stops the run with one line naming the
JSON path, the policy rule and the value.  Sources sgaudit cannot turn into addresses (address
groups, FQDNs, regions, threat lists, secure tags) are kept as ``kind:value`` tokens, and the
fields that narrow a rule as conditions (a rule with one only possibly applies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sgaudit.model import UNKNOWN, FirewallMatch, FirewallPolicy, FirewallRule
from sgaudit.sources.awsjson import ShapeError
from sgaudit.sources.gcpjson import (
    cidrs,
    direction_of,
    disabled_of,
    list_of,
    match_of,
    object_of,
    priority_of,
    strings_of,
    text_of,
    url_part,
)

POLICY_PRIORITY_MAX = 2147483647
_ACTIONS = {"allow": "allow", "deny": "deny", "goto_next": "goto_next",
            "apply_security_profile_group": "allow"}
#: effective-firewalls policy ``type`` -> FirewallPolicy.kind.  Google documents where regional
#: system policies are evaluated (right after the hierarchical ones, whatever the enforcement
#: order), not global ones (nor "SYSTEM", the type networks.getEffectiveFirewalls names them
#: by): those are "system-global", whose place is unknown (see docs/gcp-effective-ingress.md)
_POLICY_KINDS = {"HIERARCHY": "hierarchical", "NETWORK": "network", "NETWORK_REGIONAL": "regional",
                 "SYSTEM_REGIONAL": "system", "SYSTEM_GLOBAL": "system-global", "SYSTEM": "system-global"}
#: evaluation order of the kinds (within a kind: the answer's order, by association priority)
POLICY_RANKS = {"hierarchical": 0, "system": 1, "system-global": 2, "network": 3, "regional": 4}
#: kinds that apply by region
REGIONAL_KINDS = frozenset({"regional", "system"})
#: policy-rule sources sgaudit cannot turn into addresses: kept as "kind:value" tokens (any of
#: a rule's sources matches: they combine with OR, with srcIpRanges and srcSecureTags too)
_OTHER_SOURCES = ("srcAddressGroups", "srcFqdns", "srcRegionCodes", "srcThreatIntelligences")
#: match fields that narrow a policy rule (ANDed with its sources): lists, and single values
#: ("UNSPECIFIED" narrows nothing).  sgaudit cannot evaluate any of them exactly: a rule with
#: one only possibly applies.  (dest* fields name the target's own addresses or kinds.)
_NARROWING_LISTS = ("srcNetworks", "destIpRanges", "destAddressGroups", "destFqdns",
                    "destRegionCodes", "destThreatIntelligences")
_NARROWING_VALUES = ("srcNetworkType", "srcNetworkContext", "srcNetworkScope", "destNetworkType",
                     "destNetworkContext", "destNetworkScope")
#: every match field sgaudit reads; another one (a field newer than sgaudit) is refused, since
#: whether it widens or narrows the rule cannot be told
_MATCH_FIELDS = frozenset({"srcIpRanges", "srcSecureTags", "layer4Configs", *_OTHER_SOURCES,
                           *_NARROWING_LISTS, *_NARROWING_VALUES})
#: targetType values: a rule for load balancers' proxies does not reach the network's VMs
_TARGET_TYPES = ("INSTANCES", "INTERNAL_MANAGED_LB")


def _secure_tags(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    out = []
    for i, tag in enumerate(list_of(obj, key, where)):
        tag = object_of(tag, f"{where}.{key}[{i}]")
        out.append(text_of(tag, "name", f"{where}.{key}[{i}]"))
    return tuple(out)


def _policy_sources(match: Mapping[str, Any],
                    where: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(source ranges, "kind:value" tokens for the sources sgaudit cannot resolve, "kind:value"
    conditions that narrow the rule).  A rule whose only sources are conditions (a network
    type alone) matches every address of that type: IPv4 and IPv6."""
    ranges = cidrs(strings_of(match, "srcIpRanges", where), f"{where}.srcIpRanges")
    other = [f"srcSecureTags:{t}" for t in _secure_tags(match, "srcSecureTags", where)]
    for key in _OTHER_SOURCES:
        other.extend(f"{key}:{v}" for v in strings_of(match, key, where))
    conditions = [f"{key}:{v}" for key in _NARROWING_LISTS for v in strings_of(match, key, where)]
    for key in _NARROWING_VALUES:
        value = text_of(match, key, where)
        if value and value != "UNSPECIFIED":
            conditions.append(f"{key}:{value}")
    if not ranges and not other and any(c.startswith("src") for c in conditions):
        ranges = ("0.0.0.0/0", "::/0")
    return ranges, tuple(other), tuple(conditions)


def _targets_network(raw: Mapping[str, Any], where: str, project: str, network: str) -> bool:
    """A policy rule applies to this network's VMs unless it names other networks
    (``targetResources``)."""
    targets = strings_of(raw, "targetResources", where)
    if not targets:
        return True
    return any(url_part(t, "projects") == project and url_part(t, "networks") == network
               for t in targets)


def _target_type(raw: Mapping[str, Any], where: str) -> str:
    value = text_of(raw, "targetType", where) or "INSTANCES"
    if value not in _TARGET_TYPES:
        raise ShapeError(f"{where}.targetType: unknown target type {value!r} (expected "
                         f"{' or '.join(_TARGET_TYPES)}); whom the rule reaches cannot be told")
    return value


def _policy_match(raw: Mapping[str, Any], where: str) -> tuple[Mapping[str, Any], tuple[FirewallMatch, ...]]:
    """A policy rule's ``match`` and its protocols; GCP refuses a rule without
    ``layer4Configs``, and a match field sgaudit does not know could widen or narrow it."""
    match = object_of(raw.get("match") or {}, f"{where}.match")
    unknown = sorted(k for k in match if k not in _MATCH_FIELDS)
    if unknown:
        raise ShapeError(f"{where}.match.{unknown[0]}: a match field sgaudit does not know "
                         "(whether it widens or narrows the rule cannot be told)")
    configs = list_of(match, "layer4Configs", f"{where}.match")
    if not configs:
        raise ShapeError(f"{where}.match.layer4Configs: missing or empty (GCP requires at least one "
                         "protocol in a firewall policy rule)")
    return match, tuple(match_of(e, f"{where}.match.layer4Configs[{i}]", "ipProtocol")
                        for i, e in enumerate(configs))


def parse_policy_rule(raw: Any, where: str, policy: str, project: str, network: str) -> FirewallRule | None:
    """One firewall-policy rule, or None when it does not apply to this network's VMs (it names
    other networks, or load balancers: ``targetType: INTERNAL_MANAGED_LB``)."""
    raw = object_of(raw, where)
    priority = priority_of(raw, where, None, POLICY_PRIORITY_MAX)
    where = f"{where} (policy rule {policy}/{priority})"
    action = text_of(raw, "action", where)
    if action not in _ACTIONS:
        raise ShapeError(f"{where}.action: unknown action {action!r}")
    target_type = _target_type(raw, where)
    match, matches = _policy_match(raw, where)
    if target_type != "INSTANCES" or not _targets_network(raw, where, project, network):
        return None
    ranges, other, conditions = _policy_sources(match, f"{where}.match")
    forwarding = strings_of(raw, "targetForwardingRules", where)
    return FirewallRule(
        name=f"{policy}/{priority}", project=project, network=network, priority=priority,
        action=_ACTIONS[action], matches=matches, direction=direction_of(raw, where),
        disabled=disabled_of(raw, where), source_ranges=ranges, source_other=other,
        target_service_accounts=strings_of(raw, "targetServiceAccounts", where),
        target_secure_tags=_secure_tags(raw, "targetSecureTags", where),
        description=text_of(raw, "description", where),
        conditions=(*conditions, *(f"targetForwardingRules:{f}" for f in forwarding)))


def parse_policies(raw_policies: Sequence[Any], where: str, project: str, network: str,
                   region: str = UNKNOWN) -> tuple[FirewallPolicy, ...]:
    """The ``firewallPolicys`` of get-effective-firewalls, in evaluation order: hierarchical
    policies as listed (organization first), then regional system policies, global system
    policies, network policies and regional network policies, each kind by association
    priority.  Regional (network and system) policies and their rules get ``region``: the
    answer does not name it, the call does (``UNKNOWN`` for a file that does not say)."""
    raws = [object_of(raw, f"{where}[{i}]") for i, raw in enumerate(raw_policies)]
    names = _policy_names(raws, where)
    parsed: list[tuple[int, int, int, FirewallPolicy]] = []
    hierarchy = 0
    for i, (raw, name) in enumerate(zip(raws, names, strict=True)):
        at = f"{where}[{i}]"
        kind_text = text_of(raw, "type", at)
        if kind_text not in _POLICY_KINDS:
            raise ShapeError(f"{at}.type: unknown firewall policy type {kind_text!r}")
        kind = _POLICY_KINDS[kind_text]
        scope = region if kind in REGIONAL_KINDS else None
        rules = _policy_rules(raw, at, name, project, network)
        kept = tuple(_regional(r, scope) if scope else r for r in rules)
        order = hierarchy if kind == "hierarchical" else 0
        hierarchy += kind == "hierarchical"
        association = raw.get("priority", 0) if isinstance(raw.get("priority"), int) else 0
        parsed.append((POLICY_RANKS[kind], association, i, FirewallPolicy(
            name=name, kind=kind, rules=kept, order=order, region=scope)))
    return tuple(p for *_, p in sorted(parsed, key=lambda t: t[:3]))


def _policy_rules(raw: Mapping[str, Any], where: str, name: str, project: str,
                  network: str) -> list[FirewallRule]:
    """A policy's rules that reach this network's VMs; two rules with one priority (GCP's
    identifier of a policy rule, unique in a policy) are refused."""
    seen: dict[int, int] = {}
    out = []
    for j, item in enumerate(list_of(raw, "rules", where)):
        at = f"{where}.rules[{j}]"
        rule = parse_policy_rule(item, at, name, project, network)
        priority = priority_of(object_of(item, at), at, None, POLICY_PRIORITY_MAX)
        if priority in seen:
            raise ShapeError(f"{at}.priority: priority {priority} is also rules[{seen[priority]}]'s in "
                             f"policy {name!r} (GCP keeps a policy's priorities unique; which rule "
                             "comes first cannot be told)")
        seen[priority] = j
        if rule is not None:
            out.append(rule)
    return out


def _policy_names(raws: Sequence[Mapping[str, Any]], where: str) -> list[str]:
    """How findings name each policy: its short (or display) name; policies that share one
    (a folder's and the organization's can) get their resource name too, so that two rules
    never share a finding key.  The same policy listed twice is refused."""
    short = [text_of(r, "shortName", f"{where}[{i}]") or text_of(r, "displayName", f"{where}[{i}]")
             or text_of(r, "name", f"{where}[{i}]") or f"policy-{i}" for i, r in enumerate(raws)]
    out = list(short)
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(raws):
        ident = text_of(raw, "name", f"{where}[{i}]")
        if (short[i], ident) in seen:
            raise ShapeError(f"{where}[{i}]: firewall policy {short[i]!r} ({ident or 'no name'}) is "
                             f"listed twice (also {where}[{seen[(short[i], ident)]}])")
        seen[(short[i], ident)] = i
        if short.count(short[i]) > 1:
            out[i] = f"{short[i]}[{ident or i}]"
    return out


def _regional(rule: FirewallRule, region: str) -> FirewallRule:
    """A regional policy's rule: applies in its region only, and is named with it - the same
    policy name can exist in two regions, and findings name (and are keyed by) the rule."""
    name = rule.name if region == UNKNOWN else f"{region}/{rule.name}"
    return replace(rule, region=region, name=name)


def uses_network_policies(policies: Sequence[FirewallPolicy] | None) -> bool:
    return any(p.kind in ("network", "regional") and p.rules for p in policies or ())


def decides_ingress(policy: FirewallPolicy) -> bool:
    """Whether a policy has an enabled ingress rule that ends evaluation (allow or deny): one of
    only ``goto_next`` rules hands everything to the next level, wherever it is placed."""
    return any(not r.disabled and r.direction == "INGRESS" and r.action != "goto_next"
               for r in policy.rules)

