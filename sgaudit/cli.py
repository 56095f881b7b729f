"""The command line: the only module that wires policy, sources, engine and reports together."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from sgaudit import __version__
from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, SgauditError, UsageError
from sgaudit.fixrun import FixOptions, fix_options
from sgaudit.live import LiveOptions, live_options, refuse_with_snapshots
from sgaudit.model import Policy, Report, Snapshot

if TYPE_CHECKING:
    from sgaudit.baseline import Baseline

FORMAT_NAMES = ("table", "json", "markdown", "html", "sarif", "junit")


def now_utc() -> str:
    """The scan time. SGAUDIT_NOW (ISO date or time) fixes it: replaying a scan "as of" a day
    (which waivers will have expired) and tests with a fixed clock."""
    fixed = os.environ.get("SGAUDIT_NOW")
    if fixed:
        try:
            when = datetime.fromisoformat(fixed.strip())
        except ValueError:
            raise UsageError(f"SGAUDIT_NOW: expected an ISO date or time such as "
                             f"2026-01-31T02:00:00Z, got {fixed!r}") from None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        return when.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def warn(message: str) -> None:
    click.echo(f"sgaudit: warning: {message}", err=True)


def load_policy_with_warnings(path: str | None) -> Policy:
    from sgaudit.policy import load_policy

    policy = load_policy(path)
    for message in policy.warnings:
        warn(message)
    return policy


def read_source(policy: Policy, snapshots: Sequence[str], quiet: bool = True,
                live: LiveOptions | None = None) -> Snapshot:
    """Snapshot files when given, else a live AWS scan (boto3 is loaded only then)."""
    if snapshots:
        from sgaudit.sources.snapshot import SnapshotSource

        refuse_with_snapshots(live)
        return SnapshotSource(snapshots).read(policy.select)
    return (live or LiveOptions()).read(policy.select, quiet)


def write_output(text: str, output: str | None) -> None:
    if output:
        from sgaudit.output import atomic_write

        atomic_write(output, text, label="report")
    else:
        click.echo(text, nl=False)


def choose_format(fmt: str | None, output: str | None) -> str:
    if fmt:
        return fmt
    if output:
        from sgaudit.report import format_for_path

        return format_for_path(output) or "table"
    return "table"


def exit_code(report: Report, fail_on_drift: bool, allow_partial: bool) -> int:
    if not report.complete and not allow_partial:
        return EXIT_INCOMPLETE
    if fail_on_drift and report.active_findings:
        return EXIT_DRIFT
    return EXIT_OK


def summary_line(report: Report) -> str:
    active = report.active_findings
    counts = {s: sum(1 for f in active if f.severity == s) for s in ("critical", "high", "medium", "low")}
    accepted = len(report.findings) - len(active)
    drifted = sum(1 for r in report.results if r.status == "drift")
    unresolved = sum(1 for r in report.results if r.status == "unresolved")
    parts = [f"{len(report.results)} group(s) audited", f"{drifted} drifted"
             + (f", {unresolved} unresolved" if unresolved else ""),
             f"{len(active)} active finding(s)"
             + (" (" + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ")" if active else "")]
    if accepted:
        parts.append(f"{accepted} accepted")
    if not report.complete:
        parts.append(f"INCOMPLETE: {len(report.errors)} error(s)")
    return "sgaudit: " + "; ".join(parts)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sgaudit")
def cli() -> None:
    """Audit Coiled cluster security groups against the options that should shape them."""


policy_option = click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
                             help="Policy file (YAML). Default: Coiled's defaults, groups "
                                  "tagged owner=coiled.")
snapshot_option = click.option("--snapshot", "snapshots", multiple=True, type=click.Path(dir_okay=False),
                               help="describe-security-groups / describe-vpcs JSON or an sgaudit "
                                    "snapshot; repeatable. Without it, AWS is scanned live.")


@cli.command()
@policy_option
@snapshot_option
@click.option("-f", "--format", "fmt", type=click.Choice(FORMAT_NAMES),
              help="Report format (default: from -o's extension, else table).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (atomically).")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when there is active drift.")
@click.option("--allow-partial", is_flag=True,
              help="Report what could be read and exit 0/1 even if some of it could not.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display and no summary line.")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False),
              help="Findings listed in this baseline are known: reported apart, not active.")
@click.option("--update-baseline", "update_baseline", type=click.Path(dir_okay=False),
              help="Write this scan's unwaived findings as the baseline (keeps the entries of "
                   "account/regions this scan did not read completely).")
@click.option("--history", "history_path", type=click.Path(dir_okay=False),
              help="Record this scan in this SQLite database (created if absent); findings get "
                   "first_seen, reports a trend.")
@live_options
@fix_options
def check(policy_path: str | None, snapshots: tuple[str, ...], fmt: str | None, output: str | None,
          fail_on_drift: bool, allow_partial: bool, quiet: bool, baseline_path: str | None = None,
          update_baseline: str | None = None, history_path: str | None = None,
          live: LiveOptions | None = None, fixing: FixOptions | None = None) -> None:
    """Compare security groups with their desired state and report drift (--fix: and repair it)."""
    from sgaudit.audit import audit
    from sgaudit.report import renderer

    fixing = fixing or FixOptions()
    fixing.refuse(snapshots, fmt, output)
    refuse_unwritable(output=(output, "report"), update_baseline=(update_baseline, "baseline"),
                      history=(history_path, "history database"))
    fmt = choose_format(fmt, output)
    render = renderer(fmt)
    policy = load_policy_with_warnings(policy_path)
    now = now_utc()
    baselines = read_baselines(baseline_path, update_baseline, policy)
    snapshot = read_source(policy, snapshots, quiet, live)
    report = audit(policy, snapshot, now)
    shown = set(policy.warnings)
    for message in (w for w in report.warnings if w not in shown):
        warn(message)
    report = accept_and_record(report, policy, now, baselines, update_baseline, history_path)
    if fixing.fix:
        if output:
            write_output(render(report), output)
        if not quiet:
            click.echo(summary_line(report), err=True)
        raise SystemExit(fixing.run(report, snapshot, live or LiveOptions(), now=now,
                                    policy_path=policy_path, allow_partial=allow_partial, quiet=quiet))
    write_output(render(report), output)
    if not quiet:
        click.echo(summary_line(report), err=True)
    raise SystemExit(exit_code(report, fail_on_drift, allow_partial))


def refuse_unwritable(**paths: tuple[str | None, str]) -> None:
    from sgaudit.output import ensure_writable

    for path, label in paths.values():
        if path:
            ensure_writable(path, label=label)


def read_baselines(baseline_path: str | None, update_baseline: str | None,
                   policy: Policy) -> tuple[Baseline | None, Baseline | None]:
    """--baseline, and the baseline that --update-baseline extends, read before the scan: a
    corrupt file stops the run (exit 2) before any time is spent."""
    from sgaudit.baseline import read_baseline

    known = read_baseline(baseline_path) if baseline_path else None
    if known is not None and known.policy_sha256 != policy.sha256:
        warn(f"{baseline_path}: written with a different policy file; findings whose keys the "
             "change moved will show as new")
    previous = None
    if update_baseline and os.path.exists(update_baseline):
        previous = known if update_baseline == baseline_path else read_baseline(update_baseline)
    return known, previous


def accept_and_record(report: Report, policy: Policy, now: str,
                      baselines: tuple[Baseline | None, Baseline | None],
                      update_baseline: str | None, history_path: str | None) -> Report:
    """Waivers, baseline and history, between the audit and the rendering."""
    from datetime import date

    from sgaudit import baseline as bl
    from sgaudit import waivers

    today = date.fromisoformat(now[:10])
    for message in waivers.far_expiry_warnings(policy.waivers, today):
        warn(message)
    report, check = waivers.apply_waivers(report, policy.waivers, today)
    for message in waivers.notices(check, today):
        warn(message)
    known, previous = baselines
    if known is not None:
        report = bl.mark_baselined(report, known)
        fixed = bl.gone(report, known)
        if fixed:
            warn(f"{len(fixed)} baseline entr{'y is' if len(fixed) == 1 else 'ies are'} no longer "
                 "found; --update-baseline drops them, so that drift cannot return unnoticed")
    if history_path:
        from sgaudit import history

        with history.open_history(history_path, create=True) as conn:
            _, first_seen = history.record_scan(conn, report, now, policy.sha256)
            report = history.with_first_seen(report, first_seen)
            report = replace(report, notes={**report.notes, "trend": history.trend(conn)})
    if update_baseline:
        bl.write_baseline(update_baseline, bl.updated_baseline(
            report, previous, written_at=now, policy_sha256=policy.sha256))
    return report


@cli.command("history")
@click.option("--history", "history_path", required=True, type=click.Path(dir_okay=False),
              help="The SQLite database that check --history wrote.")
@click.option("-f", "--format", "fmt", type=click.Choice(("table", "json")), default="table")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=30, show_default=True,
              help="Show the last N scans (0: all).")
def history_command(history_path: str, fmt: str, limit: int) -> None:
    """Per-scan counts and the findings each scan opened and resolved."""
    from sgaudit import history

    with history.open_history(history_path, create=False) as conn:
        text = history.render(conn, fmt, limit)
    click.echo(text, nl=False)
    raise SystemExit(EXIT_OK)


@cli.command()
@policy_option
@snapshot_option
@click.argument("group_ids", nargs=-1)
@click.option("-f", "--format", "fmt", type=click.Choice(("table", "json")), default="table")
@live_options
def explain(policy_path: str | None, snapshots: tuple[str, ...], group_ids: tuple[str, ...],
            fmt: str, live: LiveOptions | None = None) -> None:
    """Show each group's required and permitted rules and the options that produced them."""
    from sgaudit.audit import audit
    from sgaudit.explain import render_explain

    policy = load_policy_with_warnings(policy_path)
    snapshot = read_source(policy, snapshots, live=live)
    report = audit(policy, snapshot, now_utc())
    results = [r for r in report.results if not group_ids or r.group.group_id in group_ids]
    unknown = sorted(set(group_ids) - {r.group.group_id for r in results})
    if unknown:
        raise UsageError(f"group(s) not found among the selected groups: {', '.join(unknown)}")
    click.echo(render_explain(results, fmt), nl=False)
    raise SystemExit(EXIT_OK if report.complete else EXIT_INCOMPLETE)


@cli.command("snapshot")
@policy_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Write the snapshot here (atomically); replay it with check --snapshot.")
@click.option("--allow-partial", is_flag=True,
              help="Exit 0 even if some account/region could not be read (the file records it).")
@click.option("-q", "--quiet", is_flag=True, help="No progress display and no summary line.")
@live_options
def snapshot_command(policy_path: str | None, output: str, allow_partial: bool, quiet: bool,
                     live: LiveOptions | None = None) -> None:
    """Save what a live scan reads (AWS's JSON shapes per account and region) as evidence."""
    from sgaudit.snapshot_writer import write_snapshot

    policy = load_policy_with_warnings(policy_path)
    refuse_unwritable(output=(output, "snapshot"))
    live = live or LiveOptions()
    scans = live.scan(policy.select, quiet)
    write_snapshot(output, scans, now_utc(), policy.select)
    errors = [e for s in scans for e in s.errors]
    for e in errors:
        warn(f"could not read {e.account}/{e.region} {e.operation}: "
             f"{e.code + ': ' if e.code else ''}{e.message}")
    if not quiet:
        groups = sum(len(s.security_groups) for s in scans)
        click.echo(f"sgaudit: {groups} group(s) from {len(scans)} account/region(s) written to "
                   f"{output}" + (f"; INCOMPLETE: {len(errors)} error(s)" if errors else ""), err=True)
    raise SystemExit(EXIT_INCOMPLETE if errors and not allow_partial else EXIT_OK)


@cli.command()
@click.argument("backup_file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option("--dry-run", is_flag=True, help="Show what would be undone, change nothing.")
@live_options(regions=False)
def rollback(backup_file: str, yes: bool, dry_run: bool, live: LiveOptions | None = None) -> None:
    """Undo a check --fix from its backup: re-authorize exactly what it revoked, revoke exactly
    what it added."""
    from sgaudit.fixrun import rollback_command

    raise SystemExit(rollback_command(backup_file, live or LiveOptions(), yes=yes, dry_run=dry_run))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: every error the user can cause becomes one line and an exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="sgaudit",
                 standalone_mode=False)
    except SgauditError as exc:
        click.echo(f"sgaudit: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "Usage: sgaudit COMMAND [ARGS]...", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("sgaudit: aborted", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"sgaudit: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("sgaudit: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line; SGAUDIT_DEBUG=1 shows the traceback
        if os.environ.get("SGAUDIT_DEBUG"):
            raise
        click.echo(f"sgaudit: internal error: {type(exc).__name__}: {exc} "
                   "(set SGAUDIT_DEBUG=1 for a traceback)", err=True)
        sys.exit(70)
    sys.exit(EXIT_OK)
