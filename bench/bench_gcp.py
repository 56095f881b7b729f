"""What does judging Google Cloud firewalls by effect cost, next to reading the files at all?

Generates what gcloud prints for one network - ``gcloud compute firewall-rules list
--format=json``, ``gcloud compute networks subnets list --format=json`` and ``gcloud compute
networks get-effective-firewalls NETWORK --format=json`` (``firewalls`` and ``firewallPolicys``) -
with R firewall rules over R/25 network tags: per tag the Coiled rule, extra allows, denies at a
higher priority (some blocking an allow, some taking a required port away), some rules
disabled; plus untargeted rules and a hierarchical and a network policy (deny, allow,
goto_next) that apply to every tag.  Two shapes: ``shared`` (rules draw their CIDRs from a small
pool, as real fleets do) and ``unique`` (no two rules share a CIDR: defeats every cache).

It prints, for R and 5R rules:
  * json.load of the same files (all three; and firewall-rules.json alone);
  * the evaluation (``sgaudit.engine.audit.audit`` on the records: targets, effective ingress,
    findings) - time, and peak memory (tracemalloc, a separate run) next to json.load's;
  * the ratio, and the growth from R to 5R.
The records are built from the generated JSON by a small converter in this script (the
gcp-sources branch owns the real parser; its time is printed apart as "convert").

END TO END (only once the gcp-sources branch is merged): ``sgaudit check --snapshot`` on the
three files, timed as a subprocess; until then the CLI refuses the files and this part says so.

    python bench/bench_gcp.py                 # R = 10,000 and 50,000
    python bench/bench_gcp.py -r 2000         # R and 5R
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "coiled-bench"
NETWORK = "coiled-net"
NET_URL = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/{NETWORK}"
RULES_PER_TAG = 25
MEMORY = True
UNTARGETED = 8
POLICY_RULES = 40


# -- generating gcloud's JSON ------------------------------------------------------------------
class Cidrs:
    """CIDR sources: from a pool of 256 (shared) or never the same twice (unique)."""

    def __init__(self, unique: bool, rng: random.Random) -> None:
        self.unique, self.rng, self.n = unique, rng, 0

    def next(self) -> str:
        if self.unique:
            self.n += 1
            return f"{11 + (self.n >> 16)}.{(self.n >> 8) & 255}.{self.n & 255}.0/24"
        return f"198.51.{self.rng.randrange(256)}.0/24"


def vpc_rule(name: str, priority: int, action: str, protocol: str, ports: list[str] | None,
             sources: list[str], tags: list[str] | None, disabled: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"IPProtocol": protocol}
    if ports is not None:
        entry["ports"] = ports
    rule: dict[str, Any] = {
        "id": str(abs(hash(name)) % 10**18), "name": name, "network": NET_URL, "priority": priority,
        "direction": "INGRESS", "sourceRanges": sources, "disabled": disabled,
        "selfLink": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/firewalls/{name}",
        "kind": "compute#firewall", "creationTimestamp": "2026-01-01T00:00:00.000-08:00",
        "allowed" if action == "allow" else "denied": [entry],
    }
    if tags:
        rule["targetTags"] = tags
    return rule


def tag_rules(t: int, cidrs: Cidrs, rng: random.Random) -> list[dict[str, Any]]:
    tag = f"coiled-c{t}"
    out = [vpc_rule(f"{tag}-ingress", 1000, "allow", "tcp", ["22", "8786-8787"], ["0.0.0.0/0"], [tag])]
    for k in range(1, RULES_PER_TAG):
        port = str(rng.choice((443, 5432, 6379, 8080, 9000, 9100 + k)))
        kind = k % 6
        if kind == 0:   # a deny that makes an allow harmless (same port, wider source)
            out.append(vpc_rule(f"{tag}-deny-{k}", 900, "deny", "tcp", [port], ["0.0.0.0/0"], [tag]))
        elif kind == 1:  # a deny that takes part of a required port away
            out.append(vpc_rule(f"{tag}-deny-{k}", 800, "deny", "tcp", ["8786"], [cidrs.next()], [tag]))
        elif kind == 2:
            out.append(vpc_rule(f"{tag}-udp-{k}", 1000, "allow", "udp", [port], [cidrs.next()], [tag]))
        elif kind == 3:
            out.append(vpc_rule(f"{tag}-off-{k}", 1000, "allow", "all", None, ["0.0.0.0/0"], [tag],
                                disabled=True))
        else:
            out.append(vpc_rule(f"{tag}-allow-{k}", rng.choice((1000, 1100)), "allow", "tcp", [port],
                                [cidrs.next(), cidrs.next()], [tag]))
    return out


def untargeted() -> list[dict[str, Any]]:
    return [
        vpc_rule("default-allow-internal", 65534, "allow", "all", None, ["10.128.0.0/9"], None),
        vpc_rule("default-allow-icmp", 65534, "allow", "icmp", None, ["0.0.0.0/0"], None),
        vpc_rule("default-deny-rdp", 100, "deny", "tcp", ["3389"], ["0.0.0.0/0"], None),
        vpc_rule("allow-health-checks", 1000, "allow", "tcp", ["80", "443"],
                 ["35.191.0.0/16", "130.211.0.0/22"], None),
        *[vpc_rule(f"legacy-{i}", 2000 + i, "allow", "tcp", [str(7000 + i)], ["10.0.0.0/8"], None)
          for i in range(UNTARGETED - 4)],
    ]


def policy(name: str, kind: str, rng: random.Random, cidrs: Cidrs) -> dict[str, Any]:
    rules = []
    for i in range(POLICY_RULES):
        action = ("deny", "allow", "goto_next")[i % 3]
        rules.append({"priority": 1000 + i, "action": action, "direction": "INGRESS",
                      "match": {"srcIpRanges": [cidrs.next()],
                                "layer4Configs": [{"ipProtocol": "tcp",
                                                   "ports": [str(rng.randrange(1024, 65535))]}]}})
    rules.append({"priority": 2147483645, "action": "goto_next", "direction": "INGRESS",
                  "match": {"srcIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "all"}]}})
    return {"name": name, "type": kind, "displayName": name, "rules": rules}


def generate(folder: Path, n_rules: int, unique: bool) -> list[Path]:
    rng = random.Random(n_rules * 2 + unique)
    cidrs = Cidrs(unique, rng)
    tags = max(1, (n_rules - UNTARGETED) // RULES_PER_TAG)
    firewalls = untargeted()
    for t in range(tags):
        firewalls.extend(tag_rules(t, cidrs, rng))
    subnets = [{"name": f"sub-{i}", "network": NET_URL, "ipCidrRange": f"10.{128 + i}.0.0/20",
                "region": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/regions/r{i}",
                "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": f"10.{i}.0.0/16"}],
                "selfLink": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/regions/r{i}/subnetworks/sub-{i}"}
               for i in range(8)]
    effective = {"firewalls": firewalls,
                 "firewallPolicys": [policy("1234567890", "HIERARCHY", rng, cidrs),
                                     policy("coiled-net-policy", "NETWORK", rng, cidrs)]}
    paths = [folder / "firewall-rules.json", folder / "subnets.json", folder / "effective-firewalls.json"]
    for path, doc in zip(paths, (firewalls, subnets, effective), strict=True):
        path.write_text(json.dumps(doc, indent=2))
    return paths


# -- records (what the gcp-sources parser will do; here only to feed the engine) ---------------
def to_state(docs: list[Any]) -> Any:
    from sgaudit import ports
    from sgaudit.model import FirewallMatch, FirewallPolicy, FirewallRule, GcpNetwork, GcpState

    def matches(entries: list[dict[str, Any]], proto_key: str) -> tuple[FirewallMatch, ...]:
        out = []
        for e in entries:
            spans = tuple((int(a), int(b or a)) for a, _, b in (p.partition("-") for p in e.get("ports", ())))
            out.append(FirewallMatch(ports.normalize_protocol(e[proto_key]) or e[proto_key], spans))
        return tuple(out)

    firewalls, subnets, effective = docs
    vpc = tuple(FirewallRule(
        name=r["name"], project=PROJECT, network=r["network"].rsplit("/", 1)[1], priority=r["priority"],
        action="allow" if "allowed" in r else "deny",
        matches=matches(r.get("allowed") or r.get("denied"), "IPProtocol"),
        direction=r["direction"], disabled=r.get("disabled", False),
        source_ranges=tuple(r.get("sourceRanges", ())), source_tags=tuple(r.get("sourceTags", ())),
        target_tags=tuple(r.get("targetTags", ()))) for r in firewalls)
    policies = tuple(FirewallPolicy(
        name=p["name"], kind={"HIERARCHY": "hierarchical", "NETWORK": "network"}[p["type"]],
        rules=tuple(FirewallRule(
            name=f"{p['name']}/{r['priority']}", project=PROJECT, network=NETWORK,
            priority=r["priority"], action=r["action"],
            matches=matches(r["match"]["layer4Configs"], "ipProtocol"), direction=r["direction"],
            source_ranges=tuple(r["match"].get("srcIpRanges", ()))) for r in p["rules"]))
        for p in effective["firewallPolicys"])
    ranges = tuple(c for s in subnets for c in (s["ipCidrRange"],
                                                *(x["ipCidrRange"] for x in s.get("secondaryIpRanges", ()))))
    network = GcpNetwork(PROJECT, NETWORK, subnet_ranges=ranges, policies=policies)
    return GcpState(networks={(PROJECT, NETWORK): network}, firewalls=vpc)


# -- measuring ---------------------------------------------------------------------------------
#: wall clock by default; --cpu: this process's CPU time (steadier on a shared machine)
CLOCK = time.perf_counter


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = CLOCK()
        result = fn()
        best = min(best, CLOCK() - start)
    return best, result


def peak(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    keep = fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del keep
    return top


def load_all(paths: list[Path]) -> list[Any]:
    return [json.loads(p.read_bytes()) for p in paths]


def measure(n_rules: int, unique: bool, repeat: int) -> dict[str, float]:
    from sgaudit.engine.audit import audit
    from sgaudit.model import Snapshot
    from sgaudit.policy.loader import parse_policy

    pol = parse_policy(None, "policy.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        paths = generate(Path(tmp), n_rules, unique)
        size = sum(p.stat().st_size for p in paths)
        t_load, docs = timed(lambda: load_all(paths), repeat)
        t_load_rules, _ = timed(lambda: json.loads(paths[0].read_bytes()), repeat)
        t_convert, state = timed(lambda: to_state(docs), 1)
        snap = Snapshot(groups=(), gcp=state)
        t_eval, report = timed(lambda: audit(pol, snap, "2026-01-01T00:00:00Z"), repeat)
        m_load = peak(lambda: load_all(paths)) if MEMORY else 0
        m_eval = peak(lambda: audit(pol, snap, "2026-01-01T00:00:00Z")) if MEMORY else 0
        e2e = end_to_end(paths)
    policies = state.networks[(PROJECT, NETWORK)].policies
    return {"rules": len(state.firewalls) + sum(len(p.rules) for p in policies),
            "targets": len(report.results), "findings": len(report.findings), "mb": size / 1e6,
            "load": t_load, "load_rules": t_load_rules, "convert": t_convert, "eval": t_eval,
            "m_load": m_load / 1e6, "m_eval": m_eval / 1e6, "e2e": e2e}


def end_to_end(paths: list[Path]) -> float | str:
    """END TO END - needs the gcp-sources branch (gcloud snapshots): ``sgaudit check`` timed as
    a subprocess; until that is merged the CLI refuses the files and this returns why."""
    cmd = [sys.executable, "-m", "sgaudit", "check", "--format", "json", "--output", os.devnull,
           "--allow-partial"]
    for p in paths:
        cmd += ["--snapshot", str(p)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    took = time.perf_counter() - start
    if done.returncode == 2:
        return "not yet: " + (done.stderr.strip().splitlines() or ["exit 2"])[-1][:100]
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-r", "--rules", type=int, default=10_000, help="R: the smaller size (and 5R)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu", action="store_true", help="time CPU (process_time), not wall clock")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--shape", choices=("shared", "unique", "both"), default="both")
    args = parser.parse_args()
    global CLOCK, MEMORY
    if args.cpu:
        CLOCK = time.process_time
    MEMORY = not args.no_memory
    for shape in ("shared", "unique") if args.shape == "both" else (args.shape,):
        rows = [measure(n, shape == "unique", args.repeat) for n in (args.rules, 5 * args.rules)]
        for r in rows:
            print(f"[{shape}] {r['rules']:,} rules (incl. policies), {r['targets']:,} targets, "
                  f"{r['findings']:,} findings, files {r['mb']:.1f} MB")
            print(f"    json.load all files {r['load']:.3f} s (firewall-rules.json alone "
                  f"{r['load_rules']:.3f} s); convert {r['convert']:.3f} s; "
                  f"evaluation {r['eval']:.3f} s = {r['eval'] / r['load']:.2f}x json.load "
                  f"({r['eval'] / r['load_rules']:.2f}x firewall-rules.json alone)")
            if MEMORY:
                print(f"    peak memory: json.load {r['m_load']:.1f} MB, evaluation {r['m_eval']:.1f} MB "
                      f"= {r['m_eval'] / r['m_load']:.2f}x")
            e2e = r["e2e"]
            print("    END TO END sgaudit check --snapshot: "
                  + (f"{e2e:.3f} s" if isinstance(e2e, float) else str(e2e)))
        small, big = rows
        print(f"[{shape}] growth R -> 5R: evaluation x{big['eval'] / small['eval']:.2f}, "
              f"json.load x{big['load'] / small['load']:.2f} (linear = x5)")


if __name__ == "__main__":
    main()
