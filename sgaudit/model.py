"""The values that flow through sgaudit: plain frozen records, no behaviour beyond naming."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, field, fields
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any, TypeVar

_R = TypeVar("_R")


def quick_init(cls: type[_R]) -> type[_R]:
    """Give a frozen, slotted dataclass an ``__init__`` that fills its slots through their
    descriptors: the same parameters, defaults and values as the generated one, about half the
    cost (that one goes through ``object.__setattr__`` by name for every field).  For the
    records a large snapshot makes by the hundred thousand (rules, findings, and the GCP
    engine's rects and pieces)."""
    params, lines = [], []
    namespace: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]  # a dataclass, by the decorator order
        if f.default_factory is not MISSING or not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain fields and defaults")
        namespace[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        lines.append(f"    _set_{f.name}(self, {f.name})\n")
    source = f"def __init__(self, {', '.join(params)}):\n{''.join(lines)}"
    exec(source, namespace)  # built from the class's own field names only
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__, init.__annotations__ = cls.__init__.__doc__, cls.__init__.__annotations__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls

#: the two kinds of Coiled group: the scheduler's (opened by the firewall options) and the
#: cluster-wide one (all traffic among the cluster's machines, nothing from outside)
SCHEDULER = "scheduler"
CLUSTER = "cluster"
ROLES: tuple[str, ...] = (SCHEDULER, CLUSTER)
UNKNOWN = "unknown"


class Severity(StrEnum):
    """How bad a finding is; declared worst first, so the order is the declaration order.
    String-valued: the JSON report and the history database store the plain words."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for the worst; sorting by rank puts the worst first."""
        return _SEVERITY_RANK[self]

    @classmethod
    def worst(cls, levels: Iterable[str]) -> Severity | None:
        found = [cls(level) for level in levels]
        return min(found, key=_SEVERITY_RANK.__getitem__) if found else None


_SEVERITY_RANK: dict[str, int] = {s.value: i for i, s in enumerate(Severity)}
#: every severity, worst first
SEVERITIES: tuple[Severity, ...] = tuple(Severity)


class Kind(StrEnum):
    EXTRA = "extra"
    MISSING = "missing"


class Status(StrEnum):
    """A group's verdict in a report."""

    OK = "ok"
    DRIFT = "drift"
    ACCEPTED = "accepted"
    UNRESOLVED = "unresolved"


@quick_init
@dataclass(frozen=True, slots=True)
class Rule:
    """One actual ingress grant with exactly one source, as it stands in the cloud.

    ``protocol`` is canonical ("tcp", "udp", "icmp", "icmpv6", "-1" or a number); ports are
    AWS's FromPort/ToPort (-1 for all); ``source`` is a canonical CIDR, ``sg-…`` or ``pl-…``.
    """

    protocol: str
    from_port: int
    to_port: int
    source: str
    rule_id: str | None = None
    description: str | None = None
    #: for a security-group source: the account that owns it (``UserId``) and the peering
    #: connection it is reached through, so a rollback re-creates exactly this reference
    peer_account: str | None = None
    peering_id: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Group:
    """An audited unit: an AWS security group, or a GCP network tag in one network (then
    ``group_id`` and ``group_name`` are the tag, ``vpc_id`` the network's name, ``account`` the
    project id and ``region`` "global")."""

    group_id: str
    group_name: str
    vpc_id: str | None
    region: str
    account: str
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    rules: tuple[Rule, ...] = ()
    cloud: str = "aws"

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)


@dataclass(frozen=True, slots=True)
class Vpc:
    vpc_id: str
    region: str
    account: str
    primary_cidr: str | None
    #: every associated block, IPv4 and IPv6, canonical
    cidrs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an option value came from: "policy.yaml:7", "env DASK_…", or "default"."""

    key: str
    value: object
    where: str

    def __str__(self) -> str:
        return f"{self.key}={_show(self.value)} ({self.where})"


def _show(value: object) -> str:
    """A value as the policy would spell it (YAML flow style), not as Python's repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a waiver or an ``allow`` entry applies: an AWS account or GCP project, a region, a
    GCP network (None: any).  A target name alone is not enough on Google Cloud: one network
    tag can exist in every project and network."""

    account: str | None = None
    region: str | None = None
    network: str | None = None

    def holds(self, group: Group) -> bool:
        if self.account is not None and group.account != self.account:
            return False
        if self.region is not None and group.region != self.region:
            return False
        return self.network is None or (group.cloud == "gcp" and group.vpc_id == self.network)

    @property
    def anywhere(self) -> bool:
        return self.account is None and self.region is None and self.network is None

    def __str__(self) -> str:
        """As the policy says it: "account staging network default"; "" when anywhere."""
        parts = (("account", self.account), ("region", self.region), ("network", self.network))
        return " ".join(f"{key} {value}" for key, value in parts if value is not None)


ANYWHERE = Place()


@dataclass(frozen=True, slots=True)
class Grant:
    """A rule of a desired state: one protocol, one port range, one source, and why."""

    protocol: str
    from_port: int
    to_port: int
    source: str
    reason: str
    origins: tuple[Origin, ...] = ()
    #: an ``allow`` entry applies only to the groups of its place
    place: Place = ANYWHERE


@dataclass(frozen=True, slots=True)
class DesiredState:
    """What a group must allow (required) and may allow (permitted, beyond required)."""

    required: tuple[Grant, ...]
    permitted: tuple[Grant, ...]
    warnings: tuple[str, ...] = ()
    #: when the state could not be computed (e.g. VPC CIDR unknown): why
    unresolved: str | None = None
    #: "scheduler" (the firewall options apply) or "cluster" (only its own traffic)
    role: str = SCHEDULER


@quick_init
@dataclass(frozen=True, slots=True)
class Finding:
    key: str
    kind: Kind
    severity: Severity
    account: str
    region: str
    group_id: str
    group_name: str
    protocol: str
    from_port: int
    to_port: int
    source: str
    rule_ids: tuple[str, ...]
    reason: str
    description: str | None = None
    waived: bool = False
    waiver_reason: str | None = None
    baselined: bool = False
    first_seen: str | None = None

    @property
    def active(self) -> bool:
        return not (self.waived or self.baselined)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A finding the history had open and a scan resolved (it read the finding's place
    completely and did not find it): what the history keeps of it."""

    key: str
    kind: str
    severity: str
    account: str
    region: str
    group_id: str
    first_seen: str


@dataclass(frozen=True, slots=True)
class ScanError:
    """Something that could not be read; any one of these makes the scan incomplete."""

    account: str
    region: str
    operation: str
    message: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """What an organization-wide scan (``--org-role``) covered: so a report can never read as
    complete for accounts it did not look at."""

    #: accounts ListAccounts returned (every status)
    discovered: int
    #: accounts in scope and read without an error
    read: int
    #: accounts in scope with at least one error (unassumable, suspended, not listed, a region
    #: unreadable); their ids in ``failed_ids``
    failed: int
    #: accounts left out by --accounts / --exclude-accounts (or the policy's keys)
    excluded: int
    failed_ids: tuple[str, ...] = ()
    #: account id -> name, as ListAccounts gave them (for readers of the report)
    names: tuple[tuple[str, str], ...] = ()
    #: accounts asked for (--accounts) that ListAccounts did not return (counted in ``failed``
    #: too): discovered + not_listed = read + failed + excluded
    not_listed: int = 0

    def as_dict(self) -> dict[str, object]:
        """As the JSON report (key ``accounts``) and an org snapshot (``organization``) hold it."""
        return {"discovered": self.discovered, "read": self.read, "failed": self.failed,
                "excluded": self.excluded, "not_listed": self.not_listed,
                "failed_accounts": list(self.failed_ids), "names": dict(self.names)}

    def adds_up(self) -> bool:
        """Every account discovered or asked for is read, failed or excluded, once."""
        return (self.discovered + self.not_listed == self.read + self.failed + self.excluded
                and len(self.failed_ids) == self.failed)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a source read: groups, the VPCs and prefix lists they need, and what failed."""

    groups: tuple[Group, ...]
    #: (region, vpc-id) -> Vpc
    vpcs: dict[tuple[str, str], Vpc] = field(default_factory=dict)
    #: (region, pl-id) -> canonical CIDRs; absent when the entries could not be read
    prefix_lists: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    errors: tuple[ScanError, ...] = ()
    #: the files or accounts/regions that were read, for the report header
    scanned: tuple[str, ...] = ()
    #: (account, region) of every AWS place the source read, groups or not: a region read
    #: whole with no selected group left is evidence that its old findings are gone (Google
    #: Cloud's are networks: ``GcpState.read``)
    read: tuple[tuple[str, str], ...] = ()
    #: what a Google Cloud source read (firewall rules, policies, subnets, instances), if any
    gcp: GcpState | None = None
    #: the accounts an organization-wide scan covered (None: not an org scan)
    accounts: AccountSummary | None = None


# -- Google Cloud ---------------------------------------------------------------------------
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


@quick_init
@dataclass(frozen=True, slots=True)
class AppliedRule:
    """A firewall rule (or policy rule) that applies to a GCP target, in evaluation order: what
    the reports show so a reader can follow GCP's own evaluation."""

    #: "hierarchical policy NAME", "VPC firewall rules", "network policy NAME", …
    level: str
    name: str
    priority: int
    action: str
    #: "yes", or "possibly: why" (a service account or secure tag sgaudit could not check)
    applies: str
    #: what it matches, e.g. "tcp 22 from 0.0.0.0/0"
    matches: str
    #: the keys of the findings this rule decides (an extra it grants, a missing it takes away)
    decides: tuple[str, ...] = ()


@quick_init
@dataclass(frozen=True, slots=True)
class GroupResult:
    group: Group
    desired: DesiredState
    findings: tuple[Finding, ...]
    #: GCP targets: the rules that apply, in evaluation order (empty for AWS groups)
    applied: tuple[AppliedRule, ...] = ()

    @property
    def status(self) -> Status:
        if self.desired.unresolved:
            return Status.UNRESOLVED
        if any(f.active for f in self.findings):
            return Status.DRIFT
        if self.findings:
            return Status.ACCEPTED
        return Status.OK

    @property
    def role(self) -> str:
        return self.desired.role


@dataclass(frozen=True, slots=True)
class Matcher:
    """Selects groups: every given criterion must hold; within a list, any entry may match."""

    tags: tuple[tuple[str, str], ...] = ()
    names: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    #: globs on GCP network tags; they select GCP targets only, the other keys AWS groups only
    network_tags: tuple[str, ...] = ()

    def matches(self, group: Group) -> bool:
        if group.cloud == "gcp":
            return self._matches_gcp(group)
        if self.network_tags and not self.aws_criteria:
            return False
        if self.group_ids and group.group_id not in self.group_ids:
            return False
        if self.names and not any(fnmatchcase(group.group_name, n) for n in self.names):
            return False
        if self.tags:
            have = dict(group.tags)  # as tag_map, without the property call: a hot path
            for k, v in self.tags:
                if have.get(k) != v:
                    return False
        return True

    def _matches_gcp(self, group: Group) -> bool:
        """An empty matcher selects everything; AWS-only criteria select no GCP target."""
        if not self.network_tags:
            return not self.aws_criteria
        return any(fnmatchcase(group.group_id, t) for t in self.network_tags)

    @property
    def aws_criteria(self) -> bool:
        return bool(self.tags or self.names or self.group_ids)

    @property
    def tags_only(self) -> bool:
        return bool(self.tags) and not self.names and not self.group_ids


#: option name -> where its value came from (the value is inside the Origin)
Options = dict[str, Origin]


@dataclass(frozen=True, slots=True)
class ClusterOverride:
    matcher: Matcher
    options: Options
    where: str
    cluster_args: Options = field(default_factory=dict)
    #: the role this entry gives the groups it matches; None: it says nothing about the role
    role: str | None = None


@dataclass(frozen=True, slots=True)
class RoleSelector:
    """``roles: {cluster: {names: [...]}}`` in the policy: which groups have a role."""

    role: str
    matcher: Matcher
    where: str


@dataclass(frozen=True, slots=True)
class Waiver:
    group_id: str
    protocol: str
    from_port: int
    to_port: int
    source: str
    reason: str
    expires: str
    where: str
    #: the waiver covers the findings of targets in this place only
    place: Place = ANYWHERE


@dataclass(frozen=True, slots=True)
class WaiverNotice:
    """A waiver a report calls out, with the days left on the scan's date (negative: expired)
    and, for a stale waiver, why it is stale."""

    waiver: Waiver
    days_left: int
    why: str | None = None
    #: the waived group's role, when it is not a scheduler's (the default)
    role: str | None = None


@dataclass(frozen=True, slots=True)
class WaiverNotices:
    expiring: tuple[WaiverNotice, ...] = ()
    expired: tuple[WaiverNotice, ...] = ()
    stale: tuple[WaiverNotice, ...] = ()


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One recorded scan in the report's trend chart."""

    scanned_at: str
    open: int
    active: int


#: when a notice is sent: new findings only, also resolved ones, or after every scan
NOTIFY_ON: tuple[str, ...] = ("new", "changed", "always")


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """The policy's ``notify:`` key: where notices go and when (None: the command line's
    default).  Each URL (or ``env:NAME``) keeps its place in the file, for messages; the
    deliver stage checks it."""

    urls: tuple[tuple[str, str], ...] = ()
    on: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    path: str | None
    sha256: str
    account_options: Options
    dask_options: Options
    select: Matcher
    clusters: tuple[ClusterOverride, ...] = ()
    allow: tuple[Grant, ...] = ()
    warnings: tuple[str, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    cluster_args: Options = field(default_factory=dict)
    client_ip: str | None = None
    #: the policy's ``roles:`` selectors (see RoleSelector)
    roles: tuple[RoleSelector, ...] = ()
    #: organization scans: only these account ids (empty: every account) ...
    accounts: tuple[str, ...] = ()
    #: ... and never these
    exclude_accounts: tuple[str, ...] = ()
    #: the policy's ``notify:`` key (None: absent)
    notify: NotifyConfig | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a renderer needs; renderers compute nothing that changes the verdict."""

    complete: bool
    errors: tuple[ScanError, ...]
    results: tuple[GroupResult, ...]
    warnings: tuple[str, ...]
    generated_at: str
    policy_path: str | None
    scanned: tuple[str, ...]
    #: (account, region) of every AWS place the source read (see Snapshot.read)
    read: tuple[tuple[str, str], ...] = ()
    #: (project, network) of every Google Cloud network read completely (see GcpState.read)
    networks_read: tuple[tuple[str, str], ...] = ()
    #: waivers to call out (expiring, expired, stale); None when the policy has no waivers
    waivers: WaiverNotices | None = None
    #: open findings of the last scans, oldest first; None without a scan history
    trend: tuple[TrendPoint, ...] | None = None
    #: the accounts an organization-wide scan covered (see Snapshot.accounts)
    accounts: AccountSummary | None = None
    #: the findings this scan resolved, from the history; None without a history
    resolved: tuple[Resolved, ...] | None = None

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    @property
    def active_findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings if f.active]
