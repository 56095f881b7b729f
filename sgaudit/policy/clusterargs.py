"""Cluster arguments (``coiled.Cluster(allow_ingress_from=…, …)``) -> the ingress list the
Coiled client sends for them.  Validation plus a pure computation: no I/O.

The client's rules, which this module reproduces:

* the source is ``allow_ingress_from``: a CIDR, ``everyone`` (0.0.0.0/0, the default) or ``me``
  (the auditing user's public address: the policy's ``client_ip``, never looked up);
* ports from that source: the scheduler port (default 443); 22 when ``allow_ssh`` is true and
  no different ``allow_ssh_from`` is given; 15003 when ``allow_spark`` is true, or when it is
  unset and ``use_dashboard_https`` is true (its default); 443 (https stays open); then
  ``open_extra_ports``; duplicates dropped;
* when ``allow_ssh_from`` names a different source: a second rule, 22 from that source (even
  when ``allow_ssh`` is unset).  When it names the same source, 22 joins the first rule.

An ``Options`` of cluster arguments may hold two bookkeeping entries beside the arguments:
``GIVEN`` (the place of the ``cluster_args:`` key, present whenever the section was written,
even empty: the cluster was made by a client that sends an ingress list) and ``CLIENT_IP``
(the policy's ``client_ip``, which ``me`` stands for).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from sgaudit.errors import PolicyError
from sgaudit.model import ClusterOverride, Options, Origin
from sgaudit.policy.options import (
    Collected,
    Where,
    expect_bool,
    expect_cidr,
    expect_mapping,
    expect_port,
    expect_port_list,
    line_of,
    normalize_key,
    refuse_aliases,
    show,
    unknown_key,
)

GIVEN = "cluster_args"
CLIENT_IP = "client_ip"
ARG_KEYS = ("allow_ingress_from", "allow_ssh_from", "allow_ssh", "allow_spark", "scheduler_port",
            "open_extra_ports", "use_dashboard_https")
EVERYONE = "everyone"
ME = "me"
PUBLIC = "0.0.0.0/0"
SSH = 22
HTTPS = 443
SPARK = 15003
DEFAULT_SCHEDULER_PORT = 443


# -- validation --------------------------------------------------------------------------------
def collect_args(value: object, where: Where) -> Collected:
    """Validate a ``cluster_args`` mapping; ``null`` values mean "not given", as in Python."""
    body = expect_mapping(value if value is not None else {}, where)
    refuse_aliases(body, where)
    out = Collected()
    out.options[GIVEN] = Origin(GIVEN, True, where.place)
    for key, item in body.items():
        name = normalize_key(key)
        sub = where.child(key, line_of(body, key))
        if name not in ARG_KEYS:
            raise unknown_key(sub, key, ARG_KEYS)
        if item is None:
            continue
        out.options[name] = Origin(name, _check(name, item, sub, out.warnings), sub.place)
    return out


def _check(name: str, value: object, where: Where, warnings: list[str]) -> object:
    if name in ("allow_ingress_from", "allow_ssh_from"):
        return expect_source(value, where, warnings)
    if name in ("allow_ssh", "allow_spark", "use_dashboard_https"):
        return expect_bool(value, where)
    if name == "scheduler_port":
        return expect_port(value, where)
    return expect_port_list(value, where)  # open_extra_ports


def expect_source(value: object, where: Where, warnings: list[str]) -> str:
    """``everyone``, ``me``, an address (a single host) or a CIDR, canonical."""
    if value in (EVERYONE, ME):
        return str(value)
    if isinstance(value, str) and "/" not in value:
        try:
            return host_cidr(value)
        except ValueError:
            raise where.fail(f"expected a CIDR, an address, 'everyone' or 'me', got {show(value)}") \
                from None
    if not isinstance(value, str):
        raise where.fail(f"expected a CIDR, an address, 'everyone' or 'me', got {show(value)}")
    return expect_cidr(value, where, warnings)


def host_cidr(text: str) -> str:
    """A single address as a /32 (or /128) CIDR. Raises ValueError."""
    address = ipaddress.ip_address(text.strip())
    return f"{address}/{address.max_prefixlen}"


def parse_client_ip(value: object, where: Where) -> Origin:
    """The policy's ``client_ip``: the public address that ``me`` stands for, as a host CIDR."""
    text = value if isinstance(value, str) else None
    try:
        if text is None:
            raise ValueError
        if "/" in text:
            net = ipaddress.ip_network(text.strip(), strict=True)
            if net.prefixlen != net.max_prefixlen:
                raise ValueError
            cidr = str(net)
        else:
            cidr = host_cidr(text)
    except ValueError:
        raise where.fail(f"expected your public IP address (such as 203.0.113.7), got "
                         f"{show(value)}") from None
    return Origin(CLIENT_IP, cidr, where.place)


# -- the checks that need the whole policy ------------------------------------------------------
def refuse_combination(first: Origin, first_key: str, second: Origin, second_key: str,
                       why: str) -> PolicyError:
    """One line naming both keys and both places."""
    return PolicyError(f"{first.where}: {first_key} cannot be combined with {second_key} "
                       f"({second.where}): {why}")


def refuse_ingress_with_args(ingress: Origin, ingress_key: str, given: Origin,
                             args_key: str = "cluster_args") -> PolicyError:
    return refuse_combination(ingress, ingress_key, given, args_key,
                              "coiled.Cluster refuses an ingress list together with cluster "
                              "arguments, which build their own")


def check_me(args: Options, label: str) -> None:
    """``me`` needs ``client_ip``: sgaudit never asks the network who the user is."""
    if CLIENT_IP in args:
        return
    for key in ("allow_ingress_from", "allow_ssh_from"):
        origin = args.get(key)
        if origin is not None and origin.value == ME:
            raise PolicyError(
                f"{origin.where}: {label}.{key}: 'me' means the public address of whoever "
                "creates the cluster, which sgaudit never looks up; add client_ip: ADDRESS "
                "to the policy")


# -- the computation ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PortReason:
    """One port of an ingress entry and what opened it."""

    port: int
    reason: str
    origins: tuple[Origin, ...]


@dataclass(frozen=True, slots=True)
class IngressEntry:
    """One ``{ports, cidr}`` entry of the ingress list the client sends."""

    cidr: str
    ports: tuple[PortReason, ...]

    @property
    def port_numbers(self) -> tuple[int, ...]:
        return tuple(p.port for p in self.ports)


def _arg(args: Options, key: str, default: object) -> Origin:
    found = args.get(key)
    return found if found is not None else Origin(key, default, "default")


def _source(origin: Origin, args: Options) -> tuple[str, tuple[Origin, ...]]:
    """A source argument as a CIDR, with the origins that decided it."""
    value = origin.value
    if value == EVERYONE:
        return PUBLIC, (origin,)
    if value == ME:
        client = args.get(CLIENT_IP)
        if client is None:
            check_me(args, "cluster_args")
            raise AssertionError("unreachable")  # pragma: no cover
        return str(client.value), (origin, client)
    return str(value), (origin,)


class _Ports:
    """Ports in first-seen order; a repeated port keeps its place and gains reasons."""

    def __init__(self, base: tuple[Origin, ...]) -> None:
        self.base = base
        self.items: dict[int, PortReason] = {}

    def add(self, port: int, reason: str, *origins: Origin) -> None:
        old = self.items.get(port)
        if old is None:
            self.items[port] = PortReason(port, reason, (*origins, *self.base))
            return
        merged = old.origins + tuple(o for o in origins if o not in old.origins)
        self.items[port] = PortReason(port, f"{old.reason}; {reason}", merged)

    def entry(self, cidr: str) -> IngressEntry:
        return IngressEntry(cidr, tuple(self.items.values()))


def ingress_list(args: Options) -> tuple[IngressEntry, ...]:
    """The ingress list ``coiled.Cluster`` sends for these arguments (defaults filled in).

    Memoised: every group of a fleet asks, and few distinct argument sets exist."""
    try:
        return _cached_ingress_list(tuple(args.items()))
    except TypeError:  # an unhashable value: compute it afresh
        return _ingress_list(args)


@lru_cache(maxsize=4096)
def _cached_ingress_list(items: tuple[tuple[str, Origin], ...]) -> tuple[IngressEntry, ...]:
    return _ingress_list(dict(items))


def _ingress_list(args: Options) -> tuple[IngressEntry, ...]:
    source_arg = _arg(args, "allow_ingress_from", EVERYONE)
    cidr, source_origins = _source(source_arg, args)
    ssh_from = args.get("allow_ssh_from")
    ssh_cidr, ssh_origins = _source(ssh_from, args) if ssh_from is not None else (None, ())
    separate_ssh = ssh_cidr is not None and ssh_cidr != cidr

    main = _Ports(source_origins)
    scheduler = _arg(args, "scheduler_port", DEFAULT_SCHEDULER_PORT)
    main.add(int(scheduler.value),  # type: ignore[call-overload]
             f"the scheduler port ({scheduler.value}) is open to allow_ingress_from", scheduler)
    allow_ssh = args.get("allow_ssh")
    if allow_ssh is not None and allow_ssh.value is True and not separate_ssh:
        main.add(SSH, "allow_ssh is true: ssh from allow_ingress_from", allow_ssh)
    if ssh_from is not None and not separate_ssh:
        main.add(SSH, "allow_ssh_from names the same source as allow_ingress_from: ssh from it",
                 *ssh_origins)
    spark = args.get("allow_spark")
    if spark is not None:
        if spark.value is True:
            main.add(SPARK, f"allow_spark is true: Spark Connect ({SPARK}) is open", spark)
    else:
        https = _arg(args, "use_dashboard_https", True)
        if https.value is True:
            main.add(SPARK, f"allow_spark is unset and use_dashboard_https is true: Spark "
                     f"Connect ({SPARK}) is open", Origin("allow_spark", "unset", "default"), https)
    main.add(HTTPS, f"the client always keeps https ({HTTPS}) open to allow_ingress_from")
    extra = args.get("open_extra_ports")
    if extra is not None:
        for port in extra.value:  # type: ignore[attr-defined]
            main.add(int(port), "open_extra_ports lists it", extra)
    entries = [main.entry(cidr)]
    if separate_ssh and ssh_cidr is not None:
        ssh = _Ports(ssh_origins)
        ssh.add(SSH, f"allow_ssh_from: ssh from {ssh_cidr}")
        entries.append(ssh.entry(ssh_cidr))
    return tuple(entries)


def as_ingress_option(entries: tuple[IngressEntry, ...]) -> tuple[dict[str, object], ...]:
    """The entries in the shape of the ``ingress`` backend option: ``({ports, cidr}, …)``."""
    return tuple({"ports": e.port_numbers, "cidr": e.cidr} for e in entries)


def effective_args(top: Options, overrides: list[Options] | tuple[Options, ...]) -> Options:
    """Top-level cluster arguments < each matching cluster entry's, key by key, in order."""
    merged: Options = dict(top)
    for args in overrides:
        merged.update(args)
    return merged


def present(args: Mapping[str, Origin]) -> bool:
    """Whether a cluster's arguments were written at all (then they define its firewall)."""
    return GIVEN in args


def check_combinations(account: Options, dask: Options, top_args: Options,
                       clusters: tuple[ClusterOverride, ...]) -> None:
    """Refuse, as Coiled does, what can be known from the policy alone (exit 2, one line):
    ``firewall`` with ``ingress`` at account level; ``ingress`` in the same ``coiled.Cluster``
    call as cluster arguments; ``me`` without ``client_ip``."""
    if "firewall" in account and "ingress" in account:
        raise refuse_combination(account["ingress"], "backend_options.ingress",
                                 account["firewall"], "backend_options.firewall",
                                 "Coiled refuses both at account level (set_backend_options)")
    check_me(top_args, "cluster_args")
    for i, entry in enumerate(clusters):
        check_me(effective_args(top_args, [entry.cluster_args]), f"clusters[{i}].cluster_args")
    _check_ingress_with_args(dask, top_args, clusters)


def _check_ingress_with_args(dask: Options, top_args: Options,
                             clusters: tuple[ClusterOverride, ...]) -> None:
    """``ingress`` and cluster arguments may not meet in one ``coiled.Cluster`` call; dask config
    backend-options go into every call, like per-cluster ones."""
    dask_key = "dask config coiled.backend-options.ingress"
    cluster_ingress: list[tuple[Origin, str]] = []
    if "ingress" in dask:
        cluster_ingress.append((dask["ingress"], dask_key))
    for i, entry in enumerate(clusters):
        ingress = entry.options.get("ingress")
        if ingress is None:
            continue
        cluster_ingress.append((ingress, f"clusters[{i}].backend_options.ingress"))
        if present(entry.cluster_args):
            raise refuse_ingress_with_args(ingress, f"clusters[{i}].backend_options.ingress",
                                           entry.cluster_args[GIVEN], f"clusters[{i}].cluster_args")
    if present(top_args) and cluster_ingress:
        ingress, key = cluster_ingress[0]
        raise refuse_ingress_with_args(ingress, key, top_args[GIVEN])
    with_args = [i for i, entry in enumerate(clusters) if present(entry.cluster_args)]
    if "ingress" in dask and with_args:
        i = with_args[0]
        raise refuse_ingress_with_args(dask["ingress"], dask_key, clusters[i].cluster_args[GIVEN],
                                       f"clusters[{i}].cluster_args")
