"""Desired state x actual group -> findings. Pure: no I/O.

Rules are compared by what they allow.  Each rule is a rectangle in (port axis x address line)
for one protocol (see ``ports`` and ``addresses``); sources that are not addresses (another
security group, an unread prefix list) are tokens that only match themselves.  "Extra" is the
part of an actual rule outside the union of permitted rectangles; "missing" is the part of a
required rule outside the union of actual ones.
"""

from __future__ import annotations

from sgaudit.engine.diff.differ import Differ
from sgaudit.engine.diff.reasons import describe_addrs, describe_outside, describe_pieces
from sgaudit.engine.diff.rects import (
    ADMIN_PORTS,
    CACHE_LIMIT,
    OTHER,
    MissingGaps,
    Outside,
    Rect,
    Source,
    finding_key,
)
from sgaudit.engine.diff.severity import (
    extra_severity,
    rule_severity,
)
from sgaudit.engine.diff.uncovered import (
    MAX_VPC_V4,
    MAX_VPC_V6,
    address_rects,
    could_be_inside_a_vpc,
    uncovered,
    uncovered_contained,
)
from sgaudit.engine.resolve import UNKNOWN_VPC

__all__ = [
    "ADMIN_PORTS",
    "CACHE_LIMIT",
    "MAX_VPC_V4",
    "MAX_VPC_V6",
    "OTHER",
    "UNKNOWN_VPC",
    "Differ",
    "MissingGaps",
    "Outside",
    "Rect",
    "Source",
    "address_rects",
    "could_be_inside_a_vpc",
    "describe_addrs",
    "describe_outside",
    "describe_pieces",
    "extra_severity",
    "finding_key",
    "rule_severity",
    "uncovered",
    "uncovered_contained",
]
