"""Posting a notice: 10 s per attempt, a few retries on 429 and 5xx honouring Retry-After, and
a bounded total, so a receiver that is down, slow or hostile cannot hang a nightly job.

Redirects are not followed (a notice goes where it was told, or nowhere); a Retry-After longer
than MAX_WAIT_S ends the retries at once rather than sending early.  Problems are described by
status code or OS error only: never the URL, never the receiver's own text.  Requests to this
machine bypass any proxy the environment names.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from sgaudit.deliver.notify_targets import LOOPBACK

TIMEOUT_S = 10.0
ATTEMPTS = 3
#: the longest Retry-After honoured by waiting
MAX_WAIT_S = 30.0
#: all attempts to one receiver, waits included
DEADLINE_S = 75.0
_SECONDS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class Delivery:
    delivered: bool
    attempts: int
    #: why not (empty when delivered)
    problem: str = ""


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int | None
    retry_after: str | None = None
    problem: str = ""
    #: worth another attempt (429, 5xx, a refused or reset connection)
    transient: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    timeout: float = TIMEOUT_S
    attempts: int = ATTEMPTS
    max_wait: float = MAX_WAIT_S
    deadline: float = DEADLINE_S


def default_limits() -> Limits:
    """The module's limits as they are now (tests shorten them)."""
    return Limits(TIMEOUT_S, ATTEMPTS, MAX_WAIT_S, DEADLINE_S)


def post(url: str, body: bytes, headers: Mapping[str, str], limits: Limits | None = None,
         sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """POST ``body`` to ``url`` until a 2xx, a final answer, or the limits."""
    limits = limits or default_limits()
    started = time.monotonic()
    answer = _Answer(None)
    for attempt in range(1, limits.attempts + 1):
        answer = _attempt(url, body, headers, limits.timeout)
        if answer.status is not None and 200 <= answer.status < 300:
            return Delivery(True, attempt)
        if not answer.transient or attempt == limits.attempts:
            return Delivery(False, attempt, answer.problem)
        wait = _wait(answer.retry_after, attempt)
        if wait > limits.max_wait:
            return Delivery(False, attempt, f"{answer.problem}; asked to retry after {wait:.0f} s, "
                                            f"longer than the {limits.max_wait:.0f} s sgaudit waits")
        if time.monotonic() - started + wait + limits.timeout > limits.deadline:
            return Delivery(False, attempt, f"{answer.problem}; no time left to retry")
        sleep(wait)
    return Delivery(False, limits.attempts, answer.problem)


def _wait(retry_after: str | None, attempt: int) -> float:
    """Retry-After in seconds or as an HTTP date; without one, 1 s, 2 s, 4 s …"""
    if retry_after is not None:
        text = retry_after.strip()
        if _SECONDS.fullmatch(text):
            return float(text)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return float(2 ** (attempt - 1))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises the 3xx as an HTTPError


def _opener(url: str) -> urllib.request.OpenerDirector:
    local = urlsplit(url).hostname in LOOPBACK
    return urllib.request.build_opener(
        _NoRedirect(), urllib.request.ProxyHandler({} if local else None))


def _attempt(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> _Answer:
    """One POST, bounded in total by ``timeout`` (a receiver trickling bytes cannot hold it)."""
    result: list[_Answer] = []
    worker = threading.Thread(target=lambda: result.append(_once(url, body, headers, timeout)),
                              daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    return result[0] if result else _Answer(None, problem=f"no answer within {timeout:.0f} s")


def _once(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> _Answer:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "sgaudit", **headers})
    try:
        with _opener(url).open(request, timeout=timeout) as response:
            response.read(65536)
            return _Answer(response.status)
    except urllib.error.HTTPError as exc:
        code = exc.code
        return _Answer(code, exc.headers.get("Retry-After") if exc.headers else None,
                       f"HTTP {code}", transient=code == 429 or 500 <= code < 600)
    except urllib.error.URLError as exc:
        return _failed(exc.reason)
    except Exception as exc:  # timeouts, resets, http.client's protocol errors: said by type
        return _failed(exc)


def _failed(reason: object) -> _Answer:
    if isinstance(reason, TimeoutError):
        return _Answer(None, problem="no answer in time")
    transient = isinstance(reason, (ConnectionRefusedError, ConnectionResetError))
    text = (getattr(reason, "strerror", None) if isinstance(reason, OSError) else None) \
        or type(reason).__name__
    return _Answer(None, problem=f"connection failed: {text}", transient=transient)
