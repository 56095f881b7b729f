"""The types of finding, with ids that stay the same across versions (SARIF rule ids), and the
rule that sorts a finding into one. They sit beside the differ's severity rules, which they
follow: the severity says public or private, the rule's shape says which type."""

from __future__ import annotations

from dataclasses import dataclass

from sgaudit.engine.diff import ADMIN_PORTS
from sgaudit.model import Finding, Kind, Severity
from sgaudit.net import intervals, ports


@dataclass(frozen=True, slots=True)
class FindingType:
    rule_id: str
    name: str
    title: str
    help: str
    default_severity: Severity


WORLD_OPEN_ADMIN_PORT = FindingType(
    "SGA001", "WorldOpenAdminPort", "Admin port open to the world",
    "An administrative port (22, 23, 3389, 5985-5986) is reachable from a world-scale "
    "public range. Remove the rule or narrow its source to the addresses that need it.",
    Severity.CRITICAL)
ALL_TRAFFIC = FindingType(
    "SGA002", "AllTraffic", "All traffic allowed",
    "A rule allows every protocol, or every port of tcp/udp, from a source the options "
    "do not permit. Replace it with the specific ports the cluster needs.",
    Severity.CRITICAL)
PUBLIC_INGRESS = FindingType(
    "SGA003", "PublicIngress", "Extra ingress from public addresses",
    "A rule lets public addresses reach ports the cluster's options do not open to them. "
    "Remove the rule or narrow it to the desired state (see `sgaudit explain`).",
    Severity.HIGH)
EXTRA_INGRESS = FindingType(
    "SGA004", "ExtraIngress", "Extra ingress",
    "A rule allows ingress from private ranges, other security groups or prefix lists "
    "beyond the permitted envelope. Remove it or add it to the policy's `allow` list.",
    Severity.MEDIUM)
MISSING_REQUIRED_INGRESS = FindingType(
    "SGA005", "MissingRequiredIngress", "Missing required ingress",
    "A rule the cluster's options require is absent or only partly present, so the "
    "cluster may not be reachable as configured. Add the rule or change the options.",
    Severity.MEDIUM)

FINDING_TYPES: tuple[FindingType, ...] = (
    WORLD_OPEN_ADMIN_PORT, ALL_TRAFFIC, PUBLIC_INGRESS, EXTRA_INGRESS, MISSING_REQUIRED_INGRESS)


def finding_type(f: Finding) -> FindingType:
    """Classify a finding by what its rule is; the severity only separates public from private."""
    if f.kind == Kind.MISSING:
        return MISSING_REQUIRED_INGRESS
    axis = (ports.axis_interval(f.protocol, f.from_port, f.to_port),)
    if f.protocol == ports.ALL or ports.every_port(f.protocol, axis):
        return ALL_TRAFFIC
    if f.severity == Severity.CRITICAL and f.protocol == "tcp" and intervals.intersect(axis, ADMIN_PORTS):
        return WORLD_OPEN_ADMIN_PORT
    if f.severity in (Severity.CRITICAL, Severity.HIGH):
        return PUBLIC_INGRESS
    return EXTRA_INGRESS
