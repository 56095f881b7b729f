"""The command line's Google Cloud option (--gcp-project) and which clouds a live run scans.

With only GCP options given nothing of AWS is read; AWS is scanned when AWS options are given
too, or when no cloud is named (as before GCP existed).  ``--endpoint-url`` goes to the one
cloud being scanned; with both it is ambiguous and refused.  Imports no Google library itself:
sgaudit.sources.gcp is loaded only when a GCP scan really runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import click

from sgaudit.cli.live_options import NO_SCOPE, AccountScope
from sgaudit.errors import UsageError
from sgaudit.model import Matcher, Snapshot

if TYPE_CHECKING:
    from sgaudit.cli.live_options import LiveOptions
    from sgaudit.sources.gcpjson import ProjectData


@dataclass(frozen=True, slots=True)
class GcpOptions:
    projects: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        return bool(self.projects)


def wants_aws(live: LiveOptions, gcp: GcpOptions | None) -> bool:
    """AWS is scanned unless only GCP was named (--endpoint-url alone names no cloud)."""
    if gcp is None or not gcp.given:
        return True
    return any(name != "--endpoint-url" for name in live.given)


def gcp_endpoint(live: LiveOptions, gcp: GcpOptions) -> str | None:
    if live.endpoint_url and wants_aws(live, gcp):
        raise UsageError("--endpoint-url with both AWS and Google Cloud options is ambiguous; set "
                         "AWS_ENDPOINT_URL or CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE instead")
    return live.endpoint_url


def scan_gcp(live: LiveOptions, gcp: GcpOptions) -> list[ProjectData]:
    from sgaudit.sources.gcp import GcpSource

    return GcpSource(gcp.projects, gcp_endpoint(live, gcp)).scan()


def read_live(select: Matcher, live: LiveOptions, gcp: GcpOptions, quiet: bool = True,
              scope: AccountScope = NO_SCOPE) -> Snapshot:
    """The clouds the options name, read and merged into one snapshot."""
    from sgaudit.sources.gcp import to_snapshot

    gcp_part = to_snapshot(scan_gcp(live, gcp))
    if not wants_aws(live, gcp):
        return gcp_part
    return merge(live.read(select, quiet, scope), gcp_part)


def merge(aws: Snapshot, gcp: Snapshot) -> Snapshot:
    return replace(aws, errors=aws.errors + gcp.errors, scanned=aws.scanned + gcp.scanned,
                   read=aws.read + gcp.read, gcp=gcp.gcp)


def gcp_options(func: Callable[..., Any]) -> Any:
    """Adds --gcp-project to a click command and hands it over as ``gcp=``."""

    @functools.wraps(func)
    def wrapper(*args: Any, gcp_projects: tuple[str, ...] = (), **kwargs: Any) -> Any:
        return func(*args, gcp=GcpOptions(tuple(gcp_projects)), **kwargs)

    return click.option("--gcp-project", "gcp_projects", multiple=True, metavar="ID",
                        help="Scan this Google Cloud project's firewall rules and policies; "
                             "repeatable (read concurrently). With only this, AWS is not read.")(wrapper)
