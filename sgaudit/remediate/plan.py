"""Old path of the AWS fix plan, now ``sgaudit.remediate.aws`` (changes, plan, kept, rules,
rollback), kept while tests move."""

from sgaudit.remediate.aws.changes import (
    ALREADY_DONE,
    APPLIED,
    FAILED,
    RESTORED_DESCRIPTION,
    SKIPPED,
    Action,
    Change,
    ClientFor,
    GroupPlan,
    Outcome,
    Plan,
    Ref,
    Verification,
    fix_exit_code,
)
from sgaudit.remediate.aws.kept import KEPT_DESCRIPTION, kept_parts
from sgaudit.remediate.aws.plan import candidates, plan_fix
from sgaudit.remediate.aws.rollback import BackupRecord, Recorded, plan_rollback
from sgaudit.remediate.aws.rules import covers_part, describe_difference, describe_rule, gaps, signature

__all__ = ["ALREADY_DONE", "APPLIED", "FAILED", "KEPT_DESCRIPTION", "RESTORED_DESCRIPTION", "SKIPPED",
           "Action", "BackupRecord", "Change", "ClientFor", "GroupPlan", "Outcome", "Plan", "Recorded",
           "Ref", "Verification", "candidates", "covers_part", "describe_difference", "describe_rule",
           "fix_exit_code", "gaps", "kept_parts", "plan_fix", "plan_rollback", "signature"]
