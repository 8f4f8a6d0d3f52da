"""A 127.0.0.1 HTTP proxy in front of a DynamoDB endpoint that misbehaves on demand.

Faults act on the wire, below botocore, as a degraded table does: `delay` holds each
request before forwarding it, `trickle` sends the answer one byte every `gap`
seconds (every socket read succeeds, so a per-read timeout never fires), `reset`
drops the connection with a TCP reset, `throttle` answers DynamoDB's
`ThrottlingException`, `unprocessed` answers a batch call with every key or item left
unprocessed (a throttled partition). `only` narrows a fault to one operation
(`"GetItem"`, `"BatchWriteItem"`, …); `calls` counts requests per operation.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

FAULTS = (None, "delay", "trickle", "reset", "throttle", "unprocessed")
_LEFT_OVER = {"BatchGetItem": "UnprocessedKeys", "BatchWriteItem": "UnprocessedItems"}


def _read_message(sock: socket.socket, buffer: bytearray) -> bytes | None:
    """One HTTP message (headers and a Content-Length body) from `sock`; None at EOF."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, _ = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    total = len(head) + 4 + length
    while len(buffer) < total:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    message = bytes(buffer[:total])
    del buffer[:total]
    return message


def _operation(request: bytes) -> str:
    for line in request.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-amz-target":
            return value.strip().decode().rsplit(".", 1)[-1]
    return ""


def _response(status: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\n"
        f"content-length: {len(payload)}\r\nx-amzn-requestid: proxy\r\n\r\n"
    )
    return head.encode() + payload


class TableProxy:
    """Forward DynamoDB requests to `upstream`, applying `fault` to the affected ones."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.fault: str | None = None
        self.only: str | None = None
        self.delay = 0.15
        self.gap = 0.05
        self.calls: Counter[str] = Counter()
        self._server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def set(self, fault: str | None, only: str | None = None) -> None:
        assert fault in FAULTS, fault
        self.fault, self.only = fault, only

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = bytearray()
        try:
            while (request := _read_message(conn, buffer)) is not None:
                operation = _operation(request)
                self.calls[operation] += 1
                fault = self.fault if self.only in (None, operation) else None
                if not self._answer(conn, request, operation, fault):
                    return
        except OSError:
            pass
        finally:
            conn.close()

    def _answer(
        self, conn: socket.socket, request: bytes, operation: str, fault: str | None
    ) -> bool:
        """Answer one request; False when the connection is to be dropped."""
        if fault == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if fault == "throttle":
            body = {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                    "message": "Rate of requests exceeds the allowed throughput."}  # fmt: skip
            conn.sendall(_response("400 Bad Request", body))
            return True
        if fault == "unprocessed" and operation in _LEFT_OVER:
            items = json.loads(request.split(b"\r\n\r\n", 1)[1])["RequestItems"]
            conn.sendall(_response("200 OK", {"Responses": {}, _LEFT_OVER[operation]: items}))
            return True
        if fault == "delay":
            time.sleep(self.delay)
        answer = self._forward(request)
        if fault != "trickle":
            conn.sendall(answer)
            return True
        for i in range(len(answer)):
            conn.sendall(answer[i : i + 1])
            time.sleep(self.gap)
        return True

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=10) as upstream:
            upstream.sendall(request)
            answer = _read_message(upstream, bytearray())
        if answer is None:
            raise OSError("upstream closed without an answer")
        return answer


def main() -> None:
    """`python -m tests.table_proxy UPSTREAM delay SECONDS`: a proxy in its own process
    (a table elsewhere does not share the app's interpreter lock); prints its URL."""
    import sys

    upstream, fault, delay = sys.argv[1:4]
    proxy = TableProxy(upstream)
    proxy.delay = float(delay)
    proxy.set(fault)
    print(proxy.url, flush=True)
    sys.stdin.read()  # until the parent closes it


if __name__ == "__main__":
    main()
