"""What every command shares: the clock, warnings, reading the policy and the source, writing
and choosing the report, the exit code and the summary line."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from sgaudit.cli.gcp_options import GcpOptions, read_live
from sgaudit.cli.live_options import LiveOptions, refuse_with_snapshots
from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_OK, UsageError
from sgaudit.model import Policy, Report, Snapshot
from sgaudit.text import clean

F = TypeVar("F", bound=Callable[..., Any])

#: -q: warnings are not shown either (errors always are)
_QUIET = False


def set_quiet(quiet: bool) -> None:
    """-q silences warnings too; main() resets it for every invocation."""
    global _QUIET
    _QUIET = quiet


def what_if() -> bool:
    """Is the clock fixed by SGAUDIT_NOW (a what-if run, or a replay)?"""
    return bool(os.environ.get("SGAUDIT_NOW"))


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
    """A warning on stderr, one line, cleaned (it may quote cloud or file text); not with -q."""
    if _QUIET:
        return
    click.echo(f"sgaudit: warning: {clean(message)}", err=True)


def say(message: str) -> None:
    """What was done (where a file went), on stderr; callers skip it under -q."""
    click.echo(f"sgaudit: {clean(message)}", err=True)


def load_policy_with_warnings(path: str | None) -> Policy:
    from sgaudit.policy.loader import load_policy

    policy = load_policy(path)
    for message in policy.warnings:
        warn(message)
    return policy


def read_source(policy: Policy, snapshots: Sequence[str], quiet: bool = True,
                live: LiveOptions | None = None, gcp: GcpOptions | None = None,
                region: str | None = None, account: str | None = None) -> Snapshot:
    """Snapshot files when given, else a live AWS scan (boto3 is loaded only then), and/or a
    live Google Cloud scan with --gcp-project (Google's libraries are loaded only then).
    ``region``/``account`` label snapshot files that name none (AWS CLI output)."""
    if (policy.accounts or policy.exclude_accounts) and (live is None or live.org_role is None):
        warn(f"{policy.path}: accounts and exclude_accounts narrow an organization scan "
             "(--org-role); this scan reads the accounts it is given, so they are not used")
    if snapshots:
        from sgaudit.sources.snapshot import SnapshotSource, check_label, parse_input

        refuse_with_snapshots([*(live.given if live is not None else ()),
                               *(["--gcp-project"] if gcp is not None and gcp.given else [])])
        check_label(region, account)
        return SnapshotSource([parse_input(p, region, account) for p in snapshots]).read(policy.select)
    if region or account:
        raise UsageError(f"{'--region' if region else '--account'} labels --snapshot files; a live "
                         "scan names its own (use --regions to choose regions)")
    if gcp is not None and gcp.given:
        return read_live(policy.select, live or LiveOptions(), gcp, quiet,
                         (policy.accounts, policy.exclude_accounts))
    return (live or LiveOptions()).read(policy.select, quiet,
                                        (policy.accounts, policy.exclude_accounts))


def warn_unknown_keys(snapshot: Snapshot, *uses: str | None) -> None:
    """Keys of groups read from unlabelled AWS CLI files say ``unknown`` for the region: kept in
    a baseline or history, they never match a live scan of the same groups."""
    if not any(uses):
        return
    unlabelled = sum(1 for g in snapshot.groups if "unknown" in (g.region, g.account))
    if unlabelled:
        warn(f"{unlabelled} group(s) have no region or account (AWS CLI snapshot files name "
             "none): their finding keys say 'unknown' and will not match a live scan's in the "
             "baseline or history; label the file (--snapshot us-east-1:FILE) or pass --region "
             "and --account")


def write_output(text: str | Iterator[str], output: str | None) -> None:
    """The report to ``-o`` (a file atomically, through symlinks; a device or FIFO directly;
    ``-`` is stdout) or to stdout; a failed write is one line and exit 2.  ``text`` may come
    in chunks (a file gets them as they come)."""
    from sgaudit.fileio.files import STDOUT, atomic_write, write_stdout

    if output and output != STDOUT:
        atomic_write(output, text, label="report")
    else:
        write_stdout(text if isinstance(text, str) else "".join(text), label="report")


def choose_format(fmt: str | None, output: str | None) -> str:
    """-f, else -o's extension; an extension that names no format is refused rather than
    silently given a table (``-o report.jsn``)."""
    if fmt:
        return fmt
    if output and output != "-":
        from pathlib import Path

        from sgaudit.report import ReportFormat, format_for_path

        found = format_for_path(output)
        suffix = Path(output).suffix
        if found is None and suffix:
            known = ", ".join(e for f in ReportFormat for e in f.extensions)
            raise UsageError(f"-o {output}: no report format has the extension {suffix!r} "
                             f"(known: {known}); pass -f FORMAT")
        return found or "table"
    return "table"


def exit_code(report: Report, fail_on_drift: bool, allow_partial: bool) -> int:
    if not report.complete and not allow_partial:
        return EXIT_INCOMPLETE
    if fail_on_drift and report.active_findings:
        return EXIT_DRIFT
    return EXIT_OK


def summary_line(report: Report) -> str:
    from sgaudit.engine.summary import summarize

    counts = summarize(report)
    parts = [f"{counts.groups} group(s) audited", f"{counts.drifted} drifted"
             + (f", {counts.unresolved} unresolved" if counts.unresolved else ""),
             f"{counts.active} active finding(s)"
             + (" (" + ", ".join(f"{n} {s}" for s, n in counts.by_severity.items() if n) + ")"
                if counts.active else "")]
    if counts.accepted:
        parts.append(f"{counts.accepted} accepted")
    if not report.complete:
        parts.append(f"INCOMPLETE: {len(report.errors)} error(s)")
    return "sgaudit: " + "; ".join(parts)


def refuse_unwritable(**paths: tuple[str | None, str]) -> None:
    from sgaudit.fileio.files import ensure_writable

    for name, (path, label) in paths.items():
        if path and not (name == "history" and _on_server(path)):
            ensure_writable(path, label=label, regular_only=name == "history")


def _on_server(history: str) -> bool:
    from sgaudit.scheduled.history import is_url

    return is_url(history)


def check_history_server(target: str | None, *, recorded: bool) -> None:
    """A history on a server that this scan will be ``recorded`` in is reached, its schema and
    the user's write rights checked, before the scan: a long scan must not end in "cannot
    connect" or "permission denied"."""
    if recorded and target and _on_server(target):
        from sgaudit.scheduled.history import open_history

        with open_history(target, create=True) as conn:
            conn.refuse_read_only()


def history_option(help: str, required: bool = False) -> Callable[[F], F]:
    """--history: a SQLite file path or a PostgreSQL URL; SGAUDIT_HISTORY when absent."""
    return click.option("--history", "history_path", envvar="SGAUDIT_HISTORY", required=required,
                        metavar="PATH|URL", help=help)


policy_option = click.option("--policy", "policy_path", type=click.Path(dir_okay=False),
                             help="Policy file (YAML). Default: Coiled's defaults, groups "
                                  "tagged owner=coiled.")
snapshot_region_option = click.option(
    "--region", "snapshot_region", metavar="REGION",
    help="The region of --snapshot files that name none (AWS CLI output); a file's own label "
         "(--snapshot us-east-1:FILE) wins.")
snapshot_account_option = click.option(
    "--account", "snapshot_account", metavar="ID",
    help="The account of --snapshot files that name none (a label 123456789012:FILE wins).")
snapshot_option = click.option("--snapshot", "snapshots", multiple=True, type=click.Path(dir_okay=False),
                               help="describe-security-groups / describe-vpcs / "
                                    "get-managed-prefix-list-entries JSON or an sgaudit snapshot, "
                                    "optionally labelled [ACCOUNT:][REGION:][pl-ID:]FILE; "
                                    "repeatable. Without it, AWS is scanned live.")
