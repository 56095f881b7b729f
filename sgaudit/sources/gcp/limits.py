"""How long live Google Cloud calls may take, how often they are retried, how many run at once.

Read as ``limits.NAME`` when used (never copied at import), so that one value holds for the scan
and for ``--fix``'s calls alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from sgaudit.sources.deadlines import Call, start_call

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
RETRIED = frozenset({429, 500, 502, 503, 504})
MAX_PAGES = 10_000
WORKERS = 8


@dataclass(frozen=True, slots=True)
class Limits:
    """How long a call may take, and when the scan ends (a ``time.monotonic`` instant; None:
    no end) - the ``--timeout`` of ``scan_timeout`` seconds, for the error message."""

    call_deadline: float = CALL_DEADLINE
    scan_deadline: float | None = None
    scan_timeout: float = SCAN_TIMEOUT

    def start(self) -> Call:
        return start_call(self.call_deadline, self.scan_deadline, self.scan_timeout)
