"""What every command shares: the clock, warnings, reading the policy and the source, writing
and choosing the report, the exit code and the summary line."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime

import click

from sgaudit.cli.live_options import LiveOptions, refuse_with_snapshots
from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_OK, UsageError
from sgaudit.model import Policy, Report, Snapshot


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
    from sgaudit.policy.loader import load_policy

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
    return (live or LiveOptions()).read(policy.select, quiet,
                                        (policy.accounts, policy.exclude_accounts))


def write_output(text: str, output: str | None) -> None:
    if output:
        from sgaudit.files import atomic_write

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


def refuse_unwritable(**paths: tuple[str | None, str]) -> None:
    from sgaudit.files import ensure_writable

    for path, label in paths.values():
        if path:
            ensure_writable(path, label=label)


policy_option = click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
                             help="Policy file (YAML). Default: Coiled's defaults, groups "
                                  "tagged owner=coiled.")
snapshot_option = click.option("--snapshot", "snapshots", multiple=True, type=click.Path(dir_okay=False),
                               help="describe-security-groups / describe-vpcs JSON or an sgaudit "
                                    "snapshot; repeatable. Without it, AWS is scanned live.")
