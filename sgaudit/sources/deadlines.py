"""Total deadlines for live API calls, whichever cloud's client makes them.

An HTTP client's timeout bounds each socket operation, not the answer: a server (or a proxy)
that sends one byte within every timeout holds a call forever.  Here a call gets a deadline -
its own limit from its start, never past the scan's end (``--timeout``) - and one daemon thread
shuts the socket of every call past it, so the blocked read returns at once and the call ends as
an error of its place.  The clients (botocore in ``aws``, httplib2 in ``gcp``) tell the call
which connection it waits on.  No cloud SDK is imported here.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any


class DeadlineExceeded(Exception):
    """A call (or the scan) ran out of time."""


@dataclass(slots=True, eq=False)
class Call:
    """One API call in flight on one thread: its deadline and its current connection."""

    deadline: float
    #: what ran out, for the error: "the 60 s call deadline" or "the scan's --timeout (…)"
    limit: str
    #: the connection (with its ``sock``) or the socket the call waits on
    conn: Any = None
    tripped: bool = False

    def wait_on(self, conn: Any) -> None:
        """A request of this call goes out on ``conn`` (the one the watchdog would cut); none
        goes out once the deadline has passed."""
        if self.tripped or time.monotonic() >= self.deadline:
            self.tripped = True
            raise DeadlineExceeded(f"no complete answer within {self.limit}")
        self.conn = conn


def start_call(call_deadline: float, scan_deadline: float | None, scan_timeout: float) -> Call:
    """A call starting now: ``call_deadline`` seconds, or less if the scan ends sooner;
    DeadlineExceeded when the scan has already ended (the call must not go out)."""
    now = time.monotonic()
    deadline, limit = now + call_deadline, f"the {call_deadline:g} s call deadline"
    if scan_deadline is not None and scan_deadline < deadline:
        deadline, limit = scan_deadline, f"the scan's --timeout ({scan_timeout:g} s)"
        if deadline <= now:
            raise DeadlineExceeded(f"{limit} ran out before this call")
    return Call(deadline, limit)


class Watchdog:
    """One daemon thread that shuts the socket of every call past its deadline: the blocked
    read returns at once, the client raises, and the call ends as an error of its place."""

    TICK = 0.2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: set[Call] = set()
        self._thread: threading.Thread | None = None

    def add(self, call: Call) -> None:
        with self._lock:
            self._calls.add(call)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sgaudit-deadline", daemon=True)
                self._thread.start()

    def discard(self, call: Call) -> None:
        with self._lock:
            self._calls.discard(call)

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                late = [c for c in self._calls if c.deadline <= now and not c.tripped]
            for call in late:
                call.tripped = True
                cut(call.conn)


def cut(conn: Any) -> None:
    """Shut a connection's socket (if it has one), or a socket, so that a read blocked on it
    returns."""
    sock = conn if isinstance(conn, socket.socket) else getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()
