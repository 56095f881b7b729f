"""Load and validate the policy file (DESIGN.md section 5) into a ``Policy`` value."""

from __future__ import annotations

import datetime
import difflib
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from sgaudit.errors import PolicyError
from sgaudit.fileio.files import parse_problem, read_input
from sgaudit.model import (
    CLUSTER,
    ROLES,
    ClusterOverride,
    Grant,
    Matcher,
    Options,
    Origin,
    Policy,
    RoleSelector,
    Waiver,
)
from sgaudit.net import ports
from sgaudit.policy import clusterargs, daskconfig
from sgaudit.policy.notify import parse_notify
from sgaudit.policy.options import (
    Where,
    collect,
    expect_group_id,
    expect_icmp_types,
    expect_mapping,
    expect_network_tag,
    expect_port_ranges,
    expect_protocol,
    expect_waiver_target,
    line_of,
    normalize_key,
    refuse_aliases,
    show,
    unknown_key,
)
from sgaudit.policy.places import PLACE_KEYS, expect_source, parse_place
from sgaudit.policy.yamlsource import LineMap, load_yaml, yaml_error_line

TOP_LEVEL_KEYS = ("backend_options", "dask_config", "select", "clusters", "allow", "waivers",
                  "cluster_args", "client_ip", "roles", "accounts", "exclude_accounts", "notify")
MATCHER_KEYS = ("tags", "names", "group_ids", "network_tags")
CLUSTER_KEYS = ("match", "backend_options", "cluster_args", "role")
ALLOW_KEYS = ("protocol", "ports", "source", "description", *PLACE_KEYS)
WAIVER_KEYS = ("group_id", "protocol", "ports", "source", "reason", "expires", *PLACE_KEYS)
ACCOUNT_ID = re.compile(r"[0-9]{12}")
#: AWS: groups tagged owner=coiled; Google Cloud: network tags starting with "coiled"
DEFAULT_SELECT = Matcher(tags=(("owner", "coiled"),), network_tags=("coiled*",))


def load_policy(path: str | Path | None) -> Policy:
    """Read a policy file. Without one, the defaults: Coiled's defaults for groups tagged owner=coiled."""
    if path is None:
        return Policy(path=None, sha256="", account_options={}, dask_options={},
                      select=DEFAULT_SELECT)
    file = Path(path)
    try:
        raw = read_input(file, label="policy file", error=PolicyError)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror or exc}") from None
    try:
        data = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: policy file is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: {yaml_error_line(exc)}") from None
    except (RecursionError, ValueError) as exc:
        raise PolicyError(f"{path}: invalid YAML: {parse_problem(exc) or exc}") from None
    return parse_policy(data, str(path), hashlib.sha256(raw).hexdigest(), file.parent)


def parse_policy(data: Any, name: str, sha256: str = "", base_dir: Path | None = None) -> Policy:
    root = Where(name)
    body = expect_mapping({} if data is None else data, root)
    refuse_aliases(body, root, deep=False)
    sections: dict[str, Any] = {}
    for key, value in body.items():
        norm = normalize_key(key)
        if norm not in TOP_LEVEL_KEYS:
            raise unknown_key(root.child(key, line_of(body, key)), key, TOP_LEVEL_KEYS)
        sections[norm] = (value, root.child(key, line_of(body, key)))
    warnings: list[str] = []
    account_options, dask_options, cluster_args, client_ip = _options(sections, base_dir, warnings)

    def section(key: str, parse: Any, empty: Any, default: Any = ()) -> Any:
        """A list or mapping section parsed, ``default`` when absent; null counts as empty."""
        if key not in sections:
            return default
        value, where = sections[key]
        return parse(empty if value is None else value, where, warnings)

    select = section("select", lambda v, w, _: _with_cloud_defaults(parse_matcher(v, w)), {},
                     DEFAULT_SELECT)
    clusters: tuple[ClusterOverride, ...] = section("clusters", _parse_clusters, [])
    allow: tuple[Grant, ...] = section("allow", _parse_allow, [])
    roles = _parse_roles(*sections["roles"]) if "roles" in sections else ()
    waivers: tuple[Waiver, ...] = section("waivers", _parse_waivers, [])
    accounts = {key: parse_account_ids(*sections[key]) if key in sections else ()
                for key in ("accounts", "exclude_accounts")}
    notify = section("notify", parse_notify, {}, None)
    clusterargs.check_combinations(account_options, dask_options, cluster_args, clusters)
    return Policy(path=name, sha256=sha256, account_options=account_options,
                  dask_options=dask_options, select=select, clusters=clusters, allow=allow,
                  warnings=tuple(warnings), waivers=waivers, cluster_args=cluster_args,
                  client_ip=client_ip, roles=roles, accounts=accounts["accounts"],
                  exclude_accounts=accounts["exclude_accounts"], notify=notify)


def _options(sections: dict[str, Any], base_dir: Path | None,
             warnings: list[str]) -> tuple[Options, Options, Options, str | None]:
    """Account-level options, the dask config's, the top-level cluster arguments, client_ip."""
    account_options: Options = {}
    if "backend_options" in sections:
        value, where = sections["backend_options"]
        got = collect(value if value is not None else {}, where)
        account_options = got.options
        warnings.extend(got.warnings)
    dask_options: Options = {}
    if "dask_config" in sections:
        value, where = sections["dask_config"]
        got = daskconfig.read_dask_options(value, where, base_dir or Path("."))
        dask_options = got.options
        warnings.extend(got.warnings)
    cluster_args: Options = {}
    if "cluster_args" in sections:
        value, where = sections["cluster_args"]
        got = clusterargs.collect_args(value, where)
        cluster_args = got.options
        warnings.extend(got.warnings)
    client_ip = None
    if "client_ip" in sections:
        value, where = sections["client_ip"]
        cluster_args[clusterargs.CLIENT_IP] = clusterargs.parse_client_ip(value, where)
        client_ip = str(cluster_args[clusterargs.CLIENT_IP].value)
    return account_options, dask_options, cluster_args, client_ip


def parse_matcher(value: object, where: Where) -> Matcher:
    body = expect_mapping(value, where)
    tags: tuple[tuple[str, str], ...] = ()
    names: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    network_tags: tuple[str, ...] = ()
    for key, item in body.items():
        sub = where.child(key, line_of(body, key))
        norm = normalize_key(key)
        if norm == "tags":
            mapping = expect_mapping(item, sub)
            tags = tuple((str(k), _scalar_text(v, sub.child(k, line_of(mapping, k))))
                         for k, v in mapping.items())
        elif norm == "names":
            names = _string_list(item, sub)
        elif norm == "group_ids":
            group_ids = _string_list(item, sub)
            for i, gid in enumerate(group_ids):
                expect_group_id(gid, sub.item(i))
        elif norm == "network_tags":
            network_tags = _string_list(item, sub)
            for i, glob in enumerate(network_tags):
                expect_network_tag(glob, sub.item(i), glob=True)
        else:
            raise unknown_key(sub, key, MATCHER_KEYS)
    return Matcher(tags=tags, names=names, group_ids=group_ids, network_tags=network_tags)


def _with_cloud_defaults(select: Matcher) -> Matcher:
    """Each cloud's part of ``select`` keeps its default when only the other cloud's keys are
    written (``select: {network_tags: [...]}`` still audits AWS groups tagged owner=coiled); an
    empty ``select: {}`` selects everything, as before."""
    if select.network_tags and not select.aws_criteria:
        return replace(select, tags=DEFAULT_SELECT.tags)
    if select.aws_criteria and not select.network_tags:
        return replace(select, network_tags=DEFAULT_SELECT.network_tags)
    return select


def parse_account_ids(value: object, where: Where) -> tuple[str, ...]:
    """``accounts`` / ``exclude_accounts``: 12-digit AWS account ids.  An unquoted number is
    refused when it cannot be an account id as written (YAML reads 012345670123 as octal)."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for i, item in enumerate(items):
        place = where.item(i) if isinstance(value, list) else where
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if not isinstance(text, str) or not ACCOUNT_ID.fullmatch(text):
            hint = " (quote it: YAML reads a number with a leading 0 differently)" \
                if isinstance(item, int) and not isinstance(item, bool) else ""
            raise place.fail(f"expected a 12-digit AWS account id, got {show(item)}{hint}")
        out.append(text)
    return tuple(dict.fromkeys(out))


def _scalar_text(value: object, where: Where) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise where.fail(f"expected a tag value, got {show(value)}")


def _string_list(value: object, where: Where) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.fail(f"expected a list of strings, got {show(value)}")
    return tuple(value)


def _entries(value: object, where: Where, keys: tuple[str, ...],
             shape: str) -> Iterator[tuple[dict[str, tuple[Any, Where]], Where]]:
    """Each mapping of a list section, as {normalised key: (value, place)} and the entry's own
    place (its first line, so errors point at the entry rather than at the section)."""
    if not isinstance(value, list):
        raise where.fail(f"expected a list of {shape} entries, got {show(value)}")
    for i, entry in enumerate(value):
        item_where = where.item(i)
        body = expect_mapping(entry, item_where)
        if isinstance(body, LineMap) and body.lines:
            item_where = Where(item_where.file, item_where.path, min(body.lines.values()))
        refuse_aliases(body, item_where, deep=False)
        fields: dict[str, tuple[Any, Where]] = {}
        for key, item in body.items():
            norm = normalize_key(key)
            sub = item_where.child(key, line_of(body, key))
            if norm not in keys:
                raise unknown_key(sub, key, keys)
            fields[norm] = (item, sub)
        yield fields, item_where


def _parse_clusters(value: object, where: Where, warnings: list[str]) -> tuple[ClusterOverride, ...]:
    out = []
    for fields, item_where in _entries(value, where, CLUSTER_KEYS,
                                       "{match, backend_options, cluster_args, role}"):
        if "match" not in fields:
            raise item_where.fail("needs a non-empty 'match' (tags, names, group_ids or network_tags)")
        matcher = parse_matcher(*fields["match"])
        if matcher == Matcher():
            raise item_where.fail("needs a non-empty 'match' (tags, names, group_ids or network_tags)")
        options: dict[str, Origin] = {}
        args: dict[str, Origin] = {}
        if "backend_options" in fields:
            item, sub = fields["backend_options"]
            got = collect(item if item is not None else {}, sub)
            options = got.options
            warnings.extend(got.warnings)
        if "cluster_args" in fields:
            got = clusterargs.collect_args(*fields["cluster_args"])
            args = got.options
            warnings.extend(got.warnings)
        role = _expect_role(*fields["role"]) if "role" in fields else None
        if role == CLUSTER and (options or args):
            given = " and ".join(k for k in ("backend_options", "cluster_args") if k in fields)
            warnings.append(item_where.note(
                f"role cluster: the firewall options ({given}) do not apply to a cluster-wide "
                "group (it must allow only its own traffic and the policy's allow list); "
                "they are ignored for the groups this entry matches"))
        out.append(ClusterOverride(matcher=matcher, options=options, where=item_where.place,
                                   cluster_args=args, role=role))
    return tuple(out)


def _expect_role(value: object, where: Where) -> str:
    if not isinstance(value, str) or value not in ROLES:
        guess = difflib.get_close_matches(str(value), ROLES, n=1, cutoff=0.6)
        hint = f"; did you mean '{guess[0]}'?" if guess else ""
        raise where.fail(f"expected {' or '.join(ROLES)}, got {show(value)}{hint}")
    return value


def _parse_roles(value: object, where: Where) -> tuple[RoleSelector, ...]:
    """``roles: {cluster: {names: [...]}, scheduler: {tags: {...}}}``: which groups have which
    role, by the same matcher keys as ``select``; a group no selector matches is a scheduler's."""
    if value is None:
        return ()
    body = expect_mapping(value, where)
    refuse_aliases(body, where, deep=False)
    out = []
    for key, item in body.items():
        sub = where.child(key, line_of(body, key))
        if key not in ROLES:
            raise unknown_key(sub, key, ROLES)
        matcher = parse_matcher(item if item is not None else {}, sub)
        if matcher == Matcher():
            raise sub.fail("needs tags, names or group_ids (an empty matcher would match every group)")
        out.append(RoleSelector(role=key, matcher=matcher, where=sub.place))
    return tuple(out)


def _parse_allow(value: object, where: Where, warnings: list[str]) -> tuple[Grant, ...]:
    grants: list[Grant] = []
    for fields, item_where in _entries(value, where, ALLOW_KEYS,
                                       "{protocol, ports, source, account, region, network}"):
        grants.extend(_allow_grants(fields, item_where, warnings))
    return tuple(grants)


def _allow_grants(fields: Mapping[str, Any], where: Where, warnings: list[str]) -> list[Grant]:
    if "source" not in fields:
        raise where.fail("missing 'source' (a CIDR, sg-…, pl-…, or a GCP tag:, sa: or policy source)")
    source_value, source_at = fields["source"]
    source = expect_source(source_value, source_at, warnings)
    protocol = expect_protocol(*fields.get("protocol", ("tcp", where)))
    place = parse_place(fields, None)
    scoped = f" in {place}" if not place.anywhere else ""
    origin = Origin("allow", f"{protocol} from {source}{scoped}", where.place)
    reason = f"listed in the policy's allow ({where.place})"
    if "ports" not in fields:
        if protocol in ports.PORTED:
            raise where.fail(f"'ports' is required for protocol {protocol}")
        return [Grant(protocol, -1, -1, source, reason, (origin,), place)]
    if protocol == ports.ALL:
        raw_ports, ports_where = fields["ports"]
        raise ports_where.fail(f"protocol -1 means every port; remove ports {show(raw_ports)}")
    raw_ports, ports_where = fields["ports"]
    if protocol in ports.ICMP:  # ports are icmp types 0-255, any code
        return [Grant(protocol, t, -1, source, reason, (origin,), place)
                for t in expect_icmp_types(raw_ports, ports_where)]
    intervals = expect_port_ranges(raw_ports, ports_where)
    # 1-65535 is every port (port 0 is not a real one): it permits a 0-65535 rule whole
    return [Grant(protocol, 0 if (lo, hi) == (1, ports.PORT_MAX) and protocol in ports.PORTED else lo,
                  hi, source, reason, (origin,), place) for lo, hi in intervals]




def _parse_waivers(value: object, where: Where, warnings: list[str]) -> tuple[Waiver, ...]:
    """One Waiver per port range; the expiry-versus-today checks live in sgaudit.waivers."""
    if value is None:
        return ()
    out: list[Waiver] = []
    for fields, item_where in _entries(value, where, WAIVER_KEYS,
                                       "{group_id, protocol, ports, source, reason, expires, "
                                       "account, region, network}"):
        out.extend(_waivers_of(fields, item_where, warnings))
    return tuple(out)


def _waivers_of(fields: Mapping[str, Any], where: Where, warnings: list[str]) -> list[Waiver]:
    for needed, what in (("group_id", "the security group id (sg-…) or GCP network tag"),
                         ("source", "a CIDR, sg-…, pl-…, or a GCP tag:, sa: or policy source"),
                         ("reason", "why this exception is accepted, e.g. a ticket"),
                         ("expires", "a date YYYY-MM-DD")):
        if needed not in fields:
            raise where.fail(f"missing '{needed}' ({what})")
    group_id = expect_waiver_target(*fields["group_id"])
    raw_reason, reason_where = fields["reason"]
    if not isinstance(raw_reason, str) or not raw_reason.strip():
        raise reason_where.fail(f"expected a non-empty text, got {show(raw_reason)}")
    expires = _expect_date(*fields["expires"])
    source_value, source_at = fields["source"]
    source = expect_source(source_value, source_at, warnings, target=group_id)
    protocol = expect_protocol(*fields.get("protocol", ("tcp", where)))
    place = parse_place(fields, group_id)

    def waiver(from_port: int, to_port: int) -> Waiver:
        return Waiver(group_id=group_id, protocol=protocol, from_port=from_port, to_port=to_port,
                      source=source, reason=raw_reason.strip(), expires=expires,
                      where=where.place, place=place)

    if "ports" not in fields:  # every port of the protocol
        return [waiver(-1, -1)]
    raw_ports, ports_where = fields["ports"]
    if protocol not in ports.PORTED and protocol not in ports.ICMP:
        raise ports_where.fail(f"protocol {protocol} has no ports; remove ports {show(raw_ports)}")
    if protocol in ports.ICMP:  # ports are icmp types 0-255, any code
        types = expect_icmp_types(raw_ports, ports_where)
        if not types:
            raise ports_where.fail("expected at least one icmp type 0-255")
        return [waiver(t, -1) for t in types]
    intervals = expect_port_ranges(raw_ports, ports_where)
    return [waiver(lo, hi) for lo, hi in intervals]


def _expect_date(value: object, where: Where) -> str:
    """YAML gives a datetime.date for an unquoted 2027-01-31; a quoted one is accepted too."""
    if isinstance(value, datetime.datetime):
        raise where.fail(f"expected a date YYYY-MM-DD without a time, got {show(str(value))}")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise where.fail(f"expected a date YYYY-MM-DD, got {show(value)}")
