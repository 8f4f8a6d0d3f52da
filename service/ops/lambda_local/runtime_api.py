"""A local Lambda Runtime API: what hands events to a container image's entry point.

The documented HTTP protocol a runtime client speaks to Lambda (AWS Lambda developer
guide, "Using the Lambda runtime API for custom runtimes", read 2026-12-06):
`GET /2018-06-01/runtime/invocation/next` answers the next event with its request id
and deadline in headers; the client posts the handler's result to
`…/invocation/{id}/response`, or `…/invocation/{id}/error`, or `…/init/error` when the
function cannot start. Bound to 127.0.0.1; once its events are answered `next` holds
the client until the block ends.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


class _Handler(BaseHTTPRequestHandler):
    """The Runtime API's routes, for the `RuntimeApi` its server carries."""

    protocol_version = "HTTP/1.1"  # the client keeps its connection

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        self.rfile.readline()
        return b"".join(chunks)

    def do_GET(self) -> None:
        api = self.server.api
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404)
            return
        if not api.events:  # held until the block ends, then the client is gone
            api.closing.wait()
            self.close_connection = True
            return
        number = len(api.responses) + 1
        deadline = int((time.time() + 15) * 1000)
        self._reply(200, json.dumps(api.events.pop(0)).encode(), {
            "Lambda-Runtime-Aws-Request-Id": f"request-{number}",
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn":
                "arn:aws:lambda:us-east-1:123456789012:function:predcache",
            # awslambdaric 4's native client crashes without these two
            "Lambda-Runtime-Trace-Id": f"Root=1-00000000-{number:024d};Sampled=0",
            "Lambda-Runtime-Invocation-Id": f"invocation-{number}",
            "Content-Type": "application/json",
        })  # fmt: skip

    def do_POST(self) -> None:
        api = self.server.api
        body = self._body()
        self._reply(202)
        if self.path.endswith("/response"):
            api.responses.append(json.loads(body))
            if not api.events:
                api.done.set()
        else:  # an invocation's or the init's error
            api.init_error = body.decode(errors="replace")[:300]
            api.done.set()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (the entry point is killed once it has answered,
        maybe while asking for the next event) is not an error worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RuntimeApi:
    """`with RuntimeApi(events) as api:` serves `events` to one client at `api.address`."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = list(events)
        self.responses: list[dict[str, Any]] = []
        self.init_error: str | None = None
        self.done = threading.Event()
        self.closing = threading.Event()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.api = self  # type: ignore[attr-defined]
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def wait(self, timeout: float) -> bool:
        """Whether every event was answered (not an error) within `timeout` seconds."""
        return self.done.wait(timeout) and self.init_error is None

    def __enter__(self) -> RuntimeApi:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
