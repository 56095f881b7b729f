"""``sgaudit snapshot``: save what a live scan reads, as evidence to replay."""

from __future__ import annotations

import click

from sgaudit.cli.common import load_policy_with_warnings, now_utc, policy_option, refuse_unwritable, warn
from sgaudit.cli.live_options import LiveOptions, live_options
from sgaudit.errors import EXIT_INCOMPLETE, EXIT_OK


@click.command("snapshot")
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
    from sgaudit.sources.snapshot_writer import write_snapshot

    policy = load_policy_with_warnings(policy_path)
    refuse_unwritable(output=(output, "snapshot"))
    live = live or LiveOptions()
    scans = live.scan(policy.select, quiet, (policy.accounts, policy.exclude_accounts))
    write_snapshot(output, scans, now_utc(), policy.select, live.accounts_read())
    errors = [e for s in scans for e in s.errors]
    for e in errors:
        warn(f"could not read {e.account}/{e.region} {e.operation}: "
             f"{e.code + ': ' if e.code else ''}{e.message}")
    if not quiet:
        groups = sum(len(s.security_groups) for s in scans)
        click.echo(f"sgaudit: {groups} group(s) from {len(scans)} account/region(s) written to "
                   f"{output}" + (f"; INCOMPLETE: {len(errors)} error(s)" if errors else ""), err=True)
    raise SystemExit(EXIT_INCOMPLETE if errors and not allow_partial else EXIT_OK)
