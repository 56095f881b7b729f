"""Live Google Cloud scan: the only module that imports Google libraries, loaded only when a GCP
scan runs (``--gcp-project``).

Client: google-api-python-client (pure Python, builds the compute API from its bundled discovery
document, answers in the API's own JSON shapes, which ``sgaudit snapshot`` saves as they are)
with google-auth.  Calls per project: ``networks.list`` (enforcement order),
``firewalls.list``, ``subnetworks.aggregatedList``, ``networks.getEffectiveFirewalls`` once per
network that has rules, ``regionNetworkFirewallPolicies.getEffectiveFirewalls`` once per such
network and region where it has subnets, and ``instances.aggregatedList`` only when a rule
targets service accounts or a regional policy has rules.  Nothing per rule.

Fails closed as the AWS source does: permission denied, an API not enabled, quota exhausted
after bounded retries, an unreachable endpoint, a non-JSON or malformed answer, a call without a
complete answer by its deadline (``CALL_DEADLINE`` from its start, retries included, never past
the scan's ``--timeout``; see ``deadlines``) each become a ``ScanError`` for that project (the
scan is incomplete, exit 3), never an exception; the other projects are still read.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from sgaudit.errors import CredentialsError, UsageError
from sgaudit.model import Snapshot
from sgaudit.sources import gcpjson as gj
from sgaudit.sources.awsjson import ShapeError
from sgaudit.sources.deadlines import WATCHDOG, Call, DeadlineExceeded, start_call

try:
    import google.auth
    import google.auth.exceptions
    import google.oauth2.credentials
    import google_auth_httplib2
    import httplib2
    from googleapiclient import discovery, discovery_cache
    from googleapiclient.errors import HttpError
except ImportError as exc:  # pragma: no cover - exercised in a venv without the extra
    raise UsageError(f"Google Cloud scans need the optional Google client libraries "
                     f"({exc.name} is missing): pip install 'sgaudit[gcp]'") from None

# the client logs every HTTP error as a warning; sgaudit reports them itself, once, in one line
logging.getLogger("googleapiclient").setLevel(logging.ERROR)

DEFAULT_ENDPOINT = "https://compute.googleapis.com/compute/v1/"
SCOPE = "https://www.googleapis.com/auth/compute.readonly"
#: seconds one socket operation (connecting, one read) may wait
TIMEOUT = 30.0
#: every call (its retries and their waits included) ends within this many seconds, answered
#: or not: a socket timeout alone lets an answer that trickles in take forever
CALL_DEADLINE = 60.0
#: the whole scan ends within this many seconds (--timeout); a project unread by then is an error
SCAN_TIMEOUT = 3600.0
#: 429 and 5xx answers are retried this many times, waiting BACKOFF * 2**n seconds
RETRIES = 4
BACKOFF = 0.5
MAX_PAGES = 10_000
WORKERS = 8
_RETRIED = frozenset({429, 500, 502, 503, 504})
_PROJECT = re.compile(r"^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")


class Failure(Exception):
    """One call failed; the project's scan stops there and records it."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(message)
        self.operation, self.code, self.message = operation, code, message


def check_projects(projects: Sequence[str]) -> tuple[str, ...]:
    bad = [p for p in projects if not _PROJECT.match(p)]
    if bad:
        raise UsageError(f"--gcp-project {bad[0]!r}: not a project id (6-30 lowercase letters, "
                         "digits and hyphens, starting with a letter)")
    return tuple(dict.fromkeys(projects))


def endpoint(option: str | None) -> str:
    """The compute API's base URL: --endpoint-url, else gcloud's own
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE, else Google's.  A bare http(s)://HOST[:PORT] gets
    the API's path (compute/v1/) appended; a URL with a path is used as the whole base."""
    url = option or os.environ.get("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE") or DEFAULT_ENDPOINT
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        name = "--endpoint-url" if option else "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"
        raise UsageError(f"{name} {url!r}: expected http(s)://HOST[:PORT][/compute/v1/]")
    base = url.strip()
    if parsed.path in ("", "/"):
        base = base.rstrip("/") + "/compute/v1/"
    return base if base.endswith("/") else base + "/"


def credentials(scope: str = SCOPE) -> Any:
    """A static token from CLOUDSDK_AUTH_ACCESS_TOKEN (as gcloud takes it), else Application
    Default Credentials (``scope``: read-only for a scan, compute for ``--fix``); none at all is
    a usage error (exit 2), not an incomplete scan."""
    token = os.environ.get("CLOUDSDK_AUTH_ACCESS_TOKEN", "").strip()
    if token:
        return google.oauth2.credentials.Credentials(token)
    try:
        with warnings.catch_warnings():  # e.g. "no quota project": not for the report's stderr
            warnings.simplefilter("ignore")
            creds, _project = google.auth.default(scopes=[scope])
    except google.auth.exceptions.DefaultCredentialsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CredentialsError(f"no Google Cloud credentials: {first} (run `gcloud auth "
                               "application-default login`, or set CLOUDSDK_AUTH_ACCESS_TOKEN)") from None
    return creds


def _error_code(exc: HttpError) -> tuple[str, str]:
    """(code, one-line message) of an API error answer."""
    status = str(exc.resp.status)
    try:
        body = json.loads(exc.content.decode("utf-8", "replace"))["error"]
        reasons = [e.get("reason") for e in body.get("errors") or [] if isinstance(e, dict)]
        code = body.get("status") or (reasons[0] if reasons else status)
        message = str(body.get("message") or status)
    except (ValueError, KeyError, TypeError, AttributeError):
        code, message = status, exc.content[:200].decode("utf-8", "replace")
    if reasons_say_disabled(message):
        code = "SERVICE_DISABLED"
    return str(code), " ".join(f"HTTP {status}: {message}".split())[:300]


def reasons_say_disabled(message: str) -> bool:
    return "has not been used" in message or "is disabled" in message


_COLLECTIONS = ("networks", "firewalls", "subnetworks", "instances", "regionNetworkFirewallPolicies")
#: how the compute API names a network when another resource refers to it
_NETWORK_LINK = "https://www.googleapis.com/compute/v1/projects/{project}/global/networks/{network}"
_DOCUMENT: dict[str, Any] = {}
_DOCUMENT_LOCK = threading.Lock()


def _discovery_document() -> dict[str, Any]:
    """The compute v1 discovery document bundled with the client (never fetched), parsed once
    for all projects."""
    with _DOCUMENT_LOCK:
        if not _DOCUMENT:
            text = discovery_cache.get_static_doc("compute", "v1")
            if text is None:
                raise UsageError("the installed google-api-python-client has no bundled compute v1 "
                                 "API description: pip install -U 'sgaudit[gcp]'")
            _DOCUMENT.update(json.loads(text))
        return _DOCUMENT


@dataclass(frozen=True, slots=True)
class Limits:
    """How long a call may take, and when the scan ends (a ``time.monotonic`` instant; None:
    no end) - the ``--timeout`` of ``scan_timeout`` seconds, for the error message."""

    call_deadline: float = CALL_DEADLINE
    scan_deadline: float | None = None
    scan_timeout: float = SCAN_TIMEOUT

    def start(self) -> Call:
        return start_call(self.call_deadline, self.scan_deadline, self.scan_timeout)


class _Watched:
    """A connection that hands its socket to the call waiting on it as it connects: http.client
    lets go of the socket of an answer that ends with the connection (HTTP/1.0, "Connection:
    close") while the answer is still being read, so the watchdog must hold the socket itself."""

    call: Call | None = None
    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        if self.call is not None:
            self.call.conn = self.sock


class _WatchedHTTP(_Watched, httplib2.HTTPConnectionWithTimeout):
    pass


class _WatchedHTTPS(_Watched, httplib2.HTTPSConnectionWithTimeout):
    pass


_WATCHED = {"http": _WatchedHTTP, "https": _WatchedHTTPS}


class _DeadlineHttp(httplib2.Http):
    """httplib2 under the current call's deadline: each request (a token refresh's too) names
    its socket to the watchdog, no socket wait outlasts the deadline, and an answer cut short
    by it is DeadlineExceeded, never a truncated body or another error."""

    call: Call | None = None

    def request(self, uri: str, *args: Any, connection_type: Any = None, **kwargs: Any) -> Any:
        scheme = uri.partition(":")[0].lower()
        return super().request(uri, *args, connection_type=connection_type or _WATCHED.get(scheme),
                               **kwargs)

    def _conn_request(self, conn: Any, *args: Any) -> Any:
        call = self.call
        if call is None:
            return super()._conn_request(conn, *args)
        call.wait_on(conn.sock if conn.sock is not None else None)
        conn.call = call
        wait = min(TIMEOUT, call.deadline - time.monotonic() + 0.1)
        conn.timeout = wait
        if conn.sock is not None:
            conn.sock.settimeout(wait)
        try:
            answer = super()._conn_request(conn, *args)
        except Exception:
            _expired(call, conn)
            raise
        _expired(call, conn)
        return answer


def _expired(call: Call, conn: Any) -> None:
    """DeadlineExceeded (the connection closed: it may hold half an answer) once the call is
    past its deadline."""
    if call.tripped or time.monotonic() >= call.deadline:
        call.tripped = True
        conn.close()
        raise DeadlineExceeded(f"no complete answer within {call.limit}") from None


class ProjectScanner:
    """One project's calls, on one HTTP connection (httplib2 is not thread-safe)."""

    def __init__(self, base_url: str, creds: Any, sleep: Callable[[float], None] = time.sleep,
                 limits: Limits | None = None) -> None:
        self.http = _DeadlineHttp(timeout=TIMEOUT)
        authorized = google_auth_httplib2.AuthorizedHttp(creds, http=self.http)
        document = _discovery_document()
        with _DOCUMENT_LOCK:  # making the methods fills in the shared document: one at a time
            compute = discovery.build_from_document(document, http=authorized,
                                                    client_options={"api_endpoint": base_url})
            self.collections = {name: getattr(compute, name)() for name in _COLLECTIONS}
        self.sleep = sleep
        self.limits = limits or Limits()

    def close(self) -> None:
        """Close the connection (a call cut at its deadline has closed it already)."""
        self.http.close()

    def execute(self, request: Any, operation: str) -> dict[str, Any]:
        """One call, retries included, within its deadline."""
        try:
            call = self.limits.start()
        except DeadlineExceeded as exc:
            raise Failure(operation, "Timeout", f"timed out: {exc}") from None
        self.http.call = call
        WATCHDOG.add(call)
        try:
            return self._attempts(request, operation, call)
        except DeadlineExceeded as exc:
            raise Failure(operation, "Timeout", f"timed out: {exc}") from None
        finally:
            WATCHDOG.discard(call)
            self.http.call = None

    def _attempts(self, request: Any, operation: str, call: Call) -> dict[str, Any]:
        for attempt in range(RETRIES + 1):
            try:
                answer = request.execute(num_retries=0)
            except HttpError as exc:
                if exc.resp.status in _RETRIED and attempt < RETRIES:
                    # no wait past the deadline: the next attempt then does not go out
                    self.sleep(max(0.0, min(BACKOFF * 2 ** attempt, call.deadline - time.monotonic())))
                    continue
                raise Failure(operation, *_error_code(exc)) from None
            except google.auth.exceptions.GoogleAuthError as exc:  # e.g. a token that cannot refresh
                raise Failure(operation, "AuthError", f"{type(exc).__name__}: {exc}"[:300]) from None
            except (OSError, httplib2.HttpLib2Error) as exc:
                raise Failure(operation, "EndpointUnreachable",
                              f"{type(exc).__name__}: {exc}".strip()[:300]) from None
            except ValueError as exc:  # a 200 answer that is not JSON
                raise Failure(operation, "MalformedAnswer", f"not a JSON answer: {exc}"[:300]) from None
            if not isinstance(answer, dict):
                raise Failure(operation, "MalformedAnswer", "the answer is not a JSON object")
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def pages(self, resource: str, method: str, project: str) -> list[dict[str, Any]]:
        """Every page of a list call (the client follows ``nextPageToken``)."""
        collection = self.collections[resource]
        operation = f"compute.{resource}.{method}"
        request = getattr(collection, method)(project=project)
        answers: list[dict[str, Any]] = []
        tokens: set[str] = set()
        while request is not None:
            answer = self.execute(request, operation)
            answers.append(answer)
            token = answer.get("nextPageToken")
            if token in tokens or len(answers) > MAX_PAGES:
                raise Failure(operation, "MalformedAnswer", f"pagination does not end (token {token!r})")
            if token:
                tokens.add(token)
            request = getattr(collection, f"{method}_next")(request, answer)
        return answers

    def listed(self, resource: str, project: str) -> list[Any]:
        items: list[Any] = []
        for answer in self.pages(resource, "list", project):
            items.extend(_list_of(answer, "items", f"compute.{resource}.list"))
        return items

    def aggregated(self, resource: str, project: str) -> list[Any]:
        """An aggregatedList flattened (as ``gcloud … list`` prints it); an unreachable scope
        means some of the items are missing: fail closed."""
        operation = f"compute.{resource}.aggregatedList"
        items: list[Any] = []
        for answer in self.pages(resource, "aggregatedList", project):
            if answer.get("unreachables"):
                raise Failure(operation, "Unreachable",
                              f"scopes not reachable: {', '.join(map(str, answer['unreachables']))[:200]}")
            scopes = answer.get("items") or {}
            if not isinstance(scopes, dict):
                raise Failure(operation, "MalformedAnswer", "'items' is not an object")
            for scoped in scopes.values():
                items.extend(_list_of(scoped, resource, operation) if isinstance(scoped, dict) else [])
        return items

    def effective(self, project: str, network: str) -> dict[str, Any]:
        request = self.collections["networks"].getEffectiveFirewalls(project=project, network=network)
        return self.execute(request, "compute.networks.getEffectiveFirewalls")

    def regional(self, project: str, region: str, network: str) -> dict[str, Any]:
        """One region's effective firewalls of a network (its regional policies are what the
        network's answer lacks)."""
        link = _NETWORK_LINK.format(project=project, network=network)
        request = self.collections["regionNetworkFirewallPolicies"].getEffectiveFirewalls(
            project=project, region=region, network=link)
        return self.execute(request, "compute.regionNetworkFirewallPolicies.getEffectiveFirewalls")

    def scan(self, project: str) -> gj.ProjectData:
        data = gj.ProjectData(project)
        try:
            data.networks = self.listed("networks", project)
            firewalls = self.listed("firewalls", project)
            rules = _parse_rules(firewalls)
            data.firewalls = firewalls
            data.subnetworks = self.aggregated("subnetworks", project)
            self.policies(data, sorted({r.network for r in rules if r.project == project}))
            if gj.needs_instances(rules) or _policies_target_accounts(data) or _regional_rules(data):
                data.instances = self.aggregated("instances", project)
        except Failure as exc:
            data.errors.append(gj.scan_error(project, exc.operation, exc.message, exc.code))
        return _validated(data)


    def policies(self, data: gj.ProjectData, networks: Sequence[str]) -> None:
        """The effective firewalls of each network in use, and of each region where it has
        subnets (a regional policy applies only to instances there; no subnet, no instance)."""
        regions = _regions(data.subnetworks or [], data.project)
        data.regional = {}
        for network in networks:
            data.effective[network] = self.effective(data.project, network)
            for region in regions.get(network, ()):
                data.regional.setdefault(network, {})[region] = self.regional(data.project, region, network)


def _regions(subnets: list[Any], project: str) -> dict[str, list[str]]:
    """network name -> the regions (sorted) where it has subnets, of this project's networks."""
    out: dict[str, set[str]] = {}
    try:
        for i, raw in enumerate(subnets):
            where = f"subnetworks[{i}]"
            owner, network, _ranges = gj.subnet_ranges(raw, where)
            region = gj.subnet_region(raw, where)
            if owner == project and region:
                out.setdefault(network, set()).add(region)
    except ShapeError as exc:
        raise Failure("compute.subnetworks.aggregatedList", "MalformedAnswer", str(exc)[:300]) from None
    return {network: sorted(found) for network, found in out.items()}


def _list_of(answer: dict[str, Any], key: str, operation: str) -> list[Any]:
    value = answer.get(key) or []
    if not isinstance(value, list):
        raise Failure(operation, "MalformedAnswer", f"{key!r} is not a list")
    return value


def _parse_rules(raw: list[Any]) -> list[Any]:
    try:
        return [gj.parse_firewall(r, f"firewalls[{i}]") for i, r in enumerate(raw)]
    except ShapeError as exc:
        raise Failure("compute.firewalls.list", "MalformedAnswer", str(exc)[:300]) from None


def _answers(data: gj.ProjectData) -> list[Any]:
    regional = [a for by_region in (data.regional or {}).values() for a in by_region.values()]
    return [*data.effective.values(), *regional]


#: policy types whose rules apply by the instances' zones
_BY_ZONE = ("NETWORK_REGIONAL", "SYSTEM_REGIONAL")


def _policy_rules(data: gj.ProjectData, regional_only: bool = False) -> list[dict[str, Any]]:
    """The rules of every policy the answers hold (of the regional policies only, if asked)."""
    return [rule for answer in _answers(data) for policy in answer.get("firewallPolicys") or []
            if isinstance(policy, dict) and (not regional_only or policy.get("type") in _BY_ZONE)
            for rule in policy.get("rules") or [] if isinstance(rule, dict)]


def _policies_target_accounts(data: gj.ProjectData) -> bool:
    return any(rule.get("targetServiceAccounts") for rule in _policy_rules(data))


def _regional_rules(data: gj.ProjectData) -> bool:
    """Whether a regional policy has rules: which apply depends on the instances' zones."""
    return bool(_policy_rules(data, regional_only=True))


def _validated(data: gj.ProjectData) -> gj.ProjectData:
    """An answer sgaudit cannot read is a project it could not read (exit 3), not bad input."""
    from sgaudit.sources.gcpstate import GcpCollector

    try:
        collector = GcpCollector()
        collector.add_project(data, data.project)
        collector.state()
    except Exception as exc:
        message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return gj.ProjectData(data.project, errors=[*data.errors, gj.scan_error(
            data.project, "read answers", message, "MalformedAnswer")])
    return data


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
        limits = Limits(self.call_deadline, time.monotonic() + self.timeout, self.timeout)

        def one(project: str) -> gj.ProjectData:
            scanner = None
            try:
                scanner = ProjectScanner(self.base_url, creds, limits=limits)
                return scanner.scan(project)
            except Exception as exc:
                return gj.ProjectData(project, errors=[gj.scan_error(
                    project, "connect", f"{type(exc).__name__}: {exc}"[:300], "EndpointUnreachable")])
            finally:
                if scanner is not None:
                    scanner.close()

        with ThreadPoolExecutor(max_workers=min(WORKERS, len(self.projects) or 1)) as pool:
            return list(pool.map(one, self.projects))

    def read(self) -> Snapshot:
        return to_snapshot(self.scan())


def to_snapshot(scans: Sequence[gj.ProjectData]) -> Snapshot:
    from sgaudit.sources.gcpstate import GcpCollector

    collector = GcpCollector()
    for data in scans:
        collector.add_project(data, f"project {data.project}")
    state = collector.state()
    return Snapshot(groups=(), errors=tuple(collector.errors), gcp=state,
                    scanned=tuple(f"gcp:{d.project}" for d in scans))
