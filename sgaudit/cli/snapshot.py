"""``sgaudit snapshot``: save what a live scan reads, as evidence to replay."""

from __future__ import annotations

import click
from rich_click import RichCommand

from sgaudit.cli.common import load_policy_with_warnings, now_utc, policy_option, refuse_unwritable, warn
from sgaudit.cli.gcp_options import GcpOptions, gcp_options, scan_gcp, wants_aws
from sgaudit.cli.help import EXAMPLES
from sgaudit.cli.live_options import LiveOptions, live_options
from sgaudit.errors import EXIT_INCOMPLETE, EXIT_OK


@click.command("snapshot", cls=RichCommand, epilog=EXAMPLES["snapshot"])
@policy_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Write the snapshot here (atomically); replay it with check --snapshot.")
@click.option("--allow-partial", is_flag=True,
              help="Exit 0 even if some account/region could not be read (the file records it).")
@click.option("-q", "--quiet", is_flag=True, help="No progress display and no summary line.")
@live_options
@gcp_options
def snapshot_command(policy_path: str | None, output: str, allow_partial: bool, quiet: bool,
                     live: LiveOptions | None = None, gcp: GcpOptions | None = None) -> None:
    """Save what a live scan reads (AWS's JSON shapes per account and region) as evidence."""
    from sgaudit.sources.snapshot_writer import write_snapshot

    policy = load_policy_with_warnings(policy_path)
    refuse_unwritable(output=(output, "snapshot"))
    live = live or LiveOptions()
    gcp = gcp or GcpOptions()
    projects, spent = scan_gcp(live, gcp) if gcp.given else ([], 0.0)
    scans = (live.scan(policy.select, quiet, (policy.accounts, policy.exclude_accounts), spent)
             if wants_aws(live, gcp) else [])
    # the saved selection is AWS's server-side filter: without an AWS scan nothing was filtered
    write_snapshot(output, scans, now_utc(), policy.select if wants_aws(live, gcp) else None, projects,
                   live.accounts_read())
    errors = [e for s in scans for e in s.errors] + [e for p in projects for e in p.errors]
    for e in errors:
        warn(f"could not read {e.account}/{e.region} {e.operation}: "
             f"{e.code + ': ' if e.code else ''}{e.message}")
    if not quiet:
        groups = sum(len(s.security_groups) for s in scans)
        rules = sum(len(p.firewalls or ()) for p in projects)
        read = [f"{groups} group(s) from {len(scans)} account/region(s)"] if scans or not projects else []
        read += [f"{rules} firewall rule(s) from {len(projects)} GCP project(s)"] if projects else []
        click.echo(f"sgaudit: {' and '.join(read)} written to {output}"
                   + (f"; INCOMPLETE: {len(errors)} error(s)" if errors else ""), err=True)
    raise SystemExit(EXIT_INCOMPLETE if errors and not allow_partial else EXIT_OK)
