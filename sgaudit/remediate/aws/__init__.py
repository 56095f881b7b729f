"""Putting drifted AWS security groups back: the plan, applying it to EC2, verifying, the backup.

The modules, in the order a fix uses them: ``changes`` (the plan's records and exit code),
``rules`` (what a rule allows, in words), ``kept`` (what the envelope permits of a revoked rule),
``plan`` (findings -> changes), ``text`` and ``fix_json`` (the plan shown), ``backup_check`` and
``backup`` (the signed journal), ``apply`` (one EC2 call per change), ``verify`` (re-read, diff
again), ``rollback`` (a backup -> the changes that undo it).
"""

from __future__ import annotations

from sgaudit.remediate.aws.apply import apply_plan, read_groups
from sgaudit.remediate.aws.backup import BackupWriter, load_backup
from sgaudit.remediate.aws.changes import ClientFor, Outcome, Plan, Verification, fix_exit_code
from sgaudit.remediate.aws.fix_json import FixRecord
from sgaudit.remediate.aws.fix_json import render as render_json
from sgaudit.remediate.aws.plan import candidates, plan_fix
from sgaudit.remediate.aws.rollback import BackupRecord, plan_rollback
from sgaudit.remediate.aws.rules import describe_rule
from sgaudit.remediate.aws.text import render_outcomes, render_plan, render_verification
from sgaudit.remediate.aws.verify import verify_fix, verify_rollback

__all__ = [
    "BackupRecord",
    "BackupWriter",
    "ClientFor",
    "FixRecord",
    "Outcome",
    "Plan",
    "Verification",
    "apply_plan",
    "candidates",
    "describe_rule",
    "fix_exit_code",
    "load_backup",
    "plan_fix",
    "plan_rollback",
    "read_groups",
    "render_json",
    "render_outcomes",
    "render_plan",
    "render_verification",
    "verify_fix",
    "verify_rollback",
]
