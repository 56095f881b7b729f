"""``sgaudit explain``: each group's desired rules and the options behind them."""

from __future__ import annotations

import click
from rich_click import RichCommand

from sgaudit.cli.common import load_policy_with_warnings, now_utc, policy_option, read_source, snapshot_option
from sgaudit.cli.gcp_options import GcpOptions, gcp_options
from sgaudit.cli.help import EXAMPLES
from sgaudit.cli.live_options import LiveOptions, live_options
from sgaudit.errors import EXIT_INCOMPLETE, EXIT_OK, UsageError
from sgaudit.fileio.files import write_stdout


@click.command(cls=RichCommand, epilog=EXAMPLES["explain"])
@policy_option
@snapshot_option
@click.argument("group_ids", nargs=-1)
@click.option("-f", "--format", "fmt", type=click.Choice(("table", "json")), default="table")
@live_options
@gcp_options
def explain(policy_path: str | None, snapshots: tuple[str, ...], group_ids: tuple[str, ...],
            fmt: str, live: LiveOptions | None = None, gcp: GcpOptions | None = None) -> None:
    """Show each group's required and permitted rules and the options that produced them."""
    from sgaudit.engine.audit import audit
    from sgaudit.report.explain import render_explain

    policy = load_policy_with_warnings(policy_path)
    snapshot = read_source(policy, snapshots, live=live, gcp=gcp)
    report = audit(policy, snapshot, now_utc())
    results = [r for r in report.results if not group_ids or r.group.group_id in group_ids]
    unknown = sorted(set(group_ids) - {r.group.group_id for r in results})
    if unknown:
        raise UsageError(f"group(s) not found among the selected groups: {', '.join(unknown)}")
    write_stdout(render_explain(results, fmt), label="explanation")
    raise SystemExit(EXIT_OK if report.complete else EXIT_INCOMPLETE)
