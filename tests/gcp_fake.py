"""A small fake of the compute REST API (the read calls sgaudit makes, and the firewall writes
of ``--fix``), on 127.0.0.1.

It serves the API's own JSON shapes, pages list answers with ``nextPageToken``, checks the
bearer token, records every request, and answers 403/429/500 (or a non-JSON page) on demand per
project and call.  ``getEffectiveFirewalls`` lists the network's VPC rules as they are now.

Writes (``firewalls.insert``, ``patch``, ``update``, ``delete``) are refused as GCP refuses them
(a name that is not RFC 1035, a priority outside 0-65535, both or neither of ``allowed`` and
``denied``: 400; a name taken: 409; an unknown rule: 404) and otherwise answer an Operation
that is ``RUNNING`` for ``op_polls`` reads (``globalOperations.get``/``wait``) before it is
``DONE``; the change is made when it is done.  ``fail_ops``/``stuck_ops`` make the operation of
a rule's change end with an error, or never end.  Started by the ``gcp_fake`` fixture; never any
other address.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

LOOPBACK = "127.0.0.1"
TOKEN = "test-token-not-a-secret"
API = "https://www.googleapis.com/compute/v1"
RULE_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
#: fields the API sets on a rule (a client's values are ignored)
OUTPUT_ONLY = ("id", "creationTimestamp", "selfLink", "kind")

ERRORS = {
    403: ("PERMISSION_DENIED", "forbidden", "Required 'compute.firewalls.list' permission for "
          "'projects/{project}'"),
    429: ("RESOURCE_EXHAUSTED", "rateLimitExceeded", "Quota exceeded for quota metric 'Read requests'"),
    500: ("INTERNAL", "backendError", "Internal error. Please try again."),
}


def network_url(project: str, network: str) -> str:
    return f"{API}/projects/{project}/global/networks/{network}"


@dataclass
class Fault:
    """Answer ``status`` (or a non-JSON page when ``status`` is 200) to calls of ``project``
    whose path contains ``call``, ``times`` times (None: always)."""

    project: str
    status: int
    call: str = ""
    times: int | None = None
    message: str | None = None
    #: with status 200: the true answer, but one byte every ``drip`` seconds (each well within
    #: any socket timeout: only a deadline on the whole answer ends such a call)
    drip: float | None = None


@dataclass
class ProjectState:
    networks: list[dict[str, Any]] = field(default_factory=list)
    firewalls: list[dict[str, Any]] = field(default_factory=list)
    #: region -> subnets
    subnetworks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: network name -> getEffectiveFirewalls answer
    effective: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: zone -> instances
    instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: (network, region) -> regionNetworkFirewallPolicies.getEffectiveFirewalls answer; a pair
    #: not given answers as the API does for a region without regional policies (the network's
    #: own answer: hierarchical and global policies, VPC rules)
    regional: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class ComputeFake:
    def __init__(self, page_size: int = 2) -> None:
        self.projects: dict[str, ProjectState] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []  # (path with query, Authorization header)
        self.writes: list[tuple[str, str]] = []  # (method, path after /compute/v1/)
        self.page_size = page_size
        #: the OAuth token endpoint (/token) grants TOKEN when true, else answers invalid_grant
        self.grant_tokens = True
        #: operations: name -> [project, status, reads left while RUNNING, change, error]
        self.operations: dict[str, list[Any]] = {}
        self.op_polls = 1
        #: rule names whose change's operation ends with an error / never ends
        self.fail_ops: set[str] = set()
        self.stuck_ops: set[str] = set()
        #: called with (method, rule name) before a write is answered (a test's race)
        self.before_write: Any = None
        self._ids = 5000000000000000000
        #: paths of dripping answers the client hung up on (its deadline cut the socket)
        self.hung_up: list[str] = []
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((LOOPBACK, 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def project(self, name: str) -> ProjectState:
        return self.projects.setdefault(name, ProjectState())

    def load_gcloud(self, project: str, folder: Path, region: str = "us-central1",
                    zone: str = "us-central1-a") -> None:
        """Serve the gcloud files of a fixture folder (firewall-rules.json, subnets.json,
        networks.json, effective-firewalls-NETWORK.json, instances.json)."""
        state = self.project(project)
        state.firewalls = json.loads((folder / "firewall-rules.json").read_text())
        state.networks = json.loads((folder / "networks.json").read_text())
        state.subnetworks = {region: json.loads((folder / "subnets.json").read_text())}
        for path in sorted(folder.glob("effective-firewalls-*.json")):
            network = path.stem.removeprefix("effective-firewalls-")
            state.effective[network] = json.loads(path.read_text())
        if (folder / "instances.json").exists():
            state.instances = {zone: json.loads((folder / "instances.json").read_text())}

    def calls(self, project: str | None = None) -> list[str]:
        """The API paths requested (after /compute/v1/), with their query, in order."""
        out = []
        for path, _auth in self.requests:
            rest = path.split("/compute/v1/", 1)[-1]
            if project is None or rest.startswith(f"projects/{project}/"):
                out.append(rest)
        return out

    # -- the HTTP side ------------------------------------------------------------------------
    def _fault(self, project: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.project == project and fault.call in path and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        parts = path.split("/compute/v1/", 1)[-1].strip("/").split("/")
        if len(parts) < 3 or parts[0] != "projects":
            return 404, _error(404, "NOT_FOUND", "notFound", f"unknown path {path}")
        project = parts[1]
        if project not in self.projects:
            return 404, _error(404, "NOT_FOUND", "notFound",
                               f"The resource 'projects/{project}' was not found")
        state = self.projects[project]
        rest = parts[2:]
        token = int(query.get("pageToken", ["0"])[0])
        if rest in (["global", "networks"], ["global", "firewalls"]):
            items = state.networks if rest[1] == "networks" else state.firewalls
            return 200, self._page(items, token, f"compute#{rest[1][:-1]}List")
        if rest == ["aggregated", "subnetworks"]:
            return 200, self._aggregated(state.subnetworks, token, "regions", "subnetworks")
        if rest == ["aggregated", "instances"]:
            return 200, self._aggregated(state.instances, token, "zones", "instances")
        if len(rest) == 4 and rest[:2] == ["global", "networks"] and rest[3] == "getEffectiveFirewalls":
            if rest[2] not in state.effective:
                return 404, _error(404, "NOT_FOUND", "notFound", f"network {rest[2]} not found")
            return 200, self._effective(state, rest[2])
        if len(rest) == 3 and rest[0] == "global" and rest[1] in ("firewalls", "operations"):
            return self._one(project, rest[1], rest[2])
        if len(rest) == 4 and rest[0] == "regions" and rest[2:] == ["firewallPolicies",
                                                                    "getEffectiveFirewalls"]:
            return self._regional(state, rest[1], query.get("network", [""])[0])
        return 404, _error(404, "NOT_FOUND", "notFound", f"unknown path {path}")

    def _regional(self, state: ProjectState, region: str, network: str) -> tuple[int, Any]:
        """The network is a reference (its URL, or its name); an unknown one is 404 as on GCP."""
        name = network.rstrip("/").rpartition("/")[2]
        if not network or name not in state.effective:
            return 404, _error(404, "NOT_FOUND", "notFound", f"network {network!r} not found")
        answer = state.regional.get((name, region))
        return 200, self._effective(state, name) if answer is None else answer

    def _one(self, project: str, collection: str, name: str) -> tuple[int, Any]:
        """``firewalls.get`` or ``globalOperations.get``."""
        if collection == "operations":
            return self._operation(project, name)
        found = self._rule(self.projects[project], name)
        return (200, found) if found is not None else _not_found(project, name)

    @staticmethod
    def _effective(state: ProjectState, network: str) -> dict[str, Any]:
        """The network's answer with its VPC rules as they are now."""
        answer = dict(state.effective[network])
        answer["firewalls"] = [r for r in state.firewalls
                               if str(r.get("network", "")).rstrip("/").endswith(f"/networks/{network}")]
        return answer

    # -- writes -------------------------------------------------------------------------------
    def rule(self, project: str, name: str) -> dict[str, Any] | None:
        return self._rule(self.projects[project], name)

    @staticmethod
    def _rule(state: ProjectState, name: str) -> dict[str, Any] | None:
        return next((r for r in state.firewalls if r.get("name") == name), None)

    def write(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.split("/compute/v1/", 1)[-1].strip("/").split("/")
        if len(parts) < 4 or parts[0] != "projects" or parts[1] not in self.projects:
            return 404, _error(404, "NOT_FOUND", "notFound", f"unknown path {path}")
        project, rest = parts[1], parts[2:]
        if method == "POST" and rest[:2] == ["global", "operations"] and rest[3:] == ["wait"]:
            return self._operation(project, rest[2])
        if rest[:2] != ["global", "firewalls"] or len(rest) > 3:
            return 404, _error(404, "NOT_FOUND", "notFound", f"unknown path {path}")
        name = rest[2] if len(rest) == 3 else str((body or {}).get("name", ""))
        if self.before_write is not None:
            self.before_write(method, name)
        with self._lock:
            return self._firewall_write(method, project, name, body)

    def _firewall_write(self, method: str, project: str, name: str, body: Any) -> tuple[int, Any]:
        state = self.projects[project]
        current = self._rule(state, name)
        if method == "POST":
            if current is not None or any(op[3][1] == name and op[1] != "DONE" and op[3][0] == "insert"
                                          for op in self.operations.values()):
                return 409, _error(409, "ALREADY_EXISTS", "alreadyExists", f"The resource "
                                   f"'projects/{project}/global/firewalls/{name}' already exists")
            new = {k: v for k, v in dict(body or {}).items() if k not in OUTPUT_ONLY}
        elif current is None:
            return _not_found(project, name)
        elif method == "DELETE":
            return 200, self._start(project, ("delete", name, None))
        elif method == "PATCH":  # JSON merge patch: lists replaced, null removes
            new = {k: v for k, v in {**current, **dict(body or {})}.items() if v is not None}
        else:  # PUT: the whole resource
            new = {**{k: current[k] for k in OUTPUT_ONLY if k in current},
                   **{k: v for k, v in dict(body or {}).items() if k not in OUTPUT_ONLY}}
        problem = _invalid(new, name)
        if problem:
            return 400, _error(400, "INVALID_ARGUMENT", "invalid", problem)
        return 200, self._start(project, ("insert" if method == "POST" else "replace", name, new))

    def _start(self, project: str, change: tuple[str, str, Any]) -> dict[str, Any]:
        name = f"operation-{len(self.operations) + 1}-fake"
        error = None
        if change[1] in self.fail_ops:
            error = {"errors": [{"code": "RESOURCE_NOT_READY", "message": f"rule {change[1]} is busy"}]}
        self.operations[name] = [project, "RUNNING", self.op_polls, change, error]
        return self._op_body(name)

    def _operation(self, project: str, name: str) -> tuple[int, Any]:
        with self._lock:
            op = self.operations.get(name)
            if op is None or op[0] != project:
                return 404, _error(404, "NOT_FOUND", "notFound", f"operation {name} not found")
            if op[1] == "RUNNING" and op[3][1] not in self.stuck_ops:
                if op[2] > 0:
                    op[2] -= 1
                else:
                    op[1] = "DONE"
                    if op[4] is None:
                        self._finish(op[0], op[3])
            return 200, self._op_body(name)

    def _finish(self, project: str, change: tuple[str, str, Any]) -> None:
        state = self.projects[project]
        action, name, new = change
        rules = [r for r in state.firewalls if r.get("name") != name]
        if action == "insert":
            self._ids += 1
            new = {"kind": "compute#firewall", "id": str(self._ids),
                   "creationTimestamp": "2026-12-07T00:00:00.000-08:00", **new,
                   "selfLink": f"{API}/projects/{project}/global/firewalls/{name}"}
        if action != "delete":
            rules.append(new)
        state.firewalls = rules if action != "replace" else [
            new if r.get("name") == name else r for r in state.firewalls]

    def _op_body(self, name: str) -> dict[str, Any]:
        project, status, _, (action, rule, _), error = self.operations[name]
        body: dict[str, Any] = {"kind": "compute#operation", "name": name, "status": status,
                                "operationType": action,
                                "targetLink": f"{API}/projects/{project}/global/firewalls/{rule}"}
        if status == "DONE" and error is not None:
            body["error"] = error
        return body

    def _page(self, items: list[Any], start: int, kind: str) -> dict[str, Any]:
        answer: dict[str, Any] = {"kind": kind, "items": items[start:start + self.page_size]}
        if start + self.page_size < len(items):
            answer["nextPageToken"] = str(start + self.page_size)
        return answer

    def _aggregated(self, by_scope: dict[str, list[Any]], start: int, scope: str,
                    key: str) -> dict[str, Any]:
        flat = [(name, item) for name, items in sorted(by_scope.items()) for item in items]
        page = flat[start:start + self.page_size]
        scopes: dict[str, Any] = {}
        for name, item in page:
            scopes.setdefault(f"{scope}/{name}", {key: []})[key].append(item)
        scopes.setdefault(f"{scope}/elsewhere-1", {"warning": {"code": "NO_RESULTS_ON_PAGE"}})
        answer: dict[str, Any] = {"items": scopes}
        if start + self.page_size < len(flat):
            answer["nextPageToken"] = str(start + self.page_size)
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})


class _Handler(BaseHTTPRequestHandler):
    """Answers as the compute API would; ``fake`` is set per server (see FakeCompute._handler)."""

    fake: Any
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        with self.fake._lock:
            self.fake.requests.append((self.path, auth))
        url = urlparse(self.path)
        parts = url.path.split("/compute/v1/", 1)[-1].split("/")
        project = parts[1] if len(parts) > 1 else ""
        if auth != f"Bearer {TOKEN}":
            return self._send(401, _error(401, "UNAUTHENTICATED", "authError", "bad token"))
        fault = self.fake._fault(project, url.path)
        if fault is not None and fault.drip is not None:
            return self._drip(fault.drip, *self.fake.answer(url.path, parse_qs(url.query)))
        if fault is not None:
            return self._fault(fault, project)
        status, body = self.fake.answer(url.path, parse_qs(url.query))
        self._send(status, body)

    def do_POST(self) -> None:
        if self.path != "/token":
            return self._write("POST")
        with self.fake._lock:
            self.fake.requests.append((self.path, "POST"))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.fake.grant_tokens:
            return self._send(200, {"access_token": TOKEN, "expires_in": 3600,
                                    "token_type": "Bearer"})
        self._send(400, {"error": "invalid_grant",
                         "error_description": "Token has been expired or revoked."})

    def do_PATCH(self) -> None:
        self._write("PATCH")

    def do_PUT(self) -> None:
        self._write("PUT")

    def do_DELETE(self) -> None:
        self._write("DELETE")

    def _write(self, method: str) -> None:
        auth = self.headers.get("Authorization", "")
        with self.fake._lock:
            self.fake.requests.append((self.path, auth))
            self.fake.writes.append((method, urlparse(self.path).path.split("/compute/v1/", 1)[-1]))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if auth != f"Bearer {TOKEN}":
            return self._send(401, _error(401, "UNAUTHENTICATED", "authError", "bad token"))
        url = urlparse(self.path)
        parts = url.path.split("/compute/v1/", 1)[-1].split("/")
        fault = self.fake._fault(parts[1] if len(parts) > 1 else "", url.path)
        if fault is not None:
            return self._fault(fault, parts[1])
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._send(400, _error(400, "INVALID_ARGUMENT", "parseError", "not JSON"))
        self._send(*self.fake.write(method, url.path, body))

    def _fault(self, fault: Fault, project: str) -> None:
        if fault.status == 200:
            return self._send(200, "<html>captive portal</html>", raw=True)
        status, reason, message = ERRORS.get(fault.status, ("UNKNOWN", "unknown", "error"))
        self._send(fault.status, _error(fault.status, status, reason,
                                        (fault.message or message).format(project=project)))

    def _drip(self, seconds: float, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for i in range(len(data)):
                if self.fake.stopped.wait(seconds):
                    return
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
        except OSError:
            with self.fake._lock:
                self.fake.hung_up.append(self.path)

    def _send(self, status: int, body: Any, raw: bool = False) -> None:
        data = (body if raw else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _not_found(project: str, name: str) -> tuple[int, Any]:
    return 404, _error(404, "NOT_FOUND", "notFound",
                       f"The resource 'projects/{project}/global/firewalls/{name}' was not found")


def _invalid(rule: dict[str, Any], name: str) -> str | None:
    """What GCP would refuse in a rule, or None."""
    if not isinstance(rule.get("name"), str) or not RULE_NAME.match(rule["name"]) or rule["name"] != name:
        return f"Invalid value for field 'resource.name': {rule.get('name')!r}. Must be a match of regex " \
               "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'"
    priority = rule.get("priority", 1000)
    if type(priority) is not int or not 0 <= priority <= 65535:
        return f"Invalid value for field 'resource.priority': '{priority}'. Must be between 0 and 65535"
    if bool(rule.get("allowed")) == bool(rule.get("denied")):
        return "Exactly one of 'allowed' or 'denied' must be specified"
    if not str(rule.get("network", "")).startswith(f"{API}/projects/"):
        return f"Invalid value for field 'resource.network': {rule.get('network')!r}"
    return None


def _error(code: int, status: str, reason: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}


# -- a network for the --fix tests -------------------------------------------------------------
PROJECT = "team-demo"
NETWORK = "shared-net"
NET_URL = f"{API}/projects/{PROJECT}/global/networks/{NETWORK}"
SUBNET = "10.128.0.0/20"


def rule(name: str, *, allowed: list[dict[str, Any]] | None = None,
         denied: list[dict[str, Any]] | None = None, priority: int = 1000,
         sources: tuple[str, ...] = ("0.0.0.0/0",), tags: tuple[str, ...] = (),
         description: str = "") -> dict[str, Any]:
    number = 4200000000000000000 + zlib.crc32(name.encode())
    out: dict[str, Any] = {"kind": "compute#firewall", "id": str(number),
                           "creationTimestamp": "2026-11-02T08:00:00.000-07:00", "name": name,
                           "description": description, "network": NET_URL, "priority": priority,
                           "direction": "INGRESS", "sourceRanges": list(sources),
                           "logConfig": {"enable": False}, "disabled": False,
                           "selfLink": f"{API}/projects/{PROJECT}/global/firewalls/{name}"}
    if allowed is not None:
        out["allowed"] = allowed
    if denied is not None:
        out["denied"] = denied
    if tags:
        out["targetTags"] = list(tags)
    return out


def tcp(*ports: str) -> list[dict[str, Any]]:
    return [{"IPProtocol": "tcp", "ports": list(ports)}]


def serve(fake: ComputeFake, rules: list[dict[str, Any]],
          policies: list[dict[str, Any]] | None = None) -> None:
    """The fix tests' project: one network with one subnet, its VPC rules and policies."""
    state = fake.project(PROJECT)
    state.firewalls = rules
    state.networks = [{"kind": "compute#network", "name": NETWORK, "selfLink": NET_URL,
                       "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL"}]
    state.subnetworks = {"us-central1": [{
        "kind": "compute#subnetwork", "name": "sub", "network": NET_URL, "ipCidrRange": SUBNET,
        "region": f"{API}/projects/{PROJECT}/regions/us-central1"}]}
    state.effective[NETWORK] = {"firewalls": [], "firewallPolicys": policies or []}


@pytest.fixture
def gcp_fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ComputeFake]:
    """A running fake with sgaudit pointed at it: the static token, gcloud's endpoint override,
    no retry waits, and no Application Default Credentials that could reach beyond loopback."""
    from sgaudit.remediate.gcp import apply as gcp_apply
    from sgaudit.sources.gcp import limits

    fake = ComputeFake()
    monkeypatch.setenv("CLOUDSDK_AUTH_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", f"{fake.url}/compute/v1/")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-adc.json"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setattr(limits, "BACKOFF", 0.0)
    monkeypatch.setattr(gcp_apply, "POLL", 0.0)
    try:
        yield fake
    finally:
        fake.close()
