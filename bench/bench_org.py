"""What does `sgaudit check --org-role` cost, next to the bare AWS calls it cannot avoid?

Starts moto's server as its own process on 127.0.0.1 (a free port), creates an organization of
A accounts (the management account and A-1 members), and in each account R regions with a VPC
and G security groups tagged owner=coiled (in about one account/region in ten, one group has an
extra rdp-from-the-world rule).  Then, each as a fresh process so that peak memory is its own (ru_maxrss):
  - floor: ListAccounts, then with the same thread pool (--max-workers) AssumeRole per account
    and DescribeSecurityGroups + DescribeVpcs per account and region, made bare with boto3;
  - `sgaudit check --org-role ... --format json -o FILE` with its API calls counted by
    botocore's before-call event.
Printed: wall time, API calls by operation, peak RSS, and the ratio to the floor.  With
--also A2 the same at a second organization size (memory flat in the number of accounts?).
moto answers in a few ms from one process, so concurrency barely matters against it; --latency MS
adds that much wait to every call in both contenders (botocore's before-send event, sleeping in
the calling thread), as AWS's round trips do, so a --workers sweep shows what threads buy.
Nothing leaves 127.0.0.1: fake credentials, AWS_ENDPOINT_URL on moto, instance metadata off.

    python bench/bench_org.py                          # 200 accounts x 4 regions x 20 groups
    python bench/bench_org.py --accounts 50 --also 200
    python bench/bench_org.py --workers 4,8,16,32 --latency 100    # a --max-workers sweep
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # moto_support
ROLE = "sgaudit-read"
REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1", "eu-central-1", "sa-east-1")
TAG_FILTER = [{"Name": "tag:owner", "Values": ["coiled"]}]


def isolate(endpoint: str, scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") or k in ("AWS_ACCESS_KEY_ID",)}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(scratch / "absent-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(scratch / "absent-credentials"),
               AWS_ENDPOINT_URL=endpoint, PYTHONPATH=str(ROOT))
    return env


# -- seeding --------------------------------------------------------------------------------

def seed(endpoint: str, accounts: int, regions: tuple[str, ...], groups: int) -> list[str]:
    import boto3

    orgs = boto3.client("organizations", region_name="us-east-1", endpoint_url=endpoint)
    with contextlib.suppress(orgs.exceptions.AlreadyInOrganizationException):
        orgs.create_organization(FeatureSet="ALL")
    have = [a["Id"] for page in orgs.get_paginator("list_accounts").paginate() for a in page["Accounts"]]
    for i in range(len(have), accounts):
        orgs.create_account(AccountName=f"team-{i}", Email=f"team-{i}@example.com")
    ids = [a["Id"] for page in orgs.get_paginator("list_accounts").paginate() for a in page["Accounts"]]
    lock = threading.Lock()
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint)

    def fill(job: tuple[str, str]) -> None:
        account, region = job
        with lock:
            raw = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}",
                                  RoleSessionName="seed")["Credentials"]
            ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint,
                               aws_access_key_id=raw["AccessKeyId"],
                               aws_secret_access_key=raw["SecretAccessKey"],
                               aws_session_token=raw["SessionToken"])
        if ec2.describe_security_groups(Filters=TAG_FILTER)["SecurityGroups"]:
            return  # seeded by an earlier, smaller run
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        tags = [{"ResourceType": "security-group", "Tags": [{"Key": "owner", "Value": "coiled"}]}]
        for g in range(groups):
            gid = ec2.create_security_group(GroupName=f"coiled-{g}", Description="bench", VpcId=vpc,
                                            TagSpecifications=tags)["GroupId"]
            world = [{"CidrIp": "0.0.0.0/0"}]
            perms = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": world},
                     {"IpProtocol": "tcp", "FromPort": 8786, "ToPort": 8787, "IpRanges": world}]
            if g == 0 and zlib.crc32(f"{account}/{region}".encode()) % 10 == 0:  # ~1 place in 10
                perms.append({"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389,
                              "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(fill, [(a, r) for a in ids for r in regions]))
    return ids


# -- the contenders, each run as a child process ---------------------------------------------

def add_latency(client: Any, seconds: float) -> None:
    """Every request waits ``seconds`` before it goes out (a round trip to a distant region)."""
    if seconds > 0:
        client.meta.events.register("before-send.*.*", lambda **_: time.sleep(seconds))


def child_floor(workers: int, regions: tuple[str, ...], latency: float) -> dict[str, Any]:
    """The bare calls, with the same pool size: AssumeRole per account, then DSG + DescribeVpcs
    per account and region (clients made under a lock: boto3 sessions are not thread-safe)."""
    import boto3

    calls: Counter[str] = Counter()
    lock = threading.Lock()
    session = boto3.Session()

    def client(service: str, region: str, **keys: str) -> Any:
        with lock:
            made = session.client(service, region_name=region, **keys)
        made.meta.events.register("before-call.*.*", lambda model, **_: _count(calls, lock, model.name))
        add_latency(made, latency)
        return made

    orgs = client("organizations", "us-east-1")
    accounts = [a["Id"] for p in orgs.get_paginator("list_accounts").paginate() for a in p["Accounts"]]
    sts = client("sts", "us-east-1")

    def assume(account: str) -> dict[str, str]:
        raw = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}",
                              RoleSessionName="floor")["Credentials"]
        return {"aws_access_key_id": raw["AccessKeyId"], "aws_secret_access_key": raw["SecretAccessKey"],
                "aws_session_token": raw["SessionToken"]}

    def region_scan(job: tuple[dict[str, str], str]) -> int:
        keys, region = job
        ec2 = client("ec2", region, **keys)
        groups = [g for p in ec2.get_paginator("describe_security_groups").paginate(
            Filters=TAG_FILTER, PaginationConfig={"PageSize": 1000}) for g in p["SecurityGroups"]]
        ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": sorted({g["VpcId"] for g in groups})}])
        return len(groups)

    with ThreadPoolExecutor(workers) as pool:
        creds = list(pool.map(assume, accounts))
        groups = sum(pool.map(region_scan, [(c, r) for c in creds for r in regions]))
    return {"calls": dict(calls), "groups": groups}


def _count(calls: Counter[str], lock: threading.Lock, name: str) -> None:
    with lock:
        calls[name] += 1


def child_check(workers: int, regions: tuple[str, ...], out: str, latency: float) -> dict[str, Any]:
    import functools

    from sgaudit.cli import main as sgaudit_main
    from sgaudit.sources import aws

    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def hook(client: Any) -> None:
        client.meta.events.register("before-call.*.*", lambda model, **_: _count(calls, lock, model.name))
        add_latency(client, latency)

    aws.AwsSource = functools.partial(aws.AwsSource, client_hook=hook)  # type: ignore[misc]
    try:
        sgaudit_main(["check", "-q", "--org-role", ROLE, "--regions", ",".join(regions), "--format",
                      "json", "-o", out, "--max-workers", str(workers)])
    except SystemExit as exc:
        code = exc.code
    doc = json.loads(Path(out).read_text())
    return {"calls": dict(calls), "groups": doc["summary"]["groups"], "code": code,
            "findings": len(doc["findings"]), "accounts": doc.get("accounts", {}).get("read")}


def run_child(kind: str, env: dict[str, str], workers: int, regions: tuple[str, ...],
              out: str, latency: float) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--workers", str(workers),
                           "--regions", str(len(regions)), "--out", out, "--latency", str(latency)],
                          env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def child_main(args: argparse.Namespace) -> None:
    regions = REGIONS[:args.regions]
    workers = int(args.workers)
    latency = args.latency / 1000
    result = (child_floor(workers, regions, latency) if args.child == "floor"
              else child_check(workers, regions, args.out, latency))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["maxrss_mb"] = usage.ru_maxrss / 1024
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result))


# -- the parent ---------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--also", type=int, default=0, help="a second organization size")
    parser.add_argument("--regions", type=int, default=4)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--workers", default="16", help="--max-workers; a comma list sweeps")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="ms added to every call")
    parser.add_argument("--child", choices=("floor", "check"))
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    regions = REGIONS[:args.regions]
    sizes = sorted({args.accounts, *([args.also] if args.also else [])})
    from moto_support import moto_process

    proc, endpoint = moto_process()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            env = isolate(endpoint, Path(scratch))
            os.environ.update(env)
            out = str(Path(scratch) / "report.json")
            for size in sizes:
                started = time.perf_counter()
                seed(endpoint, size, regions, args.groups)
                print(f"\norganization of {size} accounts x {len(regions)} regions x {args.groups} "
                      f"groups seeded on moto ({endpoint}) in {time.perf_counter() - started:.0f}s"
                      + (f"; {args.latency:g} ms added to every call" if args.latency else ""))
                for workers in (int(w) for w in args.workers.split(",")):
                    report(size, workers, [(run_child("floor", env, workers, regions, out, args.latency),
                                            run_child("check", env, workers, regions, out, args.latency))
                                           for _ in range(args.repeat)])
    finally:
        proc.terminate()
        proc.wait()


def report(size: int, workers: int, rounds: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    floor = min((r[0] for r in rounds), key=lambda r: r["wall"])
    check = min((r[1] for r in rounds), key=lambda r: r["wall"])
    print(f"  --max-workers {workers}: best of {len(rounds)}")
    print(f"    {'':10} {'wall s':>8} {'x floor':>8} {'peak MB':>8} {'CPU s':>6} {'calls':>6}  by operation")
    for name, r in (("floor", floor), ("sgaudit", check)):
        print(f"    {name:10} {r['wall']:8.2f} {r['wall'] / floor['wall']:8.2f} {r['maxrss_mb']:8.1f} "
              f"{r['cpu_s']:6.1f} {sum(r['calls'].values()):6}  {dict(sorted(r['calls'].items()))}")
    print(f"    groups: floor {floor['groups']}, sgaudit {check['groups']} (exit {check['code']}, "
          f"{check['findings']} findings, {check['accounts']} accounts read)")
    for name, r in (("floor", floor), ("sgaudit", check)):
        n = sum(r["calls"].values())
        print(f"    per call, {name}: {r['wall'] / n * 1000:.2f} ms wall, "
              f"{r['cpu_s'] / n * 1000:.2f} ms of the client's CPU (imports included)")


if __name__ == "__main__":
    main()
