"""AWS's JSON shapes (as ``aws ec2 describe-*`` prints them and boto3 returns them) -> model.

Shared by the snapshot and the live source, so both normalise rules identically.  Every shape
error names the JSON path, so a snapshot's author can find it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from sgaudit import addresses, ports
from sgaudit.model import UNKNOWN, Group, Matcher, Rule, Vpc

_intern = sys.intern


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
    return out


def group_selected(raw: Any, select: Matcher, path: str) -> bool:
    """Cheap pre-check on the raw dict, so unselected groups are never normalised."""
    if not isinstance(raw, Mapping):
        raise ShapeError(f"{path}: expected an object, got {_brief(raw)}")
    if type(raw.get("GroupId")) is not str:
        _need(raw, "GroupId", str, path)
    if select.group_ids and raw.get("GroupId") not in select.group_ids:
        return False
    if select.names and not any(fnmatchcase(str(raw.get("GroupName", "")), n) for n in select.names):
        return False
    if select.tags:
        have = dict(tags_of(raw, path))
        if any(have.get(k) != v for k, v in select.tags):
            return False
    return True


def parse_group(raw: Mapping[str, Any], path: str, region: str, account: str | None) -> Group:
    group_id = _need(raw, "GroupId", str, path)
    rules: list[Rule] = []
    for i, perm in enumerate(_opt(raw, "IpPermissions", list, path, [])):
        rules.extend(permission_rules(perm, f"{path}.IpPermissions[{i}]"))
    return Group(
        group_id=group_id,
        group_name=_opt(raw, "GroupName", str, path, ""),
        vpc_id=_opt(raw, "VpcId", str, path, None),
        region=region,
        account=account or _opt(raw, "OwnerId", str, path, UNKNOWN),
        description=_opt(raw, "Description", str, path, ""),
        tags=tags_of(raw, path),
        rules=tuple(rules),
    )


#: (list key, source key, parser) for the four kinds of source an IpPermission holds
_SOURCE_LISTS = (("IpRanges", "CidrIp", True), ("Ipv6Ranges", "CidrIpv6", True),
                 ("PrefixListIds", "PrefixListId", False), ("UserIdGroupPairs", "GroupId", False))


#: AWS's usual spellings, looked up before the general normalisation
_PROTOCOLS = {p: ports.normalize_protocol(p) for p in ("tcp", "udp", "icmp", "icmpv6", "-1")}


def permission_rules(perm: Any, path: str) -> list[Rule]:
    """One ``IpPermission`` -> one Rule per source (an IpPermission can hold many).

    Hot path of large snapshots: plain type checks inline, the message built only on error.
    """
    if type(perm) is not dict:
        if not isinstance(perm, Mapping):
            raise ShapeError(f"{path}: expected an object, got {_brief(perm)}")
        perm = dict(perm)
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
    if from_port is None:
        from_port = -1
    if to_port is None:
        to_port = -1
    if type(from_port) is not int or type(to_port) is not int:
        bad, value = ("FromPort", from_port) if type(from_port) is not int else ("ToPort", to_port)
        raise ShapeError(f"{path}.{bad}: expected an integer, got {_brief(value)}")
    if protocol == ports.ALL:
        from_port = to_port = -1
    elif protocol in ports.PORTED and not (-1 <= from_port <= 65535 and -1 <= to_port <= 65535):
        raise ShapeError(f"{path}: ports {from_port}-{to_port} outside 0-65535")
    rules: list[Rule] = []
    for list_key, source_key, is_cidr in _SOURCE_LISTS:
        entries = perm.get(list_key)
        if not entries:
            continue
        if type(entries) is not list:
            raise ShapeError(f"{path}.{list_key}: expected a list, got {_brief(entries)}")
        for i, entry in enumerate(entries):
            source = entry.get(source_key) if type(entry) is dict else None
            if type(source) is not str:
                raise ShapeError(f"{path}.{list_key}[{i}]: missing key {source_key!r}"
                                 if source is None else
                                 f"{path}.{list_key}[{i}].{source_key}: expected a string, "
                                 f"got {_brief(source)}")
            # the JSON path is spelled out only on error; CIDRs come shared from parse_cidr's cache
            source = _canonical_at(source, path, list_key, i, source_key) if is_cidr else _intern(source)
            rules.append(Rule(protocol, from_port, to_port, source,
                              entry.get("SecurityGroupRuleId"), entry.get("Description")))
    return rules


def _canonical_at(text: str, path: str, list_key: str, i: int, source_key: str) -> str:
    try:
        return addresses.parse_cidr(text)[0]
    except addresses.CidrError:
        raise ShapeError(f"{path}.{list_key}[{i}].{source_key}: invalid CIDR {_brief(text)}") from None


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
        blocks.append(_cidr(raw, "CidrBlock", path))
        primary = blocks[0]
    for i, assoc in enumerate(_opt(raw, "CidrBlockAssociationSet", list, path, [])):
        where = f"{path}.CidrBlockAssociationSet[{i}]"
        if _associated(assoc, "CidrBlockState", where):
            blocks.append(_cidr(assoc, "CidrBlock", where))
    for i, assoc in enumerate(_opt(raw, "Ipv6CidrBlockAssociationSet", list, path, [])):
        where = f"{path}.Ipv6CidrBlockAssociationSet[{i}]"
        if _associated(assoc, "Ipv6CidrBlockState", where) and assoc.get("Ipv6CidrBlock"):
            blocks.append(_cidr(assoc, "Ipv6CidrBlock", where))
    return Vpc(vpc_id=vpc_id, region=region,
               account=account or _opt(raw, "OwnerId", str, path, UNKNOWN),
               primary_cidr=primary, cidrs=tuple(dict.fromkeys(blocks)))


def _associated(assoc: Any, state_key: str, path: str) -> bool:
    if not isinstance(assoc, Mapping):
        raise ShapeError(f"{path}: expected an object, got {_brief(assoc)}")
    state = assoc.get(state_key) or {}
    return not isinstance(state, Mapping) or state.get("State", "associated") == "associated"


def prefix_list_cidrs(entries: Any, path: str) -> tuple[str, ...]:
    """``GetManagedPrefixListEntries`` ``Entries`` -> canonical CIDRs."""
    if not isinstance(entries, list):
        raise ShapeError(f"{path}: expected a list, got {_brief(entries)}")
    return tuple(_cidr(e, "Cidr", f"{path}[{i}]") for i, e in enumerate(entries))
