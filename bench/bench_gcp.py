"""What does judging Google Cloud firewalls by effect cost, next to reading the files at all?

Generates what gcloud prints for one network - ``gcloud compute firewall-rules list
--format=json``, ``gcloud compute networks subnets list --format=json``, ``gcloud compute
networks list --format=json`` and ``gcloud compute networks get-effective-firewalls NETWORK
--format=json`` (``firewalls`` and ``firewallPolicys``) - with R firewall rules over about R/25
network tags (2,000 tags at 50,000 rules), in three shapes:

* ``coiled`` - what users have: each Coiled tag has Coiled's rules (one per port of the policy's
  ``firewall`` ports, 22 / 8786 / 8787 among them, and the cluster's own-tag rule), 0-6 drifted
  rules (extra ports, widened sources, udp, all protocols), 1-3 denies at a higher priority
  (some making a drifted rule harmless, some taking part of a required port away), some rules
  disabled; untargeted rules (internal, icmp, health checks, a deny); a hierarchical policy
  with a few rules and ``goto_next``, and a network policy.  Drifted rules draw their CIDRs
  from a pool of 256, as real fleets do.
* ``coiled-unique`` - the same, but every drifted rule's and deny's CIDR is distinct: the
  shape that defeats every cache.
* ``adversarial`` - 25 rules per tag, half of them denies and extra allows that cut each
  other (every CIDR distinct), 40-rule policies: far more findings than a fleet has.
* ``many-denies`` - one tag with N single-port /32 denies and N/10 allows of tcp 0-65535 from
  10.0.0.0/8 (issue 19): every allow is cut by every deny.  Measured at N = 400 and 3,000
  (``-r`` does not apply); it once took 2.3 s at 400 and did not end at 3,000.

For R and 5R rules it prints, each a median of ``--repeat`` runs, CPU time by default (the
machine may be shared):
  * json.load of the same files (the floor);
  * parse: ``SnapshotSource(files).read()`` (detection, strict parsing, the records);
  * evaluation: ``sgaudit.engine.audit.audit`` on the parsed ``Snapshot`` (targets, effective
    ingress, findings, applied rules);
  * end to end: ``sgaudit check --format json -o out.json --snapshot ...`` as a subprocess
    (its CPU time, interpreter start and imports included);
each as a multiple of json.load, the peak RSS of a process that only json-loads, of one that
parses and evaluates, and of the end-to-end process; and the growth from R to 5R.

    python bench/bench_gcp.py                         # R = 10,000 and 50,000, every shape
    python bench/bench_gcp.py -r 2000 --shape coiled-unique
    python bench/bench_gcp.py --profile --shape coiled-unique -r 50000   # cProfile the evaluation
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "coiled-bench"
NETWORK = "coiled-net"
API = "https://www.googleapis.com/compute/v1"
NET_URL = f"{API}/projects/{PROJECT}/global/networks/{NETWORK}"
RULES_PER_TAG = 25
UNTARGETED = 8
SHAPES = ("coiled", "coiled-unique", "adversarial", "many-denies")
#: the sizes (denies) of the many-denies shape
MANY_DENIES = (400, 3000)
#: the policy's firewall ports for the coiled shapes: Coiled makes one rule per port per tag
FIREWALL_PORTS = [22, 8786, 8787, 443, 3000, 5000, 6006, 8000, 8080, 8443, 8888, 9000, 9090,
                  9443, 10000, 11211, 15672, 27017, 50051]
COILED_POLICY = {"backend_options": {"firewall": {"ports": [p for p in FIREWALL_PORTS if p != 22],
                                                  "cidr": "0.0.0.0/0"}}}


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
             sources: list[str], tags: list[str] | None, disabled: bool = False,
             source_tags: list[str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"IPProtocol": protocol}
    if ports is not None:
        entry["ports"] = ports
    rule: dict[str, Any] = {
        "id": str(abs(hash(name)) % 10**18), "name": name, "network": NET_URL, "priority": priority,
        "direction": "INGRESS", "disabled": disabled,
        "selfLink": f"{API}/projects/{PROJECT}/global/firewalls/{name}",
        "kind": "compute#firewall", "creationTimestamp": "2026-01-01T00:00:00.000-08:00",
        "allowed" if action == "allow" else "denied": [entry],
    }
    if sources:
        rule["sourceRanges"] = sources
    if source_tags:
        rule["sourceTags"] = source_tags
    if tags:
        rule["targetTags"] = tags
    return rule


def adversarial_rules(t: int, cidrs: Cidrs, rng: random.Random) -> list[dict[str, Any]]:
    """25 rules per tag that cut each other: the worst case, not what fleets look like."""
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


def coiled_rules(t: int, cidrs: Cidrs, rng: random.Random) -> list[dict[str, Any]]:
    """A Coiled tag as fleets have it: Coiled's rules, a little drift, a few denies."""
    tag = f"coiled-c{t}"
    out = [vpc_rule(f"{tag}-coiled-{p}", 1000, "allow", "tcp", [str(p)], ["0.0.0.0/0"], [tag])
           for p in FIREWALL_PORTS]
    out.append(vpc_rule(f"{tag}-internal", 1000, "allow", "all", None, [], [tag], source_tags=[tag]))
    drift_ports = [str(p) for p in (23, 2375, 3389, 5432, 6379, 8789, 9200)]
    for k in range(rng.randrange(7)):
        kind = rng.randrange(4)
        name, prio = f"{tag}-drift-{k}", rng.choice((900, 1000, 1100))
        if kind == 0:    # an extra port
            out.append(vpc_rule(name, prio, "allow", "tcp", [rng.choice(drift_ports)], [cidrs.next()], [tag]))
        elif kind == 1:  # ssh widened to a partner's range
            out.append(vpc_rule(name, prio, "allow", "tcp", ["22", "8786-8787"], [cidrs.next()], [tag]))
        elif kind == 2:
            out.append(vpc_rule(name, prio, "allow", "udp", [rng.choice(drift_ports)], [cidrs.next()], [tag]))
        else:            # "open everything to the VPN"
            out.append(vpc_rule(name, prio, "allow", "all", None, [cidrs.next()], [tag]))
    for k in range(1 + rng.randrange(3)):
        if k == 0:       # a deny that makes drift harmless
            out.append(vpc_rule(f"{tag}-deny-{k}", 500, "deny", "tcp", [rng.choice(drift_ports)],
                                ["0.0.0.0/0"], [tag]))
        else:            # a deny that takes part of a required port away
            out.append(vpc_rule(f"{tag}-deny-{k}", 600, "deny", "tcp",
                                [str(rng.choice(FIREWALL_PORTS))], [cidrs.next()], [tag]))
    if rng.random() < 0.3:
        out.append(vpc_rule(f"{tag}-old", 1000, "allow", "tcp", ["0-65535"], ["0.0.0.0/0"], [tag],
                            disabled=True))
    return out


def many_denies(n: int) -> list[dict[str, Any]]:
    """One tag, ``n`` single-port /32 denies (each its own port and address) before ``n // 10``
    allows of every tcp port from 10.0.0.0/8 that they all cut."""
    tag = "coiled-c0"
    denies = [vpc_rule(f"{tag}-deny-{i}", 500, "deny", "tcp", [str(1024 + i)],
                       [f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}/32"], [tag])
              for i in range(n)]
    allows = [vpc_rule(f"{tag}-allow-{j}", 1000, "allow", "tcp", ["0-65535"], ["10.0.0.0/8"], [tag])
              for j in range(n // 10)]
    return denies + allows


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


def policy(name: str, kind: str, rng: random.Random, cidrs: Cidrs, n: int) -> dict[str, Any]:
    rules = []
    for i in range(n):
        action = ("deny", "allow", "goto_next")[i % 3]
        rules.append({"priority": 1000 + i, "action": action, "direction": "INGRESS",
                      "match": {"srcIpRanges": [cidrs.next()],
                                "layer4Configs": [{"ipProtocol": "tcp",
                                                   "ports": [str(rng.randrange(1024, 65535))]}]}})
    rules.append({"priority": 2147483645, "action": "goto_next", "direction": "INGRESS",
                  "match": {"srcIpRanges": ["0.0.0.0/0"], "layer4Configs": [{"ipProtocol": "all"}]}})
    return {"name": name, "type": kind, "displayName": name, "shortName": name, "rules": rules}


def generate(folder: Path, n_rules: int, shape: str) -> list[Path]:
    """The gcloud files of one shape with about ``n_rules`` VPC rules; returns their paths."""
    rng = random.Random(f"{n_rules}-{shape}")
    cidrs = Cidrs(shape != "coiled", rng)
    make = adversarial_rules if shape == "adversarial" else coiled_rules
    firewalls = untargeted()
    t = 0
    if shape == "many-denies":
        firewalls.extend(many_denies(n_rules))
    while len(firewalls) < n_rules:
        firewalls.extend(make(t, cidrs, rng))
        t += 1
    subnets = [{"kind": "compute#subnetwork", "name": f"sub-{i}", "network": NET_URL,
                "ipCidrRange": f"10.{128 + i}.0.0/20",
                "region": f"{API}/projects/{PROJECT}/regions/r{i}",
                "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": f"10.{i}.0.0/16"}],
                "selfLink": f"{API}/projects/{PROJECT}/regions/r{i}/subnetworks/sub-{i}"}
               for i in range(8)]
    networks = [{"kind": "compute#network", "name": NETWORK, "selfLink": NET_URL,
                 "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL"}]
    size = 40 if shape == "adversarial" else 6
    effective = {"firewalls": firewalls,
                 "firewallPolicys": [policy("1234567890", "HIERARCHY", rng, cidrs, size),
                                     policy("coiled-net-policy", "NETWORK", rng, cidrs, size)]}
    docs = {"firewall-rules.json": firewalls, "subnets.json": subnets, "networks.json": networks,
            f"effective-firewalls-{NETWORK}.json": effective}
    paths = []
    for name, doc in docs.items():
        path = folder / name
        path.write_text(json.dumps(doc, indent=2))
        paths.append(path)
    pol = folder / "policy.yaml"
    pol.write_text(json.dumps(COILED_POLICY if shape != "adversarial" else {}))  # JSON is YAML
    return paths


# -- measuring (each phase in a fresh process: its peak RSS is its own) ------------------------
#: peak RSS of this process image (VmHWM: unlike ru_maxrss, not inherited over fork + exec)
HWM = """
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0
"""
WORKER = HWM + """
import gc, json, sys, time
mode, repeat, policy_path, *files = sys.argv[1:]
clock = time.process_time
def run(fn):
    out, result = [], None
    for _ in range(int(repeat)):
        result = None  # one result alive at a time: the peak RSS is of one run
        gc.collect()
        start = clock()
        result = fn()
        out.append(clock() - start)
    return out, result
def load():
    return [json.loads(open(p, "rb").read()) for p in files]
stats = {}
if mode == "load":
    stats["load"], _ = run(load)
else:
    from sgaudit.engine.audit import audit
    from sgaudit.model import Matcher
    from sgaudit.policy.loader import load_policy
    from sgaudit.sources.snapshot import SnapshotSource
    pol = load_policy(policy_path)
    stats["load"], _ = run(load)
    stats["parse"], snap = run(lambda: SnapshotSource(files).read(Matcher()))
    assert not snap.errors, snap.errors
    if mode == "profile":
        import cProfile, pstats
        prof = cProfile.Profile()
        prof.enable()
        audit(pol, snap, "2026-01-01T00:00:00Z")
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    stats["eval"], report = run(lambda: audit(pol, snap, "2026-01-01T00:00:00Z"))
    stats["targets"] = len(report.results)
    stats["findings"] = len(report.findings)
    stats["applied"] = sum(len(r.applied) for r in report.results)
    stats["rules"] = len(snap.gcp.firewalls) + sum(
        len(p.rules) for n in snap.gcp.networks.values() for p in n.policies or ())
stats["rss"] = hwm()
print(json.dumps(stats))
"""


def worker(mode: str, repeat: int, policy_path: Path, paths: list[Path]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", WORKER, mode, str(repeat), str(policy_path),
                           *map(str, paths)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                          check=True)
    return json.loads(done.stdout)


#: ``python -m sgaudit ARGS``, then its own CPU time and peak RSS on the last line of stdout
E2E = HWM + """
import runpy, sys, time
sys.argv = ["sgaudit", *sys.argv[1:]]
try:
    runpy.run_module("sgaudit", run_name="__main__", alter_sys=True)
finally:
    print(time.process_time(), hwm())
"""


def end_to_end(paths: list[Path], policy_path: Path, out: Path) -> tuple[float, int]:
    """``sgaudit check`` as a subprocess: (its CPU time, its peak RSS in bytes)."""
    cmd = [sys.executable, "-c", E2E, "check", "--policy", str(policy_path), "--format",
           "json", "-o", str(out), "--quiet"]
    for p in paths:
        cmd += ["--snapshot", str(p)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"sgaudit check exited {proc.returncode}: {err.strip()[-300:]}")
    cpu, rss = out.split()[-2:]
    return float(cpu), int(rss)


def measure(n_rules: int, shape: str, repeat: int, profile: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = generate(folder, n_rules, shape)
        pol = folder / "policy.yaml"
        floor = worker("load", repeat, pol, paths)
        got = worker("profile" if profile else "eval", repeat, pol, paths)
        e2e = [end_to_end(paths, pol, folder / "out.json") for _ in range(repeat)]
        findings = len(json.loads((folder / "out.json").read_text())["findings"])
        size = sum(p.stat().st_size for p in paths)
    med = statistics.median
    return {**got, "mb": size / 1e6, "load": med(got["load"]), "parse": med(got["parse"]),
            "eval": med(got["eval"]), "e2e": med(t for t, _ in e2e),
            "rss_load": floor["rss"], "rss_eval": got["rss"], "rss_e2e": max(r for _, r in e2e),
            "e2e_findings": findings}


def show(shape: str, r: dict[str, Any]) -> None:
    load = r["load"]
    print(f"[{shape}] {r['rules']:,} rules (incl. policies), {r['targets']:,} targets, "
          f"{r['findings']:,} findings, {r['applied']:,} applied-rule records, files {r['mb']:.1f} MB")
    print(f"    json.load {load:.3f} s | parse {r['parse']:.3f} s = {r['parse'] / load:.2f}x | "
          f"evaluation {r['eval']:.3f} s = {r['eval'] / load:.2f}x | end to end {r['e2e']:.3f} s "
          f"= {r['e2e'] / load:.2f}x ({r['e2e_findings']:,} findings in out.json)")
    print(f"    peak RSS: json.load {r['rss_load'] / 1e6:.0f} MB, parse+evaluation "
          f"{r['rss_eval'] / 1e6:.0f} MB, end to end {r['rss_e2e'] / 1e6:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-r", "--rules", type=int, default=10_000, help="R: the smaller size (and 5R)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument("--shape", choices=(*SHAPES, "all"), default="all")
    parser.add_argument("--profile", action="store_true",
                        help="only R: cProfile one evaluation (to stderr), then the figures")
    args = parser.parse_args()
    print(f"CPU time, median of {args.repeat}; multiples are of json.load of the same files in the "
          "same process")
    for shape in SHAPES if args.shape == "all" else (args.shape,):
        sizes: tuple[int, ...] = MANY_DENIES if shape == "many-denies" else (args.rules, 5 * args.rules)
        sizes = sizes[:1] if args.profile else sizes
        rows = [measure(n, shape, args.repeat, args.profile) for n in sizes]
        for r in rows:
            show(shape, r)
        if len(rows) == 2:
            small, big = rows
            print(f"[{shape}] growth {small['rules']:,} -> {big['rules']:,} rules "
                  f"(x{big['rules'] / small['rules']:.2f}): "
                  f"evaluation x{big['eval'] / small['eval']:.2f}, "
                  f"parse x{big['parse'] / small['parse']:.2f}, "
                  f"end to end x{big['e2e'] / small['e2e']:.2f}, "
                  f"json.load x{big['load'] / small['load']:.2f}")


if __name__ == "__main__":
    main()
