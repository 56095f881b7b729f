"""How fast is `sgaudit check` on a large snapshot, next to just parsing it?

Generates a snapshot of N groups (~10 rules each, a realistic mix of compliant and drifted
groups over a few VPCs; internal rules drawn from a pool of 500 office/VPN CIDRs, as a real
organisation's are), then runs, each in a fresh process of this interpreter:
  - `json.load` of the file alone (the floor), and
  - `sgaudit check --format json` on it (policy: fixtures/policy.yaml),
and prints wall time and peak RSS of each, and their ratios.

    python bench/bench_snapshot.py                 # N = 10,000, 30,000, 100,000
    python bench/bench_snapshot.py -n 20000 -n 40000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
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


def make_snapshot(n: int, path: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    vpcs = [{"CidrBlock": cidr, "VpcId": vid, "OwnerId": ACCOUNT, "State": "available",
             "CidrBlockAssociationSet": [{"CidrBlock": cidr, "CidrBlockState": {"State": "associated"}}]}
            for vid, cidr in VPCS]
    with path.open("w") as handle:
        json.dump({"SecurityGroups": [make_group(i, rng) for i in range(n)], "Vpcs": vpcs}, handle)


def measure(code: str) -> tuple[float, int]:
    """Run ``code`` in a fresh interpreter; its own wall time and peak RSS (KiB)."""
    probe = (
        "import resource, time, sys\n"
        "t0 = time.perf_counter()\n"
        f"{code}\n"
        "t1 = time.perf_counter()\n"
        "print(t1 - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    last = done.stderr.strip().splitlines()[-1]
    seconds, rss = last.split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, action="append", help="groups (repeatable)")
    args = parser.parse_args()
    sizes = args.n or [10_000, 30_000, 100_000]
    tmpdir = tempfile.mkdtemp()
    policy = Path(tmpdir) / "policy.yaml"
    policy.write_text(POLICY)
    idle = measure("pass")[1]
    print(f"interpreter baseline RSS: {idle / 1024:.0f} MiB; resource limit: "
          f"{resource.getrlimit(resource.RLIMIT_AS)}")
    print(f"{'groups':>8} {'file MB':>8} {'load s':>8} {'check s':>8} {'t ratio':>8} "
          f"{'load MiB':>9} {'check MiB':>9} {'m ratio':>8} {'us/group':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"snap-{n}.json"
            make_snapshot(n, path)
            load_s, load_rss = measure(f"import json; json.load(open({str(path)!r}, 'rb'))")
            check_s, check_rss = measure(
                "import io, contextlib\n"
                "from sgaudit.cli import main\n"
                "out = io.StringIO()\n"
                "try:\n"
                "    with contextlib.redirect_stdout(out):\n"
                f"        main(['check', '-q', '--format', 'json', '--policy', {str(policy)!r}, "
                f"'--snapshot', {str(path)!r}])\n"
                "except SystemExit:\n"
                "    pass\n"
                "assert out.getvalue().startswith('{')")
            size_mb = path.stat().st_size / 1e6
            print(f"{n:>8} {size_mb:>8.1f} {load_s:>8.2f} {check_s:>8.2f} {check_s / load_s:>8.2f} "
                  f"{load_rss / 1024:>9.0f} {check_rss / 1024:>9.0f} {check_rss / load_rss:>8.2f} "
                  f"{check_s / n * 1e6:>9.1f}")
            path.unlink()


if __name__ == "__main__":
    main()
