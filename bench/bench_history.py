"""Scan history at scale: record nightly scans of 10,000 findings (a few percent churn per scan),
then print the time per recorded scan, the database size, and how long `sgaudit history` and the
report's trend take to read it back.

    python bench/bench_history.py [--findings 10000] [--scans 60] [--churn 0.02]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sgaudit.model import DesiredState, Finding, Group, GroupResult, Report  # noqa: E402
from sgaudit.scheduled import history  # noqa: E402


def report_of(ports: set[int], groups: int = 1000) -> Report:
    by_group: dict[int, list[Finding]] = {}
    for n in sorted(ports):
        g = n % groups
        key = f"extra|111122223333|us-east-1|sg-{g:017x}|tcp|{n}|{n}|0.0.0.0/0"
        by_group.setdefault(g, []).append(Finding(
            key=key, kind="extra", severity="high", account="111122223333", region="us-east-1",
            group_id=f"sg-{g:017x}", group_name="g", protocol="tcp", from_port=n, to_port=n,
            source="0.0.0.0/0", rule_ids=(), reason="r"))
    results = tuple(GroupResult(Group(f"sg-{g:017x}", "g", None, "us-east-1", "111122223333"),
                                DesiredState((), ()), tuple(by_group.get(g, ())))
                    for g in range(groups))
    return Report(True, (), results, (), "t", "policy.yaml", ())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--scans", type=int, default=60)
    parser.add_argument("--churn", type=float, default=0.02)
    args = parser.parse_args()
    rng = random.Random(6)
    open_now = set(range(1, args.findings + 1))
    next_port = args.findings + 1
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        for day in range(args.scans):
            report = report_of(open_now)
            t0 = time.perf_counter()
            with history.open_history(db, create=True) as conn:
                history.record_scan(conn, report, f"2026-01-01T02:00:00Z+{day}d")
                history.trend(conn)
            times.append(time.perf_counter() - t0)
            n = int(len(open_now) * args.churn)
            for port in rng.sample(sorted(open_now), n):
                open_now.discard(port)
            open_now.update(range(next_port, next_port + n))
            next_port += n
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
        t0 = time.perf_counter()
        with history.open_history(db, create=False) as conn:
            table = history.render(conn, "table", 30)
        read = time.perf_counter() - t0
    print(f"{args.scans} scans of {args.findings} findings, {args.churn:.0%} churn per scan")
    print(f"record + trend per scan: median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms (first scan {times[0] * 1000:.0f} ms)")
    print(f"database size: {size / 1e6:.1f} MB ({size / args.scans / 1e3:.0f} kB per scan)")
    print(f"sgaudit history (last 30 scans): {read * 1000:.0f} ms, {len(table.splitlines())} lines")


if __name__ == "__main__":
    main()
