"""A 127.0.0.1 DynamoDB endpoint for batch fault runs, in a process of its own (its
threads never take the GIL of the client being measured), spoken to by real botocore
clients over real HTTP.

It answers DynamoDB's JSON protocol for what the read path sends under load: every
`BatchGetItem` key a miss, every `BatchWriteItem` item written, `GetItem`, `PutItem`
and `UpdateItem` empty, each after `delay` seconds. Faults, set by `POST /fault`
(`TableServer.fault`): `throttle_every` N answers every Nth call with DynamoDB's
`ProvisionedThroughputExceededException` (a hot partition), `hang` holds every call
until the client gives up. Under load moto spends ~60 ms of CPU on a 100-key batch,
which on two cores would be measured as the table's time: this table spends none.

    python -m tests.batch_table PORT
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HEALTHY = {"delay": 0.04, "throttle_every": 0, "hang": False}
THROTTLED = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
_state = dict(HEALTHY)
_calls = itertools.count(1)
_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore's pool reuses connections
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK wait

    def log_message(self, *args: Any) -> None:
        """Quiet: one line per call would be thousands."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        if self.path == "/fault":
            _state.update(HEALTHY | request)
            self._send(200, {})
            return
        with _lock:
            n = next(_calls)
        if _state["hang"]:
            time.sleep(3600)  # the client times out; the process is ended whole
        time.sleep(_state["delay"])
        every = _state["throttle_every"]
        if every and n % every == 0:
            self._send(400, {"__type": THROTTLED, "message": "Rate of requests exceeds"})
            return
        self._send(200, _answer(self.headers.get("x-amz-target", ""), request))

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-amzn-requestid", "batch-table")
        self.end_headers()
        self.wfile.write(payload)


def _answer(target: str, request: dict[str, Any]) -> dict[str, Any]:
    operation = target.rsplit(".", 1)[-1]
    if operation == "BatchGetItem":
        return {"Responses": {t: [] for t in request["RequestItems"]}, "UnprocessedKeys": {}}
    if operation == "BatchWriteItem":
        return {"UnprocessedItems": {}}
    return {}


class TableServer:
    """The endpoint in a child process, for a `with` block; `url` for botocore."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def fault(self, **settings: Any) -> None:
        """Healthy, then `settings` (`delay`, `throttle_every`, `hang`) on top."""
        request = urllib.request.Request(f"{self.url}/fault", json.dumps(settings).encode())
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()


@contextlib.contextmanager
def table_server() -> Iterator[TableServer]:
    from service.ops.processes import free_port, stop, wait_for_port

    port = free_port()
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen([sys.executable, "-m", "tests.batch_table", str(port)], cwd=root)
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        yield TableServer(port)
    finally:
        stop(process)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), _Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    server.serve_forever()
