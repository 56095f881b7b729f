"""``check --notify URL`` and ``--notify-on``: the options, and the two moments they act (the
plan refused before anything is read; the notice sent after the scan is recorded)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from sgaudit.cli.common import say, warn, what_if
from sgaudit.model import NOTIFY_ON, Policy

if TYPE_CHECKING:
    from sgaudit.deliver.notify import NoticePlan
    from sgaudit.scheduled.accept import Accepted


def notify_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--notify-on", "notify_on", type=click.Choice(NOTIFY_ON),
        help="When to send notices: new (default: the scan made findings new), changed (also "
             "when findings resolved), always.")(command)
    return click.option(
        "--notify", "notify", multiple=True, metavar="URL",
        help="Send a notice of change to slack+https://…, teams+https://… or webhook+https://… "
             "(or env:NAME: the URL from an environment variable); repeatable.")(command)


def plan_notices(urls: tuple[str, ...], on: str | None, policy: Policy, history_path: str | None,
                 baseline_path: str | None) -> NoticePlan | None:
    """None when no notice is configured (the deliver stage is not even imported)."""
    if not urls and not on and (policy.notify is None or not policy.notify.urls):
        return None
    from sgaudit.deliver.notify import plan

    return plan(urls, on, policy, history=history_path, baseline=baseline_path)


def send_notices(notices: NoticePlan | None, accepted: Accepted, quiet: bool) -> None:
    if notices is None:
        return
    from sgaudit.deliver.notify import send

    send(notices, accepted.report, accepted.changes, what_if=what_if(), warn=warn,
         info=None if quiet else say)
