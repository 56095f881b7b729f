"""Validation of Coiled backend options, wherever they were written.

The same checks guard the policy file, dask config files and environment variables, so a typo
such as ``enabled_public_ssh`` (which the real client silently ignored, leaving port 22 open to
the world) is refused with a did-you-mean in every one of them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sgaudit.errors import PolicyError
from sgaudit.model import Options, Origin
from sgaudit.net import addresses, intervals, ports
from sgaudit.policy.yamlsource import brief

#: options that shape ingress and that sgaudit resolves
NETWORK_OPTIONS = ("enable_public_ssh", "enable_public_http", "disable_public_ingress", "firewall",
                   "ingress")
#: options Coiled accepts that do not shape ingress; accepted and ignored
OTHER_OPTIONS = (
    "backend", "customer_hosted", "region", "region_name", "zone_name", "zone",
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_region_name",
    "gcp_project_name", "gcp_region_name", "gcp_zone_name", "gcp_service_creds_file",
    "gcp_service_creds_dict", "network", "use_scheduler_public_ip", "use_dashboard_public_ip",
    "use_dashboard_https", "spot", "spot_on_demand_fallback", "spot_replacement", "multizone",
    "send_prometheus_metrics", "prometheus_write", "ami_id", "subnet_id", "subnet_ids",
    "security_group_id", "security_group_ids", "instance_profile", "tags",
)
KNOWN_OPTIONS = NETWORK_OPTIONS + OTHER_OPTIONS
_SECRET_WORDS = ("secret", "password", "token", "private_key", "creds_dict")


@dataclass
class Where:
    """A place in an input, for messages: file, dotted key path, and line when known."""

    file: str
    path: str = ""
    line: int | None = None

    def child(self, key: object, line: int | None = None) -> Where:
        name = f"{self.path}.{key}" if self.path else str(key)
        return Where(self.file, name, line if line is not None else self.line)

    def item(self, index: int) -> Where:
        return Where(self.file, f"{self.path}[{index}]", self.line)

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def fail(self, message: str) -> PolicyError:
        return PolicyError(self.note(message))

    def note(self, message: str) -> str:
        """"file:line: key.path: message"; at the top level (no key yet) "file: message"."""
        return f"{self.place}: {self.path}: {message}" if self.path else f"{self.place}: {message}"


@dataclass
class Collected:
    """Validated options plus the warnings their validation produced."""

    options: Options = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def normalize_key(key: object) -> str:
    """Dask treats ``-`` and ``_`` alike; so does sgaudit, in every options mapping."""
    return str(key).replace("-", "_")


def show(value: object) -> str:
    """A value as the user wrote it, quoted when it is a string, kept short."""
    if isinstance(value, (list, tuple, dict, set)):
        return brief(value)  # never the whole of a (possibly alias-expanded) value
    text = repr(value) if isinstance(value, str) else _yamlish(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _yamlish(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def line_of(mapping: Mapping[Any, Any], key: Any) -> int | None:
    lines = getattr(mapping, "lines", None)
    return lines.get(key) if lines else None


def unknown_key(where: Where, key: object, known: tuple[str, ...]) -> PolicyError:
    guess = difflib.get_close_matches(normalize_key(key), known, n=1, cutoff=0.6)
    hint = f"; did you mean '{guess[0]}'?" if guess else f"; known keys: {', '.join(known)}"
    return where.fail(f"unknown key {str(key)!r}{hint}")


def refuse_aliases(mapping: Mapping[Any, Any], where: Where, *, deep: bool = True) -> None:
    """Two keys that differ only in ``-``/``_`` (``enable_public_ssh`` and
    ``enable-public-ssh``) are one key written twice: which value wins would be an accident of
    order, so it is refused as a duplicate key is."""
    seen: dict[str, Any] = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            continue
        norm = normalize_key(key)
        if norm in seen:
            first = seen[norm]
            line = line_of(mapping, first)
            raise where.child(key, line_of(mapping, key)).fail(
                f"the same key as {first!r}{f' (line {line})' if line else ''}: '-' and '_' are "
                "alike in keys")
        seen[norm] = key
        if deep and isinstance(value, Mapping):
            refuse_aliases(value, where.child(key, line_of(mapping, key)))
        elif deep and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    refuse_aliases(item, where.child(key, line_of(mapping, key)).item(i))


def is_secret_key(key: str) -> bool:
    return any(word in key for word in _SECRET_WORDS) or key == "aws_access_key_id"


def expect_mapping(value: object, where: Where) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise where.fail(f"expected a mapping, got {show(value)}")
    return value


def expect_bool(value: object, where: Where) -> bool:
    if isinstance(value, bool):
        return value
    raise where.fail(f"expected true or false, got {show(value)}")


def expect_cidr(value: object, where: Where, warnings: list[str]) -> str:
    if not isinstance(value, str):
        raise where.fail(f"expected a CIDR such as 10.0.0.0/16, got {show(value)}")
    try:
        canonical, was_canonical = addresses.parse_cidr(value)
    except addresses.CidrError:
        raise where.fail(f"invalid CIDR {show(value)}") from None
    if not was_canonical:
        warnings.append(where.note(f"{value!r} is not canonical; using {canonical}"))
    return canonical


#: AWS's ids are 8 or 17 hex digits; shorter ones are accepted (examples, tests), others are typos
_AWS_ID = re.compile(r"^(sg|pl)-[0-9a-f]{1,17}$")


def expect_group_id(value: object, where: Where) -> str:
    if isinstance(value, str) and _AWS_ID.match(value) and value.startswith("sg-"):
        return value
    raise where.fail(f"expected a security group id (sg-…), got {show(value)}")


#: a GCP network tag (RFC 1035 label: lower-case letters, digits, hyphens; 1-63 characters)
_NETWORK_TAG = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_NETWORK_TAG_GLOB = re.compile(r"^[-a-z0-9*?\[\]!]{1,63}$")


def expect_network_tag(value: object, where: Where, glob: bool = False) -> str:
    """A GCP network tag (or, for ``select``/``match``, a glob of one)."""
    pattern = _NETWORK_TAG_GLOB if glob else _NETWORK_TAG
    if isinstance(value, str) and pattern.match(value):
        return value
    what = "a network tag or glob" if glob else "a network tag"
    raise where.fail(f"expected {what} (lower-case letters, digits and hyphens), got {show(value)}")


def expect_waiver_target(value: object, where: Where) -> str:
    """What a waiver's ``group_id`` names: a security group id, or a GCP network tag."""
    if isinstance(value, str) and ((_AWS_ID.match(value) and value.startswith("sg-"))
                                   or (_NETWORK_TAG.match(value) and not value.startswith("sg-"))):
        return value
    raise where.fail(f"expected a security group id (sg-…) or a GCP network tag, got {show(value)}")


def expect_rule_source(value: object, where: Where, warnings: list[str]) -> str:
    """A rule's source as a policy gives it: a CIDR, a security group id or a prefix list id."""
    if isinstance(value, str) and value.startswith(("sg-", "pl-")):
        if not _AWS_ID.match(value):
            raise where.fail(f"expected a security group id (sg-…) or prefix list id (pl-…) of hex "
                             f"digits, got {show(value)}")
        return value
    return expect_cidr(value, where, warnings)


def expect_protocol(value: object, where: Where) -> str:
    protocol = ports.normalize_protocol(value) if not isinstance(value, bool) else None
    if protocol is None:
        raise where.fail(f"expected tcp, udp, icmp, icmpv6, -1 or a protocol number, got {show(value)}")
    return protocol


def expect_port(value: object, where: Where) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.fail(f"expected a port number 1-65535, got {show(value)}")
    if not 1 <= value <= ports.PORT_MAX:
        raise where.fail(f"port {value} is outside 1-65535")
    return value


def expect_port_list(value: object, where: Where) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise where.fail(f"expected a list of ports, got {show(value)}")
    return tuple(expect_port(p, where.item(i)) for i, p in enumerate(value))


def expect_port_ranges(value: object, where: Where) -> tuple[intervals.Interval, ...]:
    """A list of ports given as integers or "lo-hi" strings."""
    if not isinstance(value, list):
        raise where.fail(f"expected a list of ports (integers or \"lo-hi\"), got {show(value)}")
    out = []
    for i, item in enumerate(value):
        interval = ports.parse_port_spec(item)
        if interval is None:
            raise where.item(i).fail(f"expected a port 1-65535 or a \"lo-hi\" range, got {show(item)}")
        out.append(interval)
    return tuple(out)


ICMP_TYPE_MAX = 255


def expect_icmp_types(value: object, where: Where) -> tuple[int, ...]:
    """ICMP types 0-255 (0 is echo reply), as integers or "lo-hi" strings; sorted, distinct."""
    if not isinstance(value, list):
        raise where.fail(f"expected a list of icmp types (0-255 or \"lo-hi\"), got {show(value)}")
    types: set[int] = set()
    for i, item in enumerate(value):
        interval = _icmp_type_spec(item)
        if interval is None:
            raise where.item(i).fail(f"expected an icmp type 0-255 or a \"lo-hi\" range, got {show(item)}")
        types.update(range(interval[0], interval[1] + 1))
    return tuple(sorted(types))


def _icmp_type_spec(value: object) -> intervals.Interval | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value, value) if 0 <= value <= ICMP_TYPE_MAX else None
    if not isinstance(value, str):
        return None
    lo, sep, hi = value.strip().partition("-")
    lo, hi = lo.strip(), (hi.strip() if sep else lo.strip())
    a, b = ports.ascii_int(lo), ports.ascii_int(hi)
    if a is None or b is None:
        return None
    return (a, b) if a <= b <= ICMP_TYPE_MAX else None


def _ports_and_cidr(value: object, where: Where, warnings: list[str]) -> dict[str, Any]:
    mapping = expect_mapping(value, where)
    known = ("ports", "cidr")
    result: dict[str, Any] = {}
    for key, item in mapping.items():
        name = normalize_key(key)
        sub = where.child(key, line_of(mapping, key))
        if name == "ports":
            result["ports"] = expect_port_list(item, sub)
        elif name == "cidr":
            result["cidr"] = expect_cidr(item, sub, warnings)
        else:
            raise unknown_key(sub, key, known)
    for needed in known:
        if needed not in result:
            raise where.fail(f"missing '{needed}'")
    return result


def _check_firewall(value: object, where: Where, warnings: list[str]) -> object:
    return _ports_and_cidr(value, where, warnings)


def _check_ingress(value: object, where: Where, warnings: list[str]) -> object:
    if not isinstance(value, list):
        raise where.fail(f"expected a list of {{ports, cidr}} entries, got {show(value)}")
    return tuple(_ports_and_cidr(e, where.item(i), warnings) for i, e in enumerate(value))


def _check_bool(value: object, where: Where, warnings: list[str]) -> object:
    return expect_bool(value, where)


CHECKS: dict[str, Callable[[object, Where, list[str]], object]] = {
    "enable_public_ssh": _check_bool,
    "enable_public_http": _check_bool,
    "disable_public_ingress": _check_bool,
    "firewall": _check_firewall,
    "ingress": _check_ingress,
}


def collect(mapping: object, where: Where) -> Collected:
    """Validate a backend-options mapping; keep the network options with their origins."""
    body = expect_mapping(mapping, where)
    refuse_aliases(body, where)
    out = Collected()
    for key, value in body.items():
        name = normalize_key(key)
        line = line_of(body, key)
        sub = where.child(key, line)
        if name not in KNOWN_OPTIONS:
            raise unknown_key(sub, key, KNOWN_OPTIONS)
        if is_secret_key(name):
            out.warnings.append(sub.note(
                "looks like a credential; remove it from this file (value not shown)"))
            continue
        check = CHECKS.get(name)
        if check is None:
            continue
        out.options[name] = Origin(name, check(value, sub, out.warnings), sub.place)
    return out
