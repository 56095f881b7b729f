"""HTML report at scale: build a report with 10,000 findings, print its size and how long
headless Chromium (Debian's /usr/bin/chromium) takes to load it and to filter it.

    python bench/bench_html.py [--groups 2000] [--per-group 5] [--keep FILE]

Targets (issue 4): under 5 MB and under 2 s to load.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sgaudit.audit import audit  # noqa: E402
from sgaudit.model import Group, Report, Rule, Snapshot, Vpc  # noqa: E402
from sgaudit.policy import load_policy  # noqa: E402
from sgaudit.report import html  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ACCOUNTS = ("111122223333", "444455556666")
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def build(groups: int, per_group: int) -> Report:
    """``groups`` groups of the fixture policy's shape, each with ``per_group`` extra rules."""
    policy = load_policy(str(ROOT / "fixtures" / "policy.yaml"))
    vpcs: dict[tuple[str, str], Vpc] = {}
    out = []
    extras = [
        ("tcp", 22, 22, "0.0.0.0/0", "temporary debugging"),
        ("tcp", 3389, 3389, "203.0.113.0/24", "vendor RDP"),
        ("tcp", 5432, 5432, "10.20.0.0/16", "database from the data VPC"),
        ("icmp", 8, -1, "10.0.0.0/8", "ping"),
        ("-1", -1, -1, "sg-0badbeef00000099", "monitoring"),
        ("tcp", 9000, 9100, "198.18.0.0/15", "exporter range"),
        ("udp", 53, 53, "0.0.0.0/0", "dns"),
    ]
    for i in range(groups):
        account, region = ACCOUNTS[i % len(ACCOUNTS)], REGIONS[i % len(REGIONS)]
        vpc_id = f"vpc-{i % 7:017x}"
        vpcs[(region, vpc_id)] = Vpc(vpc_id, region, account, "10.0.0.0/16", ("10.0.0.0/16",))
        gid = f"sg-{i:017x}"
        rules = [Rule("tcp", 8786, 8787, "0.0.0.0/0", f"sgr-{i:08x}a0000000"),
                 Rule("-1", -1, -1, gid, f"sgr-{i:08x}b0000000")]
        for j in range(per_group):
            proto, lo, hi, src, desc = extras[j % len(extras)]
            if j >= len(extras):
                lo, hi = 10000 + j, 10000 + j
            rules.append(Rule(proto, lo, hi, src, f"sgr-{i:08x}{j:08x}", f"{desc} (ticket OPS-{i * 10 + j})"))
        out.append(Group(gid, f"coiled-dask-cluster-{i}", vpc_id, region, account,
                         f"Coiled security group for coiled-dask-cluster-{i}",
                         (("owner", "coiled"), ("coiled-cluster", f"cluster-{i}")), tuple(rules)))
    report = audit(policy, Snapshot(tuple(out), vpcs, scanned=("bench",)), "2026-01-02T03:04:05Z")
    results = tuple(dataclasses.replace(r, findings=tuple(
        dataclasses.replace(f, first_seen=f"2025-{1 + k % 12:02d}-01T00:00:00Z")
        for k, f in enumerate(r.findings))) for r in report.results)
    return dataclasses.replace(report, results=results)


def _metric(cdp: object, name: str) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]  # type: ignore[attr-defined]
    return next(m["value"] for m in metrics if m["name"] == name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--per-group", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="also write the HTML here")
    a = parser.parse_args()

    t0 = time.perf_counter()
    report = build(a.groups, a.per_group)
    t1 = time.perf_counter()
    text = html.render(report)
    t2 = time.perf_counter()
    size = len(text.encode("utf-8"))
    print(f"report: {len(report.results)} groups, {len(report.findings)} findings "
          f"(audit {t1 - t0:.2f} s, render {t2 - t1:.2f} s)")
    print(f"html size: {size / 1e6:.2f} MB ({size:,} bytes)")
    if a.keep:
        Path(a.keep).write_text(text, encoding="utf-8")

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "report.html")
        Path(path).write_text(text, encoding="utf-8")
        loads, navs, filters, cpus = [], [], [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for _ in range(a.runs):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                before = _metric(cdp, "ThreadTime")
                start = time.perf_counter()
                page.goto(f"file://{path}", wait_until="load")
                loads.append(time.perf_counter() - start)
                cpus.append(_metric(cdp, "ThreadTime") - before)
                navs.append(page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return n.loadEventEnd - n.startTime; }") / 1000)
                start = time.perf_counter()
                page.fill("input[name=q]", "cluster-1999")
                page.wait_for_function(
                    "() => document.getElementById('shown').textContent.startsWith('Showing')")
                filters.append(time.perf_counter() - start)
                page.close()
            browser.close()
    print(f"chromium load (goto until load event, median of {a.runs}): {statistics.median(loads):.2f} s "
          f"[{', '.join(f'{x:.2f}' for x in loads)}]")
    print(f"navigation timing start->loadEventEnd (median): {statistics.median(navs):.2f} s")
    print(f"renderer main-thread CPU time to load (median): {statistics.median(cpus):.2f} s "
          f"(what the load costs without other processes competing; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"first free-text filter incl. text indexing (median): {statistics.median(filters):.2f} s")
    ok = size < 5e6 and statistics.median(loads) < 2.0
    print("targets (< 5 MB, < 2 s): " + ("met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
