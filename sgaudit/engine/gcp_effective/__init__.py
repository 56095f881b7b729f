"""Google Cloud firewall rules -> what is effectively reachable on one network tag. Pure.

GCP evaluates ingress to an instance in levels: hierarchical firewall policies (organization
first), then regional system policies (Google-managed), then - by the network's enforcement
order - VPC firewall rules and the global and regional network firewall policies, then the
implied deny.  (Global system policies, whose place Google does not document, come right after
the regional system ones, their allow and deny rules only possibly applying.)  Within a level
the lowest priority number decides; for VPC rules a deny beats an allow at equal priority; a
policy's ``goto_next`` hands the matched traffic to the next level; ``allow`` and ``deny`` end
evaluation.

This module sweeps the rules that apply to a target in that order, over the same rectangles the
differ uses (``diff.Rect``: a port axis x a source), and keeps two views:

* **exposure** (worst case for extra ingress): the part of each allow rule that no *certain*
  deny (nor ``goto_next`` of its own level) took before it.  Earlier allows are *not*
  subtracted: a redundant allow is still exposure, since removing the other must not expose it.
* **assurance** (worst case for required ingress): what is allowed for certain - the first
  decisive rule is an allow that certainly applies.  Rules that only *possibly* apply (service
  accounts without instances, secure tags) never satisfy a required rule, and take it away when
  they deny (or might pass it on).

Each part taken away from a required rule remembers the rule that took it, so a missing finding
can name it.  The assurance view is asked only of the required rules: ``shortfalls`` walks, for
one required rule, just the rules that meet it, clipped to it (set operations commute with
clipping, so this is the full view restricted to the required rule).  The full view over every
rule (``evaluate(..., full=True)``) remains as the reference the tests compare it with.
"""

from __future__ import annotations

from sgaudit.engine.gcp_effective.assurance import Wanted, gaps, shortfalls, takers
from sgaudit.engine.gcp_effective.levels import applicability, levels
from sgaudit.engine.gcp_effective.rects import NetworkIndex, protocol_keys, units_of
from sgaudit.engine.gcp_effective.shapes import (
    BEFORE_CLASSIC,
    SYSTEM_GLOBAL,
    UNPLACED,
    VPC_LEVEL,
    Effective,
    Exposure,
    Regions,
    Step,
    Unit,
)
from sgaudit.engine.gcp_effective.sweep import evaluate

__all__ = [
    "BEFORE_CLASSIC",
    "SYSTEM_GLOBAL",
    "UNPLACED",
    "VPC_LEVEL",
    "Effective",
    "Exposure",
    "NetworkIndex",
    "Regions",
    "Step",
    "Unit",
    "Wanted",
    "applicability",
    "evaluate",
    "gaps",
    "levels",
    "protocol_keys",
    "shortfalls",
    "takers",
    "units_of",
]
