"""``--help`` in panels (rich-click): each command's options grouped by what they are about, and
an example at the end. Plain text (no colour, ASCII boxes) when stdout is not a terminal or
NO_COLOR is set, so pipes, logs and screen readers get text."""

from __future__ import annotations

import os
import sys

from rich_click import RichHelpConfiguration
from rich_click.utils import OptionGroupDict

#: The panels in the order they are shown; an option of a command lands in the first panel that
#: names it, anything unnamed (--help, --version) in the trailing "Options" panel.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Input", ("--policy", "--snapshot", "--region", "--account", "--max-workers", "--timeout")),
    ("Output", ("--format", "--output", "--report", "--fail-on-drift", "--allow-partial", "--quiet",
                "--limit")),
    ("AWS", ("--profile", "--role-arn", "--external-id", "--regions", "--endpoint-url", "--org-role",
             "--accounts", "--exclude-accounts", "--no-rule-ids")),
    ("Google Cloud", ("--gcp-project",)),
    ("Scheduled scans", ("--baseline", "--update-baseline", "--history", "--record-what-if",
                         "--copy-to")),
    ("Fix", ("--fix", "--dry-run", "--yes", "--max-changes", "--backup", "--unsigned-ok")),
    ("Delivery", ("--notify", "--notify-on", "--securityhub")),
)

#: The last lines of each command's help: one command that runs on the bundled fixtures (or, for
#: history and rollback, on what such a run leaves behind).
FIXTURES = ("--policy fixtures/policy.yaml --snapshot fixtures/security-groups.json "
            "--snapshot fixtures/vpcs.json")
EXAMPLES = {
    "sgaudit": f"Example: sgaudit check {FIXTURES}   (then: sgaudit COMMAND --help)",
    "check": f"Example: sgaudit check {FIXTURES} -o report.html --fail-on-drift",
    "explain": f"Example: sgaudit explain {FIXTURES}",
    "snapshot": "Example: sgaudit snapshot --policy policy.yaml --regions all -o scans/today.json",
    "history": "Example: sgaudit history --history scans.db --format json --limit 7",
    "rollback": "Example: sgaudit rollback sgaudit-backup-20260301T020304Z.json --dry-run",
}

COMMANDS = ("check", "explain", "snapshot", "history", "rollback")


def plain() -> bool:
    """No colours or box drawing: stdout is not a terminal (or is closed: None), or the user
    asked (NO_COLOR)."""
    if os.environ.get("NO_COLOR") or sys.stdout is None:
        return True
    try:
        return not sys.stdout.isatty()
    except (ValueError, OSError):   # a closed or detached stream
        return True


def option_groups() -> dict[str, list[OptionGroupDict]]:
    """rich-click's option groups of every command (options a command lacks are not shown)."""
    groups: list[OptionGroupDict] = [{"name": name, "options": list(options)} for name, options in PANELS]
    return {f"sgaudit {command}": groups for command in COMMANDS}


def help_config() -> RichHelpConfiguration:
    """The configuration the command group's context passes down to every command."""
    flat = plain()
    return RichHelpConfiguration(
        option_groups=option_groups(),
        color_system=None if flat else "auto",
        force_terminal=False if flat else None,
        style_options_panel_box="ASCII" if flat else None,
        style_commands_panel_box="ASCII" if flat else None,
        show_arguments=True,
        text_markup=None,
    )
