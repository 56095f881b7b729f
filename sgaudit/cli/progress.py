"""A one-line progress display on stderr for scans that take more than a moment.

Only when stderr is a terminal and not silenced (-q): stdout carries the report alone, and logs
of scheduled runs stay free of carriage returns.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

#: nothing is drawn for scans that finish sooner than this
DELAY = 0.5
INTERVAL = 0.1
_SPINNER = "|/-\\"


class Progress:
    """``update(done, total, groups)`` from any thread (organization scans add
    ``accounts_done``, ``accounts_total`` and ``errors``); drawn by a ticker thread.

    Use as a context manager: the line is erased on exit, so the summary starts clean."""

    def __init__(self, label: str = "scanning AWS", *, enabled: bool | None = None,
                 stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = _is_tty(self.stream)
        self.enabled = enabled
        self.label = label
        self._state = (0, 0, 0)
        self._accounts: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def update(self, done: int, total: int, groups: int, *, accounts_done: int | None = None,
               accounts_total: int | None = None, errors: int = 0) -> None:
        with self._lock:
            self._state = (done, total, groups)
            if accounts_done is not None and accounts_total is not None:
                self._accounts = (accounts_done, accounts_total, errors)

    def line(self, tick: int, elapsed: float) -> str:
        """What is drawn: regions (and, for an organization, accounts and errors so far)."""
        with self._lock:
            done, total, groups = self._state
            accounts = self._accounts
        regions = f"{done}/{total} region(s)" if total else "starting"
        if accounts is not None:
            regions = (f"{accounts[0]}/{accounts[1]} account(s), {regions}, "
                       f"{accounts[2]} error(s)")
        return (f"sgaudit: {self.label} {_SPINNER[tick % len(_SPINNER)]} {regions}, "
                f"{groups} group(s) read, {elapsed:.0f}s")

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="sgaudit-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _run(self) -> None:
        if self._stop.wait(DELAY):
            return
        tick = 0
        started = time.monotonic() - DELAY
        while not self._stop.is_set():
            line = self.line(tick, time.monotonic() - started)
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()
            self._drawn = True
            tick += 1
            self._stop.wait(INTERVAL)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
