"""``check --fix`` and ``rollback`` on the command line: confirmation, backup, printing.

The plan is ``sgaudit.remediate`` (no click, no boto3); this module is the conversation with the
operator.  The plan and the per-change report go to stdout; questions, progress and warnings
to stderr.  Confirmation rules, the same for fix and rollback:
``--dry-run`` prints the plan and changes nothing; ``--yes`` applies; otherwise a terminal is
asked, and without a terminal nothing changes and the command says ``--yes`` is needed.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, OutputError, UsageError
from sgaudit.model import Report, Snapshot
from sgaudit.text import clean

if TYPE_CHECKING:
    from sgaudit.cli.gcp_options import GcpOptions
    from sgaudit.cli.live_options import LiveOptions
    from sgaudit.remediate import plan as fixplan
    from sgaudit.remediate.backup import BackupWriter
    from sgaudit.remediate.fix_json import FixRecord
    from sgaudit.remediate.gcp_plan import GcpPlan

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
            from sgaudit.remediate.backup import check_target

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
        limit = DEFAULT_MAX_CHANGES if self.max_changes is None else self.max_changes
        if gcp is not None and gcp.given and snapshot.gcp is not None:
            from sgaudit.cli.gcp_fix import run_gcp_fix

            return run_gcp_fix(report, snapshot, live, gcp, dry_run=self.dry_run, yes=self.yes,
                               max_changes=limit, backup_path=self.backup,
                               allow_partial=allow_partial, now=now, policy_path=policy_path,
                               quiet=quiet, as_json=as_json)
        client_for = aws_client_for(live)
        return run_fix(report, snapshot.prefix_lists, client_for, dry_run=self.dry_run, yes=self.yes,
                       max_changes=limit, backup_path=self.backup,
                       allow_partial=allow_partial, now=now, policy_path=policy_path, quiet=quiet,
                       as_json=as_json)


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
    from sgaudit.remediate import backup
    from sgaudit.remediate.gcp_backup import is_gcp_backup

    if is_gcp_backup(path):
        from sgaudit.cli.gcp_fix import run_gcp_rollback

        return run_gcp_rollback(path, live.endpoint_url, dry_run=dry_run, yes=yes,
                                unsigned_ok=unsigned_ok)
    record = backup.load_backup(path, unsigned_ok=unsigned_ok, warn=_warn)  # before any AWS call
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


def confirm(plan: fixplan.Plan | GcpPlan, *, dry_run: bool, yes: bool, verb: str,
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


def _progress(outcome: fixplan.Outcome) -> None:
    from sgaudit.remediate import plan as fixplan

    c = outcome.change
    rule = fixplan.describe_rule(c.rule, with_id=True)
    _err(clean(f"  #{c.seq} {c.action} {rule} on {c.group_id}: {outcome.text}"))


def run_fix(report: Report, prefix_lists: Mapping[tuple[str, str], tuple[str, ...]],
            client_for: fixplan.ClientFor, *, dry_run: bool, yes: bool, max_changes: int,
            backup_path: str | None, allow_partial: bool, now: str, policy_path: str | None,
            quiet: bool = False, as_json: bool = False) -> int:
    """Plan, confirm, back up, apply, verify; returns the exit code.  ``as_json``: stdout is one
    ``sgaudit.fix/v1`` document and the conversation goes to stderr (none of it with ``quiet``)."""
    from sgaudit.remediate import fix_json

    record = fix_json.FixRecord()
    echo: Callable[..., None] = _out
    if as_json:
        echo = _silent if quiet else functools.partial(click.echo, err=True)
    code = _fix_steps(report, prefix_lists, client_for, record, echo, dry_run=dry_run, yes=yes,
                      max_changes=max_changes, backup_path=backup_path,
                      allow_partial=allow_partial, now=now, policy_path=policy_path, quiet=quiet)
    if as_json:
        _after_changes(record.backup, lambda: _out(
            fix_json.render(record, report, now=now, dry_run=dry_run, exit_code=code), nl=False))
    return code


def _silent(*args: Any, **kwargs: Any) -> None:
    """The operator's text, when --format json -q asks for the document alone."""


def _fix_steps(report: Report, prefix_lists: Mapping[tuple[str, str], tuple[str, ...]],
               client_for: fixplan.ClientFor, record: FixRecord, echo: Callable[..., None], *,
               dry_run: bool, yes: bool, max_changes: int, backup_path: str | None,
               allow_partial: bool, now: str, policy_path: str | None, quiet: bool) -> int:
    """The fix itself; what it plans and does goes into ``record`` as well as to ``echo``."""
    from sgaudit.remediate import aws_apply, backup, plan_text, verify
    from sgaudit.remediate import plan as fixplan

    if backup_path and not dry_run:
        backup.check_target(backup_path)
    incomplete = not report.complete and not allow_partial
    if not report.complete:
        _err("sgaudit: warning: the scan is incomplete; what could not be read is not fixed "
             f"({len(report.errors)} error(s))")
    cands = fixplan.candidates(report.results)
    refs = [(r.group.account, r.group.region, r.group.group_id) for r in cands]
    plan = record.plan = fixplan.plan_fix(report.results, aws_apply.read_groups(refs, client_for),
                                          prefix_lists)
    echo(plan_text.render_plan(plan), nl=False)
    if not plan.changes:
        echo("Nothing to change.")
        return EXIT_INCOMPLETE if incomplete else (EXIT_DRIFT if plan.skipped else EXIT_OK)
    stop = go_ahead(plan, record, echo, max_changes=max_changes, dry_run=dry_run, yes=yes,
                    incomplete=incomplete)
    if stop is not None:
        return stop
    path = record.backup = backup_path or str(backup.default_path())
    writer = backup.BackupWriter(path, plan, {**backup.stamp(now), "policy": policy_path})
    writer.write()
    record.status = "applied"
    echo(f"Backup written to {path} (undo with: sgaudit rollback {path})")
    outcomes = record.outcomes = _apply_or_interrupted(plan, client_for, writer, path, quiet)
    writer.record_outcomes(outcomes)
    checks = record.checks = verify.verify_fix(plan, report.results, client_for, prefix_lists)
    writer.record_verification(checks)
    _after_changes(path, lambda: _print_results(echo, plan, outcomes, checks, quiet))
    return fixplan.fix_exit_code(plan, outcomes, checks, report.complete, allow_partial)


def _print_results(echo: Callable[..., None], plan: fixplan.Plan, outcomes: Sequence[fixplan.Outcome],
                   checks: Sequence[fixplan.Verification], quiet: bool) -> None:
    from sgaudit.remediate import plan_text

    echo("")
    if quiet or not _one_terminal():
        echo(plan_text.render_outcomes(outcomes, plan), nl=False)
    else:  # each result was printed as it came, on the same terminal
        echo("Each change's result is listed above.")
    if checks:
        echo("\nAfter the fix:")
        echo(plan_text.render_verification(checks), nl=False)
    echo(_summary(outcomes, plan, checks))


def _after_changes(backup_path: str | None, show: Callable[[], None]) -> None:
    """Print what was done; when stdout fails now, the one line says the changes were made and
    where their record is, so a closed pipe cannot hide an applied fix."""
    try:
        show()
    except OutputError as exc:
        if not backup_path:
            raise
        raise OutputError(f"{exc}; the fix was applied: its results are in the backup "
                          f"{backup_path} (undo with: sgaudit rollback {backup_path})") from None


def go_ahead(plan: fixplan.Plan | GcpPlan, record: Any, echo: Callable[..., None], *,
             max_changes: int, dry_run: bool, yes: bool, incomplete: bool) -> int | None:
    """Between a plan and its first change (AWS and GCP alike): --max-changes, then --dry-run,
    --yes or the terminal's answer.  None: go ahead; else the exit code, nothing changed."""
    if len(plan.changes) > max_changes:
        raise UsageError(f"the plan has {len(plan.changes)} changes, more than --max-changes "
                         f"{max_changes}; nothing was changed")
    record.status = "dry_run" if dry_run else "declined"
    if confirm(plan, dry_run=dry_run, yes=yes, verb="apply", echo=echo):
        return None
    if dry_run:
        return EXIT_INCOMPLETE if incomplete else EXIT_OK
    echo("Declined: nothing was changed.")
    return EXIT_DRIFT


def _one_terminal() -> bool:
    """Are stdout and stderr the same terminal (so progress lines already showed each result)?"""
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _apply_or_interrupted(plan: fixplan.Plan, client_for: fixplan.ClientFor, writer: BackupWriter,
                          path: str, quiet: bool) -> list[fixplan.Outcome]:
    """Apply the plan; on Ctrl-C, say what was applied, what was in flight and what was not
    attempted, where the backup is and how to roll back, and exit 130."""
    from sgaudit.remediate import aws_apply

    seen: list[fixplan.Outcome] = []

    def on_outcome(outcome: fixplan.Outcome) -> None:
        seen.append(outcome)
        if not quiet:
            _progress(outcome)

    try:
        return aws_apply.apply_plan(plan, client_for, writer, on_outcome)
    except KeyboardInterrupt:
        report_interrupt([c.seq for c in plan.changes], seen, writer, path, "AWS")
        raise SystemExit(EXIT_INTERRUPTED) from None


def report_interrupt(seqs: Sequence[int], seen: Sequence[Any], writer: Any, path: str,
                     cloud: str) -> None:
    """After Ctrl-C (AWS and GCP alike): mark the journal interrupted and say, by change number
    (``seqs``: the plan's, in order), what was applied, what was in flight and what was not
    attempted.  ``seen``: the outcomes so far; ``writer``: the backup's journal."""
    finished = {o.change.seq for o in seen}
    in_flight = writer.pending()
    pending = [n for n in seqs if n not in finished and n in in_flight]
    waiting = [n for n in seqs if n not in finished and n not in in_flight]
    with contextlib.suppress(Exception):  # the journal already says "pending"; this adds why
        writer.doc["interrupted"] = True
        writer.write()

    done = [o.change.seq for o in seen if o.ok]
    other = [o.change.seq for o in seen if not o.ok]
    interrupted_lines(done, other, pending, waiting, path, cloud)


def interrupted_lines(done: Sequence[int], other: Sequence[int], pending: Sequence[int],
                      waiting: Sequence[int], path: str, cloud: str) -> None:
    """What a fix interrupted by Ctrl-C did, by change number, and how to undo it (stderr)."""
    def seqs(numbers: Sequence[int]) -> str:
        return ", ".join(f"#{n}" for n in numbers) or "none"

    lines = ["sgaudit: interrupted during the fix.",
             f"  applied: {seqs(done)}" + (f"; not applied: {seqs(other)}" if other else ""),
             f"  in flight when interrupted (may or may not have reached {cloud}): {seqs(pending)}",
             f"  not attempted: {seqs(waiting)}",
             f"  backup: {path}",
             f"  to undo what was done: sgaudit rollback {path}"]
    for line in lines:
        _err(clean(line))


def run_rollback(record: fixplan.BackupRecord, client_for: fixplan.ClientFor, *, dry_run: bool,
                 yes: bool) -> int:
    """Undo exactly what a fix did, by its checked backup; returns the exit code."""
    from sgaudit.remediate import aws_apply, plan_text, verify
    from sgaudit.remediate import plan as fixplan

    refs = list(dict.fromkeys(r.change.ref for r in record.changes))
    plan = fixplan.plan_rollback(record, aws_apply.read_groups(refs, client_for))
    _out(plan_text.render_plan(plan, title="Rollback plan"), nl=False)
    if not plan.changes:
        _out("Nothing to roll back.")
        return EXIT_DRIFT if plan.skipped else EXIT_OK
    if not confirm(plan, dry_run=dry_run, yes=yes, verb="roll back"):
        if dry_run:
            return EXIT_OK
        _out("Declined: nothing was changed.")
        return EXIT_DRIFT
    outcomes = aws_apply.apply_plan(plan, client_for, None, _progress)
    checks = verify.verify_rollback(record, plan, client_for)
    try:
        _out("")
        _out(plan_text.render_outcomes(outcomes, plan), nl=False)
        _out("\nAfter the rollback:")
        _out(plan_text.render_verification(checks), nl=False)
        _out(_summary(outcomes, plan, checks))
    except OutputError as exc:
        raise OutputError(f"{exc}; the rollback was applied") from None
    return fixplan.fix_exit_code(plan, outcomes, checks, complete=True)


def _summary(outcomes: Sequence[fixplan.Outcome], plan: fixplan.Plan,
             checks: Sequence[fixplan.Verification]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    parts = [f"{n} {result}" for result, n in counts.items()]
    if plan.skipped:
        parts.append(f"{len(plan.skipped)} group(s) skipped")
    bad = [c for c in checks if not c.ok]
    parts.append(f"{len(checks) - len(bad)} of {len(checks)} group(s) verified")
    return "sgaudit: " + "; ".join(parts)


# -- clients ----------------------------------------------------------------------------------
def aws_client_for(live: LiveOptions) -> fixplan.ClientFor:
    """(account, region) -> EC2 client, with the credentials that scanned that account, from
    the command's sessions (so a fix reuses the scan's sessions, roles, account ids and clients).

    One credential set serves every account; with several, a role's account is in its ARN and
    a profile's is asked of STS once."""
    from sgaudit.sources import aws

    targets = aws.targets_from_options(live.profiles, live.role_arns, live.external_id)
    sessions = live.sessions()

    def target_for(account: str, region: str) -> aws.AwsTarget:
        if len(targets) == 1:
            return targets[0]
        for target in targets:
            if target.role_account == account:
                return target
        for target in targets:
            if not target.role_arn and sessions.account(target, region) == account:
                return target
        raise UsageError(f"no --profile or --role-arn gives access to account {account}")

    def client_for(account: str, region: str) -> Any:
        return aws.ec2_client(sessions, target_for(account, region), region)

    return client_for
