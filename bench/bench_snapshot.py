"""How fast is `sgaudit check` on a large snapshot, next to just parsing it?

Generates a snapshot of N groups in one of three shapes:
  - pooled (default): ~10 rules each, a realistic mix of compliant and drifted groups over a
    few VPCs; internal rules drawn from a pool of 500 office/VPN CIDRs, as a real
    organisation's are (per-state caches hit almost every time);
  - unique (``--shape unique`` or ``--unique``): the Coiled base rules plus 0-6 drifted rules
    per group, each from its own public /24 or /32 (no CIDR repeats anywhere), and a few groups
    with protocol -1, 0.0.0.0/1 + 128.0.0.0/1 or ::/0 (caches cannot help);
  - output-heavy (``--shape output-heavy``): Coiled's rules plus 10-30 drifted sources per
    group over tcp, udp, icmp and -1, port ranges and admin ports, in permissions whose sources
    overlap (a /16 with /24s and a /32 inside it and one of them twice, IPv4 beside IPv6, other
    groups, prefix lists, the VPC's own blocks), in one VPC per ten groups (hundreds to
    thousands, each with its own /20): the report is about four times the snapshot;
then runs, each in a fresh process of this interpreter:
  - `json.load` of the file alone (the floor), and
  - `sgaudit check --format json -o out.json` on it,
and prints wall time, CPU time (user + system) and peak RSS of each, their ratios (medians of
``--repeat`` runs), and the growth of check's time from each size to the next (targets: <= 2x
load time, <= 1.5x load memory, <= 5.5x for 5x groups).  For the output-heavy shape the floor
is `json.load` of the snapshot plus `json.dumps` of the report that check wrote (loaded, then
dumped and timed, in a fresh process), each part printed; memory is compared with `json.load`
of the snapshot alone (targets: <= 2x the floor's CPU time, <= 2x the memory, <= 5.5x for 5x
groups).  On a shared machine the CPU columns are the steadier ones.

    python bench/bench_snapshot.py                 # pooled, N = 20,000 and 100,000
    python bench/bench_snapshot.py --unique -n 20000 -n 100000 --repeat 3
    python bench/bench_snapshot.py --both          # pooled and unique
    python bench/bench_snapshot.py --shape output-heavy --repeat 3   # N = 4,000 and 20,000
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
SHAPES = ("pooled", "unique", "output-heavy")
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


#: admin and application ports an output-heavy fleet opens, and port ranges
HEAVY_PORTS = [(22, 22), (23, 23), (3389, 3389), (5985, 5986), (80, 80), (443, 443), (5432, 5432),
               (6379, 6379), (8786, 8787), (9090, 9100), (8000, 8999), (1024, 65535), (0, 65535)]
HEAVY_ICMP = [(-1, -1), (8, 0), (3, 4), (0, -1)]
#: descriptions people write, some not ASCII (the report escapes them)
HEAVY_NOTES = ["temp debug", "vendor access", "débogage – à retirer", "待删除", "on-call 🔥", None]
PREFIX_LISTS = 40


def heavy_vpcs(n: int) -> list[tuple[str, str, str | None]]:
    """One VPC per ten groups (400 at 4,000 groups, 2,000 at 20,000; at most 4,096), each with
    its own /20 inside 10.0.0.0/8 and every third with a secondary /24 in 172.16.0.0/12: a
    desired state per VPC, so per-VPC caches miss."""
    out = []
    for k in range(min(4096, max(1, n // 10))):
        primary = f"10.{k >> 4}.{(k & 15) << 4}.0/20"
        secondary = f"172.{16 + (k >> 8)}.{k & 255}.0/24" if k % 3 == 0 else None
        out.append((f"vpc-{k:017x}", primary, secondary))
    return out


def heavy_prefix_lists() -> list[dict]:
    """Managed prefix lists that drifted rules name, with their entries (public and private)."""
    return [{"PrefixListId": f"pl-{k:08x}",
             "Entries": [{"Cidr": f"{20 + k}.{j}.0.0/16"} for j in range(1 + k % 3)]
             + [{"Cidr": f"192.168.{k}.0/24"}]} for k in range(PREFIX_LISTS)]


def _public16(rng: random.Random) -> tuple[int, int]:
    return rng.randrange(11, 100), rng.randrange(256)


def _heavy_ports(rng: random.Random) -> tuple[str, int | None, int | None]:
    roll = rng.random()
    if roll < 0.08:
        return ("-1", None, None)
    if roll < 0.16:
        return ("icmp", *rng.choice(HEAVY_ICMP))
    return ("udp" if roll < 0.3 else "tcp", *rng.choice(HEAVY_PORTS))


def _overlapping_v4(rng: random.Random, a: int, b: int) -> list[str]:
    """A /16, /24s and a /32 inside it, and one of them twice."""
    inner = [f"{a}.{b}.{rng.randrange(256)}.0/24" for _ in range(rng.randrange(1, 4))]
    cidrs = [f"{a}.{b}.0.0/16", *inner, f"{a}.{b}.{rng.randrange(256)}.{rng.randrange(1, 255)}/32"]
    cidrs.append(rng.choice(cidrs))
    rng.shuffle(cidrs)
    return cidrs


def _heavy_sources(rng: random.Random, i: int, n: int, vpc: tuple[str, str, str | None]
                   ) -> tuple[list[str], list[str], list[str], list[str]]:
    """(IPv4, IPv6, group ids, prefix lists) of one drifted permission."""
    roll = rng.random()
    if roll < 0.35:  # public: a /16 and what lies inside it, maybe IPv6 beside
        v6 = []
        if rng.random() < 0.4:
            net = f"2001:db8:{rng.randrange(1 << 16):x}"
            v6 = [f"{net}::/48", f"{net}:{rng.randrange(1 << 16):x}::/64"]
        return _overlapping_v4(rng, *_public16(rng)), v6, [], []
    if roll < 0.6:  # around the VPC: its /16, itself, a /24 inside it, a secondary, a neighbour
        _, primary, secondary = vpc
        a, b, c = (int(x) for x in primary.split(".")[:3])
        cidrs = [f"{a}.{b}.0.0/16", primary, f"{a}.{b}.{c + rng.randrange(16)}.0/24",
                 f"{a}.{b}.{(c + 16 + rng.randrange(16)) & 255}.{rng.randrange(0, 256, 16)}/28"]
        if secondary:
            cidrs.append(secondary)
        return rng.sample(cidrs, rng.randrange(2, len(cidrs) + 1)), [], [], []
    if roll < 0.75:  # other groups and prefix lists
        groups = [f"sg-{rng.randrange(n):017x}" for _ in range(rng.randrange(1, 4))]
        return [], [], groups, [f"pl-{rng.randrange(PREFIX_LISTS):08x}"]
    if roll < 0.85:  # the world, whole or in halves
        return rng.choice([["0.0.0.0/0"], ["0.0.0.0/1", "128.0.0.0/1"], []]), ["::/0"], [], []
    # private space: an office /16 of 10/8 with /24s inside, and 192.168 ranges
    return [*_overlapping_v4(rng, 10, rng.randrange(100, 256)), "192.168.0.0/16"], [], [], []


def make_heavy_group(i: int, n: int, rng: random.Random,
                     vpcs: list[tuple[str, str, str | None]]) -> dict:
    """Coiled's rules for the group's cluster plus 10-30 drifted sources in permissions of
    every protocol whose sources overlap (a /16 with /24s inside, duplicates, IPv4 and IPv6,
    group references and prefix lists), in one of many VPCs."""
    gid = f"sg-{i:017x}"
    vpc = vpcs[rng.randrange(len(vpcs))]
    cluster = rng.choice(CLUSTERS)
    perms = [_perm("-1", None, None, groups=[gid])]
    if cluster == "etl":
        perms += [_perm("tcp", 22, 22, [vpc[1]]), _perm("tcp", 8786, 8787, [vpc[1]])]
    elif cluster == "analytics":
        perms += [_perm("tcp", p, p, ["10.1.0.0/16"]) for p in (8786, 8787, 100, 9012, 465)]
    else:
        perms += [_perm("tcp", 8786, 8787, ["0.0.0.0/0"]), _perm("tcp", 22, 22, [vpc[1]])]
    if rng.random() < 0.05:
        perms.pop(1)  # a deleted required rule
    target, drifted = rng.randrange(10, 31), 0
    while drifted < target:
        proto, lo, hi = _heavy_ports(rng)
        v4, v6, groups, lists = _heavy_sources(rng, i, n, vpc)
        perm = _perm(proto, lo, hi, v4, v6, groups)
        perm["PrefixListIds"] = [{"PrefixListId": p} for p in lists]
        for entry in (*perm["IpRanges"], *perm["Ipv6Ranges"], *perm["UserIdGroupPairs"]):
            note = rng.choice(HEAVY_NOTES) if rng.random() < 0.4 else None
            if note:
                entry["Description"] = note
        drifted += len(v4) + len(v6) + len(groups) + len(lists)
        perms.append(perm)
    tags = [{"Key": "owner", "Value": "coiled"}, {"Key": "coiled-cluster", "Value": cluster},
            {"Key": "Name", "Value": f"coiled-{cluster}-{i}"}]
    return {"Description": f"Coiled security group {i}", "GroupName": f"coiled-{cluster}-{i}",
            "IpPermissions": perms, "OwnerId": ACCOUNT, "GroupId": gid,
            "IpPermissionsEgress": [_perm("-1", None, None, ["0.0.0.0/0"])], "Tags": tags,
            "VpcId": vpc[0]}


def make_heavy_snapshot(n: int, path: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    vpcs = heavy_vpcs(n)
    raw_vpcs = []
    for vid, primary, secondary in vpcs:
        blocks = [{"CidrBlock": c, "CidrBlockState": {"State": "associated"}}
                  for c in (primary, secondary) if c]
        raw_vpcs.append({"CidrBlock": primary, "VpcId": vid, "OwnerId": ACCOUNT,
                         "State": "available", "CidrBlockAssociationSet": blocks})
    groups = [make_heavy_group(i, n, rng, vpcs) for i in range(n)]
    with path.open("w") as handle:
        json.dump({"SecurityGroups": groups, "Vpcs": raw_vpcs,
                   "PrefixLists": heavy_prefix_lists()}, handle)


def make_snapshot(n: int, path: Path, seed: int = 7, shape: str = "pooled") -> None:
    if shape == "output-heavy":
        make_heavy_snapshot(n, path, seed)
        return
    rng = random.Random(seed)
    counter = [0]
    vpcs = [{"CidrBlock": cidr, "VpcId": vid, "OwnerId": ACCOUNT, "State": "available",
             "CidrBlockAssociationSet": [{"CidrBlock": cidr, "CidrBlockState": {"State": "associated"}}]}
            for vid, cidr in VPCS]
    with path.open("w") as handle:
        groups = [make_unique_group(i, rng, counter) if shape == "unique" else make_group(i, rng)
                  for i in range(n)]
        json.dump({"SecurityGroups": groups, "Vpcs": vpcs}, handle)


def measure(code: str, setup: str = "") -> tuple[float, float, int]:
    """Run ``setup`` then ``code`` in a fresh interpreter; the wall time and CPU time (user +
    system: less sensitive than wall time to other processes on a shared machine) of ``code``
    alone, and the process's peak RSS (KiB)."""
    probe = (
        "import resource, time, sys\n"
        "def cpu():\n"
        "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    return r.ru_utime + r.ru_stime\n"
        f"{setup}\n"
        "t0, c0 = time.perf_counter(), cpu()\n"
        f"{code}\n"
        "t1, c1 = time.perf_counter(), cpu()\n"
        "print(t1 - t0, c1 - c0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    last = done.stderr.strip().splitlines()[-1]
    seconds, cpu, rss = last.split()
    return float(seconds), float(cpu), int(rss)


def generate(n: int, path: Path, shape: str) -> None:
    """Write the snapshot from a child process: Linux keeps a process's peak RSS across exec, so
    a measuring child forked from a parent that had held the generated groups would report the
    parent's peak instead of its own."""
    subprocess.run([sys.executable, __file__, "--write", str(n), str(path), "--shape", shape],
                   check=True)


def measure_check(path: Path, out: Path, policy: Path) -> tuple[float, float, int]:
    """``sgaudit check --format json -o out`` in a fresh interpreter."""
    measured = measure(
        "from sgaudit.cli import main\n"
        "try:\n"
        f"    main(['check', '-q', '--format', 'json', '-o', {str(out)!r}, "
        f"'--policy', {str(policy)!r}, '--snapshot', {str(path)!r}])\n"
        "except SystemExit:\n"
        "    pass\n")
    if not out.read_bytes().startswith(b"{"):
        raise SystemExit("check wrote no JSON report")
    return measured


def measure_load(path: Path) -> tuple[float, float, int]:
    return measure(f"import json; json.load(open({str(path)!r}, 'rb'))")  # the floor


def medians(runs: list[tuple[float, float, int]]) -> tuple[float, float, float]:
    return tuple(statistics.median(m[k] for m in runs) for k in range(3))  # type: ignore[return-value]


def run_shape(shape: str, sizes: list[int], repeat: int, policy: Path, tmp: str) -> None:
    """Print one row per size (medians of ``repeat`` runs) and the growth between sizes."""
    print(f"shape: {shape}")
    print(f"{'groups':>8} {'file MB':>8} {'load s':>7} {'check s':>8} {'t ratio':>8} "
          f"{'load cpu':>9} {'check cpu':>9} {'cpu ratio':>9} "
          f"{'load MiB':>9} {'check MiB':>9} {'m ratio':>8}")
    times: list[tuple[int, float, float]] = []
    for n in sizes:
        path = Path(tmp) / f"snap-{n}.json"
        out = Path(tmp) / "out.json"
        generate(n, path, shape)
        loads, checks = [], []
        for _ in range(repeat):
            loads.append(measure_load(path))
            checks.append(measure_check(path, out, policy))
        load_s, load_cpu, load_rss = medians(loads)
        check_s, check_cpu, check_rss = medians(checks)
        size_mb = path.stat().st_size / 1e6
        print(f"{n:>8} {size_mb:>8.1f} {load_s:>7.2f} {check_s:>8.2f} {check_s / load_s:>8.2f} "
              f"{load_cpu:>9.2f} {check_cpu:>9.2f} {check_cpu / load_cpu:>9.2f} "
              f"{load_rss / 1024:>9.0f} {check_rss / 1024:>9.0f} {check_rss / load_rss:>8.2f}",
              flush=True)
        times.append((n, check_s, check_cpu))
        path.unlink()
        out.unlink(missing_ok=True)
    print_growth(times)


def print_growth(times: list[tuple[int, float, float]]) -> None:
    for (n0, t0, c0), (n1, t1, c1) in pairwise(times):
        print(f"growth {n0} -> {n1} groups ({n1 / n0:.1f}x): check time {t1 / t0:.2f}x, "
              f"cpu {c1 / c0:.2f}x")


def run_heavy(sizes: list[int], repeat: int, policy: Path, tmp: str) -> None:
    """The output-heavy shape against its I/O floor: ``json.load`` of the snapshot plus
    ``json.dumps`` of the report that ``check -o`` wrote (loaded, then dumped and timed, in a
    fresh process); memory against ``json.load`` of the snapshot alone."""
    print("shape: output-heavy (floor = json.load(snapshot) + json.dumps(report); medians)")
    print(f"{'groups':>7} {'snap MB':>7} {'rep MB':>7} {'findings':>8} | {'load':>5} {'dumps':>5} "
          f"{'floor':>5} {'check':>5} {'ratio':>5} | {'floor':>5} {'check':>5} {'ratio':>5} | "
          f"{'load':>5} {'check':>5} {'ratio':>5}")
    print(f"{'':>7} {'':>7} {'':>7} {'':>8} | {'CPU seconds':^29} | {'wall seconds':^17} | "
          f"{'peak RSS MiB':^17}")
    times: list[tuple[int, float, float]] = []
    for n in sizes:
        path, out = Path(tmp) / f"snap-{n}.json", Path(tmp) / "out.json"
        generate(n, path, "output-heavy")
        loads, dumps, checks = [], [], []
        for _ in range(repeat):
            loads.append(measure_load(path))
            checks.append(measure_check(path, out, policy))
            dumps.append(measure("json.dumps(report)",
                                 f"import json; report = json.load(open({str(out)!r}, 'rb'))"))
        (load_s, load_cpu, load_rss), (dump_s, dump_cpu, _) = medians(loads), medians(dumps)
        check_s, check_cpu, check_rss = medians(checks)
        floor_s, floor_cpu = load_s + dump_s, load_cpu + dump_cpu
        findings = len(json.loads(out.read_bytes())["findings"])
        print(f"{n:>7} {path.stat().st_size / 1e6:>7.1f} {out.stat().st_size / 1e6:>7.1f} "
              f"{findings:>8} | {load_cpu:>5.2f} {dump_cpu:>5.2f} {floor_cpu:>5.2f} {check_cpu:>5.2f} "
              f"{check_cpu / floor_cpu:>5.2f} | {floor_s:>5.2f} {check_s:>5.2f} "
              f"{check_s / floor_s:>5.2f} | {load_rss / 1024:>5.0f} {check_rss / 1024:>5.0f} "
              f"{check_rss / load_rss:>5.2f}", flush=True)
        times.append((n, check_s, check_cpu))
        path.unlink()
        out.unlink(missing_ok=True)
    print_growth(times)
    print("targets: CPU ratio <= 2, memory ratio <= 2, growth <= 5.5x for 5x groups")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, action="append", help="groups (repeatable)")
    parser.add_argument("--shape", choices=SHAPES, default="pooled", help="the snapshot's shape")
    parser.add_argument("--unique", action="store_true", help="the unique shape (--shape unique)")
    parser.add_argument("--both", action="store_true", help="pooled and unique, pooled first")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; medians are printed")
    parser.add_argument("--write", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = "unique" if args.unique else args.shape
    if args.write:
        make_snapshot(int(args.write[0]), Path(args.write[1]), shape=shape)
        return
    default = [4_000, 20_000] if shape == "output-heavy" else [20_000, 100_000]
    sizes = args.n or default
    shapes = ["pooled", "unique"] if args.both else [shape]
    tmpdir = tempfile.mkdtemp()
    policy = Path(tmpdir) / "policy.yaml"
    policy.write_text(POLICY)
    idle = measure("pass")[2]
    print(f"interpreter baseline RSS: {idle / 1024:.0f} MiB; resource limit: "
          f"{resource.getrlimit(resource.RLIMIT_AS)}")
    with tempfile.TemporaryDirectory() as tmp:
        for each in shapes:
            if each == "output-heavy":
                run_heavy(sizes, max(1, args.repeat), policy, tmp)
            else:
                run_shape(each, sizes, max(1, args.repeat), policy, tmp)


if __name__ == "__main__":
    main()
