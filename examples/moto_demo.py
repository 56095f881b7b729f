"""A local AWS to try live scanning, `snapshot` and `--fix` on, with no AWS account.

Starts moto's EC2 server on 127.0.0.1 (a free port; nothing leaves the machine), creates a VPC
and a few Coiled-like security groups in two regions — some compliant, some drifted — writes a
policy for them, and prints the commands to run. Stop it with Ctrl-C.

    pip install 'moto[server]'      # included in the test extras
    python examples/moto_demo.py
"""

from __future__ import annotations

import logging
import socket
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

POLICY = """\
# Account level: public ssh off (8786/8787 from the world are required; 22 only from the VPC).
backend_options:
  enable_public_ssh: false
clusters:
  - match: {tags: {coiled-cluster: etl}}
    backend_options: {disable_public_ingress: true}
"""
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tcp(port: int, *cidrs: tuple[str, str]) -> dict:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "IpRanges": [{"CidrIp": c, "Description": d} for c, d in cidrs]}


def seed(url: str, region: str, drifted: bool) -> list[str]:
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=url, **CREDENTIALS)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    made = []
    for name, cluster, perms in (
        ("coiled-ml", "ml", [tcp(8786, ("0.0.0.0/0", "scheduler")), tcp(8787, ("0.0.0.0/0", "dashboard")),
                             tcp(22, ("0.0.0.0/0", "debug"), ("10.0.0.0/16", "bastion")) if drifted
                             else tcp(22, ("10.0.0.0/16", "bastion"))]),
        ("coiled-etl", "etl", [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}] if drifted
         else [tcp(p, ("10.0.0.0/16", "vpc")) for p in (22, 8786, 8787)]),
    ):
        gid = ec2.create_security_group(
            GroupName=name, Description=f"Coiled cluster {cluster}", VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": [
                {"Key": "owner", "Value": "coiled"}, {"Key": "coiled-cluster", "Value": cluster}]}],
        )["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)
        made.append(f"{region} {gid} {name}{' (drifted)' if drifted else ''}")
    ec2.create_security_group(GroupName="web", Description="not Coiled's: not audited", VpcId=vpc)
    return made


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the terminal
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        groups = seed(url, "us-east-1", drifted=True) + seed(url, "eu-west-1", drifted=False)
        folder = Path(tempfile.mkdtemp(prefix="sgaudit-demo-"))
        policy = folder / "policy.yaml"
        policy.write_text(POLICY)
        print("moto EC2 on", url, "with groups:", *groups, sep="\n  ")
        print(f"""
In another shell:

  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
  export AWS_ENDPOINT_URL={url}
  cd {folder}
  sgaudit check --policy policy.yaml --regions us-east-1,eu-west-1
  sgaudit snapshot --policy policy.yaml --regions us-east-1,eu-west-1 -o snap.json
  sgaudit check --policy policy.yaml --snapshot snap.json
  sgaudit check --policy policy.yaml --fix --dry-run
  sgaudit check --policy policy.yaml --fix --yes --backup before-fix.json
  sgaudit rollback before-fix.json --yes

Ctrl-C stops the server.""", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
