"""A webhook receiver on 127.0.0.1 for the notice tests: it records every request (path,
headers, exact body) and answers from a script: a status (with headers), or "hang" (accept the
connection and never answer)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = "hang"


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int
    #: answers in order; the last one repeats: (status, headers) or HANG
    script: list[Any] = field(default_factory=lambda: [(200, {})])
    requests: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, channel: str, path: str = "/hook/T0/B0/s3cr3t") -> str:
        return f"{channel}+http://127.0.0.1:{self.port}{path}"

    def next_answer(self) -> Any:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.requests.append(Request(self.path, dict(self.headers), body, time.monotonic()))
            answer = receiver.next_answer()
            if answer == HANG:
                receiver.release.wait(30)
                return
            status, headers = answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(*script: Any) -> Iterator[Receiver]:
    receiver = Receiver(0, list(script) or [(200, {})])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
