"""The command line's live-AWS options (--profile, --role-arn, --external-id, --regions,
--endpoint-url) and the scan they describe.

Imports no boto3 itself: sgaudit.sources.aws is loaded only when a live scan really runs, so
snapshot runs start fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from sgaudit.errors import UsageError
from sgaudit.model import Matcher, Snapshot

if TYPE_CHECKING:
    from sgaudit.sources.aws import AwsSource, RegionScan, Sessions


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """One command's live options; also holds its AWS sessions, so that a ``check --fix`` scans
    and fixes with the same sessions, assumed roles and clients."""

    profiles: tuple[str, ...] = ()
    role_arns: tuple[str, ...] = ()
    external_id: str | None = None
    regions: str | None = None
    endpoint_url: str | None = None
    _sessions: Sessions | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def given(self) -> list[str]:
        """The options given on the command line, as the user typed their names."""
        names = [("--profile", self.profiles), ("--role-arn", self.role_arns),
                 ("--external-id", self.external_id), ("--regions", self.regions),
                 ("--endpoint-url", self.endpoint_url)]
        return [name for name, value in names if value]

    def sessions(self) -> Sessions:
        """This command's AWS sessions, made on first use (from the main thread)."""
        if self._sessions is None:
            from sgaudit.sources import aws

            object.__setattr__(self, "_sessions",
                               aws.Sessions(aws.check_endpoint_url(self.endpoint_url)))
        assert self._sessions is not None
        return self._sessions

    def source(self, progress: Callable[[int, int, int], None] | None = None) -> AwsSource:
        from sgaudit.sources import aws

        targets = aws.targets_from_options(self.profiles, self.role_arns, self.external_id)
        regions = aws.parse_regions(self.regions)
        sessions = self.sessions()
        return aws.AwsSource(targets, regions, sessions.endpoint_url, progress=progress,
                             sessions=sessions)

    def scan(self, select: Matcher, quiet: bool = True) -> list[RegionScan]:
        """Scan live; a progress line on stderr unless ``quiet`` or stderr is not a terminal."""
        from sgaudit.cli.progress import Progress

        with Progress("scanning AWS", enabled=None if not quiet else False) as progress:
            return self.source(progress.update).scan(select)

    def read(self, select: Matcher, quiet: bool = True) -> Snapshot:
        from sgaudit.sources.aws import to_snapshot

        return to_snapshot(self.scan(select, quiet), select)


def refuse_with_snapshots(live: LiveOptions | None) -> None:
    if live is not None and live.given:
        raise UsageError(f"{', '.join(live.given)} appl{'ies' if len(live.given) == 1 else 'y'} "
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
)


def live_options(func: Callable[..., Any] | None = None, *,
                 regions: bool = True) -> Any:
    """Adds the live-AWS options to a click command and hands them over as ``live=``.
    ``regions=False`` leaves out --regions, for commands whose input names the regions."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, profiles: tuple[str, ...] = (), role_arns: tuple[str, ...] = (),
                    external_id: str | None = None, regions: str | None = None,
                    endpoint_url: str | None = None, **kwargs: Any) -> Any:
            live = LiveOptions(tuple(profiles), tuple(role_arns), external_id, regions, endpoint_url)
            return func(*args, live=live, **kwargs)

        for option in reversed(_OPTIONS):
            if regions or option is not _REGIONS_OPTION:
                wrapper = option(wrapper)
        return wrapper

    return decorate(func) if func is not None else decorate
