"""Coiled's options -> the desired state of a group (DESIGN.md section 3). Pure: no I/O.

A desired state never names the group itself: a rule from the group to itself is written with
the source ``self``, so one state serves every group with the same options and VPC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sgaudit.errors import PolicyError
from sgaudit.model import DesiredState, Grant, Group, Options, Origin, Policy, Vpc
from sgaudit.net import addresses, intervals, ports
from sgaudit.policy import clusterargs

SSH = 22
SCHEDULER = 8786
DASHBOARD = 8787
PUBLIC = "0.0.0.0/0"
SELF = "self"
#: the source of "inside the VPC" when the VPC's CIDR is unknown: it stands for any VPC
#: (see diff.could_be_inside_a_vpc); one state then serves every group of unknown VPC
UNKNOWN_VPC = "vpc?"
LEGACY_FLAGS = ("enable_public_ssh", "enable_public_http", "disable_public_ingress", "firewall")
#: the options key that carries the ingress list built from a cluster's arguments
CLUSTER_ARGS = clusterargs.GIVEN

SELF_GRANT = Grant(ports.ALL, -1, -1, SELF,
                   "the cluster's machines talk to each other (always permitted)")


def effective_options(policy: Policy, group: Group) -> tuple[Options, tuple[int, ...]]:
    """Options for a group: account < dask config < every matching cluster entry, in order.

    When the group's cluster arguments were written (top-level ``cluster_args`` < every
    matching entry's), ``CLUSTER_ARGS`` holds the ingress list the client builds from them.

    Also returns the indices of the matching cluster entries: together with the VPC they
    determine the desired state, so callers use them as a cache key.
    """
    merged: Options = dict(policy.account_options)
    merged.update(policy.dask_options)
    matched = tuple(i for i, c in enumerate(policy.clusters) if c.matcher.matches(group))
    for i in matched:
        merged.update(policy.clusters[i].options)
    args = clusterargs.effective_args(policy.cluster_args,
                                      [policy.clusters[i].cluster_args for i in matched])
    if clusterargs.present(args):
        _refuse_cluster_ingress(policy, matched, merged, args)
        merged[CLUSTER_ARGS] = Origin(CLUSTER_ARGS, clusterargs.ingress_list(args),
                                      args[clusterargs.GIVEN].where)
    return merged, matched


def _refuse_cluster_ingress(policy: Policy, matched: tuple[int, ...], merged: Options,
                            args: Options) -> None:
    """An ``ingress`` given in the same ``coiled.Cluster`` call as cluster arguments (from two
    entries that both match the group) is refused, as the client refuses it; the account-level
    ``ingress`` is only a default that the arguments replace."""
    ingress = merged.get("ingress")
    if ingress is None or ingress is policy.account_options.get("ingress"):
        return
    ingress_key = "dask config coiled.backend-options.ingress"
    args_key = "cluster_args"
    for i in matched:
        entry = policy.clusters[i]
        if entry.options.get("ingress") is ingress:
            ingress_key = f"clusters[{i}].backend_options.ingress"
        if entry.cluster_args.get(clusterargs.GIVEN) is args[clusterargs.GIVEN]:
            args_key = f"clusters[{i}].cluster_args"
    raise clusterargs.refuse_ingress_with_args(ingress, ingress_key, args[clusterargs.GIVEN],
                                               args_key)


def group_role(policy: Policy, group: Group, matched: tuple[int, ...]) -> tuple[str, Origin | None]:
    """The group's role and where it was set (None: the default, a scheduler's group).

    ``roles:`` selectors and the ``role`` of every matching ``clusters`` entry (``matched``, as
    ``effective_options`` returns it) each claim a role; claims that disagree are refused, since
    a group judged by the wrong role hides drift or raises false alarms on every scan."""
    claims = [(s.role, f"roles.{s.role} ({s.where})", s.where)
              for s in policy.roles if s.matcher.matches(group)]
    claims += [(c.role, f"clusters[{i}] ({c.where})", c.where)
               for i in matched if (c := policy.clusters[i]).role is not None]
    if not claims:
        return "scheduler", None
    by_role = {role: name for role, name, _ in reversed(claims)}
    if len(by_role) > 1:
        said = ", ".join(f"{by_role[r]} says {r}" for r in sorted(by_role, reverse=True))
        raise PolicyError(f"{policy.path or 'policy'}: {group.group_id} is matched to both roles: "
                          f"{said}; give each group one role")
    role, _, where = claims[0]
    return role, Origin("role", role, where)


def resolve_cluster(policy: Policy, matched: tuple[int, ...], origin: Origin | None,
                    allow: Sequence[Grant] | None = None) -> DesiredState:
    """The desired state of a cluster-wide group: all traffic from itself is required (without
    it the cluster's machines cannot talk), nothing else is permitted but the policy's
    ``allow`` list (``allow``: its entries for the group's place; default all of them); the
    firewall options, which shape the scheduler's group, do not apply."""
    own = Grant(ports.ALL, -1, -1, SELF,
                "the group is cluster-wide (role cluster): the cluster's machines reach each "
                "other on every port", (origin,) if origin else ())
    warnings = [f"{c.where}: the firewall options of clusters[{i}] do not apply to the "
                f"cluster-wide groups it matches (role cluster, {origin.where if origin else '?'})"
                for i in matched if (c := policy.clusters[i]).role is None
                and (c.options or c.cluster_args)]
    permitted = policy.allow if allow is None else allow
    return DesiredState((own,), tuple(_dedupe(permitted)), tuple(warnings), role="cluster")


def resolve(options: Options, vpc: Vpc | None, allow: Sequence[Grant] = ()) -> DesiredState:
    """The desired state that ``options`` give a group in ``vpc``."""
    builder = _Builder(options, vpc)
    if CLUSTER_ARGS in options:
        builder.from_cluster_args(options[CLUSTER_ARGS])
    elif "ingress" in options:
        builder.from_ingress(options["ingress"])
    elif _flag(options, "disable_public_ingress", False)[0]:
        builder.disabled_public_ingress()
    else:
        builder.from_flags()
    if builder.unresolved:
        # Nothing can be required without the VPC's CIDR, but the envelope can still be drawn
        # with "inside the VPC" standing for any VPC: what falls outside even that is extra
        # whatever the CIDR turns out to be.
        # Rules that do not depend on the VPC stay required.
        envelope = [*builder.required, *builder.permitted, SELF_GRANT, *allow]
        return DesiredState(tuple(_dedupe(builder.required)), tuple(_dedupe(envelope)),
                            tuple(builder.warnings), builder.unresolved)
    permitted = [g for g in builder.permitted if g not in builder.required]
    permitted.append(SELF_GRANT)
    permitted.extend(allow)
    return DesiredState(tuple(_dedupe(builder.required)), tuple(_dedupe(permitted)),
                        tuple(builder.warnings))


def _flag(options: Options, key: str, default: bool) -> tuple[bool, Origin]:
    origin = options.get(key)
    if origin is None:
        return default, Origin(key, default, "default")
    return bool(origin.value), origin


def _dedupe(grants: Iterable[Grant]) -> list[Grant]:
    seen: dict[tuple[str, int, int, str], Grant] = {}
    for g in grants:
        seen.setdefault((g.protocol, g.from_port, g.to_port, g.source), g)
    return list(seen.values())


class _Builder:
    def __init__(self, options: Options, vpc: Vpc | None) -> None:
        self.options = options
        self.vpc = vpc
        self.required: list[Grant] = []
        self.permitted: list[Grant] = []
        self.warnings: list[str] = []
        self.unresolved: str | None = None

    # -- sources -------------------------------------------------------------------------
    def vpc_primary(self) -> str | None:
        if self.vpc is None or not self.vpc.primary_cidr:
            self.unresolved = ("the VPC's CIDR is needed but unknown (no describe-vpcs data for "
                               "it: add that output to the snapshot, or see why it could not be "
                               "read)")
            return None
        return self.vpc.primary_cidr

    def vpc_blocks(self) -> tuple[str, ...]:
        """The VPC's blocks; when unknown, the UNKNOWN_VPC stand-in (see ``resolve``)."""
        if self.vpc_primary() is None or self.vpc is None:
            return (UNKNOWN_VPC,)
        return self.vpc.cidrs or (self.vpc.primary_cidr or "",)

    # -- grants --------------------------------------------------------------------------
    def require(self, port: int, source: str, reason: str, *origins: Origin) -> None:
        self.required.append(Grant("tcp", port, port, source, reason, origins))

    def permit_inside_vpc(self, port: int, reason: str, *origins: Origin) -> None:
        for block in self.vpc_blocks():
            self.permitted.append(Grant("tcp", port, port, block, reason, origins))

    # -- the cases of DESIGN.md section 3 -----------------------------------------------
    def from_flags(self) -> None:
        ssh, ssh_origin = _flag(self.options, "enable_public_ssh", True)
        http, http_origin = _flag(self.options, "enable_public_http", True)
        firewall = self.options.get("firewall")
        if ssh:
            self.require(SSH, PUBLIC, "enable_public_ssh is true: ssh open to the world",
                         ssh_origin)
        else:
            self.permit_inside_vpc(SSH, "enable_public_ssh is false: ssh only from inside the VPC",
                                   ssh_origin)
        if firewall is not None:
            self.firewall_rules(firewall)
        elif http:
            for port in (SCHEDULER, DASHBOARD):
                self.require(port, PUBLIC, "enable_public_http is true: Dask ports open to the world",
                             http_origin)
        else:
            for port in (SCHEDULER, DASHBOARD):
                self.permit_inside_vpc(
                    port, "enable_public_http is false: Dask ports only from inside the VPC",
                    http_origin)

    def firewall_rules(self, firewall: Origin, required: bool = True) -> None:
        spec = firewall.value
        assert isinstance(spec, dict)
        cidr = spec["cidr"]
        for port in (SCHEDULER, DASHBOARD, *spec["ports"]):
            reason = f"firewall opens the Dask ports and {list(spec['ports'])} to {cidr}"
            if required:
                self.require(port, cidr, reason, firewall)
            else:
                self.permitted.append(Grant("tcp", port, port, cidr, reason, (firewall,)))

    def disabled_public_ingress(self) -> None:
        disable = self.options["disable_public_ingress"]
        for key in ("enable_public_ssh", "enable_public_http"):
            origin = self.options.get(key)
            if origin is not None and origin.value is True:
                self.warnings.append(f"disable_public_ingress ({disable.where}) overrides "
                                     f"{key}=true ({origin.where})")
        primary = self.vpc_primary()
        reason = "disable_public_ingress is true: ingress only from the VPC"
        for port in (SSH, SCHEDULER, DASHBOARD):
            if primary is not None:
                self.require(port, primary, reason, disable)
            self.permit_inside_vpc(port, reason, disable)
        firewall = self.options.get("firewall")
        if firewall is None:
            return
        cidr = firewall.value["cidr"]  # type: ignore[index]
        if primary is None:  # the widest envelope: the firewall's CIDR may lie inside the VPC,
            self.firewall_rules(firewall, required=False)  # but whether it must is unknown
            return
        blocks = tuple(b for b in self.vpc_blocks() if ":" not in b)
        if intervals.covers(addresses.cidr_set(blocks), addresses.cidr_set([cidr])):
            self.firewall_rules(firewall)
        else:
            self.warnings.append(
                f"disable_public_ingress ({disable.where}) overrides firewall ({firewall.where}): "
                f"{cidr} is not inside the VPC ({', '.join(blocks)})")

    def from_ingress(self, ingress: Origin) -> None:
        for key in LEGACY_FLAGS:
            origin = self.options.get(key)
            if origin is not None:
                self.warnings.append(f"ingress ({ingress.where}) defines the whole firewall; "
                                     f"{key} ({origin.where}) does not apply")
        entries = ingress.value
        assert isinstance(entries, tuple)
        for i, entry in enumerate(entries):
            for port in entry["ports"]:
                self.require(port, entry["cidr"], f"ingress[{i}] opens {list(entry['ports'])} "
                             f"to {entry['cidr']}", ingress)

    def from_cluster_args(self, built: Origin) -> None:
        """The ingress list the client built from the cluster's arguments: the whole firewall."""
        for key in (*LEGACY_FLAGS, "ingress"):
            origin = self.options.get(key)
            if origin is not None:
                self.warnings.append(f"cluster_args ({built.where}) define the whole firewall of "
                                     f"the clusters they apply to; {key} ({origin.where}) does "
                                     "not apply to those")
        entries = built.value
        assert isinstance(entries, tuple)
        for entry in entries:
            for p in entry.ports:
                self.require(p.port, entry.cidr, f"cluster_args: {p.reason}", *p.origins)
