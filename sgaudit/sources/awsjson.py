"""AWS's JSON shapes (as ``aws ec2 describe-*`` prints them and boto3 returns them) -> model.

Shared by the snapshot and the live source, so both normalise rules identically.  Every shape
error names the JSON path, so a snapshot's author can find it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from operator import attrgetter
from typing import Any, cast

from sgaudit.model import UNKNOWN, Group, Matcher, Rule, Vpc, make_rule
from sgaudit.net import addresses, ports

_intern = sys.intern
#: a Rule's source, read in C
_SOURCE = attrgetter("source")


class ShapeError(ValueError):
    """The data is not what AWS returns; the message starts with the JSON path."""


def _need(obj: Any, key: str, kind: type | tuple[type, ...], path: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise ShapeError(f"{path}: missing key {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ShapeError(f"{path}.{key}: expected {_kind_name(kind)}, got {_brief(value)}")
    return value


def _opt(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: str,
         default: Any) -> Any:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ShapeError(f"{path}.{key}: expected {_kind_name(kind)}, got {_brief(value)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "an object"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def tags_of(raw: Mapping[str, Any], path: str) -> tuple[tuple[str, str], ...]:
    tags = _opt(raw, "Tags", list, path, [])
    fast = _plain_tags(tags)
    if fast is not None:
        return fast
    out = []
    for i, tag in enumerate(tags):
        where = f"{path}.Tags[{i}]"
        out.append((_need(tag, "Key", str, where), str(_opt(tag, "Value", str, where, ""))))
    return tuple(out)


def _plain_tags(tags: list[Any]) -> tuple[tuple[str, str], ...] | None:
    """Tags that are all {Key: str, Value: str} objects, read without per-tag checks; None
    when any is not (the checked loop then names the bad one)."""
    out = tuple((t.get("Key"), t.get("Value")) if type(t) is dict else (None, None) for t in tags)
    for key, value in out:
        if type(key) is not str or type(value) is not str:
            return None
    return cast(tuple[tuple[str, str], ...], out)  # every key and value checked just above


def group_selected(raw: Any, select: Matcher, path: str) -> bool:
    """Cheap pre-check on the raw dict, so unselected groups are never normalised."""
    return selection(raw, select, path)[0]


def selection(raw: Any, select: Matcher, path: str) -> tuple[bool, tuple[tuple[str, str], ...] | None]:
    """``group_selected``, and the group's tags when deciding it read them (for ``parse_group``,
    so that they are read once)."""
    if not isinstance(raw, Mapping):
        raise ShapeError(f"{path}: expected an object, got {_brief(raw)}")
    if type(raw.get("GroupId")) is not str:
        _need(raw, "GroupId", str, path)
    if select.group_ids and raw.get("GroupId") not in select.group_ids:
        return False, None
    if select.names and not any(fnmatchcase(str(raw.get("GroupName", "")), n) for n in select.names):
        return False, None
    if not select.tags:
        return True, None
    tags = tags_of(raw, path)
    have = dict(tags)
    return not any(have.get(k) != v for k, v in select.tags), tags


def parse_group(raw: Mapping[str, Any], path: str, region: str, account: str | None,
                tags: tuple[tuple[str, str], ...] | None = None,
                prefix_lists: list[str] | None = None) -> Group:
    """``tags``: what ``selection`` read of this same ``raw`` (not read again).
    ``prefix_lists``: given, the rules' sources that name a prefix list (``pl-…``) are appended
    to it in rule order, so that a reader need not walk every rule again to find them."""
    group_id = _need(raw, "GroupId", str, path)
    rules: list[Rule] = []
    for i, perm in enumerate(_opt(raw, "IpPermissions", list, path, [])):
        _add_permission_rules(rules, perm, path, i, prefix_lists)
    return Group(
        group_id=group_id,
        group_name=_text(raw, "GroupName", path, ""),
        vpc_id=_text(raw, "VpcId", path, None),
        region=region,
        account=account or _text(raw, "OwnerId", path, UNKNOWN),
        description=_text(raw, "Description", path, ""),
        tags=tags_of(raw, path) if tags is None else tags,
        rules=tuple(rules),
    )


def _text(raw: Mapping[str, Any], key: str, path: str, default: str | None) -> Any:
    """``_opt(raw, key, str, path, default)``, a plain string taken without its general checks."""
    value = raw.get(key)
    return value if type(value) is str else _opt(raw, key, str, path, default)


#: (list key, source key, parser) for the four kinds of source an IpPermission holds
_SOURCE_LISTS = (("IpRanges", "CidrIp", True), ("Ipv6Ranges", "CidrIpv6", True),
                 ("PrefixListIds", "PrefixListId", False), ("UserIdGroupPairs", "GroupId", False))


#: AWS's usual spellings, looked up before the general normalisation
_PROTOCOLS = {p: ports.normalize_protocol(p) for p in ("tcp", "udp", "icmp", "icmpv6", "-1")}


def permission_rules(perm: Any, path: str) -> list[Rule]:
    """One ``IpPermission`` -> one Rule per source (an IpPermission can hold many)."""
    rules: list[Rule] = []
    _add_permission_rules(rules, perm, path)
    return rules


def _add_permission_rules(rules: list[Rule], perm: Any, path: str, index: int | None = None,
                          prefix_lists: list[str] | None = None) -> None:
    """``permission_rules``, appended to ``rules`` (``prefix_lists``: see ``parse_group``).  The
    hot path of large snapshots: plain type checks inline; the permission's JSON path (``path``,
    then ``.IpPermissions[index]`` when an index is given) and every message are spelled only
    when needed."""
    if type(perm) is not dict:
        if not isinstance(perm, Mapping):
            raise ShapeError(f"{_perm_path(path, index)}: expected an object, got {_brief(perm)}")
        perm = dict(perm)
    raw_protocol = perm.get("IpProtocol")
    from_port, to_port = perm.get("FromPort", -1), perm.get("ToPort", -1)
    exact = type(raw_protocol) is str and type(from_port) is int and type(to_port) is int
    known = _CHECKED.get((raw_protocol, from_port, to_port)) if exact else None
    if known is None:
        known = _checked_protocol_and_ports(perm, _perm_path(path, index))
    for list_key, source_key, is_cidr in _SOURCE_LISTS:
        entries = perm.get(list_key)
        if entries and type(entries) is list:
            _add_source_rules(rules, known, entries, is_cidr, source_key, (path, index, list_key))
            if prefix_lists is not None and not is_cidr:  # a CIDR never starts with "pl-"
                prefix_lists += [s for s in map(_SOURCE, rules[-len(entries):]) if s.startswith("pl-")]
        elif entries is not None and type(entries) is not list:
            raise ShapeError(f"{_perm_path(path, index)}.{list_key}: expected a list, got "
                             f"{_brief(entries)}")


def _perm_path(path: str, index: int | None) -> str:
    return path if index is None else f"{path}.IpPermissions[{index}]"


def _add_source_rules(rules: list[Rule], known: tuple[str, int, int], entries: list[Any],
                      is_cidr: bool, source_key: str, where: tuple[str, int | None, str]) -> None:
    """One Rule per entry of a source list; CIDRs canonical (``addresses.read_cidr``), other
    sources interned.  ``where``: the permission's path, index and list key, spelled out on
    error only."""
    protocol, from_port, to_port = known
    read, canonical = addresses.read_cidr, addresses.PARSED  # PARSED: canonical texts only
    i, source = 0, None
    try:
        for i, entry in enumerate(entries):
            source = entry.get(source_key) if type(entry) is dict else None
            if type(source) is not str:
                raise _bad_source(_perm_path(*where[:2]), where[2], i, source_key, source)
            if source not in canonical:
                source = read(source) if is_cidr else _intern(source)
            rules.append(make_rule((protocol, from_port, to_port, source,
                                    entry.get("SecurityGroupRuleId"), entry.get("Description"), None, None)))
    except addresses.CidrError:
        raise ShapeError(f"{_perm_path(*where[:2])}.{where[2]}[{i}].{source_key}: invalid CIDR "
                         f"{_brief(source)}") from None


#: (IpProtocol, FromPort, ToPort) as a snapshot spells them -> what ``_protocol_and_ports`` made
#: of them: a fleet repeats few of these, and every group's permissions need them
_CHECKED: dict[tuple[str, int, int], tuple[str, int, int]] = {}


def _checked_protocol_and_ports(perm: dict[str, Any], path: str) -> tuple[str, int, int]:
    """``_protocol_and_ports``, remembered for exact ``str``/``int``/``int`` spellings (so that a
    ``true`` port, equal to 1 as a key, still takes the checks and is refused)."""
    raw_protocol = perm.get("IpProtocol")
    from_port, to_port = perm.get("FromPort", -1), perm.get("ToPort", -1)
    if type(raw_protocol) is not str or type(from_port) is not int or type(to_port) is not int:
        return _protocol_and_ports(perm, path)
    key = (raw_protocol, from_port, to_port)
    known = _CHECKED.get(key)
    if known is None:
        known = _protocol_and_ports(perm, path)
        if len(_CHECKED) < 4096:
            _CHECKED[key] = known
    return known


def _protocol_and_ports(perm: dict[str, Any], path: str) -> tuple[str, int, int]:
    """The permission's canonical protocol and FromPort/ToPort (-1 -1 for all traffic)."""
    raw_protocol = perm.get("IpProtocol")
    protocol = _PROTOCOLS.get(raw_protocol) if type(raw_protocol) is str else None
    if protocol is None and isinstance(raw_protocol, (str, int)):
        protocol = ports.normalize_protocol(raw_protocol)
    if protocol is None:
        if "IpProtocol" not in perm:
            raise ShapeError(f"{path}: missing key 'IpProtocol'")
        raise ShapeError(f"{path}.IpProtocol: unknown protocol {_brief(raw_protocol)}")
    from_port = perm.get("FromPort", -1)
    to_port = perm.get("ToPort", -1)
    from_port = -1 if from_port is None else from_port
    to_port = -1 if to_port is None else to_port
    if type(from_port) is not int or type(to_port) is not int:
        bad, value = ("FromPort", from_port) if type(from_port) is not int else ("ToPort", to_port)
        raise ShapeError(f"{path}.{bad}: expected an integer, got {_brief(value)}")
    if protocol == ports.ALL:
        return protocol, -1, -1
    if protocol in ports.PORTED or protocol in ports.ICMP:
        _check_ports(protocol, from_port, to_port, path)
    return protocol, from_port, to_port


def _bad_source(path: str, list_key: str, i: int, source_key: str, source: object) -> ShapeError:
    if source is None:
        return ShapeError(f"{path}.{list_key}[{i}]: missing key {source_key!r}")
    return ShapeError(f"{path}.{list_key}[{i}].{source_key}: expected a string, got {_brief(source)}")


def _check_ports(protocol: str, from_port: int, to_port: int, path: str) -> None:
    """Ports as AWS can hold them: a reversed range is refused, never swapped; icmp's type and
    code are 0-255 (-1: any), and a code needs a type."""
    if protocol in ports.PORTED:
        if not (-1 <= from_port <= 65535 and -1 <= to_port <= 65535):
            raise ShapeError(f"{path}: ports {from_port}-{to_port} outside 0-65535")
        if (from_port < 0) != (to_port < 0) or from_port > to_port:
            raise ShapeError(f"{path}: FromPort {from_port} and ToPort {to_port} are not a port "
                             "range (FromPort must not exceed ToPort; -1 means every port only in both)")
    elif not (-1 <= from_port <= 255 and -1 <= to_port <= 255):
        raise ShapeError(f"{path}: {protocol} type {from_port} code {to_port}: type and code are "
                         "0-255 (-1: any)")
    elif from_port < 0 <= to_port:
        raise ShapeError(f"{path}: {protocol} code {to_port} without a type (FromPort -1)")


def _canonical(text: str, path: str) -> str:
    try:
        return addresses.canonical_cidr(text)
    except addresses.CidrError:
        raise ShapeError(f"{path}: invalid CIDR {_brief(text)}") from None


def _cidr(raw: Any, key: str, path: str) -> str:
    return _canonical(_need(raw, key, str, path), f"{path}.{key}")


def parse_vpc(raw: Any, path: str, region: str, account: str | None) -> Vpc:
    if not isinstance(raw, Mapping):
        raise ShapeError(f"{path}: expected an object, got {_brief(raw)}")
    vpc_id = _need(raw, "VpcId", str, path)
    primary = _opt(raw, "CidrBlock", str, path, None)
    blocks: list[str] = []
    if primary:
        blocks.append(_vpc_block(raw, "CidrBlock", path))
        primary = blocks[0]
    for i, assoc in enumerate(_opt(raw, "CidrBlockAssociationSet", list, path, [])):
        where = f"{path}.CidrBlockAssociationSet[{i}]"
        if _associated(assoc, "CidrBlockState", where):
            blocks.append(_vpc_block(assoc, "CidrBlock", where))
    for i, assoc in enumerate(_opt(raw, "Ipv6CidrBlockAssociationSet", list, path, [])):
        where = f"{path}.Ipv6CidrBlockAssociationSet[{i}]"
        if _associated(assoc, "Ipv6CidrBlockState", where) and assoc.get("Ipv6CidrBlock"):
            blocks.append(_vpc_block(assoc, "Ipv6CidrBlock", where))
    return Vpc(vpc_id=vpc_id, region=region,
               account=account or _opt(raw, "OwnerId", str, path, UNKNOWN),
               primary_cidr=primary, cidrs=tuple(dict.fromkeys(blocks)))


#: the sizes AWS allows for a VPC's blocks: IPv4 /16 to /28, IPv6 /44 to /64
#: (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html)
VPC_PREFIX_LENGTHS = {4: (16, 28), 6: (44, 64)}


def _vpc_block(raw: Any, key: str, path: str) -> str:
    """A VPC block of a size AWS allows: a ``0.0.0.0/0`` "VPC" would put the world inside it."""
    block = _cidr(raw, key, path)
    version = 6 if ":" in block else 4
    low, high = VPC_PREFIX_LENGTHS[version]
    if not low <= int(block.rsplit("/", 1)[1]) <= high:
        raise ShapeError(f"{path}.{key}: {block} is not a VPC block (AWS allows IPv{version} "
                         f"/{low} to /{high})")
    return block


def _associated(assoc: Any, state_key: str, path: str) -> bool:
    """Whether a block is associated; a state AWS would not write (a bare string, a non-string
    ``State``) is an error, never read as "associated"."""
    if not isinstance(assoc, Mapping):
        raise ShapeError(f"{path}: expected an object, got {_brief(assoc)}")
    state = assoc.get(state_key)
    if state is None:
        return True
    if not isinstance(state, Mapping):
        raise ShapeError(f"{path}.{state_key}: expected an object such as "
                         f"{{\"State\": \"associated\"}}, got {_brief(state)}")
    value = state.get("State", "associated")
    if not isinstance(value, str):
        raise ShapeError(f"{path}.{state_key}.State: expected a string, got {_brief(value)}")
    return value == "associated"


def prefix_list_cidrs(entries: Any, path: str) -> tuple[str, ...]:
    """``GetManagedPrefixListEntries`` ``Entries`` -> canonical CIDRs."""
    if not isinstance(entries, list):
        raise ShapeError(f"{path}: expected a list, got {_brief(entries)}")
    return tuple(_cidr(e, "Cidr", f"{path}[{i}]") for i, e in enumerate(entries))


# -- DescribeSecurityGroupRules (rule ids): shared by the live scan and --fix --------------

#: AWS accepts at most 200 values in one filter
FILTER_VALUES = 200


def chunks(values: Sequence[str], size: int = FILTER_VALUES) -> Iterator[list[str]]:
    """Filter values in runs AWS accepts in one request."""
    for start in range(0, len(values), size):
        yield list(values[start:start + size])


def aws_error(exc: BaseException) -> tuple[str, str] | None:
    """(code, message) of an error AWS answered, recognised by its shape (botocore's ClientError
    carries ``response["Error"]``), so that code without botocore can read it; None otherwise."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping) or not isinstance(response.get("Error"), Mapping):
        return None
    err = response["Error"]
    return str(err.get("Code") or ""), str(err.get("Message") or "")


def error_code(exc: BaseException) -> str:
    """AWS's error code, or "" for a failure that is not an AWS answer."""
    found = aws_error(exc)
    return found[0] if found else ""


def error_text(exc: BaseException) -> str:
    """"Code: message" of an AWS answer, else the exception's name and text."""
    found = aws_error(exc)
    if found is not None:
        return f"{found[0]}: {found[1]}".strip(": ")
    return f"{type(exc).__name__}: {exc}"


def parse_sgr(raw: Mapping[str, Any]) -> Rule | None:
    """One ``DescribeSecurityGroupRules`` entry -> a Rule (None for egress)."""
    if raw.get("IsEgress"):
        return None
    protocol = ports.normalize_protocol(raw.get("IpProtocol", "-1")) or str(raw.get("IpProtocol"))
    from_port = int(raw["FromPort"]) if raw.get("FromPort") is not None else -1
    to_port = int(raw["ToPort"]) if raw.get("ToPort") is not None else -1
    if protocol == ports.ALL:
        from_port = to_port = -1
    if raw.get("CidrIpv4"):
        source = addresses.canonical_cidr(raw["CidrIpv4"])
    elif raw.get("CidrIpv6"):
        source = addresses.canonical_cidr(raw["CidrIpv6"])
    elif raw.get("PrefixListId"):
        source = raw["PrefixListId"]
    elif (raw.get("ReferencedGroupInfo") or {}).get("GroupId"):
        source = raw["ReferencedGroupInfo"]["GroupId"]
    else:
        source = "?"
    referenced = raw.get("ReferencedGroupInfo") or {}
    return Rule(protocol, from_port, to_port, source, raw.get("SecurityGroupRuleId"),
                raw.get("Description") or None, referenced.get("UserId") or None,
                referenced.get("VpcPeeringConnectionId") or None)


def read_ingress(client: Any, group_ids: Sequence[str]) -> dict[str, tuple[Rule, ...]]:
    """The ingress rules, with ids, of these groups: ``DescribeSecurityGroupRules`` filtered by
    group id (≤ 200 ids a call), paginated.  Errors propagate to the caller."""
    out: dict[str, list[Rule]] = {gid: [] for gid in group_ids}
    ids = list(dict.fromkeys(group_ids))
    for chunk in chunks(ids):
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Filters": [{"Name": "group-id", "Values": chunk}],
                                      "MaxResults": 1000}
            if token:
                kwargs["NextToken"] = token
            page = client.describe_security_group_rules(**kwargs)
            if not isinstance(page.get("SecurityGroupRules"), list):
                raise ValueError("DescribeSecurityGroupRules answered without SecurityGroupRules: "
                                 "not an AWS answer (a proxy in the way?)")
            for raw in page["SecurityGroupRules"]:
                rule = parse_sgr(raw)
                if rule is not None and raw.get("GroupId") in out:
                    out[raw["GroupId"]].append(rule)
            token = page.get("NextToken")
            if not token:
                break
    return {gid: tuple(rules) for gid, rules in out.items()}
