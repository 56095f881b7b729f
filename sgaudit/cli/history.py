"""``sgaudit history``: what each recorded scan opened and resolved; ``--copy-to`` moves it."""

from __future__ import annotations

import click
from rich_click import RichCommand

from sgaudit.cli.common import history_option
from sgaudit.cli.help import EXAMPLES
from sgaudit.errors import EXIT_OK, UsageError
from sgaudit.fileio.files import write_stdout


@click.command("history", cls=RichCommand, epilog=EXAMPLES["history"])
@history_option(required=True, help="The history that check --history wrote: a SQLite file or a "
                                    "postgresql:// URL. Default: $SGAUDIT_HISTORY.")
@click.option("-f", "--format", "fmt", type=click.Choice(("table", "json")), default="table")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=30, show_default=True,
              help="Show the last N scans (0: all).")
@click.option("--copy-to", "copy_to", metavar="PATH|URL",
              help="Copy every scan and finding of --history into this empty history (a SQLite "
                   "file into PostgreSQL, say), ids and times intact, instead of printing it.")
def history_command(history_path: str, fmt: str, limit: int, copy_to: str | None) -> None:
    """Per-scan counts and the findings each scan opened and resolved."""
    from sgaudit.scheduled import history

    if copy_to:
        _copy(history_path, copy_to)
        raise SystemExit(EXIT_OK)
    with history.open_history(history_path, create=False) as conn, conn.snapshot():
        text = history.render(conn, fmt, limit)  # one state, while scans may be recording
    write_stdout(text, label="history")
    raise SystemExit(EXIT_OK)


def _copy(source: str, target: str) -> None:
    import os

    from sgaudit.scheduled.history import copy_history, display, is_url, open_history

    same = source == target if is_url(source) or is_url(target) else (
        os.path.realpath(source) == os.path.realpath(target))
    if same:  # the copy would wait on its own write lock
        raise UsageError(f"--copy-to {display(target)}: that is the history being copied")

    with open_history(source, create=False) as src, open_history(target, create=True) as dst:
        copied = copy_history(src, dst)
        what = (f"copied {copied['scans']} scan(s), {copied['findings']} finding(s), "
                f"{copied['scan_findings']} scan finding(s) and {copied['events']} event(s) "
                f"from {src.label} to {dst.label}")
    write_stdout(what + "\n", label="history")
