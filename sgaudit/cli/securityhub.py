"""``check --securityhub``: what the command line decides before the scan (refusals), after the
read (every group must name its AWS account and region), and after the judgement (the import,
whose failures become errors of the report).

Imports no boto3 itself: sgaudit.deliver.securityhub is loaded only when the option is given.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import click

from sgaudit.cli.live_options import LiveOptions
from sgaudit.errors import UsageError
from sgaudit.model import Report, Snapshot

_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")

securityhub_option = click.option(
    "--securityhub", is_flag=True,
    help="Import the active findings into AWS Security Hub (BatchImportFindings, each into its "
         "own account and region) and archive the ones sgaudit imported earlier that this scan "
         "no longer has; a failed import is an error of its account/region (exit 3).")


def refuse(securityhub: bool, fix: bool, gcp_given: bool) -> None:
    """Combinations that cannot work, refused before anything is read (exit 2)."""
    if not securityhub:
        return
    if fix:
        raise UsageError("--securityhub with --fix: run the fix first, then a check with "
                         "--securityhub imports what is left")
    if gcp_given:
        raise UsageError("--securityhub takes AWS findings; --gcp-project scans Google Cloud "
                         "(write them with --format asff or --format ocsf instead)")


def require_places(snapshot: Snapshot) -> None:
    """Every group must name the AWS account and region its findings go to; said in one line
    (exit 2) before anything is imported."""
    for group in snapshot.groups:
        if group.cloud != "aws":
            raise UsageError(f"--securityhub takes AWS findings; {group.group_id!r} is a "
                             f"{group.cloud} target (write it with --format asff or ocsf instead)")
        if not _ACCOUNT.fullmatch(group.account) or not _REGION.fullmatch(group.region):
            raise UsageError(
                f"--securityhub: group {group.group_id} has account {group.account!r} and region "
                f"{group.region!r}; Security Hub needs both: label the snapshot file "
                "(--snapshot 123456789012:us-east-1:FILE) or pass --account and --region")


def deliver(report: Report, live: LiveOptions | None, quiet: bool) -> Report:
    """Import, and the report with every failure as an error of its account/region (which
    makes it incomplete: exit 3 unless --allow-partial).  ``live`` is None for snapshots: the
    standard credentials then import, into their own account only."""
    from sgaudit.deliver import securityhub

    client_for = _live_clients(live) if live is not None else _snapshot_clients(LiveOptions())
    delivery = securityhub.deliver(report, client_for)
    if not quiet:
        click.echo(f"sgaudit: {delivery.line()}", err=True)
    if not delivery.errors:
        return report
    return replace(report, complete=False, errors=report.errors + delivery.errors)


def _live_clients(live: LiveOptions) -> Any:
    def client_for(account: str, region: str) -> Any:
        return live.client_of("securityhub", account, region)

    return client_for


def _snapshot_clients(live_free: LiveOptions) -> Any:
    """The standard credential chain; a finding of another account is an error of its place
    (a custom product's findings can only be imported by that account itself)."""
    from sgaudit.sources import aws

    sessions = live_free.sessions()
    target = aws.AwsTarget()

    def client_for(account: str, region: str) -> Any:
        sessions.require_credentials(target)
        mine = sessions.account(target, region)
        if mine != account:
            raise ValueError(f"the credentials are of account {mine}; Security Hub takes account "
                             f"{account}'s findings only from that account")
        return sessions.client("securityhub", target, region)

    return client_for
