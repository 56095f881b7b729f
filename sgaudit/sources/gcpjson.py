"""Google Cloud's JSON shapes (as ``gcloud compute … --format=json`` prints them and the compute
REST API returns them) -> model records.

Shared by the snapshot reader and the live source, so both read rules identically.  Strict: a
value GCP itself would refuse (an unknown protocol, a port outside 0-65535, a malformed range or
CIDR, a bad priority) stops the run with one line naming the JSON path, the rule and the value,
because a rule sgaudit cannot read is a rule it cannot judge.

What counts as "inside the network": every subnet's ``ipCidrRange``, its
``secondaryIpRanges[].ipCidrRange``, and its IPv6 prefixes ``internalIpv6Prefix`` and
``externalIpv6Prefix`` (the addresses GCP hands to the network's own VMs).  ``ipv6CidrRange`` is
left out: the API documents it as "for internal use" and it repeats one of the prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from sgaudit.model import UNKNOWN, FirewallMatch, FirewallPolicy, FirewallRule, GcpInstance, ScanError
from sgaudit.net import addresses, intervals, ports
from sgaudit.sources.awsjson import ShapeError, _brief

#: protocol names GCP accepts besides those ``ports.normalize_protocol`` knows
_GCP_PROTOCOLS = {"esp": "50", "ah": "51", "sctp": "132", "ipip": "4"}
#: the protocols whose ``ports`` GCP accepts
_WITH_PORTS = frozenset({"tcp", "udp", "132"})
VPC_PRIORITY_MAX = 65535
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
ENFORCEMENT_ORDERS = ("AFTER_CLASSIC_FIREWALL", "BEFORE_CLASSIC_FIREWALL")

FIREWALLS = "firewall-rules"
SUBNETS = "subnets"
NETWORKS = "networks"
INSTANCES = "instances"
EFFECTIVE = "effective-firewalls"
_BY_KIND = {"compute#firewall": FIREWALLS, "compute#subnetwork": SUBNETS, "compute#network": NETWORKS,
            "compute#instance": INSTANCES}


def detect(data: Any) -> str | None:
    """Which gcloud output ``data`` is, by its content; None when it is not a GCP file.

    A list is GCP (AWS CLI files are objects); its kind comes from the first item's ``kind``
    (``compute#firewall`` …) or, without one, from the keys only that resource has.
    """
    if isinstance(data, Mapping):
        if ("firewallPolicys" in data or "organizationFirewalls" in data
                or ("firewalls" in data and "SecurityGroups" not in data)):
            return EFFECTIVE
        kind = data.get("kind")  # one resource: gcloud compute … describe
        return _BY_KIND.get(kind) if isinstance(kind, str) else None
    if not isinstance(data, list):
        return None
    if not data:
        return "empty"
    return _item_kind(data[0], "$[0]")


def _item_kind(item: Any, where: str) -> str:
    if not isinstance(item, Mapping):
        raise ShapeError(f"{where}: expected an object (a gcloud --format=json item), got {_brief(item)}")
    if item.get("kind") in _BY_KIND:
        return _BY_KIND[item["kind"]]
    for keys, kind in ((("allowed", "denied"), FIREWALLS), (("ipCidrRange", "internalIpv6Prefix",
                        "externalIpv6Prefix"), SUBNETS), (("networkInterfaces",), INSTANCES),
                       (("networkFirewallPolicyEnforcementOrder", "autoCreateSubnetworks",
                         "x_gcloud_subnet_mode"), NETWORKS)):
        if any(k in item for k in keys):
            return kind
    raise ShapeError(f"{where}: not a gcloud compute firewall rule, subnet, network or instance "
                     f"(keys {sorted(item)[:5]})")


def url_part(url: str, collection: str) -> str | None:
    """The path segment after ``collection`` in a compute URL ("projects", "networks" …)."""
    parts = url.rstrip("/").split("/")
    for i, part in enumerate(parts[:-1]):
        if part == collection:
            return parts[i + 1]
    return None


def network_of(url: Any, where: str) -> tuple[str, str]:
    """(project, network name) of a network URL."""
    if not isinstance(url, str):
        raise ShapeError(f"{where}: expected a network URL, got {_brief(url)}")
    found = _network_parts(url)
    if found is None:
        raise ShapeError(f"{where}: not a network URL (…/projects/P/global/networks/N): {url!r}")
    return found


@lru_cache(maxsize=1024)
def _network_parts(url: str) -> tuple[str, str] | None:
    """Every rule of a network repeats its URL: split it once."""
    project, name = url_part(url, "projects"), url_part(url, "networks")
    return (project, name) if project and name else None


def _strings(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ShapeError(f"{where}.{key}: expected a list of strings, got {_brief(value)}")
    return tuple(value)


def _text(obj: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ShapeError(f"{where}.{key}: expected a string, got {_brief(value)}")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where}: expected an object, got {_brief(value)}")
    return value


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ShapeError(f"{where}.{key}: expected a list, got {_brief(value)}")
    return value


# -- rules ------------------------------------------------------------------------------------
def protocol_of(value: Any, where: str) -> str:
    """GCP's ``IPProtocol``/``ipProtocol`` (a name, a number or "all") -> canonical protocol."""
    text = value.strip().lower() if isinstance(value, str) else None
    canonical = None
    if text is not None:
        canonical = ports.normalize_protocol(_GCP_PROTOCOLS.get(text, text))
    if canonical is None:
        raise ShapeError(f"{where}: unknown protocol {_brief(value)}")
    return canonical


def port_range(value: Any, where: str) -> tuple[int, int]:
    """A GCP port entry: "22", "8000-8100" (an integer is accepted too)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    lo, sep, hi = text.partition("-")
    first, last = ports.ascii_int(lo), ports.ascii_int(hi) if sep else ports.ascii_int(lo)
    if first is not None and last is not None and len(text) <= 11:
        if first > last:
            raise ShapeError(f"{where}: port range {_brief(value)} runs backwards")
        if last <= ports.PORT_MAX:
            return first, last
        raise ShapeError(f"{where}: port {_brief(value)} outside 0-65535")
    raise ShapeError(f"{where}: malformed port or range {_brief(value)} (expected \"22\" or \"8000-8100\")")


def match_of(entry: Any, where: str, protocol_key: str) -> FirewallMatch:
    """Hot path: rules repeat a few (protocol, ports) pairs, so valid pairs are cached; the
    message of an invalid one is built by the full path below."""
    if type(entry) is dict and protocol_key in entry:
        raw_ports = entry.get("ports")
        try:
            hit = _cached_match(entry[protocol_key],
                                tuple(raw_ports) if type(raw_ports) is list else raw_ports)
        except TypeError:  # something unhashable: not a valid entry anyway
            hit = None
        if hit is not None:
            return hit
    return _match(entry, where, protocol_key)


@lru_cache(maxsize=4096)
def _cached_match(protocol: Any, raw_ports: Any) -> FirewallMatch | None:
    try:
        return _match({"p": protocol, "ports": list(raw_ports) if isinstance(raw_ports, tuple)
                       else raw_ports}, "", "p")
    except ShapeError:
        return None


def _match(entry: Any, where: str, protocol_key: str) -> FirewallMatch:
    entry = _object(entry, where)
    if protocol_key not in entry:
        raise ShapeError(f"{where}: missing key {protocol_key!r}")
    protocol = protocol_of(entry[protocol_key], f"{where}.{protocol_key}")
    raw_ports = _list(entry, "ports", where)
    if raw_ports and protocol not in _WITH_PORTS:
        raise ShapeError(f"{where}.ports: ports are only allowed with tcp, udp and sctp, not "
                         f"{entry[protocol_key]!r}")
    spans = [port_range(p, f"{where}.ports[{i}]") for i, p in enumerate(raw_ports)]
    return FirewallMatch(protocol, intervals.normalize(spans))


def cidrs(values: Iterable[Any], where: str) -> tuple[str, ...]:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(addresses.canonical_cidr(value))
        except addresses.CidrError:
            raise ShapeError(f"{where}[{i}]: malformed CIDR {_brief(value)}") from None
    return tuple(out)


def priority_of(raw: Mapping[str, Any], where: str, default: int | None, limit: int) -> int:
    value = raw.get("priority", default)
    if isinstance(value, str) and ports.ascii_int(value.strip()) is not None:
        value = ports.ascii_int(value.strip())  # int64 fields may come as strings in REST JSON
    if type(value) is not int or not 0 <= value <= limit:
        raise ShapeError(f"{where}.priority: bad priority {_brief(value)} (expected 0-{limit})")
    return value


def _direction(raw: Mapping[str, Any], where: str) -> str:
    direction = _text(raw, "direction", where, "INGRESS")
    if direction not in ("INGRESS", "EGRESS"):
        raise ShapeError(f"{where}.direction: expected INGRESS or EGRESS, got {direction!r}")
    return direction


def _disabled(raw: Mapping[str, Any], where: str) -> bool:
    value = raw.get("disabled", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ShapeError(f"{where}.disabled: expected true or false, got {_brief(value)}")
    return value


def parse_firewall(raw: Any, where: str) -> FirewallRule:
    """One VPC firewall rule (``gcloud compute firewall-rules list`` item)."""
    raw = _object(raw, where)
    name = _text(raw, "name", where)
    if not name:
        raise ShapeError(f"{where}: missing key 'name'")
    where = f"{where} (firewall rule {name!r})"
    project, network = network_of(raw.get("network"), f"{where}.network")
    allowed, denied = _list(raw, "allowed", where), _list(raw, "denied", where)
    if bool(allowed) == bool(denied):
        raise ShapeError(f"{where}: expected exactly one of 'allowed' and 'denied'")
    key = "allowed" if allowed else "denied"
    matches = tuple(match_of(e, f"{where}.{key}[{i}]", "IPProtocol")
                    for i, e in enumerate(allowed or denied))
    direction = _direction(raw, where)
    ranges = cidrs(_strings(raw, "sourceRanges", where), f"{where}.sourceRanges")
    tags = _strings(raw, "sourceTags", where)
    accounts = _strings(raw, "sourceServiceAccounts", where)
    if direction == "INGRESS" and not (ranges or tags or accounts):
        ranges = ("0.0.0.0/0",)  # GCP's default source for an ingress rule that names none
    return FirewallRule(
        name=name, project=project, network=network,
        priority=priority_of(raw, where, 1000, VPC_PRIORITY_MAX),
        action="allow" if allowed else "deny", matches=matches, direction=direction,
        disabled=_disabled(raw, where), source_ranges=ranges, source_tags=tags,
        source_service_accounts=accounts,
        target_tags=_strings(raw, "targetTags", where),
        target_service_accounts=_strings(raw, "targetServiceAccounts", where),
        description=_text(raw, "description", where))


def _secure_tags(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    out = []
    for i, tag in enumerate(_list(obj, key, where)):
        tag = _object(tag, f"{where}.{key}[{i}]")
        out.append(_text(tag, "name", f"{where}.{key}[{i}]"))
    return tuple(out)


def _policy_sources(match: Mapping[str, Any],
                    where: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(source ranges, "kind:value" tokens for the sources sgaudit cannot resolve, "kind:value"
    conditions that narrow the rule).  A rule whose only sources are conditions (a network
    type alone) matches every address of that type: IPv4 and IPv6."""
    ranges = cidrs(_strings(match, "srcIpRanges", where), f"{where}.srcIpRanges")
    other = [f"srcSecureTags:{t}" for t in _secure_tags(match, "srcSecureTags", where)]
    for key in _OTHER_SOURCES:
        other.extend(f"{key}:{v}" for v in _strings(match, key, where))
    conditions = [f"{key}:{v}" for key in _NARROWING_LISTS for v in _strings(match, key, where)]
    for key in _NARROWING_VALUES:
        value = _text(match, key, where)
        if value and value != "UNSPECIFIED":
            conditions.append(f"{key}:{value}")
    if not ranges and not other and any(c.startswith("src") for c in conditions):
        ranges = ("0.0.0.0/0", "::/0")
    return ranges, tuple(other), tuple(conditions)


def _targets_network(raw: Mapping[str, Any], where: str, project: str, network: str) -> bool:
    """A policy rule applies to this network's VMs unless it names other networks
    (``targetResources``)."""
    targets = _strings(raw, "targetResources", where)
    if not targets:
        return True
    return any(url_part(t, "projects") == project and url_part(t, "networks") == network
               for t in targets)


def _target_type(raw: Mapping[str, Any], where: str) -> str:
    value = _text(raw, "targetType", where) or "INSTANCES"
    if value not in _TARGET_TYPES:
        raise ShapeError(f"{where}.targetType: unknown target type {value!r} (expected "
                         f"{' or '.join(_TARGET_TYPES)}); whom the rule reaches cannot be told")
    return value


def _policy_match(raw: Mapping[str, Any], where: str) -> tuple[Mapping[str, Any], tuple[FirewallMatch, ...]]:
    """A policy rule's ``match`` and its protocols; GCP refuses a rule without
    ``layer4Configs``, and a match field sgaudit does not know could widen or narrow it."""
    match = _object(raw.get("match") or {}, f"{where}.match")
    unknown = sorted(k for k in match if k not in _MATCH_FIELDS)
    if unknown:
        raise ShapeError(f"{where}.match.{unknown[0]}: a match field sgaudit does not know "
                         "(whether it widens or narrows the rule cannot be told)")
    configs = _list(match, "layer4Configs", f"{where}.match")
    if not configs:
        raise ShapeError(f"{where}.match.layer4Configs: missing or empty (GCP requires at least one "
                         "protocol in a firewall policy rule)")
    return match, tuple(match_of(e, f"{where}.match.layer4Configs[{i}]", "ipProtocol")
                        for i, e in enumerate(configs))


def parse_policy_rule(raw: Any, where: str, policy: str, project: str, network: str) -> FirewallRule | None:
    """One firewall-policy rule, or None when it does not apply to this network's VMs (it names
    other networks, or load balancers: ``targetType: INTERNAL_MANAGED_LB``)."""
    raw = _object(raw, where)
    priority = priority_of(raw, where, None, POLICY_PRIORITY_MAX)
    where = f"{where} (policy rule {policy}/{priority})"
    action = _text(raw, "action", where)
    if action not in _ACTIONS:
        raise ShapeError(f"{where}.action: unknown action {action!r}")
    target_type = _target_type(raw, where)
    match, matches = _policy_match(raw, where)
    if target_type != "INSTANCES" or not _targets_network(raw, where, project, network):
        return None
    ranges, other, conditions = _policy_sources(match, f"{where}.match")
    forwarding = _strings(raw, "targetForwardingRules", where)
    return FirewallRule(
        name=f"{policy}/{priority}", project=project, network=network, priority=priority,
        action=_ACTIONS[action], matches=matches, direction=_direction(raw, where),
        disabled=_disabled(raw, where), source_ranges=ranges, source_other=other,
        target_service_accounts=_strings(raw, "targetServiceAccounts", where),
        target_secure_tags=_secure_tags(raw, "targetSecureTags", where),
        description=_text(raw, "description", where),
        conditions=(*conditions, *(f"targetForwardingRules:{f}" for f in forwarding)))


def parse_policies(raw_policies: Sequence[Any], where: str, project: str, network: str,
                   region: str = UNKNOWN) -> tuple[FirewallPolicy, ...]:
    """The ``firewallPolicys`` of get-effective-firewalls, in evaluation order: hierarchical
    policies as listed (organization first), then regional system policies, global system
    policies, network policies and regional network policies, each kind by association
    priority.  Regional (network and system) policies and their rules get ``region``: the
    answer does not name it, the call does (``UNKNOWN`` for a file that does not say)."""
    raws = [_object(raw, f"{where}[{i}]") for i, raw in enumerate(raw_policies)]
    names = _policy_names(raws, where)
    parsed: list[tuple[int, int, int, FirewallPolicy]] = []
    hierarchy = 0
    for i, (raw, name) in enumerate(zip(raws, names, strict=True)):
        at = f"{where}[{i}]"
        kind_text = _text(raw, "type", at)
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
    for j, item in enumerate(_list(raw, "rules", where)):
        at = f"{where}.rules[{j}]"
        rule = parse_policy_rule(item, at, name, project, network)
        priority = priority_of(_object(item, at), at, None, POLICY_PRIORITY_MAX)
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
    short = [_text(r, "shortName", f"{where}[{i}]") or _text(r, "displayName", f"{where}[{i}]")
             or _text(r, "name", f"{where}[{i}]") or f"policy-{i}" for i, r in enumerate(raws)]
    out = list(short)
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(raws):
        ident = _text(raw, "name", f"{where}[{i}]")
        if (short[i], ident) in seen:
            raise ShapeError(f"{where}[{i}]: firewall policy {short[i]!r} ({ident or 'no name'}) is "
                             f"listed twice (also {where}[{seen[(short[i], ident)]}])")
        seen[(short[i], ident)] = i
        if short.count(short[i]) > 1:
            out[i] = f"{short[i]}[{ident or i}]"
    return out


# -- subnets, networks, instances -------------------------------------------------------------
def subnet_ranges(raw: Any, where: str) -> tuple[str, str, tuple[str, ...]]:
    """(project, network, ranges) of one subnet; see the module's note on which ranges count."""
    raw = _object(raw, where)
    name = _text(raw, "name", where) or "?"
    where = f"{where} (subnet {name!r})"
    project, network = network_of(raw.get("network"), f"{where}.network")
    values = [raw[k] for k in ("ipCidrRange", "internalIpv6Prefix", "externalIpv6Prefix")
              if raw.get(k) is not None]
    for i, secondary in enumerate(_list(raw, "secondaryIpRanges", where)):
        secondary = _object(secondary, f"{where}.secondaryIpRanges[{i}]")
        if secondary.get("ipCidrRange") is not None:
            values.append(secondary["ipCidrRange"])
    if not values:
        raise ShapeError(f"{where}: no ipCidrRange or IPv6 prefix")
    return project, network, cidrs(values, f"{where} ranges")


def network_order(raw: Any, where: str) -> tuple[str, str, str]:
    """(project, name, enforcement order) of one ``gcloud compute networks list`` item."""
    raw = _object(raw, where)
    name = _text(raw, "name", where)
    link = _text(raw, "selfLink", where)
    if not name or not link:
        raise ShapeError(f"{where}: expected 'name' and 'selfLink'")
    project = url_part(link, "projects")
    if not project:
        raise ShapeError(f"{where}.selfLink: not a compute URL: {link!r}")
    order = _text(raw, "networkFirewallPolicyEnforcementOrder", where, ENFORCEMENT_ORDERS[0])
    if order not in ENFORCEMENT_ORDERS:
        raise ShapeError(f"{where}.networkFirewallPolicyEnforcementOrder: unknown order {order!r}")
    return project, name, order


def parse_instance(raw: Any, where: str) -> tuple[GcpInstance, tuple[tuple[str, str], ...]]:
    """An instance, and the (project, network) of each of its interfaces."""
    raw = _object(raw, where)
    name = _text(raw, "name", where)
    where = f"{where} (instance {name!r})"
    link = _text(raw, "selfLink", where) or _text(raw, "zone", where)
    project = url_part(link, "projects") if link else None
    if not project:
        raise ShapeError(f"{where}: expected a 'selfLink' or 'zone' URL naming its project")
    nets = tuple(network_of(_object(nic, f"{where}.networkInterfaces[{i}]").get("network"),
                            f"{where}.networkInterfaces[{i}].network")
                 for i, nic in enumerate(_list(raw, "networkInterfaces", where)))
    tags = _strings(_object(raw.get("tags") or {}, f"{where}.tags"), "items", f"{where}.tags")
    accounts = tuple(_text(_object(sa, f"{where}.serviceAccounts[{i}]"), "email",
                           f"{where}.serviceAccounts[{i}]")
                     for i, sa in enumerate(_list(raw, "serviceAccounts", where)))
    zone = _text(raw, "zone", where).rstrip("/").rpartition("/")[2] or url_part(link, "zones") or ""
    return GcpInstance(project=project, name=name, networks=tuple(n for _, n in nets), tags=tags,
                       service_accounts=accounts, zone=zone), nets


def _regional(rule: FirewallRule, region: str) -> FirewallRule:
    """A regional policy's rule: applies in its region only, and is named with it - the same
    policy name can exist in two regions, and findings name (and are keyed by) the rule."""
    name = rule.name if region == UNKNOWN else f"{region}/{rule.name}"
    return replace(rule, region=region, name=name)


def subnet_region(raw: Any, where: str) -> str | None:
    """The region of one subnet (its ``region`` URL, else its ``selfLink``); None when neither
    says (gcloud prints both)."""
    raw = _object(raw, where)
    region = _text(raw, "region", where)
    if region:
        return region.rstrip("/").rpartition("/")[2]
    return url_part(_text(raw, "selfLink", where), "regions")


# -- assembling a GcpState ------------------------------------------------------------------
@dataclass
class ProjectData:
    """What was read of one project, in the API's JSON shapes (None: not read)."""

    project: str
    networks: list[Any] | None = None
    firewalls: list[Any] | None = None
    subnetworks: list[Any] | None = None
    #: network name -> the networks.getEffectiveFirewalls answer
    effective: dict[str, Any] = field(default_factory=dict)
    #: network name -> region -> the regionNetworkFirewallPolicies.getEffectiveFirewalls answer,
    #: for each region where the network has subnets; None: not read (an older snapshot)
    regional: dict[str, dict[str, Any]] | None = None
    instances: list[Any] | None = None
    errors: list[ScanError] = field(default_factory=list)


def scan_error(project: str, operation: str, message: str, code: str = "") -> ScanError:
    return ScanError(account=project, region="global", operation=operation, message=message, code=code)


def needs_instances(rules: Iterable[FirewallRule]) -> bool:
    """Instances are read only when some rule targets service accounts."""
    return any(r.target_service_accounts for r in rules)


def uses_network_policies(policies: Sequence[FirewallPolicy] | None) -> bool:
    return any(p.kind in ("network", "regional") and p.rules for p in policies or ())


def decides_ingress(policy: FirewallPolicy) -> bool:
    """Whether a policy has an enabled ingress rule that ends evaluation (allow or deny): one of
    only ``goto_next`` rules hands everything to the next level, wherever it is placed."""
    return any(not r.disabled and r.direction == "INGRESS" and r.action != "goto_next"
               for r in policy.rules)


def effective_network(data: Mapping[str, Any], where: str) -> tuple[str, str] | None:
    """The (project, network) a get-effective-firewalls answer is about, from its VPC rules;
    None when it lists none."""
    seen = {network_of(_object(f, f"{where}.firewalls[{i}]").get("network"),
                       f"{where}.firewalls[{i}].network")
            for i, f in enumerate(_list(data, "firewalls", where))}
    if len(seen) > 1:
        raise ShapeError(f"{where}.firewalls: rules of several networks ({sorted(seen)}); "
                         "get-effective-firewalls answers for one")
    return next(iter(seen), None)


def known(value: str | None) -> str:
    return value if value else UNKNOWN
