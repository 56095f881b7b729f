"""What a scan changed: the findings it made newly active and the ones it resolved, for notices.

From the history when the scan is recorded there: a finding is *new* when this scan made it
open and active (opened it, or it was open but waived or baselined before), so it is announced
once per opening, not every night; it is *resolved* when the history resolved it in this scan,
which happens only in account/regions the scan read completely.  A late scan (older than the
latest recorded one) opens and resolves nothing, so it announces nothing.  Without a history,
from the baseline: every active finding is new (not in the baseline, not waived) and resolved
are the baseline entries of completely read account/regions that are no longer found.
"""

from __future__ import annotations

from dataclasses import dataclass

from sgaudit.model import Finding, Report
from sgaudit.scheduled import history
from sgaudit.scheduled.baseline import Baseline, gone
from sgaudit.scheduled.history import HistoryConnection

HISTORY = "history"
BASELINE = "baseline"


@dataclass(frozen=True, slots=True)
class ResolvedChange:
    """A finding that this scan no longer found, as a notice lists it: its key, its severity
    and what it was (active, waived or baselined).  From the history or from the baseline, so
    it holds no more than both know; the report's ``model.Resolved`` is the history's fuller
    record of a closed finding (its place and first_seen, for OCSF Close events)."""

    key: str
    severity: str
    status: str


@dataclass(frozen=True, slots=True)
class ScanChanges:
    #: HISTORY or BASELINE
    compared_with: str
    new: tuple[Finding, ...]
    resolved: tuple[ResolvedChange, ...]


def from_baseline(report: Report, known: Baseline) -> ScanChanges:
    """Not in the baseline (and not waived) = new; entries no longer found where the scan read
    completely = resolved."""
    return ScanChanges(BASELINE, tuple(report.active_findings),
                       tuple(ResolvedChange(e.key, e.severity, "baselined") for e in gone(report, known)))


@dataclass(frozen=True, slots=True)
class Before:
    """The history as it stood before this scan was recorded: key -> status of each open
    finding, and how many scans it held."""

    open: dict[str, str]
    scans: int


def before_recording(conn: HistoryConnection) -> Before:
    return Before({o.key: o.status for o in history.open_findings(conn)}, history.scan_count(conn))


def after_recording(conn: HistoryConnection, before: Before, scan_id: int,
                    report: Report) -> ScanChanges:
    """New: this scan's active findings that the history now holds open and active and did not
    before.  Resolved: what the history resolved in this very scan (its own events, so a scan
    recorded by another job in between is not counted as this one's)."""
    now_open = {o.key: o.status for o in history.open_findings(conn)}
    new = tuple(f for f in report.active_findings
                if now_open.get(_stored(f.key)) == "active" and before.open.get(_stored(f.key)) != "active")
    recorded_since = history.scan_count(conn) - before.scans  # this scan and any concurrent ones
    mine = next((s for s in history.scans(conn, max(recorded_since, 1)) if s.id == scan_id), None)
    resolved = tuple(ResolvedChange(c.key, c.severity, before.open.get(c.key, ""))
                     for c in (mine.resolved if mine is not None else ()))
    return ScanChanges(HISTORY, new, resolved)


def _stored(key: str) -> str:
    """A key as the history stores it: NUL and lone surrogates (hostile snapshot ids) as U+FFFD."""
    return history.stored_text(key)
