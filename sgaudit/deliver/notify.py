"""Notices of change: after a scan is judged and recorded, one message per receiver when it
made findings new (or resolved some, or always, as ``--notify-on`` says).

What is new and resolved comes from the history, else the baseline (sgaudit.scheduled.changes);
the digest is built once and rendered per channel.  A notice that cannot be delivered is a
warning: it never changes the exit code, and the history has already recorded the scan.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sgaudit.deliver import notify_slack, notify_teams, notify_webhook
from sgaudit.deliver.notify_digest import Digest, digest
from sgaudit.deliver.notify_http import Delivery, Limits, default_limits, post
from sgaudit.deliver.notify_targets import Target, parse_target
from sgaudit.errors import UsageError
from sgaudit.model import NotifyConfig, Policy, Report
from sgaudit.scheduled.changes import ScanChanges

DEFAULT_ON = "new"
_RENDER: dict[str, Callable[[Digest], dict[str, Any]]] = {
    "slack": notify_slack.render, "teams": notify_teams.render, "webhook": notify_webhook.render}


@dataclass(frozen=True, slots=True)
class NoticePlan:
    targets: tuple[Target, ...]
    #: "new", "changed" or "always"
    on: str


def plan(urls: Sequence[str], on: str | None, policy: Policy, *, history: str | None,
         baseline: str | None) -> NoticePlan | None:
    """The notices this run sends: ``--notify`` and ``--notify-on`` win over the policy's
    ``notify:``.  Refused (exit 2) before anything is read: a bad URL, --notify-on with nowhere
    to send, and new/changed with neither a history nor a baseline to compare with."""
    config = policy.notify or NotifyConfig()
    if urls:
        parsed = [parse_target(u, "--notify") for u in urls]
    else:
        parsed = [parse_target(u, place) for u, place in config.urls]
    first: dict[str, Target] = {}
    for target in parsed:  # the same receiver given twice gets one notice
        first.setdefault(target.url, target)
    targets = tuple(first.values())
    if not targets:
        if on:
            raise UsageError(f"--notify-on {on}: no --notify URL (nor notify.urls in the policy) "
                             "to send notices to")
        return None
    when = on or config.on or DEFAULT_ON
    if when != "always" and not (history or baseline):
        raise UsageError(f"notices on {when!r} findings need --history (or --baseline) to tell "
                         "what is new; give one, or --notify-on always")
    return NoticePlan(targets, when)


def due(on: str, changes: ScanChanges | None) -> bool:
    """Is a notice due?  ``new``: the scan made findings new; ``changed``: or resolved some;
    ``always``: every scan."""
    if on == "always":
        return True
    if changes is None:
        return False
    return bool(changes.new or (on == "changed" and changes.resolved))


def send(notices: NoticePlan, report: Report, changes: ScanChanges | None, *, what_if: bool,
         warn: Callable[[str], None], info: Callable[[str], None] | None = None,
         limits: Limits | None = None) -> list[Delivery]:
    """One message to each receiver when due; failures are warnings, never exceptions."""
    if not due(notices.on, changes):
        if changes is None:
            warn("no notice: this what-if scan is not recorded in the history, so nothing is new "
                 "or resolved (--record-what-if records it)")
        return []
    message = digest(report, changes, what_if=what_if)
    secret = os.environ.get(notify_webhook.SECRET_ENV)
    if secret == "" and any(t.channel == "webhook" for t in notices.targets):
        warn(f"{notify_webhook.SECRET_ENV} is set but empty: webhook notices are sent unsigned")
    limits = limits or default_limits()
    # receivers in parallel: a slow one delays the job by its own limits, not by the sum of all
    with ThreadPoolExecutor(max_workers=min(len(notices.targets), 8)) as pool:
        results = list(pool.map(lambda t: _deliver(t, message, secret or None, limits),
                                notices.targets))
    for target, result in zip(notices.targets, results, strict=True):
        if result.delivered:
            if info is not None:
                info(f"notice sent to {target.shown}")
        else:
            tries = f" after {result.attempts} attempt(s)" if result.attempts else ""
            warn(f"notice to {target.shown} not delivered{tries}: {result.problem}")
    return results


def _deliver(target: Target, message: Digest, secret: str | None, limits: Limits) -> Delivery:
    try:
        body, headers = _encoded(target, message, secret)
        return post(target.url, body, headers, limits)
    except Exception as exc:  # a notice never changes the exit code
        return Delivery(False, 0, f"internal error {type(exc).__name__}")


def _encoded(target: Target, message: Digest, secret: str | None) -> tuple[bytes, dict[str, str]]:
    body = notify_webhook.encode(_RENDER[target.channel](message))
    if target.channel == "webhook" and secret:
        return body, {notify_webhook.SIGNATURE_HEADER: notify_webhook.signature(body, secret)}
    return body, {}
