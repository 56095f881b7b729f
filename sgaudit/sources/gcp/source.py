"""The live Google Cloud source: projects read concurrently within one --timeout, as a snapshot.

One connection per project; a project that fails is an error of its own, the others are read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sgaudit.errors import UsageError
from sgaudit.model import Snapshot
from sgaudit.sources import gcpjson as gj
from sgaudit.sources.gcp import limits
from sgaudit.sources.gcp.api import credentials, endpoint
from sgaudit.sources.gcp.limits import CALL_DEADLINE, SCAN_TIMEOUT, Limits
from sgaudit.sources.gcp.project import scan_project
from sgaudit.sources.gcp.scanner import ProjectScanner
from sgaudit.sources.gcpstate import GcpCollector

_PROJECT = re.compile(r"^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def check_projects(projects: Sequence[str]) -> tuple[str, ...]:
    bad = [p for p in projects if not _PROJECT.match(p)]
    if bad:
        raise UsageError(f"--gcp-project {bad[0]!r}: not a project id (6-30 lowercase letters, "
                         "digits and hyphens, starting with a letter)")
    return tuple(dict.fromkeys(projects))


class GcpSource:
    """Reads several projects concurrently, one connection each, within ``timeout`` seconds in
    all and ``call_deadline`` seconds a call."""

    def __init__(self, projects: Sequence[str], endpoint_url: str | None = None, *,
                 timeout: float = SCAN_TIMEOUT, call_deadline: float = CALL_DEADLINE) -> None:
        self.projects = check_projects(projects)
        self.base_url = endpoint(endpoint_url)
        self.timeout = timeout
        self.call_deadline = call_deadline

    def scan(self) -> list[gj.ProjectData]:
        creds = credentials()
        scan_limits = Limits(self.call_deadline, time.monotonic() + self.timeout, self.timeout)

        def one(project: str) -> gj.ProjectData:
            scanner = None
            try:
                scanner = ProjectScanner(self.base_url, creds, limits=scan_limits)
                return scan_project(scanner, project)
            except Exception as exc:
                return gj.ProjectData(project, errors=[gj.scan_error(
                    project, "connect", f"{type(exc).__name__}: {exc}"[:300], "EndpointUnreachable")])
            finally:
                if scanner is not None:
                    scanner.close()

        with ThreadPoolExecutor(max_workers=min(limits.WORKERS, len(self.projects) or 1)) as pool:
            return list(pool.map(one, self.projects))

    def read(self) -> Snapshot:
        return to_snapshot(self.scan())


def to_snapshot(scans: Sequence[gj.ProjectData]) -> Snapshot:
    collector = GcpCollector()
    for data in scans:
        collector.add_project(data, f"project {data.project}")
    state = collector.state()
    return Snapshot(groups=(), errors=tuple(collector.errors), gcp=state,
                    scanned=tuple(f"gcp:{d.project}" for d in scans))
