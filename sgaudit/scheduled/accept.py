"""The stage between the audit and the rendering: waivers, then the baseline, then the history.

Any caller (the CLI, a scheduler, a test) runs it the same way; what the operator should hear is
passed to ``warn``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from sgaudit.model import Policy, Report
from sgaudit.scheduled import waivers

if TYPE_CHECKING:  # the baseline and the history (sqlite3) are imported when a run uses them
    from sgaudit.scheduled.baseline import Baseline
    from sgaudit.scheduled.changes import ScanChanges


@dataclass(frozen=True, slots=True)
class Accepted:
    report: Report
    #: what the scan made new and resolved (from the history, else the baseline), when asked
    #: for; None when there is nothing to compare with (an unrecorded what-if scan, no history
    #: and no baseline)
    changes: ScanChanges | None = None


def read_baselines(baseline_path: str | None, update_baseline: str | None,
                   policy: Policy, warn: Callable[[str], None]) -> tuple[Baseline | None, Baseline | None]:
    """--baseline, and the baseline that --update-baseline extends, read before the scan: a
    corrupt file stops the run (exit 2) before any time is spent."""
    if not (baseline_path or update_baseline):
        return None, None
    from sgaudit.scheduled import baseline as bl

    known = bl.read_baseline(baseline_path) if baseline_path else None
    if known is not None and known.policy_sha256 != policy.sha256:
        warn(f"{baseline_path}: written with a different policy file; findings whose keys the "
             "change moved will show as new")
    previous = None
    if update_baseline and os.path.exists(update_baseline):
        previous = known if update_baseline == baseline_path else bl.read_baseline(update_baseline)
    return known, previous


def accept_and_record(report: Report, policy: Policy, now: str,
                      baselines: tuple[Baseline | None, Baseline | None],
                      update_baseline: str | None, history_path: str | None,
                      warn: Callable[[str], None], *, what_if: bool = False,
                      record_what_if: bool = False,
                      info: Callable[[str], None] | None = None) -> Report:
    """Waivers, baseline and history, between the audit and the rendering (see ``accept``)."""
    return accept(report, policy, now, baselines, update_baseline, history_path, warn,
                  what_if=what_if, record_what_if=record_what_if, info=info).report


def accept(report: Report, policy: Policy, now: str,
           baselines: tuple[Baseline | None, Baseline | None],
           update_baseline: str | None, history_path: str | None,
           warn: Callable[[str], None], *, what_if: bool = False,
           record_what_if: bool = False, info: Callable[[str], None] | None = None,
           compare: bool = False) -> Accepted:
    """Waivers, baseline and history, between the audit and the rendering; ``warn`` is told
    what the operator should know (expiring waivers, baseline entries no longer found, a scan
    recorded out of order), ``info`` what was written.  A ``what_if`` scan (its clock fixed by
    SGAUDIT_NOW) is recorded in the history only when ``record_what_if``: a preview of next
    month must not become the latest scan.  With ``compare``, also what the scan made new and
    resolved (for notices)."""
    today = date.fromisoformat(now[:10])
    for message in waivers.far_expiry_warnings(policy.waivers, today):
        warn(message)
    report, check = waivers.apply_waivers(report, policy.waivers, today)
    for message in waivers.notices(check, today):
        warn(message)
    known, previous = baselines
    changes: ScanChanges | None = None
    if known is not None:
        from sgaudit.scheduled import baseline as bl

        report = bl.mark_baselined(report, known)
        fixed = bl.gone(report, known)
        if fixed:
            warn(f"{len(fixed)} baseline entr{'y is' if len(fixed) == 1 else 'ies are'} no longer "
                 "found; --update-baseline drops them, so that drift cannot return unnoticed")
    if history_path and what_if and not record_what_if:
        from sgaudit.scheduled.history import display

        warn(f"SGAUDIT_NOW is set, so this what-if scan is not recorded in {display(history_path)} "
             "(--record-what-if records it)")
    elif history_path:
        report, changes = _record(report, policy, now, history_path, warn, what_if=what_if,
                                  compare=compare)
    elif compare and known is not None:
        from sgaudit.scheduled import changes as ch

        changes = ch.from_baseline(report, known)
    if update_baseline:
        from sgaudit.scheduled import baseline as bl

        written = bl.updated_baseline(report, previous, written_at=now, policy_sha256=policy.sha256)
        bl.write_baseline(update_baseline, written)
        if info is not None and update_baseline != "-":
            info(f"baseline written to {update_baseline}: {len(written.keys)} finding(s)")
    return Accepted(report, changes)


def _record(report: Report, policy: Policy, now: str, history_path: str,
            warn: Callable[[str], None], *, what_if: bool,
            compare: bool) -> tuple[Report, ScanChanges | None]:
    """The scan recorded in the history: its findings get first_seen, the report the trend;
    with ``compare``, what the history made new and resolved in this scan."""
    from sgaudit.scheduled import changes as ch
    from sgaudit.scheduled import history

    with history.open_history(history_path, create=True) as conn:
        before = ch.before_recording(conn) if compare else None
        scan_id, first_seen = history.record_scan(conn, report, now, policy.sha256,
                                                  what_if=what_if, warn=warn)
        report = history.with_first_seen(report, first_seen)
        report = replace(report, trend=history.trend(conn),
                         resolved=history.resolved_by(conn, scan_id))
        return report, (ch.after_recording(conn, before, scan_id, report)
                        if before is not None else None)
