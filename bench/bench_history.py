"""Scan history at scale, in SQLite and in PostgreSQL: record nightly scans of 10,000 findings
(a few percent churn per scan), then print the time per recorded scan (connect, record, trend)
as the history grows, the database size, and how long `sgaudit history` takes to read it back.

PostgreSQL runs on a throwaway server started here as the tests do (Debian's binaries, a free
port on 127.0.0.1, fsync on: commits as durable as SQLite's); it needs `sgaudit[postgres]`.

    python bench/bench_history.py [--findings 10000] [--scans 100] [--churn 0.02]
                                  [--backend both|sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

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


def nightly(target: str, args: argparse.Namespace) -> list[float]:
    """Seconds per scan (open the history, record the scan, read the trend), oldest first."""
    rng = random.Random(6)
    open_now = set(range(1, args.findings + 1))
    next_port = args.findings + 1
    times = []
    t0 = time.perf_counter()
    with history.open_history(target, create=True):  # the empty history: tables, once
        pass
    print(f"  create the empty history: {(time.perf_counter() - t0) * 1000:.0f} ms")
    for day in range(args.scans):
        report = report_of(open_now)
        t0 = time.perf_counter()
        with history.open_history(target, create=True) as conn:
            history.record_scan(conn, report, f"2026-01-01T02:00:00Z+{day:03d}d")
            history.trend(conn)
        times.append(time.perf_counter() - t0)
        n = int(len(open_now) * args.churn)
        for port in rng.sample(sorted(open_now), n):
            open_now.discard(port)
        open_now.update(range(next_port, next_port + n))
        next_port += n
    return times


def measure(name: str, target: str, size: Callable[[], int], args: argparse.Namespace) -> dict[str, float]:
    print(f"{name}:")
    times = nightly(target, args)
    t0 = time.perf_counter()
    with history.open_history(target, create=False) as conn:
        table = history.render(conn, "table", 30)
    read = time.perf_counter() - t0
    tenth = max(1, len(times) // 10)
    first, last = statistics.median(times[1:tenth + 1]), statistics.median(times[-tenth:])
    print(f"  first scan (all {args.findings} opened) {times[0] * 1000:.0f} ms; then median "
          f"{statistics.median(times[1:]) * 1000:.0f} ms per scan (scans 2-{tenth + 1}: "
          f"{first * 1000:.0f} ms, last {tenth}: {last * 1000:.0f} ms), max {max(times) * 1000:.0f} ms")
    total = size()
    print(f"  database {total / 1e6:.1f} MB ({total / args.scans / 1e3:.0f} kB per scan); "
          f"sgaudit history (last 30 scans) {read * 1000:.0f} ms, {len(table.splitlines())} lines")
    return {"first": times[0], "median": statistics.median(times[1:]), "early": first, "late": last}


def sqlite_run(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        return measure("SQLite", str(db), lambda: sum(f.stat().st_size for f in Path(tmp).iterdir()),
                       args)


def postgres_run(args: argparse.Namespace) -> dict[str, float]:
    from pg_support import remove_server, start_server

    server = start_server(fsync=True)
    try:
        database = server.new_database()
        url = server.url(database)

        def size() -> int:
            return int(server.admin(f"SELECT pg_database_size('{database}')")[0][0])

        return measure("PostgreSQL", url, size, args)
    finally:
        remove_server(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--scans", type=int, default=100)
    parser.add_argument("--churn", type=float, default=0.02)
    parser.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    args = parser.parse_args()
    print(f"{args.scans} scans of {args.findings} findings, {args.churn:.0%} churn per scan")
    results = {}
    if args.backend in ("both", "sqlite"):
        results["sqlite"] = sqlite_run(args)
    if args.backend in ("both", "postgresql"):
        results["postgresql"] = postgres_run(args)
    if len(results) == 2:
        pg, lite = results["postgresql"], results["sqlite"]
        print(f"PostgreSQL / SQLite: first scan {pg['first'] / lite['first']:.2f}x, per scan "
              f"{pg['median'] / lite['median']:.2f}x (first tenth {pg['early'] / lite['early']:.2f}x, "
              f"last tenth {pg['late'] / lite['late']:.2f}x)")


if __name__ == "__main__":
    main()
