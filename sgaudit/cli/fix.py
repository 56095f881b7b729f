"""``check --fix`` and ``rollback`` on the command line: the options, the cloud, the operator.

The plan is ``sgaudit.remediate`` (no click, no boto3); one fix's steps are ``fix_sequence``,
each cloud's part ``aws_fix`` and ``gcp_fix``; this module is the conversation with the
operator.  The plan and the per-change report go to stdout; questions, progress and warnings
to stderr.  Confirmation rules, the same for fix and rollback:
``--dry-run`` prints the plan and changes nothing; ``--yes`` applies; otherwise a terminal is
asked, and without a terminal nothing changes and the command says ``--yes`` is needed.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from sgaudit.errors import UsageError
from sgaudit.model import Report, Snapshot
from sgaudit.text import clean

if TYPE_CHECKING:
    from sgaudit.cli.gcp_options import GcpOptions
    from sgaudit.cli.live_options import LiveOptions
    from sgaudit.remediate.aws import Plan
    from sgaudit.remediate.gcp import GcpPlan

#: The plan and its application (``sgaudit.remediate``) are imported by the functions that fix or
#: roll back: every ``check`` defines the --fix options, few run them.
DEFAULT_MAX_CHANGES = 50


@dataclass(frozen=True, slots=True)
class FixOptions:
    """``check --fix`` and the options that only make sense with it."""

    fix: bool = False
    dry_run: bool = False
    yes: bool = False
    #: None: not given (then DEFAULT_MAX_CHANGES), so that giving it without --fix is refused
    max_changes: int | None = None
    backup: str | None = None

    def refuse(self, snapshots: Sequence[str], fmt: str | None, output: str | None) -> None:
        """Usage errors, raised before anything is read."""
        if not self.fix:
            given = [n for n, v in (("--dry-run", self.dry_run), ("--yes", self.yes),
                                    ("--max-changes", self.max_changes is not None),
                                    ("--backup", self.backup)) if v]
            if given:
                raise UsageError(f"{', '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} "
                                 "with --fix")
            return
        if snapshots:
            raise UsageError("--fix changes security groups in AWS, so it needs a live scan; "
                             "it cannot be used with --snapshot")
        if output == "-":
            raise UsageError("with --fix, stdout shows the plan and what was done; write the "
                             "report with -o FILE, not -o -")
        if fmt and fmt != "json" and not output:
            raise UsageError("with --fix, stdout shows the plan and what was done; write the "
                             "report with -o FILE (--format json alone prints the plan and its "
                             "results as JSON)")
        if self.backup and not self.dry_run:
            from sgaudit.remediate.documents import check_target

            check_target(self.backup)

    def refuse_clouds(self, gcp_given: bool, org_role: str | None, aws_too: bool = False) -> None:
        """--fix repairs one cloud at a time: the security groups of one AWS account, or the
        firewall rules of the Google Cloud projects scanned; both at once, or a whole AWS
        organization, is refused before anything is read."""
        if self.fix and gcp_given and aws_too:
            raise UsageError("--fix repairs one cloud at a time: run it with the AWS options or "
                             "with --gcp-project, not both")
        if self.fix and org_role is not None:
            raise UsageError("--fix does not combine with --org-role: fix an account with --role-arn")

    def run(self, report: Report, snapshot: Snapshot, live: LiveOptions, *, now: str,
            policy_path: str | None, allow_partial: bool, quiet: bool, as_json: bool = False,
            gcp: GcpOptions | None = None) -> int:
        """The fix of the cloud scanned (``fix_sequence``, with ``gcp_fix`` or ``aws_fix``)."""
        from sgaudit.cli.fix_sequence import FixCloud, run_fix

        limit = DEFAULT_MAX_CHANGES if self.max_changes is None else self.max_changes
        cloud: FixCloud
        if gcp is not None and gcp.given and snapshot.gcp is not None:
            from sgaudit.cli.gcp_fix import GcpFix

            cloud = GcpFix.of(snapshot, live, gcp, now)
        else:
            from sgaudit.cli.aws_fix import AwsFix, aws_client_for

            cloud = AwsFix(aws_client_for(live), snapshot.prefix_lists)
        return run_fix(cloud, report, dry_run=self.dry_run, yes=self.yes, max_changes=limit,
                       backup_path=self.backup, allow_partial=allow_partial, now=now,
                       policy_path=policy_path, quiet=quiet, as_json=as_json)


_FIX_OPTIONS = (
    click.option("--fix", is_flag=True,
                 help="Bring drifted groups (AWS) or network tags (Google Cloud) to their desired "
                      "state (live scans only): shows the plan, asks, backs up, applies, verifies."),
    click.option("--dry-run", is_flag=True, help="With --fix: show the plan, change nothing."),
    click.option("--yes", is_flag=True, help="With --fix: apply without asking."),
    click.option("--max-changes", type=click.IntRange(min=0), default=None, metavar="N",
                 help="With --fix: refuse (exit 2, nothing changed) a plan of more than N changes "
                      f"(default {DEFAULT_MAX_CHANGES})."),
    click.option("--backup", "backup_path", type=click.Path(dir_okay=False), metavar="FILE",
                 help="With --fix: write the backup here (default: sgaudit-backup-TIME.json in "
                      "the current folder); never overwritten."),
)


def fix_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the --fix options to a click command and hands them over as ``fixing=``."""

    @functools.wraps(func)
    def wrapper(*args: Any, fix: bool = False, dry_run: bool = False, yes: bool = False,
                max_changes: int | None = None, backup_path: str | None = None,
                **kwargs: Any) -> Any:
        return func(*args, fixing=FixOptions(fix, dry_run, yes, max_changes, backup_path), **kwargs)

    for option in reversed(_FIX_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def rollback_command(path: str, live: LiveOptions, *, yes: bool, dry_run: bool,
                     unsigned_ok: bool = False) -> int:
    from sgaudit.remediate import aws as fixaws
    from sgaudit.remediate import gcp as fixgcp

    if fixgcp.is_gcp_backup(path):
        from sgaudit.cli.gcp_fix import run_gcp_rollback

        return run_gcp_rollback(path, live.endpoint_url, dry_run=dry_run, yes=yes,
                                unsigned_ok=unsigned_ok)
    from sgaudit.cli.aws_fix import aws_client_for, run_rollback

    record = fixaws.load_backup(path, unsigned_ok=unsigned_ok, warn=_warn)  # before any AWS call
    client_for = aws_client_for(live)
    return run_rollback(record, client_for, dry_run=dry_run, yes=yes)


def is_interactive() -> bool:
    """May we ask? (a function, so tests can say yes)."""
    return sys.stdin.isatty()


def _err(message: str) -> None:
    click.echo(message, err=True)


def _warn(message: str) -> None:
    _err(f"sgaudit: warning: {clean(message)}")


def _out(message: str = "", nl: bool = True) -> None:
    """The plan and the results on stdout, whole: a closed pipe or a full disk there is one line
    and exit 2 (``files.write_stdout``), never a silent loss of what was done."""
    from sgaudit.fileio.files import write_stdout

    write_stdout(message + ("\n" if nl else ""), label="the plan and its results")


def confirm(plan: Plan | GcpPlan, *, dry_run: bool, yes: bool, verb: str,
            echo: Callable[..., None] = _out) -> bool:
    """True to go ahead; False when the operator declined.  Raises (exit 2) without a terminal."""
    if dry_run:
        echo(f"Dry run: nothing was changed. Run again without --dry-run to {verb}.")
        return False
    if yes:
        return True
    if not is_interactive():
        raise UsageError(f"stdin is not a terminal, so nothing was changed; pass --yes to {verb} "
                         "this plan")
    n = len(plan.changes)
    return click.confirm(f"{verb.capitalize()}: make these {n} change(s)?", default=False, err=True)


def _silent(*args: Any, **kwargs: Any) -> None:
    """The operator's text, when --format json -q asks for the document alone."""
