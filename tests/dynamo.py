"""DynamoDB helpers for tests: moto tables and fault injection on a real boto3 client."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse

from cache import DynamoDBStore, make_client
from service.ops.template import create_table


def moto_store(table: str, endpoint_url: str | None = None, **kwargs: Any) -> DynamoDBStore:
    """A store on a fresh table (inside `mock_aws`, or on a moto server)."""
    client = make_client(timeout=2, max_attempts=2, endpoint_url=endpoint_url)
    create_table(client, table)
    return DynamoDBStore(table, client, **kwargs)


def count_items(client: Any, table: str) -> int:
    return client.scan(TableName=table, Select="COUNT")["Count"]


class Faults:
    """Answer DynamoDB HTTP attempts with an error instead of sending them.

    Registered on botocore's `before-send`, it acts per attempt, so botocore's own
    retry logic and our error handling see exactly what a throttled table returns.
    """

    def __init__(
        self,
        client: Any,
        code: str = "ThrottlingException",
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        self.code = code
        self.delay = delay
        self.times = times  # answer this many attempts, then let requests through
        self.attempts = 0
        self.active = True
        client.meta.events.register("before-send.dynamodb", self._answer)

    def _answer(self, request: Any, **_: Any) -> AWSResponse | None:
        if not self.active or (self.times is not None and self.attempts >= self.times):
            return None
        self.attempts += 1
        if self.delay:
            time.sleep(self.delay)
        body = f'{{"__type":"com.amazonaws.dynamodb.v20120810#{self.code}","message":"injected"}}'
        return AWSResponse(request.url, 400, {"x-amzn-requestid": "fault"}, _Raw(body))


class _Raw:
    def __init__(self, body: str) -> None:
        self._body = body.encode()

    def stream(self, **_: Any):
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers: a hung table."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
