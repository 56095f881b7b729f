"""The ``sgaudit`` command group and its entry point: every error the user can cause becomes one
line and an exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click
from rich_click import RichGroup

from sgaudit import __version__
from sgaudit.cli.check import check
from sgaudit.cli.common import set_quiet
from sgaudit.cli.explain import explain
from sgaudit.cli.help import EXAMPLES, help_config
from sgaudit.cli.history import history_command
from sgaudit.cli.rollback import rollback
from sgaudit.cli.snapshot import snapshot_command
from sgaudit.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, SgauditError
from sgaudit.text import clean


class SgauditGroup(RichGroup):
    """rich-click's panels for help, click's own main loop: main() below turns every error into
    one line (rich-click's loop prints the no-arguments help on stdout and exits by itself)."""

    main = click.Group.main


@click.group(cls=SgauditGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                  "rich_help_config": help_config()},
             epilog=EXAMPLES["sgaudit"])
@click.version_option(__version__, prog_name="sgaudit")
def cli() -> None:
    """Audit Coiled cluster security groups against the options that should shape them."""


for command in (check, history_command, explain, snapshot_command, rollback):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: every error the user can cause becomes one line and an exit code."""
    set_quiet(False)
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="sgaudit",
                 standalone_mode=False)
    except SgauditError as exc:
        click.echo(f"sgaudit: error: {clean(exc)}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "Usage: sgaudit COMMAND [ARGS]...", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort as exc:
        sys.exit(_aborted(exc))
    except click.ClickException as exc:
        click.echo(f"sgaudit: error: {clean(exc.format_message())}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("sgaudit: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line; SGAUDIT_DEBUG=1 shows the traceback
        sys.exit(_unexpected(exc))
    sys.exit(EXIT_OK)


def _aborted(exc: click.exceptions.Abort) -> int:
    """click turns Ctrl-C into Abort: that is an interrupt (130); EOF at a prompt is not."""
    if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
        click.echo("sgaudit: interrupted", err=True)
        return EXIT_INTERRUPTED
    click.echo("sgaudit: aborted", err=True)
    return EXIT_USAGE


def _unexpected(exc: Exception) -> int:
    """One line for what no handler expected; input nested deeper than any walk of it can
    follow is bad input (exit 2), anything else a bug (exit 70)."""
    if os.environ.get("SGAUDIT_DEBUG"):
        raise exc
    if isinstance(exc, RecursionError):
        click.echo("sgaudit: error: an input is nested too deeply to read", err=True)
        return EXIT_USAGE
    click.echo(f"sgaudit: internal error: {type(exc).__name__}: {clean(exc)} "
               "(set SGAUDIT_DEBUG=1 for a traceback)", err=True)
    return 70
