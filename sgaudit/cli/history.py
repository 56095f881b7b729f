"""``sgaudit history``: what each recorded scan opened and resolved."""

from __future__ import annotations

import click

from sgaudit.errors import EXIT_OK
from sgaudit.files import write_stdout


@click.command("history")
@click.option("--history", "history_path", required=True, type=click.Path(dir_okay=False),
              help="The SQLite database that check --history wrote.")
@click.option("-f", "--format", "fmt", type=click.Choice(("table", "json")), default="table")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=30, show_default=True,
              help="Show the last N scans (0: all).")
def history_command(history_path: str, fmt: str, limit: int) -> None:
    """Per-scan counts and the findings each scan opened and resolved."""
    from sgaudit.scheduled import history

    with history.open_history(history_path, create=False) as conn:
        text = history.render(conn, fmt, limit)
    write_stdout(text, label="history")
    raise SystemExit(EXIT_OK)
