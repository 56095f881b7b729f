"""Issue 14, defect 6: every live call has a total deadline and the scan a bound (--timeout).

A slow-drip server on 127.0.0.1, started here, answers 200 and then one byte a second: each
byte arrives well within botocore's 30 s read timeout, so without a total deadline a call would
never end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from moto_support import FAKE_ENV, LOOPBACK, isolate_env

from sgaudit.model import Matcher
from sgaudit.sources import aws

DRIP = 1.0  # seconds between bytes


@pytest.fixture
def drip_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Fake credentials and a slow-drip endpoint; returns its URL."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                while not stop.wait(DRIP):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            except OSError:
                pass  # the client gave up: that is the point

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    isolate_env(monkeypatch, tmp_path)
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    url = f"http://{LOOPBACK}:{server.server_address[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield url
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_a_dripping_call_ends_at_its_deadline_as_an_error_of_its_place(drip_url: str) -> None:
    sessions = aws.Sessions(drip_url)
    sessions.call_deadline = 2.0
    source = aws.AwsSource((aws.AwsTarget(),), ("us-east-1",), drip_url, sessions=sessions)
    started = time.monotonic()
    snapshot = source.read(Matcher())
    elapsed = time.monotonic() - started
    assert snapshot.groups == ()
    assert [(e.region, e.operation, e.code) for e in snapshot.errors] == [
        ("us-east-1", "GetCallerIdentity", "Timeout")]
    assert snapshot.errors[0].message == "timed out: no complete answer within the 2 s call deadline"
    assert elapsed < 2.0 + 8.0  # the deadline, a watchdog tick and retries that fail at once


def test_the_scan_bound_ends_a_dripping_scan_with_exit_3(drip_url: str, sgaudit: Any) -> None:
    started = time.monotonic()
    run = sgaudit("check", "--regions", "us-east-1,eu-west-1", "--timeout", "3", "--format", "json")
    elapsed = time.monotonic() - started
    assert run.code == 3, run.err
    doc = json.loads(run.out)
    assert doc["complete"] is False
    assert [(e["operation"], e["code"], e["message"]) for e in doc["errors"]] == [
        ("GetCallerIdentity", "Timeout",
         "timed out: no complete answer within the scan's --timeout (3 s)")]
    assert elapsed < 3.0 + 8.0


def test_an_expired_scan_fails_each_remaining_call_at_once(drip_url: str) -> None:
    """Calls that start after the scan's bound do not go out at all."""
    sessions = aws.Sessions(drip_url)
    source = aws.AwsSource((aws.AwsTarget(role_arn="arn:aws:iam::111111111111:role/r"),),
                           ("us-east-1",), drip_url, sessions=sessions, timeout=1.0)
    started = time.monotonic()
    scans = source.scan(Matcher())
    assert time.monotonic() - started < 1.0 + 8.0
    assert [(s.account, e.operation, e.code) for s in scans for e in s.errors] == [
        ("111111111111", "AssumeRole", "Timeout")]
    assert sessions.scan_deadline is None  # the bound is the scan's, not the sessions'
