"""Google Cloud: which network tags are audited, and the network each one lives in. Pure.

Coiled targets a cluster's machines by network tag, so the audited unit is a tag in one network
(networks are keyed by (project, network): "default" exists in every project).  A selected tag is
a target when some VPC firewall rule of the network names it in ``targetTags`` (disabled and
egress rules too: a cluster whose ingress rules are all gone is then reported missing, not
forgotten) or, when instances were read, some instance of the network carries it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sgaudit.model import FirewallRule, GcpInstance, GcpNetwork, GcpState, Group, Matcher, Vpc
from sgaudit.net import addresses

REGION = "global"


@dataclass(frozen=True, slots=True)
class NetworkRules:
    """One network with its VPC rules and (when read) instances."""

    network: GcpNetwork
    rules: tuple[FirewallRule, ...]
    instances: tuple[GcpInstance, ...] | None


def networks(state: GcpState) -> Iterator[NetworkRules]:
    """Every network that has rules, instances or a record, in (project, name) order."""
    rules: dict[tuple[str, str], list[FirewallRule]] = {}
    for rule in state.firewalls:
        rules.setdefault((rule.project, rule.network), []).append(rule)
    keys = sorted({*state.networks, *rules, *state.instances})
    for key in keys:
        network = state.networks.get(key) or GcpNetwork(project=key[0], name=key[1])
        yield NetworkRules(network, tuple(rules.get(key, ())), state.instances.get(key))


def target_group(network: GcpNetwork, tag: str) -> Group:
    """A tag as the reports show an audited unit."""
    return Group(group_id=tag, group_name=tag, vpc_id=network.name, region=REGION,
                 account=network.project, cloud="gcp")


def targets(net: NetworkRules, select: Matcher) -> list[Group]:
    """The selected tags of one network, sorted."""
    tags = {t for rule in net.rules for t in rule.target_tags}
    tags.update(t for inst in net.instances or () for t in inst.tags)
    groups = (target_group(net.network, tag) for tag in sorted(tags))
    return [g for g in groups if select.matches(g)]


def network_vpc(network: GcpNetwork) -> Vpc | None:
    """The ``Vpc`` the resolver needs: "inside the VPC" is inside any subnet range (primary and
    secondary, IPv4 and IPv6); "from the VPC" (disable_public_ingress) is from the first IPv4
    subnet range as the subnets were listed - a subnet's primary range comes before its
    secondary ranges.  None when the subnets were not read (the target is then unresolved
    wherever the desired state needs them)."""
    if network.subnet_ranges is None:
        return None
    ranges = tuple(addresses.canonical_cidr(r) for r in network.subnet_ranges)
    primary = next((r for r in ranges if ":" not in r), None)
    return Vpc(vpc_id=network.name, region=REGION, account=network.project,
               primary_cidr=primary, cidrs=ranges)
