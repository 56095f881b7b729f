"""The audited units as a cloud holds them: groups (AWS security groups, GCP network tags), their
ingress rules, and AWS VPCs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple, cast

from sgaudit.model.frozen import quick_init


class Rule(NamedTuple):
    """One actual ingress grant with exactly one source, as it stands in the cloud.

    ``protocol`` is canonical ("tcp", "udp", "icmp", "icmpv6", "-1" or a number); ports are
    AWS's FromPort/ToPort (-1 for all); ``source`` is a canonical CIDR, ``sg-…`` or ``pl-…``.
    A named tuple (change one with ``_replace``): a snapshot of a large fleet holds one per
    source, half a million, and a tuple is made in one step.
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


#: ``Rule`` from all its fields, in order, as one tuple: made in C, where ``Rule(...)`` runs a
#: Python ``__new__`` (a parser's loop over half a million sources)
make_rule = cast(Callable[[tuple[str, int, int, str, str | None, str | None, str | None, str | None]], Rule],
                 partial(tuple.__new__, Rule))
if len(Rule._fields) != 8:  # make_rule's callers pass eight
    raise TypeError("Rule's fields changed: update make_rule's callers")


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
