"""Putting drifted Google Cloud network tags back: the plan, proved with the engine, applied
through the Compute API, checked after, and the backup that undoes it.

The modules, in the order a fix uses them: ``changes`` (the plan's records), ``shapes`` (what
the engine computes, as rules GCP accepts), ``prove`` (the engine asked about a network under a
set of rules), ``planner`` and ``plan`` (findings -> changes), ``text`` (the plan shown, and its
JSON), ``backup`` (the signed journal), ``apply`` (one call per change), ``verify`` (the engine
on the rules read again), ``rollback`` (a backup -> the changes that undo it).
"""

from __future__ import annotations

from sgaudit.remediate.gcp.apply import GcpOutcome, apply_plan
from sgaudit.remediate.gcp.backup import GcpBackupWriter, is_gcp_backup, load_gcp_backup
from sgaudit.remediate.gcp.changes import GcpPlan
from sgaudit.remediate.gcp.plan import candidates, plan_gcp_fix
from sgaudit.remediate.gcp.rollback import plan_rollback, rollback_problems
from sgaudit.remediate.gcp.text import GcpFixRecord, render_check, render_json, render_outcomes, render_plan
from sgaudit.remediate.gcp.verify import verify_fix

__all__ = [
    "GcpBackupWriter",
    "GcpFixRecord",
    "GcpOutcome",
    "GcpPlan",
    "apply_plan",
    "candidates",
    "is_gcp_backup",
    "load_gcp_backup",
    "plan_gcp_fix",
    "plan_rollback",
    "render_check",
    "render_json",
    "render_outcomes",
    "render_plan",
    "rollback_problems",
    "verify_fix",
]
