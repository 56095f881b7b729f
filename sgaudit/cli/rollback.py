"""``sgaudit rollback``: undo a ``check --fix`` from its backup."""

from __future__ import annotations

import click
from rich_click import RichCommand

from sgaudit.cli.help import EXAMPLES
from sgaudit.cli.live_options import LiveOptions, live_options


@click.command(cls=RichCommand, epilog=EXAMPLES["rollback"])
@click.argument("backup_file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option("--dry-run", is_flag=True, help="Show what would be undone, change nothing.")
@click.option("--unsigned-ok", is_flag=True,
              help="Use a backup whose signature cannot be checked (written before sgaudit signed "
                   "backups, or its BACKUP.key is gone); it must still agree with itself.")
@live_options(regions=False)
def rollback(backup_file: str, yes: bool, dry_run: bool, unsigned_ok: bool = False,
             live: LiveOptions | None = None) -> None:
    """Undo a check --fix from its backup: re-authorize exactly what it revoked, revoke exactly
    what it added.  The backup's signature and consistency are checked first."""
    from sgaudit.cli.fix import rollback_command

    raise SystemExit(rollback_command(backup_file, live or LiveOptions(), yes=yes, dry_run=dry_run,
                                      unsigned_ok=unsigned_ok))
