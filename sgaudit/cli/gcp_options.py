"""The command line's Google Cloud option (--gcp-project) and which clouds a live run scans.

With only GCP options given nothing of AWS is read; AWS is scanned when AWS options are given
too, or when no cloud is named (as before GCP existed).  ``--endpoint-url`` goes to the one
cloud being scanned; with both it is ambiguous and refused.  Imports no Google library itself:
sgaudit.sources.gcp is loaded only when a GCP scan really runs.
"""

from __future__ import annotations

import functools
import time
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


#: options of live scans that name no cloud: with --gcp-project alone they do not add AWS
_EITHER_CLOUD = frozenset({"--endpoint-url", "--timeout"})


def wants_aws(live: LiveOptions, gcp: GcpOptions | None) -> bool:
    """AWS is scanned unless only GCP was named (--endpoint-url and --timeout name no cloud)."""
    if gcp is None or not gcp.given:
        return True
    return any(name not in _EITHER_CLOUD for name in live.given)


def gcp_endpoint(live: LiveOptions, gcp: GcpOptions) -> str | None:
    if live.endpoint_url and wants_aws(live, gcp):
        raise UsageError("--endpoint-url with both AWS and Google Cloud options is ambiguous; set "
                         "AWS_ENDPOINT_URL or CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE instead")
    return live.endpoint_url


def scan_gcp(live: LiveOptions, gcp: GcpOptions) -> tuple[list[ProjectData], float]:
    """The projects read (GCP goes first), and the seconds that took: what is left of
    --timeout after them is AWS's."""
    from sgaudit.sources.gcp import SCAN_TIMEOUT, GcpSource

    source = GcpSource(gcp.projects, gcp_endpoint(live, gcp), timeout=live.scan_timeout(SCAN_TIMEOUT))
    started = time.monotonic()
    return source.scan(), time.monotonic() - started


def read_live(select: Matcher, live: LiveOptions, gcp: GcpOptions, quiet: bool = True,
              scope: AccountScope = NO_SCOPE) -> Snapshot:
    """The clouds the options name, read and merged into one snapshot, within one --timeout."""
    from sgaudit.sources.gcp import to_snapshot

    projects, spent = scan_gcp(live, gcp)
    gcp_part = to_snapshot(projects)
    if not wants_aws(live, gcp):
        return gcp_part
    return merge(live.read(select, quiet, scope, spent), gcp_part)


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
