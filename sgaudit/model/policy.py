"""The policy as records: options with their origins, places, grants and desired states, group
matchers, cluster overrides, waivers and the notify key."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from sgaudit.model.groups import Group
from sgaudit.model.terms import SCHEDULER


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
