"""The command line's live-AWS options (--profile, --role-arn, --external-id, --regions,
--endpoint-url; --org-role, --accounts, --exclude-accounts; --max-workers, --timeout) and the
scan they describe.

Imports no boto3 itself: sgaudit.sources.aws is loaded only when a live scan really runs, so
snapshot runs start fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from sgaudit.errors import UsageError
from sgaudit.model import AccountSummary, Matcher, Report, Snapshot

if TYPE_CHECKING:
    from sgaudit.sources.aws import AwsSource, RegionScan, Sessions

#: organization scans: the policy's ``accounts`` and ``exclude_accounts``
AccountScope = tuple[tuple[str, ...], tuple[str, ...]]
NO_SCOPE: AccountScope = ((), ())


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """One command's live options; also holds its AWS sessions, so that a ``check --fix`` scans
    and fixes with the same sessions, assumed roles and clients."""

    profiles: tuple[str, ...] = ()
    role_arns: tuple[str, ...] = ()
    external_id: str | None = None
    regions: str | None = None
    endpoint_url: str | None = None
    org_role: str | None = None
    accounts: str | None = None
    exclude_accounts: str | None = None
    max_workers: int | None = None
    timeout: float | None = None
    _sessions: Sessions | None = field(default=None, init=False, repr=False, compare=False)
    _source: AwsSource | None = field(default=None, init=False, repr=False, compare=False)
    _rule_ids_for: Callable[[Snapshot], Collection[str]] | None = field(
        default=None, init=False, repr=False, compare=False)

    @property
    def given(self) -> list[str]:
        """The options given on the command line, as the user typed their names."""
        names = [("--profile", self.profiles), ("--role-arn", self.role_arns),
                 ("--external-id", self.external_id), ("--regions", self.regions),
                 ("--endpoint-url", self.endpoint_url), ("--org-role", self.org_role),
                 ("--accounts", self.accounts), ("--exclude-accounts", self.exclude_accounts),
                 ("--max-workers", self.max_workers), ("--timeout", self.timeout)]
        return [name for name, value in names if value is not None and value != ()]

    def sessions(self) -> Sessions:
        """This command's AWS sessions, made on first use (from the main thread)."""
        if self._sessions is None:
            from sgaudit.sources import aws

            object.__setattr__(self, "_sessions",
                               aws.Sessions(aws.check_endpoint_url(self.endpoint_url)))
        assert self._sessions is not None
        return self._sessions

    def scan_timeout(self, default: float) -> float:
        """--timeout (checked), else ``default``: the bound on a whole scan, every cloud's."""
        if self.timeout is not None and not 1 <= self.timeout <= 7 * 86400:
            raise UsageError(f"--timeout {self.timeout:g}: expected 1 to 604800 seconds")
        return self.timeout or default

    def source(self, progress: Callable[..., None] | None = None,
               scope: AccountScope = NO_SCOPE, spent: float = 0.0) -> AwsSource:
        """The scan these options describe (the policy's account keys narrow --org-role:
        --accounts replaces its ``accounts``, --exclude-accounts adds to ``exclude_accounts``).
        ``spent``: seconds of the scan's bound another cloud's scan used already."""
        from sgaudit.sources import aws

        org = None
        if self.org_role is not None:
            accounts = aws.parse_account_list(self.accounts, "--accounts") or scope[0]
            exclude = (*scope[1], *aws.parse_account_list(self.exclude_accounts, "--exclude-accounts"))
            org = aws.org_scope(self.org_role, self.external_id, accounts, exclude, self.profiles,
                                self.role_arns)
            targets: tuple[aws.AwsTarget, ...] = ()
        else:
            for name, value in (("--accounts", self.accounts), ("--exclude-accounts", self.exclude_accounts)):
                if value is not None:
                    raise UsageError(f"{name} needs --org-role (it narrows an organization's accounts)")
            targets = aws.targets_from_options(self.profiles, self.role_arns, self.external_id)
        if self.max_workers is not None and not 1 <= self.max_workers <= 256:
            raise UsageError(f"--max-workers {self.max_workers}: expected 1 to 256")
        timeout = self.scan_timeout(aws.SCAN_TIMEOUT)
        regions = aws.parse_regions(self.regions)
        sessions = self.sessions()
        source = aws.AwsSource(targets, regions, sessions.endpoint_url, progress=progress,
                               sessions=sessions, org=org,
                               max_workers=self.max_workers or aws.MAX_WORKERS, timeout=timeout,
                               spent=spent, rule_ids_for=self._rule_ids_for)
        object.__setattr__(self, "_source", source)
        return source

    def scan(self, select: Matcher, quiet: bool = True, scope: AccountScope = NO_SCOPE,
             spent: float = 0.0) -> list[RegionScan]:
        """Scan live; a progress line on stderr unless ``quiet`` or stderr is not a terminal."""
        from sgaudit.cli.progress import Progress

        with Progress("scanning AWS", enabled=None if not quiet else False) as progress:
            return self.source(progress.update, scope, spent).scan(select)

    def read(self, select: Matcher, quiet: bool = True, scope: AccountScope = NO_SCOPE,
             spent: float = 0.0) -> Snapshot:
        """Scan live and normalise as it goes (raw answers are dropped per account/region)."""
        from sgaudit.cli.progress import Progress

        with Progress("scanning AWS", enabled=None if not quiet else False) as progress:
            return self.source(progress.update, scope, spent).read(select)

    def accounts_read(self) -> AccountSummary | None:
        """After an organization scan: what it covered."""
        return self._source.accounts if self._source is not None else None

    def client_of(self, service: str, account: str, region: str) -> Any:
        """After a scan: a client with the identity that scanned ``account`` (see
        AwsSource.client_of); ValueError before any scan."""
        if self._source is None:
            raise ValueError("no live AWS scan ran")
        return self._source.client_of(service, account, region)

    def read_rule_ids_early(self, wanted: Callable[[Snapshot], Collection[str]]) -> None:
        """The coming ``read`` will be asked for rule ids (``with_rule_ids``): ``wanted`` names
        the groups of each account/region read whose ids will be shown, and they are read as
        soon as that region is read, while the rest of the scan goes on."""
        object.__setattr__(self, "_rule_ids_for", wanted)

    def with_rule_ids(self, report: Report, warn: Callable[[str], None]) -> Report:
        """After a live scan's audit: the rule ids of the drifted groups' extra findings."""
        import dataclasses

        if self._source is None:
            return report
        results, warnings = self._source.with_rule_ids(report.results)
        for message in warnings:
            warn(message)
        return dataclasses.replace(report, results=results)


def refuse_with_snapshots(given: list[str]) -> None:
    """Options of live scans (either cloud's, as the user typed their names) with --snapshot."""
    if given:
        raise UsageError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} "
                         "to live scans; not with --snapshot")


_REGIONS_OPTION = click.option(
    "--regions", metavar="LIST",
    help="Comma-separated regions, or 'all' (each account's enabled regions). "
         "Default: the configured region.")
_OPTIONS = (
    click.option("--profile", "profiles", multiple=True, metavar="NAME",
                 help="AWS profile; repeatable, one account each (with --role-arn: the "
                      "credentials that assume the roles). Default: the standard credential chain."),
    click.option("--role-arn", "role_arns", multiple=True, metavar="ARN",
                 help="Assume this role; repeatable, one account each."),
    click.option("--external-id", metavar="ID", help="External id for --role-arn."),
    _REGIONS_OPTION,
    click.option("--endpoint-url", metavar="URL",
                 help="Send AWS API calls here (AWS_ENDPOINT_URL is honoured too)."),
    click.option("--org-role", metavar="NAME",
                 help="Scan every ACTIVE account of the AWS Organization (organizations:"
                      "ListAccounts), assuming role NAME in each."),
    click.option("--accounts", metavar="IDS",
                 help="With --org-role: only these account ids (comma-separated)."),
    click.option("--exclude-accounts", metavar="IDS",
                 help="With --org-role: leave out these account ids (comma-separated)."),
    click.option("--max-workers", type=int, metavar="N",
                 help="Concurrent API calls across accounts x regions (default 16; at most 4 "
                      "per account)."),
    click.option("--timeout", type=float, metavar="SECONDS",
                 help="Bound on the whole scan, every cloud's (default 3600); what is unread by "
                      "then is an error of its account/region or GCP project (exit 3). Every "
                      "call also ends within 60 s."),
)


def live_options(func: Callable[..., Any] | None = None, *,
                 regions: bool = True) -> Any:
    """Adds the live-AWS options to a click command and hands them over as ``live=``.
    ``regions=False`` leaves out --regions, for commands whose input names the regions."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, profiles: tuple[str, ...] = (), role_arns: tuple[str, ...] = (),
                    external_id: str | None = None, regions: str | None = None,
                    endpoint_url: str | None = None, org_role: str | None = None,
                    accounts: str | None = None, exclude_accounts: str | None = None,
                    max_workers: int | None = None, timeout: float | None = None,
                    **kwargs: Any) -> Any:
            live = LiveOptions(tuple(profiles), tuple(role_arns), external_id, regions, endpoint_url,
                               org_role, accounts, exclude_accounts, max_workers, timeout)
            return func(*args, live=live, **kwargs)

        for option in reversed(_OPTIONS):
            if regions or option is not _REGIONS_OPTION:
                wrapper = option(wrapper)
        return wrapper

    return decorate(func) if func is not None else decorate
