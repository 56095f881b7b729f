"""HTML report at scale: build a report with 10,000 findings, print its size and how long
headless Chromium (Debian's /usr/bin/chromium) takes to load it, to filter it and to open a group.

    python bench/bench_html.py [--groups 2000] [--per-group 5] [--runs 5] [--keep FILE]
    python bench/bench_html.py --shapes          # 1000x10, 2000x5, 5000x2, 10000x1: one table
    python bench/bench_html.py --html FILE       # measure an existing report

Targets (issue 4): under 5 MB and under 2 s to load. The machine may be shared: wall-clock
times are medians, and the renderer's own CPU time (main thread) is printed beside them, split
into script, style, layout and the rest (mostly HTML parsing).
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sgaudit.engine.audit import audit  # noqa: E402
from sgaudit.model import Group, Report, Rule, Snapshot, Vpc  # noqa: E402
from sgaudit.policy.loader import load_policy  # noqa: E402
from sgaudit.report import html  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ACCOUNTS = ("111122223333", "444455556666")
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
SHAPES = ((1000, 10), (2000, 5), (5000, 2), (10000, 1))
#: CDP Performance metrics (seconds) that split the renderer's main-thread time
PHASES = ("ScriptDuration", "RecalcStyleDuration", "LayoutDuration", "TaskDuration", "ThreadTime")


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


def _metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def measure(path: str, runs: int, needle: str, load_only: bool = False) -> dict[str, float]:
    """Medians over ``runs`` fresh pages: wall-clock load, renderer CPU by phase, first filter,
    and opening the first group (its details are built then)."""
    from playwright.sync_api import sync_playwright

    samples: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            before = _metrics(cdp)
            start = time.perf_counter()
            page.goto(Path(path).as_uri(), wait_until="load")
            add("load", time.perf_counter() - start)
            after = _metrics(cdp)
            for name in PHASES:
                add(name, after.get(name, 0.0) - before.get(name, 0.0))
            add("nav", page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.loadEventEnd - n.startTime; }") / 1000)
            if load_only:
                page.close()
                continue
            start = time.perf_counter()
            page.fill("input[name=q]", needle)
            page.wait_for_function(
                "() => document.getElementById('shown').textContent.startsWith('Showing')")
            add("filter", time.perf_counter() - start)
            page.fill("input[name=q]", "")
            page.wait_for_function(
                "() => !document.getElementById('shown').textContent.startsWith('Showing')")
            start = time.perf_counter()
            page.evaluate("() => { document.querySelector('button.tg').click();"
                          " return document.body.offsetHeight; }")
            add("open", time.perf_counter() - start)
            start = time.perf_counter()
            page.evaluate("() => { const b = Array.from(document.querySelectorAll('thead th button'))"
                          ".find(b => b.textContent === 'Group'); b.click();"
                          " return document.body.offsetHeight; }")
            add("sort", time.perf_counter() - start)
            page.close()
        browser.close()
    return {name: statistics.median(values) for name, values in samples.items()} | {
        "load_runs": samples["load"]}  # type: ignore[dict-item]


def _shape(groups: int, per_group: int, runs: int, keep: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    report = build(groups, per_group)
    t1 = time.perf_counter()
    text = html.render(report)
    t2 = time.perf_counter()
    size = len(text.encode("utf-8"))
    print(f"report: {len(report.results)} groups, {len(report.findings)} findings "
          f"(audit {t1 - t0:.2f} s, render {t2 - t1:.2f} s)", flush=True)
    if keep:
        Path(keep).write_text(text, encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "report.html")
        Path(path).write_text(text, encoding="utf-8")
        m = measure(path, runs, f"cluster-{groups - 1}")
    return {"size": size, "render": t2 - t1, **m}


def _print(name: str, size: int, m: dict[str, Any], runs: int) -> None:
    other = m["TaskDuration"] - m["ScriptDuration"] - m["RecalcStyleDuration"] - m["LayoutDuration"]
    print(f"{name}: html size {size / 1e6:.2f} MB ({size:,} bytes)")
    print(f"  chromium load (goto until load event, median of {runs}): {m['load']:.2f} s "
          f"[{', '.join(f'{x:.2f}' for x in m['load_runs'])}]; "
          f"navigation start->loadEventEnd {m['nav']:.2f} s")
    print(f"  renderer main-thread CPU (median): {m['ThreadTime']:.2f} s; tasks {m['TaskDuration']:.2f} s = "
          f"script {m['ScriptDuration']:.2f} + style {m['RecalcStyleDuration']:.2f} + "
          f"layout {m['LayoutDuration']:.2f} + parse/other {other:.2f}")
    print(f"  first free-text filter incl. text indexing {m['filter']:.2f} s; "
          f"open first group {m['open']:.3f} s; sort by group {m['sort']:.2f} s")
    ok = size < 5e6 and m["load"] < 2.0
    print(f"  targets (< 5 MB, < 2 s): {'met' if ok else 'NOT met'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--per-group", type=int, default=5)
    parser.add_argument("--shapes", action="store_true", help="every shape of 10,000 findings: " +
                        ", ".join(f"{g}x{n}" for g, n in SHAPES))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="also write the HTML here (with --shapes: a folder)")
    parser.add_argument("--html", help="measure this report file instead of building one")
    parser.add_argument("--load-only", action="store_true", help="with --html: only load it")
    a = parser.parse_args()

    if a.html:
        size = Path(a.html).stat().st_size
        m = measure(os.path.abspath(a.html), a.runs, "cluster-1", a.load_only)
        _print(a.html, size, dict.fromkeys(("filter", "open", "sort"), float("nan")) | m, a.runs)
        return
    shapes = SHAPES if a.shapes else ((a.groups, a.per_group),)
    rows = []
    for groups, per_group in shapes:
        keep = a.keep
        if a.shapes and keep:
            os.makedirs(keep, exist_ok=True)
            keep = os.path.join(keep, f"report-{groups}x{per_group}.html")
        r = _shape(groups, per_group, a.runs, keep)
        _print(f"{groups} groups x {per_group}", r["size"], r, a.runs)
        rows.append((f"{groups}x{per_group}", r))
    if len(rows) > 1:
        print("\nshape       MB    load s  CPU s  filter s  open s  sort s")
        for name, r in rows:
            print(f"{name:<10} {r['size'] / 1e6:5.2f}  {r['load']:6.2f}  {r['ThreadTime']:5.2f}  "
                  f"{r['filter']:8.2f}  {r['open']:6.3f}  {r['sort']:6.2f}")


if __name__ == "__main__":
    main()
