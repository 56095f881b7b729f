"""One ``check --fix`` on either cloud: plan, confirm, back up, apply (a Ctrl-C said, exit 130),
verify, print; the cloud (``aws_fix.AwsFix``, ``gcp_fix.GcpFix``) brings its plan, calls and text.

Every step writes what it did into the run's record as well as to ``echo``, so that ``--format
json`` prints the same run as one ``sgaudit.fix/v1`` document.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import click

from sgaudit.cli.fix import _err, _out, _silent, confirm
from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, OutputError, UsageError
from sgaudit.model import Report
from sgaudit.text import clean


class FixCloud(Protocol):
    """What one cloud brings to the sequence; plans, outcomes and checks are its own types."""

    @property
    def name(self) -> str:
        """Where a change in flight may have reached ("AWS", "Google Cloud"): the Ctrl-C report."""

    def new_record(self) -> Any:
        """The run's record (``plan``, ``status``, ``outcomes``, ``backup``, the checks)."""

    def plan(self, report: Report) -> Any:
        """Read what the plan needs now and plan the fix."""

    def render_plan(self, plan: Any) -> str: ...

    def left_alone(self, plan: Any) -> bool:
        """Whether the plan leaves some drift unfixed (skipped or refused): exit 1."""

    def nothing_to_change(self, plan: Any) -> str:
        """The line printed when the plan has no change."""

    def backup_writer(self, path: str, plan: Any, meta: dict[str, Any]) -> Any: ...

    def apply(self, plan: Any, writer: Any, on_outcome: Callable[[Any], None]) -> list[Any]: ...

    def progress(self, outcome: Any) -> None:
        """One change's result, on stderr, as it comes."""

    def verify(self, plan: Any, report: Report, record: Any) -> list[Any]:
        """Read the changed places again and check them (kept in ``record``)."""

    def show_results(self, echo: Callable[..., None], plan: Any, outcomes: Sequence[Any],
                     checks: Sequence[Any], path: str, quiet: bool) -> None: ...

    def exit_code(self, plan: Any, outcomes: Sequence[Any], checks: Sequence[Any], complete: bool,
                  allow_partial: bool) -> int: ...

    def render_json(self, record: Any, report: Report, *, now: str, dry_run: bool,
                    exit_code: int) -> str: ...


def run_fix(cloud: FixCloud, report: Report, *, dry_run: bool, yes: bool, max_changes: int,
            backup_path: str | None, allow_partial: bool, now: str, policy_path: str | None,
            quiet: bool = False, as_json: bool = False) -> int:
    """Plan, confirm, back up, apply, verify; returns the exit code.  ``as_json``: stdout is one
    ``sgaudit.fix/v1`` document and the conversation goes to stderr (none of it with ``quiet``)."""
    record = cloud.new_record()
    echo: Callable[..., None] = _out
    if as_json:
        echo = _silent if quiet else functools.partial(click.echo, err=True)
    code = _fix_steps(cloud, report, record, echo, dry_run=dry_run, yes=yes,
                      max_changes=max_changes, backup_path=backup_path,
                      allow_partial=allow_partial, now=now, policy_path=policy_path, quiet=quiet)
    if as_json:
        after_changes(record.backup, lambda: _out(
            cloud.render_json(record, report, now=now, dry_run=dry_run, exit_code=code), nl=False))
    return code


def _fix_steps(cloud: FixCloud, report: Report, record: Any, echo: Callable[..., None], *,
               dry_run: bool, yes: bool, max_changes: int, backup_path: str | None,
               allow_partial: bool, now: str, policy_path: str | None, quiet: bool) -> int:
    """The fix itself; what it plans and does goes into ``record`` as well as to ``echo``."""
    from sgaudit.remediate import documents

    if backup_path and not dry_run:
        documents.check_target(backup_path)
    incomplete = not report.complete and not allow_partial
    if not report.complete:
        _err("sgaudit: warning: the scan is incomplete; what could not be read is not fixed "
             f"({len(report.errors)} error(s))")
    plan = record.plan = cloud.plan(report)
    echo(cloud.render_plan(plan), nl=False)
    if not plan.changes:
        echo(cloud.nothing_to_change(plan))
        return EXIT_INCOMPLETE if incomplete else (EXIT_DRIFT if cloud.left_alone(plan) else EXIT_OK)
    stop = go_ahead(plan, record, echo, max_changes=max_changes, dry_run=dry_run, yes=yes,
                    incomplete=incomplete)
    if stop is not None:
        return stop
    path = record.backup = backup_path or str(documents.default_path())
    writer = cloud.backup_writer(path, plan, {**documents.stamp(now), "policy": policy_path})
    writer.write()
    record.status = "applied"
    echo(f"Backup written to {path} (undo with: sgaudit rollback {path})")
    outcomes = record.outcomes = _apply_or_interrupted(cloud, plan, writer, path, quiet)
    writer.record_outcomes(outcomes)
    checks = cloud.verify(plan, report, record)
    writer.record_verification(checks)
    after_changes(path, lambda: cloud.show_results(echo, plan, outcomes, checks, path, quiet))
    return cloud.exit_code(plan, outcomes, checks, report.complete, allow_partial)


def go_ahead(plan: Any, record: Any, echo: Callable[..., None], *, max_changes: int, dry_run: bool,
             yes: bool, incomplete: bool) -> int | None:
    """Between a plan and its first change: --max-changes, then --dry-run, --yes or the
    terminal's answer.  None: go ahead; else the exit code, nothing changed."""
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


def after_changes(backup_path: str | None, show: Callable[[], None]) -> None:
    """Print what was done; when stdout fails now, the one line says the changes were made and
    where their record is, so a closed pipe cannot hide an applied fix."""
    try:
        show()
    except OutputError as exc:
        if not backup_path:
            raise
        raise OutputError(f"{exc}; the fix was applied: its results are in the backup "
                          f"{backup_path} (undo with: sgaudit rollback {backup_path})") from None


def one_terminal() -> bool:
    """Are stdout and stderr the same terminal (so progress lines already showed each result)?"""
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _apply_or_interrupted(cloud: FixCloud, plan: Any, writer: Any, path: str,
                          quiet: bool) -> list[Any]:
    """Apply the plan; on Ctrl-C, say what was applied, what was in flight and what was not
    attempted, where the backup is and how to roll back, and exit 130."""
    seen: list[Any] = []

    def on_outcome(outcome: Any) -> None:
        seen.append(outcome)
        if not quiet:
            cloud.progress(outcome)

    try:
        return cloud.apply(plan, writer, on_outcome)
    except KeyboardInterrupt:
        _report_interrupt([c.seq for c in plan.changes], seen, writer, path, cloud.name)
        raise SystemExit(EXIT_INTERRUPTED) from None


def _report_interrupt(seqs: Sequence[int], seen: Sequence[Any], writer: Any, path: str,
                      cloud: str) -> None:
    """After Ctrl-C: mark the journal interrupted and say, by change number (``seqs``: the
    plan's, in order), what was applied, what was in flight and what was not attempted.
    ``seen``: the outcomes so far; ``writer``: the backup's journal."""
    finished = {o.change.seq for o in seen}
    in_flight = writer.pending()
    pending = [n for n in seqs if n not in finished and n in in_flight]
    waiting = [n for n in seqs if n not in finished and n not in in_flight]
    with contextlib.suppress(Exception):  # the journal already says "pending"; this adds why
        writer.doc["interrupted"] = True
        writer.write()

    done = [o.change.seq for o in seen if o.ok]
    other = [o.change.seq for o in seen if not o.ok]
    _interrupted_lines(done, other, pending, waiting, path, cloud)


def _interrupted_lines(done: Sequence[int], other: Sequence[int], pending: Sequence[int],
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
