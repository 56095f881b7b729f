"""What the envelope permits of an AWS rule about to be revoked, as rules to authorize first:
the part of it the options permit, and the cluster's own traffic it carried."""

from __future__ import annotations

from collections.abc import Sequence

from sgaudit.engine.diff import Differ
from sgaudit.engine.resolve import SELF
from sgaudit.model import Grant, Group, GroupResult, Rule
from sgaudit.net import addresses, intervals, ports
from sgaudit.remediate.aws.rules import describe_rule, gaps

KEPT_DESCRIPTION = "kept by sgaudit: the permitted part of {rule_id}"


def kept_parts(revoked: Rule, result: GroupResult, kept: Sequence[Rule],
               differ: Differ) -> list[tuple[Rule, str]]:
    """What the envelope permits of a rule about to be revoked, as rules to authorize first, so
    that the revoke takes away only what is outside it: a ``-1`` from the VPC leaves the ports the
    options permit from the VPC, a bastion's ``tcp 20-25`` leaves its 22. When the rule let the
    cluster's own machines reach each other (a private source) and no rule from the group itself
    does (workers and scheduler talk on any port), that rule is added too. Parts that ``kept``
    rules already allow are left out."""
    group = result.group
    parts = _permitted_parts(revoked, result, differ)
    if _carried_own_traffic(revoked, group, kept, differ):
        parts.setdefault((ports.ALL, -1, -1, group.group_id), _OWN_TRAFFIC)
    name = f"{revoked.rule_id or 'the revoked rule'} ({describe_rule(revoked)})"
    out = []
    for (protocol, from_port, to_port, cidr), kind in parts.items():
        if not gaps(Grant(protocol, from_port, to_port, cidr, kind), kept, group, differ):
            continue  # already allowed by a rule that stays
        rule = Rule(protocol, from_port, to_port, cidr, None,
                    KEPT_DESCRIPTION.format(rule_id=revoked.rule_id or "a revoked rule"))
        why = (f"the part of {name} that the options permit; added first so that access stays"
               if kind == _PERMITTED_PART else
               f"{name} also let the cluster's machines reach each other; this keeps that, from "
               "the group itself (always permitted)")
        out.append((rule, why))
    return out


_PERMITTED_PART = "permitted part"
_OWN_TRAFFIC = "own traffic"


def _permitted_parts(revoked: Rule, result: GroupResult,
                     differ: Differ) -> dict[tuple[str, int, int, str], str]:
    """(protocol, from, to, source) of what the envelope permits of a rule, in envelope order."""
    group = result.group
    env = differ.envelope(result.desired, group)
    source = differ.source_of(revoked.source, group)
    rule_axis = (ports.axis_interval(revoked.protocol, revoked.from_port, revoked.to_port),)
    parts: dict[tuple[str, int, int, str], str] = {}
    for env_protocol, rects in env.items():
        if revoked.protocol != ports.ALL and env_protocol not in (revoked.protocol, ports.ALL):
            continue
        protocol = revoked.protocol if revoked.protocol != ports.ALL else env_protocol
        for rect in rects:
            axis = intervals.intersect(rule_axis, rect.axis)
            if not axis or rect.source.token == SELF:
                continue
            if source.token is not None:
                sources = [source.token] if rect.source.token == source.token else []
            else:
                sources = list(addresses.to_cidrs(intervals.intersect(source.addrs, rect.source.addrs)))
            for cidr in sources:
                for from_port, to_port in _port_ranges(protocol, axis):
                    parts.setdefault((protocol, from_port, to_port, cidr), _PERMITTED_PART)
    return parts


def _carried_own_traffic(revoked: Rule, group: Group, kept: Sequence[Rule], differ: Differ) -> bool:
    """Whether the rule was all traffic from private addresses (so it let the cluster's machines
    talk) and no rule that stays allows all traffic from the group itself."""
    source = differ.source_of(revoked.source, group)
    rule_axis = (ports.axis_interval(revoked.protocol, revoked.from_port, revoked.to_port),)
    all_traffic = revoked.protocol == ports.ALL or (
        revoked.protocol == "tcp" and ports.every_port(revoked.protocol, rule_axis))
    return (all_traffic and source.token is None
            and bool(intervals.intersect(source.addrs, addresses.private_space()))
            and not any(r.source == group.group_id and r.protocol == ports.ALL for r in kept))


def _port_ranges(protocol: str, axis: intervals.IntervalSet) -> list[tuple[int, int]]:
    """Axis intervals back to AWS's FromPort/ToPort (icmp: type and code)."""
    if protocol == ports.ALL or axis == ((ports.PORT_MIN, ports.PORT_MAX),):
        return [(-1, -1)] if protocol not in ports.PORTED else [(0, 65535)]
    if protocol in ports.ICMP:
        out = []
        for lo, hi in axis:
            for icmp_type in range(lo // 256, hi // 256 + 1):
                first, last = max(lo, icmp_type * 256), min(hi, icmp_type * 256 + 255)
                if first == icmp_type * 256 and last == icmp_type * 256 + 255:
                    out.append((icmp_type, -1))
                else:
                    out.extend((icmp_type, code % 256) for code in range(first, last + 1))
        return out
    return list(axis)
