"""``check --gcp-project … --fix`` and the rollback of its backup: the conversation with the
operator, as for AWS (``cli.fix``): the plan (text, or ``sgaudit.fix/v1`` JSON), ``--dry-run``,
``--yes`` or a terminal's answer, ``--max-changes``, the backup before the first change, the
results, the engine's check after, and on Ctrl-C what was applied and how to roll it back."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from sgaudit.cli.fix import (
    _after_changes,
    _err,
    _out,
    _silent,
    _warn,
    confirm,
    go_ahead,
    report_interrupt,
)
from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK
from sgaudit.model import Report, Snapshot
from sgaudit.text import clean

if TYPE_CHECKING:
    from sgaudit.cli.gcp_options import GcpOptions
    from sgaudit.cli.live_options import LiveOptions
    from sgaudit.remediate.gcp_apply import GcpOutcome
    from sgaudit.remediate.gcp_backup import GcpBackupWriter
    from sgaudit.remediate.gcp_plan import GcpPlan
    from sgaudit.remediate.gcp_text import GcpFixRecord
    from sgaudit.sources.gcp_firewalls import FirewallApi


def api_for(endpoint_url: str | None) -> FirewallApi:
    from sgaudit.sources.gcp import ComputeFirewalls

    return ComputeFirewalls(endpoint_url)


def read_projects(api: FirewallApi, projects: Sequence[str]) -> dict[str, list[dict[str, Any]] | str]:
    """Each project's VPC firewall rules now, whole, or why they could not be read."""
    from sgaudit.sources.gcp_firewalls import CallError

    out: dict[str, list[dict[str, Any]] | str] = {}
    for project in projects:
        try:
            out[project] = api.list(project)
        except CallError as exc:
            out[project] = f"{exc.code}: {exc.message}"
    return out


def run_gcp_fix(report: Report, snapshot: Snapshot, live: LiveOptions, gcp: GcpOptions, *,
                dry_run: bool, yes: bool, max_changes: int, backup_path: str | None,
                allow_partial: bool, now: str, policy_path: str | None, quiet: bool,
                as_json: bool) -> int:
    from sgaudit.cli.gcp_options import gcp_endpoint
    from sgaudit.remediate import gcp_text

    record = gcp_text.GcpFixRecord()
    echo: Callable[..., None] = _out
    if as_json:
        echo = _silent if quiet else functools.partial(click.echo, err=True)
    api = api_for(gcp_endpoint(live, gcp))
    code = _fix_steps(report, snapshot, api, record, echo, dry_run=dry_run, yes=yes,
                      max_changes=max_changes, backup_path=backup_path, allow_partial=allow_partial,
                      now=now, policy_path=policy_path, quiet=quiet)
    if as_json:
        _after_changes(record.backup, lambda: _out(
            gcp_text.render_json(record, report, now=now, dry_run=dry_run, exit_code=code), nl=False))
    return code


def _fix_steps(report: Report, snapshot: Snapshot, api: FirewallApi, record: GcpFixRecord,
               echo: Callable[..., None], *, dry_run: bool, yes: bool, max_changes: int,
               backup_path: str | None, allow_partial: bool, now: str, policy_path: str | None,
               quiet: bool) -> int:
    from sgaudit.remediate import backup, gcp_backup, gcp_plan, gcp_text, gcp_verify

    if backup_path and not dry_run:
        backup.check_target(backup_path)
    incomplete = not report.complete and not allow_partial
    if not report.complete:
        _err("sgaudit: warning: the scan is incomplete; what could not be read is not fixed "
             f"({len(report.errors)} error(s))")
    state = snapshot.gcp
    assert state is not None  # a GCP fix runs on a GCP scan
    projects = sorted({r.group.account for r in gcp_plan.candidates(report.results)})
    plan = record.plan = gcp_plan.plan_gcp_fix(report.results, state, read_projects(api, projects), now)
    echo(gcp_text.render_plan(plan), nl=False)
    if not plan.changes:
        echo("Nothing to change." if not (plan.refused or plan.skipped) else
             "Nothing that sgaudit can change safely; the refused parts are listed above.")
        return EXIT_INCOMPLETE if incomplete else (EXIT_DRIFT if plan.skipped or plan.refused else EXIT_OK)
    stop = go_ahead(plan, record, echo, max_changes=max_changes, dry_run=dry_run, yes=yes,
                    incomplete=incomplete)
    if stop is not None:
        return stop
    path = record.backup = backup_path or str(backup.default_path())
    writer = gcp_backup.GcpBackupWriter(path, plan, {**backup.stamp(now), "policy": policy_path})
    writer.write()
    record.status = "applied"
    echo(f"Backup written to {path} (undo with: sgaudit rollback {path})")
    outcomes = record.outcomes = _apply_or_interrupted(plan, api, writer, path, quiet)
    writer.record_outcomes(outcomes)
    problems = record.problems = gcp_verify.verify_fix(plan, report.results, state,
                                                       read_projects(api, projects))
    writer.record_verification(problems)
    everything = all(o.ok for o in outcomes) and not problems
    _after_changes(path, lambda: _print_results(echo, plan, outcomes, problems, path, everything))
    if incomplete:
        return EXIT_INCOMPLETE
    return EXIT_OK if everything and not plan.skipped and not plan.refused else EXIT_DRIFT


def _print_results(echo: Callable[..., None], plan: GcpPlan, outcomes: Sequence[GcpOutcome],
                   problems: Sequence[str], path: str, everything: bool) -> None:
    from sgaudit.remediate import gcp_text

    echo("")
    echo(gcp_text.render_outcomes(outcomes), nl=False)
    echo("\nAfter the fix (the engine, on the rules read again):")
    echo(gcp_text.render_check(problems, "every fixed tag is compliant (but for the refused "
                                         "parts) and no other target's effective ingress changed"),
         nl=False)
    if not everything:
        echo(f"To undo what was applied: sgaudit rollback {path}")
    echo(_summary(outcomes, plan, problems))


def _summary(outcomes: Sequence[GcpOutcome], plan: GcpPlan, problems: Sequence[str]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    parts = [f"{n} {result}" for result, n in counts.items()]
    if plan.refused:
        parts.append(f"{len(plan.refused)} part(s) refused")
    if plan.skipped:
        parts.append(f"{len(plan.skipped)} network(s) skipped")
    parts.append("verified" if not problems else f"{len(problems)} problem(s) after the fix")
    return "sgaudit: " + "; ".join(parts)


def _progress(outcome: GcpOutcome) -> None:
    c = outcome.change
    _err(clean(f"  #{c.seq} {c.action} {outcome.name or c.name} [{c.tag}]: {outcome.text}"))


def _apply_or_interrupted(plan: GcpPlan, api: FirewallApi, writer: GcpBackupWriter, path: str,
                          quiet: bool) -> list[GcpOutcome]:
    """Apply the plan; on Ctrl-C, say what was applied, what was in flight and what was not
    attempted, where the backup is and how to roll back, and exit 130."""
    from sgaudit.remediate import gcp_apply

    seen: list[GcpOutcome] = []

    def on_outcome(outcome: GcpOutcome) -> None:
        seen.append(outcome)
        if not quiet:
            _progress(outcome)

    try:
        return gcp_apply.apply_plan(plan, api, writer, on_outcome)
    except KeyboardInterrupt:
        report_interrupt([c.seq for c in plan.changes], seen, writer, path, "Google Cloud")
        raise SystemExit(EXIT_INTERRUPTED) from None


# -- rollback ---------------------------------------------------------------------------------
def run_gcp_rollback(path: str, endpoint_url: str | None, *, dry_run: bool, yes: bool,
                     api: FirewallApi | None = None, unsigned_ok: bool = False) -> int:
    """Undo a GCP fix by its backup; returns the exit code."""
    from sgaudit.remediate import gcp_apply, gcp_backup, gcp_text

    backup = gcp_backup.load_gcp_backup(path, unsigned_ok=unsigned_ok, warn=_warn)
    api = api or api_for(endpoint_url)
    projects = sorted({r.change.project for r in backup.changes})
    plan = gcp_backup.plan_rollback(backup, read_projects(api, projects))
    _out(gcp_text.render_plan(plan, title="Rollback plan"), nl=False)
    if not plan.changes:
        _out("Nothing to roll back.")
        return EXIT_DRIFT if plan.skipped or plan.refused else EXIT_OK
    if not confirm(plan, dry_run=dry_run, yes=yes, verb="roll back"):
        if dry_run:
            return EXIT_OK
        _out("Declined: nothing was changed.")
        return EXIT_DRIFT
    outcomes = gcp_apply.apply_plan(plan, api, None, _progress)
    problems = gcp_backup.rollback_problems(backup, plan, read_projects(api, projects))
    _out("")
    _out(gcp_text.render_outcomes(outcomes), nl=False)
    _out("\nAfter the rollback:")
    _out(gcp_text.render_check(problems, "every rule is as the backup holds it, and the rules "
                                               "sgaudit inserted are gone"), nl=False)
    _out(_summary(outcomes, plan, problems))
    ok = all(o.ok for o in outcomes) and not problems and not plan.skipped and not plan.refused
    return EXIT_OK if ok else EXIT_DRIFT

