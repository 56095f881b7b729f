"""How fast is a live `sgaudit check`, next to the bare AWS calls it cannot avoid?

Starts moto's server on 127.0.0.1 (a free port), creates N security groups in one region
(half tagged owner=coiled with Coiled's usual rules, half untagged, over 3 VPCs), then times,
REPEAT rounds, interleaved, taking the median of each:
  - floor: a fresh boto3 session and EC2 client, paginated DescribeSecurityGroups (1,000 a page,
    the same tag filter) and one DescribeVpcs for the selected groups' VPCs;
  - floor (calls only): the same two calls on an existing client;
  - `sgaudit check --format json` in-process (sgaudit.cli.main), with its API calls counted by
    botocore's before-call event;
  - `sgaudit check --format json` as a fresh process (adds interpreter start and imports);
  - `sgaudit check --format json --no-rule-ids` in-process: no DescribeSecurityGroupRules.
--drifted D gives D of the tagged groups an extra rule (RDP from anywhere): extra findings, whose
rule ids cost DescribeSecurityGroupRules calls, counted apart from the scan's own calls.
Nothing leaves 127.0.0.1: fake credentials, AWS_ENDPOINT_URL on moto, instance metadata off.

    python bench/bench_live.py            # N = 1,000
    python bench/bench_live.py -n 500 --repeat 7
    python bench/bench_live.py --drifted 370    # 370 of the 500 tagged groups with an extra rule
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
TAG_FILTER = [{"Name": "tag:owner", "Values": ["coiled"]}]


def isolate(endpoint: str, scratch: Path) -> None:
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_STS"):
        os.environ.pop(key, None)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, AWS_EC2_METADATA_DISABLED="true",
                      AWS_CONFIG_FILE=str(scratch / "absent-config"),
                      AWS_SHARED_CREDENTIALS_FILE=str(scratch / "absent-credentials"),
                      AWS_ENDPOINT_URL=endpoint)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RDP = {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
RULE_READS = "DescribeSecurityGroupRules"


def seed(client: Any, n: int, drifted: int = 0) -> None:
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


def floor(make_client: Callable[[], Any]) -> tuple[int, int]:
    """The unavoidable calls: every selected group, then its VPCs. Returns (groups, calls)."""
    ec2 = make_client()
    groups: list[dict[str, Any]] = []
    pages = 0
    for page in ec2.get_paginator("describe_security_groups").paginate(
            Filters=TAG_FILTER, PaginationConfig={"PageSize": 1000}):
        groups.extend(page["SecurityGroups"])
        pages += 1
    vpc_ids = sorted({g["VpcId"] for g in groups})
    ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": vpc_ids}])
    return len(groups), pages + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--groups", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--drifted", type=int, default=0,
                        help="tagged groups given an extra rule (default 0)")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    import boto3
    from moto.server import ThreadedMotoServer

    from sgaudit.cli import main as sgaudit_main
    from sgaudit.sources import aws

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        isolate(endpoint, Path(scratch))
        started = time.perf_counter()
        seed(boto3.client("ec2", region_name=REGION, endpoint_url=endpoint), args.groups, args.drifted)
        print(f"moto on {endpoint}: {args.groups} groups ({args.groups - args.groups // 2} tagged) "
              f"created in {time.perf_counter() - started:.1f}s")

        def fresh_client() -> Any:
            return boto3.Session().client("ec2", region_name=REGION, endpoint_url=endpoint)

        warm = fresh_client()
        floor(lambda: warm)  # warm moto's own caches before any timing
        out = Path(scratch) / "report.json"
        counter: Counter[str] = Counter()
        counters = {"check": counter, "no_ids": Counter[str]()}
        active = ["check"]

        def count(client: Any) -> None:
            client.meta.events.register("before-call.*.*",
                                        lambda model, **_: counters[active[0]].update([model.name]))

        aws.AwsSource = functools.partial(aws.AwsSource, client_hook=count)  # type: ignore[misc]
        argv = ["check", "-q", "--format", "json", "-o", str(out), "--regions", REGION]

        def in_process(extra: tuple[str, ...] = ()) -> None:
            active[0] = "no_ids" if extra else "check"
            try:
                sgaudit_main([*argv, *extra])
            except SystemExit as exc:
                assert exc.code == 0, exc.code

        def new_process() -> None:
            subprocess.run([sys.executable, "-m", "sgaudit", *argv], check=True, cwd=ROOT)

        # interleaved, so that a busy machine slows every contender alike
        runs = {"floor": lambda: floor(fresh_client), "calls": lambda: floor(lambda: warm),
                "check": in_process, "process": new_process,
                "no_ids": lambda: in_process(("--no-rule-ids",))}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, fn in runs.items():
                start = time.perf_counter()
                result = fn()
                times[name].append(time.perf_counter() - start)
                if name == "floor":
                    selected, floor_calls = result
        t_floor, t_calls, t_check, t_proc, t_no_ids = (statistics.median(times[n]) for n in runs)
        calls_per_run = {op: n // args.repeat for op, n in sorted(counter.items())}
        id_calls = calls_per_run.pop(RULE_READS, 0)
        no_ids_calls = {op: n // args.repeat for op, n in sorted(counters["no_ids"].items())}
        no_id_reads = no_ids_calls.pop(RULE_READS, 0)
        import json

        summary = json.loads(out.read_text())["summary"]
        audited = summary["groups"]
    server.stop()

    print(f"selected groups: floor {selected}, sgaudit {audited}; drifted (seeded) {args.drifted}")
    print(f"{'':44} {'median s':>9} {'x floor':>8}  API calls")
    print(f"{'floor: new client + DSG pages + DescribeVpcs':44} {t_floor:9.3f} {1:8.2f}  {floor_calls}")
    print(f"{'floor, calls only (existing client)':44} {t_calls:9.3f} {t_calls / t_floor:8.2f}  "
          f"{floor_calls}")
    print(f"{'sgaudit check (in-process)':44} {t_check:9.3f} {t_check / t_floor:8.2f}  "
          f"{sum(calls_per_run.values())} {calls_per_run} + rule ids: {id_calls}")
    print(f"{'sgaudit check (new process)':44} {t_proc:9.3f} {t_proc / t_floor:8.2f}")
    print(f"{'sgaudit check --no-rule-ids (in-process)':44} {t_no_ids:9.3f} {t_no_ids / t_floor:8.2f}  "
          f"{sum(no_ids_calls.values())} {no_ids_calls} + rule ids: {no_id_reads}")


if __name__ == "__main__":
    main()
