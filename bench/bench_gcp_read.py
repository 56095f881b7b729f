"""How fast does sgaudit read Google Cloud input, next to just json-loading it?

Generates the issue's benchmark shape — N VPC firewall rules over 2,000 network tags in one
network (priorities spread over 0-65535, one rule in eight a deny, some disabled, some on
service accounts, IPv4 and IPv6 sources), plus subnets, the networks list and a
get-effective-firewalls answer holding the same rules and a hierarchical and a network policy
of 200 rules each — then, in one process each:
  - ``json.load`` of the files alone (the floor), and
  - ``SnapshotSource(files).read()`` (detection, strict parsing, the GcpState), and
  - the live path: ``sgaudit.sources.gcp`` reading the same answers from the compute fake of
    tests/gcp_fake.py on 127.0.0.1 (only with --live; 500 rules a page, as the API pages).
It prints wall time of each and the ratio to the floor, per N (linearity: time per rule).

    python bench/bench_gcp_read.py                     # N = 12,500, 25,000, 50,000
    python bench/bench_gcp_read.py -n 50000 --live
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "bench-project"
API = "https://www.googleapis.com/compute/v1"
NET = f"{API}/projects/{PROJECT}/global/networks/bench-net"
TAGS = [f"coiled-c{i:04d}" for i in range(2000)]


def _rule(i: int, rnd: random.Random) -> dict[str, object]:
    deny = i % 8 == 0
    ports = rnd.choice([["22"], ["8786", "8787"], ["8000-8100"], ["443"], ["0-65535"], []])
    proto = rnd.choice(["tcp", "tcp", "tcp", "udp", "all", "icmp"]) if not ports else "tcp"
    entry: dict[str, object] = {"IPProtocol": proto}
    if ports and proto in ("tcp", "udp"):
        entry["ports"] = ports
    v6 = i % 10 == 0
    rule: dict[str, object] = {
        "kind": "compute#firewall", "id": str(10**18 + i), "name": f"rule-{i:06d}",
        "network": NET, "priority": rnd.randrange(0, 65536), "direction": "INGRESS",
        "disabled": i % 50 == 0, "description": f"bench rule {i}",
        ("denied" if deny else "allowed"): [entry],
        "sourceRanges": ([f"2001:db8:{i % 65536:x}::/48"] if v6 else
                         [rnd.choice(["0.0.0.0/0", f"10.{i % 256}.0.0/16", "203.0.113.0/24"])]),
        "selfLink": f"{API}/projects/{PROJECT}/global/firewalls/rule-{i:06d}",
    }
    if i % 97 == 0:
        rule["targetServiceAccounts"] = [f"sa-{i % 7}@{PROJECT}.iam.gserviceaccount.com"]
    else:
        rule["targetTags"] = [TAGS[i % len(TAGS)]]
    return rule


def _policy(name: str, kind: str, rnd: random.Random) -> dict[str, object]:
    rules = [{"priority": p, "action": rnd.choice(["allow", "deny", "goto_next"]), "direction": "INGRESS",
              "match": {"srcIpRanges": [f"198.51.{p % 256}.0/24"],
                        "layer4Configs": [{"ipProtocol": "tcp", "ports": [str(1000 + p)]}]}}
             for p in range(200)]
    return {"name": name, "shortName": name, "type": kind, "rules": rules}


def generate(folder: Path, n: int) -> list[Path]:
    rnd = random.Random(n)
    rules = [_rule(i, rnd) for i in range(n)]
    files = {
        "firewall-rules.json": rules,
        "subnets.json": [{"kind": "compute#subnetwork", "name": f"s{r}", "network": NET,
                          "ipCidrRange": f"10.{r}.0.0/20"} for r in range(20)],
        "networks.json": [{"kind": "compute#network", "name": "bench-net", "selfLink": NET,
                           "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL"}],
        "effective-firewalls-bench-net.json": {"firewalls": rules, "firewallPolicys": [
            _policy("org", "HIERARCHY", rnd), _policy("net", "NETWORK", rnd)]},
    }
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_text(json.dumps(data))
        paths.append(path)
    return paths


FLOOR = """
import json, sys, time
t = time.perf_counter()
for p in sys.argv[1:]:
    with open(p, "rb") as f: json.load(f)
print(time.perf_counter() - t)
"""
READ = """
import sys, time
from sgaudit.model import Matcher
from sgaudit.sources.snapshot import SnapshotSource
t = time.perf_counter()
snap = SnapshotSource(sys.argv[1:]).read(Matcher())
assert snap.gcp is not None and not snap.errors, snap.errors
print(time.perf_counter() - t)
"""
LIVE = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from gcp_fake import ComputeFake, TOKEN
folder = Path(sys.argv[2])
fake = ComputeFake(page_size=500)
state = fake.project("bench-project")
state.firewalls = json.loads((folder / "firewall-rules.json").read_text())
state.networks = json.loads((folder / "networks.json").read_text())
state.subnetworks = {"us-central1": json.loads((folder / "subnets.json").read_text())}
state.effective["bench-net"] = json.loads((folder / "effective-firewalls-bench-net.json").read_text())
state.instances = {"us-central1-a": []}
os.environ["CLOUDSDK_AUTH_ACCESS_TOKEN"] = TOKEN
from sgaudit.sources.gcp import GcpSource
t = time.perf_counter()
snap = GcpSource(["bench-project"], fake.url).read()
assert not snap.errors, snap.errors
print(time.perf_counter() - t, len(fake.requests))
fake.close()
"""


def run(code: str, *args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return out.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, action="append", help="rules (repeatable)")
    parser.add_argument("--live", action="store_true", help="also read them from the fake over HTTP")
    args = parser.parse_args()
    for n in args.n or [12_500, 25_000, 50_000]:
        with tempfile.TemporaryDirectory() as tmp:
            files = [str(p) for p in generate(Path(tmp), n)]
            floor = float(run(FLOOR, *files)[0])
            read = float(run(READ, *files)[0])
            line = (f"{n:>7,} rules / {len(TAGS):,} tags: json.load {floor:6.2f} s   "
                    f"sgaudit read {read:6.2f} s ({read / floor:4.1f}x, {read / n * 1e6:5.1f} us/rule)")
            if args.live:
                live, calls = run(LIVE, str(ROOT / "tests"), tmp)
                line += f"   live via fake {float(live):6.2f} s ({calls} calls)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
