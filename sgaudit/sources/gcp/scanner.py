"""One project's compute API calls on one connection: deadlines, retries, pages, failures.

Each call ends within its deadline, 429/5xx answers are retried, pages are followed, and any
failure is one ``Failure`` naming the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from googleapiclient.errors import HttpError

from sgaudit.sources.deadlines import WATCHDOG, Call, DeadlineExceeded
from sgaudit.sources.gcp import api, limits
from sgaudit.sources.gcp.limits import Limits
from sgaudit.sources.gcp.transport import DeadlineHttp

_COLLECTIONS = ("networks", "firewalls", "subnetworks", "instances", "regionNetworkFirewallPolicies")
#: how the compute API names a network when another resource refers to it
_NETWORK_LINK = "https://www.googleapis.com/compute/v1/projects/{project}/global/networks/{network}"


class Failure(Exception):
    """One call failed; the project's scan stops there and records it."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(message)
        self.operation, self.code, self.message = operation, code, message


class ProjectScanner:
    """One project's calls, on one HTTP connection (httplib2 is not thread-safe)."""

    def __init__(self, base_url: str, creds: Any, sleep: Callable[[float], None] = time.sleep,
                 limits: Limits | None = None) -> None:
        self.http = DeadlineHttp()
        authorized = google_auth_httplib2.AuthorizedHttp(creds, http=self.http)
        self.collections = api.collections(authorized, base_url, _COLLECTIONS)
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
        for attempt in range(limits.RETRIES + 1):
            try:
                answer = request.execute(num_retries=0)
            except HttpError as exc:
                if exc.resp.status in limits.RETRIED and attempt < limits.RETRIES:
                    # no wait past the deadline: the next attempt then does not go out
                    self.sleep(max(0.0, min(limits.BACKOFF * 2 ** attempt, call.deadline - time.monotonic())))
                    continue
                raise Failure(operation, *api.error_code(exc)) from None
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
            if token in tokens or len(answers) > limits.MAX_PAGES:
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


def _list_of(answer: dict[str, Any], key: str, operation: str) -> list[Any]:
    value = answer.get(key) or []
    if not isinstance(value, list):
        raise Failure(operation, "MalformedAnswer", f"{key!r} is not a list")
    return value
