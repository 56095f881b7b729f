"""What a Google Cloud source reads: VPC firewall rules, firewall policies, networks, instances."""

from __future__ import annotations

from dataclasses import dataclass, field

#: firewall-policy source kinds that stand for addresses on the internet (a country's, a threat
#: list's, a domain's, an address group's - sgaudit cannot size them): their tokens
#: ("srcRegionCodes:CN") rate as public sources reachable by the world
PUBLIC_SOURCE_KINDS = ("srcAddressGroups", "srcFqdns", "srcRegionCodes", "srcThreatIntelligences")


@dataclass(frozen=True, slots=True)
class FirewallMatch:
    """One ``allowed``/``denied`` entry of a VPC rule, or one ``layer4Configs`` entry of a
    policy rule: a protocol (canonical, as ``Rule.protocol``; "-1" for ``all``) and its port
    ranges (empty: every port)."""

    protocol: str
    ports: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class FirewallRule:
    """A VPC firewall rule or a firewall-policy rule, as GCP evaluates it."""

    #: the VPC rule's name; "POLICY/PRIORITY" for a policy rule
    name: str
    project: str
    #: the network's name (the last part of its URL)
    network: str
    priority: int
    #: "allow", "deny" or "goto_next" (apply_security_profile_group counts as allow)
    action: str
    matches: tuple[FirewallMatch, ...]
    direction: str = "INGRESS"
    disabled: bool = False
    #: canonical CIDRs
    source_ranges: tuple[str, ...] = ()
    source_tags: tuple[str, ...] = ()
    source_service_accounts: tuple[str, ...] = ()
    #: policy sources sgaudit cannot resolve to addresses (secure tags, address groups, FQDNs,
    #: region codes, threat intelligence lists), as "kind:value" tokens
    source_other: tuple[str, ...] = ()
    target_tags: tuple[str, ...] = ()
    target_service_accounts: tuple[str, ...] = ()
    target_secure_tags: tuple[str, ...] = ()
    description: str = ""
    #: set on the rules of a regional network firewall policy: the rule applies only to
    #: instances in this region (``UNKNOWN`` when the answer did not say which region)
    region: str | None = None
    #: match fields of a policy rule that narrow it (ANDed with its sources) and that sgaudit
    #: cannot evaluate exactly ("srcNetworkType:VPC_NETWORKS", "destIpRanges:10.0.0.0/8"): the
    #: rule then only possibly applies
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FirewallPolicy:
    """A hierarchical, global network or regional network firewall policy that applies to a
    network; ``order`` ranks hierarchical policies from the organization (0) down."""

    name: str
    #: "hierarchical", "system" (a Google-managed regional system policy), "system-global" (a
    #: system policy whose place in the evaluation order Google does not document), "network"
    #: or "regional"
    kind: str
    rules: tuple[FirewallRule, ...]
    order: int = 0
    #: the region of a regional (network or system) policy (``UNKNOWN`` when its answer did not
    #: say); None otherwise
    region: str | None = None


@dataclass(frozen=True, slots=True)
class GcpNetwork:
    project: str
    name: str
    #: "AFTER_CLASSIC_FIREWALL" (GCP's default) or "BEFORE_CLASSIC_FIREWALL"
    enforcement_order: str = "AFTER_CLASSIC_FIREWALL"
    #: every subnet range of the network (primary and secondary, IPv4 and IPv6), canonical;
    #: None when the subnets were not read
    subnet_ranges: tuple[str, ...] | None = None
    #: the firewall policies that apply to it, in evaluation order; None when not read
    policies: tuple[FirewallPolicy, ...] | None = None


@dataclass(frozen=True, slots=True)
class GcpInstance:
    project: str
    name: str
    networks: tuple[str, ...]
    tags: tuple[str, ...]
    service_accounts: tuple[str, ...]
    #: the zone's name ("us-east1-b"); "" when not known
    zone: str = ""

    @property
    def region(self) -> str:
        """The zone's region ("us-east1"): regional firewall policies apply by it; "" unknown."""
        return self.zone.rpartition("-")[0]


@dataclass(frozen=True, slots=True)
class GcpState:
    """What a Google Cloud source read, for every project and network."""

    #: (project, network name) -> network
    networks: dict[tuple[str, str], GcpNetwork] = field(default_factory=dict)
    #: the VPC firewall rules of every network read
    firewalls: tuple[FirewallRule, ...] = ()
    #: (project, network name) -> its instances; a missing key: instances were not read
    instances: dict[tuple[str, str], tuple[GcpInstance, ...]] = field(default_factory=dict)
    #: (project, network name) of every network read completely: what a scan of it found
    #: is all there is (the history and the baseline resolve only there)
    read: tuple[tuple[str, str], ...] = ()
