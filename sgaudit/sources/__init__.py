"""Where actual security groups come from. Each source turns its input into a ``Snapshot``.

A source reports what it could not read as ``ScanError`` values inside the snapshot, never by
raising: an unreadable region is a finding about the scan, not a crash.  Bad input that makes
the whole run meaningless (a malformed file, no credentials) raises an ``SgauditError``.
"""

from __future__ import annotations

from typing import Protocol

from sgaudit.model import Matcher, Snapshot


class Source(Protocol):
    def read(self, select: Matcher) -> Snapshot:
        """Read the groups that ``select`` matches, with their VPCs and prefix lists."""
        ...
