"""httplib2 under each Google Cloud call's deadline, every socket within the watchdog's reach.

The watchdog (``deadlines``) can cut every socket a call waits on, and an answer cut short is
``DeadlineExceeded``, never half a body.
"""

from __future__ import annotations

import time
from typing import Any

import httplib2

from sgaudit.sources.deadlines import Call, DeadlineExceeded
from sgaudit.sources.gcp import limits


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


class DeadlineHttp(httplib2.Http):
    """httplib2 under the current call's deadline: each request (a token refresh's too) names
    its socket to the watchdog, no socket wait outlasts the deadline, and an answer cut short
    by it is DeadlineExceeded, never a truncated body or another error."""

    call: Call | None = None

    def __init__(self) -> None:
        super().__init__(timeout=limits.TIMEOUT)

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
        wait = min(limits.TIMEOUT, call.deadline - time.monotonic() + 0.1)
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
