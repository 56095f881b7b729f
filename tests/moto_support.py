"""Real HTTP on loopback for the live-AWS tests: moto's server, a fault-injecting proxy in front
of it, an environment that can reach nothing else, and seeding helpers.

Import the fixtures into a test module (``from moto_support import moto_url, aws_env, ...``).
Every address here is 127.0.0.1; the environment points AWS_ENDPOINT_URL at moto and disables
instance metadata, so a bug cannot fall back to real AWS.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

LOOPBACK = "127.0.0.1"
ACCOUNT = "123456789012"  # moto's account for the "testing" credentials
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
#: variables that could lead boto3 elsewhere (real profiles, containers, web identity)
CLEARED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
               "AWS_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
               "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
               "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_STS", "AWS_CA_BUNDLE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def moto_process() -> tuple[subprocess.Popen[bytes], str]:
    """moto's server in a process of its own on 127.0.0.1 (for the benchmarks: its work does not
    share the measured process's interpreter); returns the process and its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return proc, f"http://{LOOPBACK}:{port}"
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("moto server did not start")


def closed_port_url() -> str:
    """A loopback URL on which nothing listens (connections are refused at once)."""
    return f"http://{LOOPBACK}:{free_port()}"


@pytest.fixture
def moto_url() -> Iterator[str]:
    """A fresh moto server (empty state) on 127.0.0.1 and a free port."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == LOOPBACK
    url = f"http://{host}:{port}"
    reset_moto(url)
    try:
        yield url
    finally:
        server.stop()


def reset_moto(url: str) -> None:
    """Empty moto's state (its reset endpoint).  moto keeps its backends per process, shared by
    every server it starts, so each test starts from nothing only through this (``moto_url``
    calls it; every moto test reaches moto through that fixture)."""
    parsed = urllib.parse.urlsplit(url)
    assert parsed.hostname == LOOPBACK
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.request("POST", "/moto-api/reset")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_url: str) -> str:
    """Fake credentials, no config files, every endpoint on moto; returns moto's URL."""
    isolate_env(monkeypatch, tmp_path)
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    return moto_url


def isolate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials, no config files, no instance metadata: a machine with nothing set up."""
    for key in (*CLEARED_ENV, *FAKE_ENV, "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials-absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# -- seeding ---------------------------------------------------------------------------------

def ec2(url: str, region: str = "us-east-1", **credentials: str) -> Any:
    return boto3.client("ec2", region_name=region, endpoint_url=url, **credentials)


def assumed(url: str, role_arn: str) -> dict[str, str]:
    """Credentials of ``role_arn`` from moto (moto then acts in the role's account)."""
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=url)
    raw = sts.assume_role(RoleArn=role_arn, RoleSessionName="seed")["Credentials"]
    return {"aws_access_key_id": raw["AccessKeyId"], "aws_secret_access_key": raw["SecretAccessKey"],
            "aws_session_token": raw["SessionToken"]}


def make_vpc(client: Any, cidr: str = "10.0.0.0/16") -> str:
    return client.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def make_group(client: Any, vpc_id: str, name: str, tags: Mapping[str, str] | None = None,
               ingress: Sequence[tuple[str, int, int, str]] = ()) -> str:
    """A group with ``tags`` and ingress rules (protocol, from, to, source: CIDR/sg-/pl-)."""
    spec = [{"ResourceType": "security-group",
             "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    group_id = client.create_security_group(GroupName=name, Description=f"group {name}", VpcId=vpc_id,
                                            TagSpecifications=spec)["GroupId"]
    if ingress:
        client.authorize_security_group_ingress(GroupId=group_id,
                                                IpPermissions=[permission(*r) for r in ingress])
    return group_id


def permission(protocol: str, from_port: int, to_port: int, source: str) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": protocol, "FromPort": from_port, "ToPort": to_port}
    if source.startswith("sg-"):
        perm["UserIdGroupPairs"] = [{"GroupId": source}]
    elif source.startswith("pl-"):
        perm["PrefixListIds"] = [{"PrefixListId": source}]
    elif ":" in source:
        perm["Ipv6Ranges"] = [{"CidrIpv6": source}]
    else:
        perm["IpRanges"] = [{"CidrIp": source}]
    return perm


def make_prefix_list(client: Any, cidrs: Sequence[str], name: str = "pl") -> str:
    return client.create_managed_prefix_list(
        PrefixListName=name, MaxEntries=max(5, len(cidrs)), AddressFamily="IPv4",
        Entries=[{"Cidr": c} for c in cidrs])["PrefixList"]["PrefixListId"]


COILED = {"owner": "coiled"}
#: what Coiled's defaults require
DEFAULT_INGRESS = (("tcp", 22, 22, "0.0.0.0/0"), ("tcp", 8786, 8787, "0.0.0.0/0"))


# -- API call counting with botocore's event hooks ------------------------------------------

@dataclass
class CallCounter:
    """Pass ``counter.hook`` as a client hook: counts each API call (not each retry) by
    (region, operation), via botocore's ``before-call`` event."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, client: Any) -> None:
        region = client.meta.region_name

        def count(model: Any, **_: Any) -> None:
            with self.lock:
                self.calls[(region, model.name)] += 1

        client.meta.events.register("before-call.*.*", count)

    def by_operation(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (_, operation), n in self.calls.items():
            out[operation] += n
        return out


# -- a fault-injecting proxy -------------------------------------------------------------------

#: the calls that change a security group
CHANGES = ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress")
DENIED_MESSAGE = "You are not authorized to perform this operation."


@dataclass(frozen=True)
class Fault:
    """Answer the requests it matches with an AWS error.  ``region`` (as signed), ``action`` and
    ``group`` (the request's GroupId) each narrow the match; None matches anything."""

    region: str | None
    code: str
    status: int
    action: str | None = None
    message: str = "injected by the test proxy"
    group: str | None = None
    #: answer with an HTML page instead of AWS's XML (a captive portal, a proxy's error page)
    html: bool = False
    #: only AssumeRole requests for this role ARN
    role_arn: str | None = None
    #: answer only the first this many matching requests (None: every one)
    times: int | None = None
    #: answer with this JSON body and ``status`` instead of an error (a 200 with FailedFindings)
    body: str | None = None
    #: answer 200 and then one byte a second, until the client gives up or the proxy closes
    drip: bool = False

    @classmethod
    def denied(cls, action: str, *, region: str | None = None, group: str | None = None) -> Fault:
        """UnauthorizedOperation (403), as IAM answers a call the caller may not make."""
        return cls(region, "UnauthorizedOperation", 403, action, DENIED_MESSAGE, group)

    @classmethod
    def dripping(cls, action: str, *, region: str | None = None) -> Fault:
        """A 200 whose body never ends: a read timeout per socket read never trips on it."""
        return cls(region, "Dripping", 200, action, drip=True)

    def matches(self, region: str, action: str, group: str, role_arn: str = "") -> bool:
        return all(want in (None, got) for want, got in
                   ((self.region, region), (self.action, action), (self.group, group),
                    (self.role_arn, role_arn)))


class FaultProxy:
    """An HTTP proxy on loopback in front of moto, serving from construction until ``close()``
    (or the end of a ``with`` block).  It forwards everything except what a ``Fault`` matches,
    and records every request it sees, retries included: ``log`` holds (Action, GroupId) in
    arrival order, ``requests`` counts them by (region, Action).  ``on_change(action, group)``,
    if set, runs before each authorize/revoke is forwarded; ``after_change(action, group)`` once
    moto has answered it (the change is made), before the answer is passed on."""

    def __init__(self, upstream: str, faults: Sequence[Fault] = ()) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        assert parsed.hostname == LOOPBACK, "the proxy forwards to loopback only"
        self.upstream = (parsed.hostname, parsed.port)
        self.faults = list(faults)
        self.log: list[tuple[str, str]] = []
        self.requests: Counter[tuple[str, str]] = Counter()
        #: the JSON bodies of REST calls (Security Hub's), as (path, parsed body)
        self.bodies: list[tuple[str, Any]] = []
        self._used: Counter[Fault] = Counter()
        self.on_change: Callable[[str, str], None] | None = None
        self.after_change: Callable[[str, str], None] | None = None
        self.lock = threading.Lock()
        #: set by ``close()``: ends every dripping answer
        self.stopped = threading.Event()
        self.server = ThreadingHTTPServer((LOOPBACK, 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def deny(self, action: str, *, region: str | None = None, group: str | None = None) -> None:
        """From now on, answer ``action`` (in ``region`` / on ``group``) with UnauthorizedOperation."""
        with self.lock:
            self.faults.append(Fault.denied(action, region=region, group=group))

    def changes(self) -> list[tuple[str, str]]:
        """The (Action, GroupId) of every authorize/revoke seen, in order."""
        with self.lock:
            return [entry for entry in self.log if entry[0] in CHANGES]

    def fault_for(self, region: str, action: str, group: str = "", role_arn: str = "") -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if not fault.matches(region, action, group, role_arn):
                    continue
                if fault.times is not None and self._used[fault] >= fault.times:
                    continue
                self._used[fault] += 1
                return fault
            return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                region = signed_region(self.headers.get("Authorization", ""))
                form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                # query protocol (EC2, STS): Action in the form; JSON protocol (Organizations):
                # the operation in X-Amz-Target, and errors answered as JSON
                target = self.headers.get("X-Amz-Target", "")
                action = form.get("Action", [""])[0] or target.rpartition(".")[2]
                # REST protocol (Security Hub): the operation is the path, the body JSON
                rest = "" if action else urllib.parse.urlsplit(self.path).path
                action = action or rest
                group = form.get("GroupId", [""])[0]
                with proxy.lock:
                    proxy.log.append((action, group))
                    proxy.requests[(region, action)] += 1
                    if rest:
                        proxy.bodies.append((rest, json.loads(body or b"{}")))
                if action in CHANGES and proxy.on_change is not None:
                    proxy.on_change(action, group)
                fault = proxy.fault_for(region, action, group, form.get("RoleArn", [""])[0])
                if fault is not None:
                    if fault.drip:
                        drip(self, proxy.stopped)
                    else:
                        self._answer(*fault_answer(fault, json_protocol=bool(target or rest)))
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("host", "connection")}
                    conn.request("POST", self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    payload = answer.read()
                    if action in CHANGES and proxy.after_change is not None:
                        proxy.after_change(action, group)
                    self._answer(answer.status, payload,
                                 {k: v for k, v in answer.getheaders()
                                  if k.lower() in ("content-type", "x-amzn-requestid")})
                finally:
                    conn.close()

            def _answer(self, status: int, payload: bytes, headers: Mapping[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def drip(handler: BaseHTTPRequestHandler, stopped: threading.Event) -> None:
    """Answer 200 and then one byte a second, until the client gives up or ``stopped`` is set."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    try:
        while not stopped.wait(1.0):
            handler.wfile.write(b" ")
            handler.wfile.flush()
    except OSError:
        pass  # the client gave up: that is the point


def fault_answer(fault: Fault, json_protocol: bool) -> tuple[int, bytes, dict[str, str]]:
    """What the proxy answers for a fault: its body, an HTML page, or AWS's error (JSON for the
    JSON and REST protocols, XML for the query protocol)."""
    if fault.body is not None:
        return fault.status, fault.body.encode(), {"Content-Type": "application/json"}
    if fault.html:
        page = f"<html><body><h1>{fault.code}</h1>\n<p>{fault.message}</p></body></html>"
        return fault.status, page.encode(), {"Content-Type": "text/html"}
    if json_protocol:
        payload = json.dumps({"__type": fault.code, "message": fault.message}).encode()
        return fault.status, payload, {"Content-Type": "application/x-amz-json-1.1"}
    return fault.status, error_xml(fault.code, fault.message), {"Content-Type": "text/xml"}


def signed_region(authorization: str) -> str:
    """The region of a SigV4 ``Authorization`` header's credential scope."""
    marker = "Credential="
    if marker not in authorization:
        return ""
    scope = authorization.split(marker, 1)[1].split(",", 1)[0].split("/")
    return scope[2] if len(scope) > 2 else ""


def error_xml(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error></Errors><RequestID>sgaudit-test</RequestID>"
            "</Response>").encode()
