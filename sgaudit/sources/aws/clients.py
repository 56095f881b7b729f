"""Botocore clients that keep time: bounded adaptive retries, timeouts, and a total deadline per call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)
from botocore.config import Config

from sgaudit.sources.deadlines import WATCHDOG as _WATCHDOG
from sgaudit.sources.deadlines import Call, start_call

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from sgaudit.sources.aws.sessions import Sessions

#: retries are bounded (a throttled region gives up in seconds, not minutes) and adaptive
#: (the client slows itself down when AWS says so, rather than hammering production)
MAX_ATTEMPTS = 3
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
#: every API call (retries included) ends within this many seconds, answered or not
CALL_DEADLINE = 60.0
#: the whole scan ends within this many seconds (--timeout); what is unread by then is an error
SCAN_TIMEOUT = 3600.0

ClientHook = Callable[["BaseClient"], None]


def client_config() -> Config:
    return Config(retries={"mode": "adaptive", "total_max_attempts": MAX_ATTEMPTS},
                  connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                  user_agent_extra="sgaudit")


# -- deadlines ------------------------------------------------------------------------------

_local = threading.local()


def _arm(conn: Any) -> None:
    """Called as a request goes out: the thread's current call now waits on ``conn``."""
    call: Call | None = getattr(_local, "call", None)
    if call is not None:
        call.wait_on(conn)


class _DeadlineHTTPConnection(AWSHTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> Any:
        _arm(self)
        return super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(AWSHTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> Any:
        _arm(self)
        return super().request(*args, **kwargs)


class _DeadlineHTTPPool(AWSHTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(AWSHTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


def install_deadlines(client: BaseClient, sessions: Sessions) -> None:
    """Every call of ``client`` gets a total deadline: ``sessions.call_deadline`` seconds from
    its start (retries included), never past ``sessions.scan_deadline``."""
    pools = client._endpoint.http_session._pool_classes_by_scheme
    pools.update({"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool})

    def begin(**_: Any) -> None:
        _end()
        _local.timed_out = None
        call = start_call(sessions.call_deadline, sessions.scan_deadline, sessions.scan_timeout)
        _local.call = call
        _WATCHDOG.add(call)

    events = client.meta.events
    events.register("before-call.*.*", begin)
    events.register("after-call.*.*", lambda **_: _end())
    events.register("after-call-error.*.*", lambda **_: _end())


def _end() -> None:
    call: Call | None = getattr(_local, "call", None)
    if call is not None:
        _local.call = None
        _WATCHDOG.discard(call)
        if call.tripped:
            _local.timed_out = call.limit


def take_timeout() -> str | None:
    """What ran out for this thread's last call, if it ran out of time (once)."""
    limit: str | None = getattr(_local, "timed_out", None)
    _local.timed_out = None
    return limit
