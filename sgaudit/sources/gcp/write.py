"""``--fix``'s compute API calls on Google Cloud firewall rules, made with the Google client.

They implement ``gcp_firewalls.FirewallApi``: firewall rules read, inserted, patched, updated and
deleted, and ``globalOperations.wait``.  Used only when a GCP fix or rollback runs.

Errors become ``CallError`` (status, the API's code, one line); nothing is retried here but
429/5xx answers to reads (a write is never repeated blindly: the fix decides, since a repeated
insert may find its own rule).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from googleapiclient.errors import HttpError

from sgaudit.sources.gcp import api, limits
from sgaudit.sources.gcp_firewalls import CallError

#: what a fix needs: compute (read-write), not compute.readonly
WRITE_SCOPE = "https://www.googleapis.com/auth/compute"
#: seconds one call may take: ``globalOperations.wait`` answers within about two minutes, so a
#: wait is not cut off while GCP is still holding it open
TIMEOUT = 150.0


class ComputeFirewalls:
    """One connection to the compute API (httplib2 is not thread-safe: one caller at a time)."""

    def __init__(self, endpoint_url: str | None = None, creds: Any = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        base = api.endpoint(endpoint_url)
        creds = creds if creds is not None else api.credentials(WRITE_SCOPE)
        http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=TIMEOUT))
        compute = api.collections(http, base, ("firewalls", "globalOperations"))
        self._firewalls = compute["firewalls"]
        self._operations = compute["globalOperations"]
        self.sleep = sleep

    def list(self, project: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request = self._firewalls.list(project=project)
        pages = 0
        while request is not None:
            answer = self._read(request)
            found = answer.get("items") or []
            if not isinstance(found, list) or not all(isinstance(i, dict) for i in found):
                raise CallError(200, "MalformedAnswer",
                                "compute.firewalls.list: 'items' is not a list of rules")
            items.extend(found)
            pages += 1
            if pages > limits.MAX_PAGES:
                raise CallError(200, "MalformedAnswer", "compute.firewalls.list: pagination does not end")
            request = self._firewalls.list_next(request, answer)
        return items

    def get(self, project: str, name: str) -> dict[str, Any]:
        return self._read(self._firewalls.get(project=project, firewall=name))

    def insert(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        return _call(self._firewalls.insert(project=project, body=body))

    def patch(self, project: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return _call(self._firewalls.patch(project=project, firewall=name, body=body))

    def update(self, project: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return _call(self._firewalls.update(project=project, firewall=name, body=body))

    def delete(self, project: str, name: str) -> dict[str, Any]:
        return _call(self._firewalls.delete(project=project, firewall=name))

    def wait(self, project: str, operation: str) -> dict[str, Any]:
        return self._read(self._operations.wait(project=project, operation=operation))

    def _read(self, request: Any) -> dict[str, Any]:
        """A read (or a wait), retried on 429/5xx as the scan's reads are."""
        for attempt in range(limits.RETRIES + 1):
            try:
                return _call(request)
            except CallError as exc:
                if exc.status not in limits.RETRIED or attempt == limits.RETRIES:
                    raise
                self.sleep(limits.BACKOFF * 2 ** attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _call(request: Any) -> dict[str, Any]:
    try:
        answer = request.execute(num_retries=0)
    except HttpError as exc:
        code, message = api.error_code(exc)
        raise CallError(exc.resp.status, code, message) from None
    except google.auth.exceptions.GoogleAuthError as exc:
        raise CallError(0, "AuthError", f"{type(exc).__name__}: {exc}"[:300]) from None
    except (OSError, httplib2.HttpLib2Error) as exc:
        raise CallError(0, "EndpointUnreachable", f"{type(exc).__name__}: {exc}".strip()[:300]) from None
    except ValueError as exc:
        raise CallError(200, "MalformedAnswer", f"not a JSON answer: {exc}"[:300]) from None
    if not isinstance(answer, dict):
        raise CallError(200, "MalformedAnswer", "the answer is not a JSON object")
    return answer
