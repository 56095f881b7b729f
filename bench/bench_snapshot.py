"""How fast is `sgaudit check` on a large snapshot, next to just parsing it?

Generates a snapshot of N groups in one of two shapes:
  - pooled (default): ~10 rules each, a realistic mix of compliant and drifted groups over a
    few VPCs; internal rules drawn from a pool of 500 office/VPN CIDRs, as a real
    organisation's are (per-state caches hit almost every time);
  - unique (``--unique``): the Coiled base rules plus 0-6 drifted rules per group, each from
    its own public /24 or /32 (no CIDR repeats anywhere), and a few groups with protocol -1,
    0.0.0.0/1 + 128.0.0.0/1 or ::/0 (caches cannot help);
then runs, each in a fresh process of this interpreter:
  - `json.load` of the file alone (the floor), and
  - `sgaudit check --format json -o out.json` on it,
and prints wall time, CPU time (user + system) and peak RSS of each, their ratios (medians of
``--repeat`` runs), and the growth of check's time from each size to the next (targets: <= 2x
load time, <= 1.5x load memory, <= 5.5x for 5x groups).  On a shared machine the CPU columns
are the steadier ones.

    python bench/bench_snapshot.py                 # pooled, N = 20,000 and 100,000
    python bench/bench_snapshot.py --unique -n 20000 -n 100000 --repeat 3
    python bench/bench_snapshot.py --both          # both shapes
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "111122223333"
VPCS = [("vpc-0c0ffee0000000001", "10.0.0.0/16"), ("vpc-0c0ffee0000000002", "10.20.0.0/16"),
        ("vpc-0c0ffee0000000003", "10.30.0.0/16"), ("vpc-0c0ffee0000000004", "172.20.0.0/16")]
#: the internal ranges a real organisation's rules name: many rules, few distinct CIDRs
OFFICE_CIDRS = [f"10.{a}.{b}.0/24" for a in range(100, 110) for b in range(0, 250, 5)]
CLUSTERS = ["prod-1", "etl", "analytics", "reporting", "scratch"]
POLICY = """\
backend_options: {enable_public_ssh: false}
clusters:
  - match: {tags: {coiled-cluster: etl}}
    backend_options: {disable_public_ingress: true}
  - match: {tags: {coiled-cluster: analytics}}
    backend_options: {firewall: {ports: [100, 9012, 465], cidr: 10.1.0.0/16}}
allow:
  - {protocol: tcp, ports: [443], source: 198.51.100.0/24}
  - {protocol: tcp, ports: [5432, 6379, 8000, 8080, 9090, 9100], source: 10.0.0.0/8}
"""


def _perm(proto: str, lo: int | None, hi: int | None, cidrs=(), v6=(), groups=(), desc=None):
    perm = {"IpProtocol": proto,
            "IpRanges": [{"CidrIp": c, **({"Description": desc} if desc else {})} for c in cidrs],
            "Ipv6Ranges": [{"CidrIpv6": c} for c in v6], "PrefixListIds": [],
            "UserIdGroupPairs": [{"GroupId": g, "UserId": ACCOUNT} for g in groups]}
    if lo is not None:
        perm["FromPort"], perm["ToPort"] = lo, hi
    return perm


def make_group(i: int, rng: random.Random) -> dict:
    gid = f"sg-{i:017x}"
    vpc_id, vpc_cidr = VPCS[i % len(VPCS)]
    cluster = CLUSTERS[i % len(CLUSTERS)]
    perms = [_perm("-1", None, None, groups=[gid])]
    if cluster == "etl":  # disable_public_ingress
        perms += [_perm("tcp", 22, 22, [vpc_cidr]), _perm("tcp", 8786, 8787, [vpc_cidr])]
    elif cluster == "analytics":  # firewall 10.1.0.0/16
        perms += [_perm("tcp", p, p, ["10.1.0.0/16"]) for p in (8786, 8787, 100, 9012, 465)]
    else:  # account level: ssh off
        perms += [_perm("tcp", 8786, 8786, ["0.0.0.0/0"]), _perm("tcp", 8787, 8787, ["0.0.0.0/0"]),
                  _perm("tcp", 22, 22, [vpc_cidr])]
    # a realistic tail: app ports from private ranges, monitoring, and some drift
    perms += [_perm("tcp", 9100, 9100, [f"10.{rng.randrange(40, 60)}.0.0/16"], desc="node exporter"),
              _perm("tcp", 443, 443, ["198.51.100.0/24"], desc="vendor VPN")]
    roll = rng.random()
    if roll < 0.05:
        perms.append(_perm("tcp", 22, 22, ["0.0.0.0/0", "10.0.0.0/16"], desc="temp debug"))
    elif roll < 0.08:
        perms.append(_perm("-1", None, None, ["0.0.0.0/0"]))
    elif roll < 0.12:
        perms.append(_perm("tcp", 8787, 8787, v6=["::/0"]))
    elif roll < 0.15 and len(perms) > 3:
        perms.pop(1)  # a deleted required rule
    while sum(len(p["IpRanges"]) + len(p["Ipv6Ranges"]) + len(p["UserIdGroupPairs"]) for p in perms) < 10:
        port = rng.choice((5432, 6379, 8000, 8080, 9090))
        perms.append(_perm("tcp", port, port, [rng.choice(OFFICE_CIDRS)]))
    tags = [{"Key": "owner", "Value": "coiled"}, {"Key": "coiled-cluster", "Value": cluster},
            {"Key": "Name", "Value": f"coiled-{cluster}-{i}"}]
    if i % 10 == 9:
        tags = [{"Key": "Name", "Value": f"app-{i}"}]  # not Coiled's: not selected
    return {"Description": f"Coiled security group {i}", "GroupName": f"coiled-{cluster}-{i}",
            "IpPermissions": perms, "OwnerId": ACCOUNT, "GroupId": gid,
            "IpPermissionsEgress": [_perm("-1", None, None, ["0.0.0.0/0"])], "Tags": tags,
            "VpcId": vpc_id}


def _unique_cidr(k: int, rng: random.Random) -> str:
    """The k-th distinct public CIDR: a /24 or a /32 inside 11.0.0.0-99.255.255.255 (no two
    k give overlapping ranges: each k owns its own /24)."""
    block = (11 << 16) + k  # a /24 number, from 11.0.0.0/24 upwards
    a, b, c = block >> 16, (block >> 8) & 255, block & 255
    if a == 100 or a >= 127:
        raise ValueError("too many unique CIDRs")
    return f"{a}.{b}.{c}.0/24" if rng.random() < 0.5 else f"{a}.{b}.{c}.{rng.randrange(1, 255)}/32"


def make_unique_group(i: int, rng: random.Random, counter: list[int]) -> dict:
    """Coiled's base rules (account level: ssh off) plus 0-6 drifted rules from unique CIDRs."""
    gid = f"sg-{i:017x}"
    vpc_id, vpc_cidr = VPCS[i % len(VPCS)]
    perms = [_perm("-1", None, None, groups=[gid]),
             _perm("tcp", 8786, 8786, ["0.0.0.0/0"]), _perm("tcp", 8787, 8787, ["0.0.0.0/0"]),
             _perm("tcp", 22, 22, [vpc_cidr])]
    for _ in range(rng.randrange(0, 7)):
        port = rng.choice((22, 80, 443, 3389, 5432, 6379, 8000, 8080, 8786, 9090))
        counter[0] += 1
        perms.append(_perm("tcp", port, port, [_unique_cidr(counter[0], rng)], desc="drift"))
    roll = rng.random()
    if roll < 0.01:
        perms.append(_perm("-1", None, None, [_unique_cidr(counter[0] + 1, rng)]))
        counter[0] += 1
    elif roll < 0.02:
        perms.append(_perm("tcp", 8000, 8001, ["0.0.0.0/1", "128.0.0.0/1"]))
    elif roll < 0.03:
        perms.append(_perm("tcp", 8787, 8787, v6=["::/0"]))
    elif roll < 0.04:
        perms.append(_perm("udp", 53, 53, v6=[f"2001:db8:{counter[0] & 0xffff:x}::/48"]))
        counter[0] += 1
    tags = [{"Key": "owner", "Value": "coiled"}, {"Key": "coiled-cluster", "Value": "prod-1"},
            {"Key": "Name", "Value": f"coiled-prod-{i}"}]
    return {"Description": f"Coiled security group {i}", "GroupName": f"coiled-prod-{i}",
            "IpPermissions": perms, "OwnerId": ACCOUNT, "GroupId": gid,
            "IpPermissionsEgress": [_perm("-1", None, None, ["0.0.0.0/0"])], "Tags": tags,
            "VpcId": vpc_id}


def make_snapshot(n: int, path: Path, seed: int = 7, unique: bool = False) -> None:
    rng = random.Random(seed)
    counter = [0]
    vpcs = [{"CidrBlock": cidr, "VpcId": vid, "OwnerId": ACCOUNT, "State": "available",
             "CidrBlockAssociationSet": [{"CidrBlock": cidr, "CidrBlockState": {"State": "associated"}}]}
            for vid, cidr in VPCS]
    with path.open("w") as handle:
        groups = [make_unique_group(i, rng, counter) if unique else make_group(i, rng)
                  for i in range(n)]
        json.dump({"SecurityGroups": groups, "Vpcs": vpcs}, handle)


def measure(code: str) -> tuple[float, float, int]:
    """Run ``code`` in a fresh interpreter; its own wall time, CPU time (user + system: less
    sensitive than wall time to other processes on a shared machine) and peak RSS (KiB)."""
    probe = (
        "import resource, time, sys\n"
        "def cpu():\n"
        "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    return r.ru_utime + r.ru_stime\n"
        "t0, c0 = time.perf_counter(), cpu()\n"
        f"{code}\n"
        "t1, c1 = time.perf_counter(), cpu()\n"
        "print(t1 - t0, c1 - c0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    last = done.stderr.strip().splitlines()[-1]
    seconds, cpu, rss = last.split()
    return float(seconds), float(cpu), int(rss)


def generate(n: int, path: Path, unique: bool) -> None:
    """Write the snapshot from a child process: Linux keeps a process's peak RSS across exec, so
    a measuring child forked from a parent that had held the generated groups would report the
    parent's peak instead of its own."""
    args = [sys.executable, __file__, "--write", str(n), str(path)] + (["--unique"] if unique else [])
    subprocess.run(args, check=True)


def run_shape(unique: bool, sizes: list[int], repeat: int, policy: Path, tmp: str) -> None:
    """Print one row per size (medians of ``repeat`` runs) and the growth between sizes."""
    print(f"shape: {'unique' if unique else 'pooled'}")
    print(f"{'groups':>8} {'file MB':>8} {'load s':>7} {'check s':>8} {'t ratio':>8} "
          f"{'load cpu':>9} {'check cpu':>9} {'cpu ratio':>9} "
          f"{'load MiB':>9} {'check MiB':>9} {'m ratio':>8}")
    times: list[tuple[int, float, float]] = []
    for n in sizes:
        path = Path(tmp) / f"snap-{n}.json"
        out = Path(tmp) / "out.json"
        generate(n, path, unique)
        loads, checks = [], []
        for _ in range(repeat):
            loads.append(measure(f"import json; json.load(open({str(path)!r}, 'rb'))"))
            checks.append(measure(
                "from sgaudit.cli import main\n"
                "try:\n"
                f"    main(['check', '-q', '--format', 'json', '-o', {str(out)!r}, "
                f"'--policy', {str(policy)!r}, '--snapshot', {str(path)!r}])\n"
                "except SystemExit:\n"
                "    pass\n"))
            if not out.read_bytes().startswith(b"{"):
                raise SystemExit("check wrote no JSON report")
        load_s, load_cpu, load_rss = (statistics.median(m[k] for m in loads) for k in range(3))
        check_s, check_cpu, check_rss = (statistics.median(m[k] for m in checks) for k in range(3))
        size_mb = path.stat().st_size / 1e6
        print(f"{n:>8} {size_mb:>8.1f} {load_s:>7.2f} {check_s:>8.2f} {check_s / load_s:>8.2f} "
              f"{load_cpu:>9.2f} {check_cpu:>9.2f} {check_cpu / load_cpu:>9.2f} "
              f"{load_rss / 1024:>9.0f} {check_rss / 1024:>9.0f} {check_rss / load_rss:>8.2f}",
              flush=True)
        times.append((n, check_s, check_cpu))
        path.unlink()
        out.unlink(missing_ok=True)
    for (n0, t0, c0), (n1, t1, c1) in pairwise(times):
        print(f"growth {n0} -> {n1} groups ({n1 / n0:.1f}x): check time {t1 / t0:.2f}x, "
              f"cpu {c1 / c0:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, action="append", help="groups (repeatable)")
    parser.add_argument("--unique", action="store_true", help="the unique shape (no repeated CIDRs)")
    parser.add_argument("--both", action="store_true", help="both shapes, pooled first")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; medians are printed")
    parser.add_argument("--write", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        make_snapshot(int(args.write[0]), Path(args.write[1]), unique=args.unique)
        return
    sizes = args.n or [20_000, 100_000]
    shapes = [False, True] if args.both else [args.unique]
    tmpdir = tempfile.mkdtemp()
    policy = Path(tmpdir) / "policy.yaml"
    policy.write_text(POLICY)
    idle = measure("pass")[2]
    print(f"interpreter baseline RSS: {idle / 1024:.0f} MiB; resource limit: "
          f"{resource.getrlimit(resource.RLIMIT_AS)}")
    with tempfile.TemporaryDirectory() as tmp:
        for unique in shapes:
            run_shape(unique, sizes, max(1, args.repeat), policy, tmp)


if __name__ == "__main__":
    main()
