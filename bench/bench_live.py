"""How fast is a live `sgaudit check`, next to the bare AWS calls it cannot avoid?

Starts moto's server as its own process on 127.0.0.1 (a free port), creates N security groups in
each of R regions (half tagged owner=coiled with Coiled's usual rules, half untagged, over 3 VPCs),
then times, REPEAT rounds, interleaved, taking the median of each:
  - floor: a fresh boto3 session, and in every region concurrently a new EC2 client, paginated
    DescribeSecurityGroups (1,000 a page, the same tag filter) and one DescribeVpcs for the
    selected groups' VPCs;
  - `sgaudit check` in-process (sgaudit.cli.main) as `--format table` (shows no rule ids),
    `--format json` and `--format json --no-rule-ids`, with its API calls counted by botocore's
    before-call event;
  - `sgaudit check --format json` as a fresh process (adds interpreter start and imports;
    not with --latency).
--drifted D gives D of the tagged groups of each region an extra rule (RDP from anywhere): extra
findings, whose rule ids cost DescribeSecurityGroupRules calls, counted apart from the scan's.
--latency MS adds that much wait to every call of the floor and of the in-process checks (a
round trip to AWS; moto answers in a few ms).  The sgaudit measured is the one Python imports:
PYTHONPATH=<another checkout> measures that one (before and after a change, with this bench).
Nothing leaves 127.0.0.1: fake credentials, AWS_ENDPOINT_URL on moto, instance metadata off.

    python bench/bench_live.py            # N = 1,000, one region
    python bench/bench_live.py -n 500 --repeat 7
    python bench/bench_live.py --drifted 370 --regions 4 --latency 50
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # moto_support

REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1", "eu-central-1", "sa-east-1")
TAG_FILTER = [{"Name": "tag:owner", "Values": ["coiled"]}]
RDP = {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
RULE_READS = "DescribeSecurityGroupRules"


def isolate(endpoint: str, scratch: Path) -> None:
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_STS"):
        os.environ.pop(key, None)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION=REGIONS[0], AWS_REGION=REGIONS[0],
                      AWS_EC2_METADATA_DISABLED="true",
                      AWS_CONFIG_FILE=str(scratch / "absent-config"),
                      AWS_SHARED_CREDENTIALS_FILE=str(scratch / "absent-credentials"),
                      AWS_ENDPOINT_URL=endpoint)


def seed(client: Any, n: int, drifted: int = 0) -> None:
    if client.describe_security_groups(Filters=TAG_FILTER, MaxResults=5)["SecurityGroups"]:
        return  # seeded by an earlier run on the same --endpoint
    vpcs = [client.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"] for i in range(3)]
    coiled = [{"ResourceType": "security-group", "Tags": [{"Key": "owner", "Value": "coiled"},
                                                          {"Key": "coiled-cluster", "Value": "x"}]}]
    for i in range(n):
        tagged = i % 2 == 0
        group_id = client.create_security_group(
            GroupName=f"{'coiled' if tagged else 'other'}-{i}", Description="bench",
            VpcId=vpcs[i % 3], TagSpecifications=coiled if tagged else [])["GroupId"]
        rules = [{"IpProtocol": "tcp", "FromPort": 8786, "ToPort": 8787,
                  "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                 {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                  "IpRanges": [{"CidrIp": "0.0.0.0/0" if i % 10 else "10.0.0.0/8"}]}]
        if tagged and i // 2 < drifted:
            rules.append(RDP)
        client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=rules)


def add_latency(client: Any, seconds: float) -> None:
    """Every request waits ``seconds`` before it goes out (a round trip to AWS)."""
    if seconds > 0:
        client.meta.events.register("before-send.*.*", lambda **_: time.sleep(seconds))


def floor(regions: tuple[str, ...], latency: float) -> tuple[int, int]:
    """The unavoidable calls, every region at once: its selected groups, then their VPCs.
    Returns (groups, calls)."""
    import boto3

    session = boto3.Session()
    lock = threading.Lock()  # a boto3 session makes clients one at a time

    def region_scan(region: str) -> tuple[int, int]:
        with lock:
            ec2 = session.client("ec2", region_name=region)
        add_latency(ec2, latency)
        groups: list[dict[str, Any]] = []
        pages = 0
        for page in ec2.get_paginator("describe_security_groups").paginate(
                Filters=TAG_FILTER, PaginationConfig={"PageSize": 1000}):
            groups.extend(page["SecurityGroups"])
            pages += 1
        ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": sorted({g["VpcId"] for g in groups})}])
        return len(groups), pages + 1

    with ThreadPoolExecutor(len(regions)) as pool:
        done = list(pool.map(region_scan, regions))
    return sum(g for g, _ in done), sum(c for _, c in done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--groups", type=int, default=1000, help="groups per region")
    parser.add_argument("--regions", type=int, default=1, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--drifted", type=int, default=0,
                        help="tagged groups of each region given an extra rule (default 0)")
    parser.add_argument("--latency", type=float, default=0.0, help="ms added to every call")
    parser.add_argument("--endpoint", metavar="URL",
                        help="a moto server already running on 127.0.0.1 (seeded once: regions "
                             "holding tagged groups are left as they are)")
    args = parser.parse_args()
    regions = REGIONS[:args.regions]
    latency = args.latency / 1000

    import boto3
    from moto_support import moto_process

    import sgaudit
    from sgaudit.cli import main as sgaudit_main
    from sgaudit.sources import aws

    if args.endpoint and not args.endpoint.startswith("http://127.0.0.1:"):
        raise SystemExit("--endpoint: a moto server on http://127.0.0.1:PORT only")
    proc, endpoint = (None, args.endpoint) if args.endpoint else moto_process()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            isolate(endpoint, Path(scratch))
            started = time.perf_counter()
            with ThreadPoolExecutor(len(regions)) as pool:
                list(pool.map(lambda r: seed(boto3.client("ec2", region_name=r), args.groups,
                                             args.drifted), regions))
            print(f"sgaudit from {Path(sgaudit.__file__).parent}")
            print(f"moto on {endpoint}: {args.groups} groups ({args.groups - args.groups // 2} tagged,"
                  f" {args.drifted} of them drifted) in each of {len(regions)} region(s), created in "
                  f"{time.perf_counter() - started:.1f}s"
                  + (f"; {args.latency:g} ms added to every call" if args.latency else ""))
            floor(regions, 0.0)  # warm moto's own caches before any timing
            results = bench(args.repeat, regions, latency, Path(scratch), sgaudit_main, aws)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
    print_table(results)


#: in-process contenders: name -> sgaudit check arguments beyond the common ones
CHECKS = {"table": ("--format", "table"), "json": ("--format", "json"),
          "json --no-rule-ids": ("--format", "json", "--no-rule-ids")}


def bench(repeat: int, regions: tuple[str, ...], latency: float, scratch: Path,
          sgaudit_main: Callable[[list[str]], Any], aws: Any) -> dict[str, Any]:
    out = scratch / "report"
    counters: dict[str, Counter[str]] = {name: Counter() for name in CHECKS}
    lock = threading.Lock()
    active = [""]

    def hook(client: Any) -> None:
        def count(model: Any, **_: Any) -> None:
            with lock:
                counters[active[0]][model.name] += 1

        client.meta.events.register("before-call.*.*", count)
        add_latency(client, latency)

    aws.AwsSource = functools.partial(aws.AwsSource, client_hook=hook)
    common = ["check", "-q", "-o", str(out), "--regions", ",".join(regions)]

    def in_process(name: str) -> None:
        active[0] = name
        try:
            sgaudit_main([*common, *CHECKS[name]])
        except SystemExit as exc:
            assert exc.code == 0, exc.code

    def new_process() -> None:
        import sgaudit

        subprocess.run([sys.executable, "-m", "sgaudit", *common, "--format", "json"], check=True,
                       cwd=Path(sgaudit.__file__).parent.parent)

    runs: dict[str, Callable[[], Any]] = {"floor": lambda: floor(regions, latency)}
    runs.update({name: functools.partial(in_process, name) for name in CHECKS})
    if not latency:  # the hook that adds it cannot reach into another process
        runs["json (new process)"] = new_process
    times, (selected, floor_calls), doc = rounds(runs, repeat, out)
    extras = [f for f in doc["findings"] if f["kind"] == "extra"]
    return {"times": times,
            "calls": {n: {op: k // repeat for op, k in c.items()} for n, c in counters.items()},
            "floor_calls": floor_calls, "selected": selected, "audited": doc["summary"]["groups"],
            "extras": len(extras), "with_ids": sum(1 for f in extras if f["rule_ids"]),
            "repeat": repeat}


def rounds(runs: dict[str, Callable[[], Any]], repeat: int,
           out: Path) -> tuple[dict[str, float], Any, dict[str, Any]]:
    """Median seconds of each run, the floor's (groups, calls) and the json run's report."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):  # interleaved, so that a busy machine slows every contender alike
        for name, fn in runs.items():
            start = time.perf_counter()
            result = fn()
            times[name].append(time.perf_counter() - start)
            if name == "floor":
                floor_result = result
            if name == "json":
                doc = json.loads(out.read_text())
    return {n: statistics.median(t) for n, t in times.items()}, floor_result, doc


def print_table(results: dict[str, Any]) -> None:
    times, t_floor = results["times"], results["times"]["floor"]
    print(f"selected groups: floor {results['selected']}, sgaudit {results['audited']}; extra "
          f"findings {results['extras']}, {results['with_ids']} with rule ids (json)")
    print(f"{'medians of ' + str(results['repeat']):30} {'s':>8} {'x floor':>8}  API calls")
    for name, seconds in times.items():
        calls = results["calls"].get(name)
        if name == "floor":
            shown = str(results["floor_calls"])
        elif calls is None:
            shown = "as json"
        else:
            ids = calls.get(RULE_READS, 0)
            shown = f"{sum(calls.values()) - ids} + {ids} {RULE_READS}"
        print(f"{name:30} {seconds:8.3f} {seconds / t_floor:8.2f}  {shown}")


if __name__ == "__main__":
    main()
