"""What a scan changed, for notices: new once per opening, accepted findings never new (until
their acceptance ends), resolved only where the scan read completely, nothing from late scans,
and the baseline when there is no history."""

from __future__ import annotations

from pathlib import Path

from history_samples import ACCOUNT, finding, report_of

from sgaudit.model import Policy, Report, Waiver
from sgaudit.policy.loader import DEFAULT_SELECT
from sgaudit.scheduled.accept import accept
from sgaudit.scheduled.baseline import Baseline, Entry
from sgaudit.scheduled.changes import (
    BASELINE,
    HISTORY,
    ResolvedChange,
    ScanChanges,
    after_recording,
    before_recording,
)
from sgaudit.scheduled.history.read import OpenFinding, open_findings
from sgaudit.scheduled.history.record import record_scan
from sgaudit.scheduled.history.schema import open_history

POLICY = Policy(path=None, sha256="", account_options={}, dask_options={}, select=DEFAULT_SELECT)


def night(db: Path, day: int, report: Report, policy: Policy = POLICY,
          baseline: Baseline | None = None) -> ScanChanges | None:
    said: list[str] = []
    return accept(report, policy, f"2026-03-{day:02d}T02:00:00Z", (baseline, None), None,
                  str(db) if db else None, said.append, compare=True).changes


def seen(changes: ScanChanges | None) -> tuple[list[int], list[tuple[str, str]]]:
    assert changes is not None
    return ([f.from_port for f in changes.new],
            [(r.key.split("|")[5], r.status) for r in changes.resolved])


def test_a_finding_is_new_once_per_opening(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    a, b = finding(22), finding(80)
    assert seen(night(db, 1, report_of(a, b))) == ([22, 80], [])
    assert seen(night(db, 2, report_of(a, b))) == ([], [])          # same drift: nothing new
    assert seen(night(db, 3, report_of(a))) == ([], [("80", "active")])
    assert seen(night(db, 4, report_of(a, b))) == ([80], [])        # back: a new opening
    changes = night(db, 5, report_of(a, b))
    assert changes is not None and changes.compared_with == HISTORY and not changes.new


def test_waived_findings_are_never_new_until_the_waiver_expires(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    a, b = finding(22), finding(80)
    waived = Policy(path=None, sha256="", account_options={}, dask_options={}, select=DEFAULT_SELECT,
                    waivers=(Waiver("sg-1", "tcp", 80, 80, "0.0.0.0/0", "ticket", "2026-03-02",
                                    "p.yaml:3"),))
    assert seen(night(db, 1, report_of(a, b), waived)) == ([22], [])
    assert seen(night(db, 2, report_of(a, b), waived)) == ([], [])   # still waived on its last day
    assert seen(night(db, 3, report_of(a, b), waived)) == ([80], [])  # expired: active now, new
    assert seen(night(db, 4, report_of(a, b), waived)) == ([], [])


def test_baselined_findings_are_never_new(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    a, b = finding(22), finding(80)
    known = Baseline("t", None, "", (), {b.key: Entry(b.key, ACCOUNT, "us-east-1", "sg-1", "extra",
                                                      "high", "t")})
    assert seen(night(db, 1, report_of(a, b), baseline=known)) == ([22], [])
    # the baseline entry dropped: the finding is active now, and announced
    assert seen(night(db, 2, report_of(a, b))) == ([80], [])


def test_what_a_scan_could_not_read_resolves_nothing(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    east, west = finding(22, "us-east-1"), finding(80, "eu-west-1")
    both = ("us-east-1", "eu-west-1")
    assert seen(night(db, 1, report_of(east, west, regions=both))) == ([22, 80], [])
    # eu-west-1 failed: its finding is not in the report, and is not resolved
    assert seen(night(db, 2, report_of(east, regions=both, failed=("eu-west-1",)))) == ([], [])
    # read again, and gone: resolved now
    assert seen(night(db, 3, report_of(east, regions=both))) == ([], [("80", "active")])


def test_a_late_scan_announces_nothing(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    a, c = finding(22), finding(443)
    assert seen(night(db, 5, report_of(a))) == ([22], [])
    # a scan dated before the latest recorded one: kept as evidence, opens and resolves nothing
    assert seen(night(db, 4, report_of(c))) == ([], [])
    assert seen(night(db, 6, report_of(a, c))) == ([443], [])


def test_a_scan_recorded_in_between_by_another_job_is_not_counted_as_this_ones(tmp_path: Path) -> None:
    east, west = finding(22, "us-east-1"), finding(80, "eu-west-1")
    with open_history(tmp_path / "h.db", create=True) as conn:
        record_scan(conn, report_of(east, west, regions=("us-east-1", "eu-west-1")),
                    "2026-03-01T02:00:00Z")
        before = before_recording(conn)
        # another job, scanning eu-west-1 only, resolves west meanwhile
        record_scan(conn, report_of(regions=("eu-west-1",)), "2026-03-02T02:00:00Z")
        mine = report_of(regions=("us-east-1",))  # this job: east fixed
        scan_id, _ = record_scan(conn, mine, "2026-03-02T02:00:01Z")
        changes = after_recording(conn, before, scan_id, mine)
    assert changes.resolved == (ResolvedChange(east.key, "high", "active"),)


def test_without_a_history_the_baseline_decides() -> None:
    a, b, gone_east, west = finding(22), finding(80), finding(443), finding(8080, "eu-west-1")
    entries = {f.key: Entry(f.key, ACCOUNT, f.region, "sg-1", "extra", "high", "t")
               for f in (b, gone_east, west)}
    known = Baseline("t", None, "", (), entries)
    report = report_of(a, b, regions=("us-east-1", "eu-west-1"), failed=("eu-west-1",))
    changes = accept(report, POLICY, "2026-03-01T02:00:00Z", (known, None), None, None,
                     lambda _m: None, compare=True).changes
    assert changes is not None and changes.compared_with == BASELINE
    # a is not in the baseline: new; b is; 443 is gone from a region read; 8080's region failed
    assert seen(changes) == ([22], [("443", "baselined")])


def test_nothing_is_compared_unless_asked(tmp_path: Path) -> None:
    accepted = accept(report_of(finding(22)), POLICY, "2026-03-01T02:00:00Z", (None, None), None,
                      str(tmp_path / "h.db"), lambda _m: None)
    assert accepted.changes is None
    assert [o.key for o in _open(tmp_path / "h.db")] == [finding(22).key]


def _open(db: Path) -> list[OpenFinding]:
    with open_history(db, create=False) as conn:
        return open_findings(conn)
