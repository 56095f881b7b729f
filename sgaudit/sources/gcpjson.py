"""Google Cloud's JSON -> model records: VPC firewall rules, subnets, networks, instances.

The shapes are those ``gcloud compute … --format=json`` prints and the compute REST API returns;
``detect`` tells which one a file holds.  Firewall policies are read by ``gcppolicies``, with the
field readers and the protocol, port and CIDR parsing here.

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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sgaudit.model import FirewallMatch, FirewallRule, GcpInstance, ScanError
from sgaudit.net import addresses, intervals, ports
from sgaudit.sources.awsjson import ShapeError, _brief

#: protocol names GCP accepts besides those ``ports.normalize_protocol`` knows
_GCP_PROTOCOLS = {"esp": "50", "ah": "51", "sctp": "132", "ipip": "4"}
#: the protocols whose ``ports`` GCP accepts
_WITH_PORTS = frozenset({"tcp", "udp", "132"})
VPC_PRIORITY_MAX = 65535
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
    return item_kind(data[0], "$[0]")


def item_kind(item: Any, where: str) -> str:
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


def strings_of(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ShapeError(f"{where}.{key}: expected a list of strings, got {_brief(value)}")
    return tuple(value)


def text_of(obj: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ShapeError(f"{where}.{key}: expected a string, got {_brief(value)}")
    return value


def object_of(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where}: expected an object, got {_brief(value)}")
    return value


def list_of(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
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
    entry = object_of(entry, where)
    if protocol_key not in entry:
        raise ShapeError(f"{where}: missing key {protocol_key!r}")
    protocol = protocol_of(entry[protocol_key], f"{where}.{protocol_key}")
    raw_ports = list_of(entry, "ports", where)
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


def direction_of(raw: Mapping[str, Any], where: str) -> str:
    direction = text_of(raw, "direction", where, "INGRESS")
    if direction not in ("INGRESS", "EGRESS"):
        raise ShapeError(f"{where}.direction: expected INGRESS or EGRESS, got {direction!r}")
    return direction


def disabled_of(raw: Mapping[str, Any], where: str) -> bool:
    value = raw.get("disabled", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ShapeError(f"{where}.disabled: expected true or false, got {_brief(value)}")
    return value


def parse_firewall(raw: Any, where: str) -> FirewallRule:
    """One VPC firewall rule (``gcloud compute firewall-rules list`` item)."""
    raw = object_of(raw, where)
    name = text_of(raw, "name", where)
    if not name:
        raise ShapeError(f"{where}: missing key 'name'")
    where = f"{where} (firewall rule {name!r})"
    project, network = network_of(raw.get("network"), f"{where}.network")
    allowed, denied = list_of(raw, "allowed", where), list_of(raw, "denied", where)
    if bool(allowed) == bool(denied):
        raise ShapeError(f"{where}: expected exactly one of 'allowed' and 'denied'")
    key = "allowed" if allowed else "denied"
    matches = tuple(match_of(e, f"{where}.{key}[{i}]", "IPProtocol")
                    for i, e in enumerate(allowed or denied))
    direction = direction_of(raw, where)
    ranges = cidrs(strings_of(raw, "sourceRanges", where), f"{where}.sourceRanges")
    tags = strings_of(raw, "sourceTags", where)
    accounts = strings_of(raw, "sourceServiceAccounts", where)
    if direction == "INGRESS" and not (ranges or tags or accounts):
        ranges = ("0.0.0.0/0",)  # GCP's default source for an ingress rule that names none
    return FirewallRule(
        name=name, project=project, network=network,
        priority=priority_of(raw, where, 1000, VPC_PRIORITY_MAX),
        action="allow" if allowed else "deny", matches=matches, direction=direction,
        disabled=disabled_of(raw, where), source_ranges=ranges, source_tags=tags,
        source_service_accounts=accounts,
        target_tags=strings_of(raw, "targetTags", where),
        target_service_accounts=strings_of(raw, "targetServiceAccounts", where),
        description=text_of(raw, "description", where))



# -- subnets, networks, instances -------------------------------------------------------------
def subnet_ranges(raw: Any, where: str) -> tuple[str, str, tuple[str, ...]]:
    """(project, network, ranges) of one subnet; see the module's note on which ranges count."""
    raw = object_of(raw, where)
    name = text_of(raw, "name", where) or "?"
    where = f"{where} (subnet {name!r})"
    project, network = network_of(raw.get("network"), f"{where}.network")
    values = [raw[k] for k in ("ipCidrRange", "internalIpv6Prefix", "externalIpv6Prefix")
              if raw.get(k) is not None]
    for i, secondary in enumerate(list_of(raw, "secondaryIpRanges", where)):
        secondary = object_of(secondary, f"{where}.secondaryIpRanges[{i}]")
        if secondary.get("ipCidrRange") is not None:
            values.append(secondary["ipCidrRange"])
    if not values:
        raise ShapeError(f"{where}: no ipCidrRange or IPv6 prefix")
    return project, network, cidrs(values, f"{where} ranges")


def network_order(raw: Any, where: str) -> tuple[str, str, str]:
    """(project, name, enforcement order) of one ``gcloud compute networks list`` item."""
    raw = object_of(raw, where)
    name = text_of(raw, "name", where)
    link = text_of(raw, "selfLink", where)
    if not name or not link:
        raise ShapeError(f"{where}: expected 'name' and 'selfLink'")
    project = url_part(link, "projects")
    if not project:
        raise ShapeError(f"{where}.selfLink: not a compute URL: {link!r}")
    order = text_of(raw, "networkFirewallPolicyEnforcementOrder", where, ENFORCEMENT_ORDERS[0])
    if order not in ENFORCEMENT_ORDERS:
        raise ShapeError(f"{where}.networkFirewallPolicyEnforcementOrder: unknown order {order!r}")
    return project, name, order


def parse_instance(raw: Any, where: str) -> tuple[GcpInstance, tuple[tuple[str, str], ...]]:
    """An instance, and the (project, network) of each of its interfaces."""
    raw = object_of(raw, where)
    name = text_of(raw, "name", where)
    where = f"{where} (instance {name!r})"
    link = text_of(raw, "selfLink", where) or text_of(raw, "zone", where)
    project = url_part(link, "projects") if link else None
    if not project:
        raise ShapeError(f"{where}: expected a 'selfLink' or 'zone' URL naming its project")
    nets = tuple(network_of(object_of(nic, f"{where}.networkInterfaces[{i}]").get("network"),
                            f"{where}.networkInterfaces[{i}].network")
                 for i, nic in enumerate(list_of(raw, "networkInterfaces", where)))
    tags = strings_of(object_of(raw.get("tags") or {}, f"{where}.tags"), "items", f"{where}.tags")
    accounts = tuple(text_of(object_of(sa, f"{where}.serviceAccounts[{i}]"), "email",
                           f"{where}.serviceAccounts[{i}]")
                     for i, sa in enumerate(list_of(raw, "serviceAccounts", where)))
    zone = text_of(raw, "zone", where).rstrip("/").rpartition("/")[2] or url_part(link, "zones") or ""
    return GcpInstance(project=project, name=name, networks=tuple(n for _, n in nets), tags=tags,
                       service_accounts=accounts, zone=zone), nets



def subnet_region(raw: Any, where: str) -> str | None:
    """The region of one subnet (its ``region`` URL, else its ``selfLink``); None when neither
    says (gcloud prints both)."""
    raw = object_of(raw, where)
    region = text_of(raw, "region", where)
    if region:
        return region.rstrip("/").rpartition("/")[2]
    return url_part(text_of(raw, "selfLink", where), "regions")


# -- one project's answers --------------------------------------------------------------------
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


def effective_network(data: Mapping[str, Any], where: str) -> tuple[str, str] | None:
    """The (project, network) a get-effective-firewalls answer is about, from its VPC rules;
    None when it lists none."""
    seen = {network_of(object_of(f, f"{where}.firewalls[{i}]").get("network"),
                       f"{where}.firewalls[{i}].network")
            for i, f in enumerate(list_of(data, "firewalls", where))}
    if len(seen) > 1:
        raise ShapeError(f"{where}.firewalls: rules of several networks ({sorted(seen)}); "
                         "get-effective-firewalls answers for one")
    return next(iter(seen), None)

