"""What does `check --fix` cost, next to the work it cannot avoid?

1. The pure plan (sgaudit.remediate.aws.plan_fix) for N drifted groups, in memory: the engine's share.
2. A live fix against moto on 127.0.0.1 (real HTTP): G drifted groups, each needing
   authorize x4 + revoke (all traffic from the world, with public ssh off: tcp 8786 and 8787
   restored, the parts of the rule the options permit kept - ssh from the VPC, traffic from
   the group itself - then the rule revoked), timed end to end
   (`sgaudit check --fix --yes`) next to the floor: the scan alone (`sgaudit check`) plus the
   bare API calls the fix must make (one DescribeSecurityGroupRules per group, the changes,
   one DescribeSecurityGroupRules per group to verify) issued directly with boto3.
Also the API calls per group the fix made (counted by a loopback proxy).

    python bench/bench_fix.py            # N = 1,000 / 10,000; G = 20
    python bench/bench_fix.py -g 50
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

WORLD = "0.0.0.0/0"
ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def bench_plan(n: int) -> float:
    from sgaudit.engine.diff import Differ
    from sgaudit.engine.resolve import resolve
    from sgaudit.model import Group, GroupResult, Rule, Vpc
    from sgaudit.policy.options import Where, collect
    from sgaudit.remediate import aws as fixaws

    vpc = Vpc("vpc-1", "us-east-1", "111122223333", "10.0.0.0/16", ("10.0.0.0/16",))
    state = resolve(collect({"enable_public_ssh": False}, Where("policy.yaml")).options, vpc)
    differ = Differ()
    results, ingress = [], {}
    for i in range(n):
        gid = f"sg-{i:017x}"
        rules = (Rule("-1", -1, -1, WORLD, f"sgr-{i}a"), Rule("tcp", 22, 22, WORLD, f"sgr-{i}b"),
                 Rule("tcp", 22, 22, "10.0.0.0/16", f"sgr-{i}c"),
                 Rule("tcp", 3389, 3389, f"10.9.{i % 250}.0/24", f"sgr-{i}d"))
        group = Group(gid, f"coiled-{i}", "vpc-1", "us-east-1", "111122223333", rules=rules)
        results.append(GroupResult(group, state, differ.diff(group, state)))
        ingress[("111122223333", "us-east-1", gid)] = rules
    start = time.perf_counter()
    plan = fixaws.plan_fix(results, ingress)
    elapsed = time.perf_counter() - start
    # per group: authorize 8786 and 8787 and the group itself (the permitted parts of the -1 rule),
    # then revoke the -1, the public 22 and the 3389 rules
    assert len(plan.changes) == 6 * n, len(plan.changes)
    return elapsed


def bench_live(groups: int) -> None:
    os.environ.update(ENV)
    import boto3
    from moto.server import ThreadedMotoServer
    from moto_support import COILED, free_port, make_group, make_vpc
    from moto_support import FaultProxy as Proxy

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    proxy = Proxy(url)
    try:
        client = boto3.client("ec2", region_name="us-east-1", endpoint_url=url)
        vpc = make_vpc(client)
        ids = [make_group(client, vpc, f"coiled-{i}", COILED, [("-1", -1, -1, WORLD)]) for i in range(groups)]
        folder = Path(tempfile.mkdtemp())
        policy = folder / "policy.yaml"
        policy.write_text("backend_options: {enable_public_ssh: false}\n")
        env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url}
        base = [sys.executable, "-m", "sgaudit", "check", "--policy", str(policy), "-q"]

        def timed(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
            start = time.perf_counter()
            done = subprocess.run(args, env=env, cwd=folder, capture_output=True, text=True)
            return time.perf_counter() - start, done

        scan, _ = timed(base)

        proxy.log.clear()
        fixing, done = timed([*base, "--fix", "--yes", "--max-changes", str(5 * groups)])
        calls = Counter(action for action, _ in proxy.log)
        assert done.returncode == 0, (done.returncode, done.stderr)
        # the floor: the scan, plus the calls the fix cannot avoid, made directly
        for gid in ids:  # put the drift back (moto's state is shared)
            rules = client.describe_security_group_rules(
                Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
            for r in rules:
                if not r["IsEgress"]:
                    client.revoke_security_group_ingress(GroupId=gid,
                                                         SecurityGroupRuleIds=[r["SecurityGroupRuleId"]])
            client.authorize_security_group_ingress(
                GroupId=gid, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": WORLD}]}])
        direct = boto3.client("ec2", region_name="us-east-1", endpoint_url=proxy.url)
        start = time.perf_counter()
        for gid in ids:
            flt = [{"Name": "group-id", "Values": [gid]}]
            (rule,) = [r for r in direct.describe_security_group_rules(Filters=flt)["SecurityGroupRules"]
                       if not r["IsEgress"]]
            for p in (8786, 8787):
                direct.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
                    {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": WORLD}]}])
            direct.authorize_security_group_ingress(GroupId=gid, IpPermissions=[  # the parts kept
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
                {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": gid}]}])
            direct.revoke_security_group_ingress(GroupId=gid,
                                                 SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
            direct.describe_security_group_rules(Filters=flt)
        calls_floor = time.perf_counter() - start
        floor = scan + calls_floor
        print(f"live, {groups} groups, {5 * groups} changes:")
        print(f"  check (scan only)          {scan:6.2f} s")
        print(f"  bare fix API calls         {calls_floor:6.2f} s")
        print(f"  floor (scan + bare calls)  {floor:6.2f} s")
        print(f"  check --fix --yes          {fixing:6.2f} s   ({fixing / floor:.2f}x the floor)")
        per_group = {a: n / groups for a, n in sorted(calls.items())}
        print("  API calls per group by --fix: " + ", ".join(f"{a} {n:g}" for a, n in per_group.items()))
    finally:
        proxy.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, action="append", help="groups for the pure plan (repeatable)")
    parser.add_argument("-g", type=int, default=20, help="groups for the live fix against moto")
    args = parser.parse_args()
    for n in args.n or [1000, 10000]:
        print(f"plan_fix, {n:,} drifted groups ({6 * n:,} changes): {bench_plan(n) * 1000:.0f} ms")
    bench_live(args.g)


if __name__ == "__main__":
    main()
