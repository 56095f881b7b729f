"""A small fake of the compute REST API (the six read calls sgaudit makes), on 127.0.0.1.

It serves the API's own JSON shapes, pages list answers with ``nextPageToken``, checks the
bearer token, records every request, and answers 403/429/500 (or a non-JSON page) on demand per
project and call.  Started by the ``gcp_fake`` fixture; never any other address.
"""

from __future__ import annotations

import json
import threading
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
        self.page_size = page_size
        #: the OAuth token endpoint (/token) grants TOKEN when true, else answers invalid_grant
        self.grant_tokens = True
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
        if rest == ["global", "networks"]:
            return 200, self._page(state.networks, token, "compute#networkList")
        if rest == ["global", "firewalls"]:
            return 200, self._page(state.firewalls, token, "compute#firewallList")
        if rest == ["aggregated", "subnetworks"]:
            return 200, self._aggregated(state.subnetworks, token, "regions", "subnetworks")
        if rest == ["aggregated", "instances"]:
            return 200, self._aggregated(state.instances, token, "zones", "instances")
        if len(rest) == 4 and rest[:2] == ["global", "networks"] and rest[3] == "getEffectiveFirewalls":
            if rest[2] not in state.effective:
                return 404, _error(404, "NOT_FOUND", "notFound", f"network {rest[2]} not found")
            return 200, state.effective[rest[2]]
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
        return 200, state.effective[name] if answer is None else answer

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
        with self.fake._lock:
            self.fake.requests.append((self.path, "POST"))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path != "/token":
            return self._send(404, _error(404, "NOT_FOUND", "notFound", self.path))
        if self.fake.grant_tokens:
            return self._send(200, {"access_token": TOKEN, "expires_in": 3600,
                                    "token_type": "Bearer"})
        self._send(400, {"error": "invalid_grant",
                         "error_description": "Token has been expired or revoked."})

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


def _error(code: int, status: str, reason: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}


@pytest.fixture
def gcp_fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ComputeFake]:
    """A running fake with sgaudit pointed at it: the static token, gcloud's endpoint override,
    no retry waits, and no Application Default Credentials that could reach beyond loopback."""
    from sgaudit.sources import gcp

    fake = ComputeFake()
    monkeypatch.setenv("CLOUDSDK_AUTH_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", f"{fake.url}/compute/v1/")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-adc.json"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setattr(gcp, "BACKOFF", 0.0)
    try:
        yield fake
    finally:
        fake.close()
