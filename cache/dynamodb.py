"""L2: a DynamoDB table shared by every process, with TTL on `expires_at`.

Item: `cache_key` (S, hash key), `value` (S, JSON), `model_version` (S),
`value_schema` (N), `compute_ms` (N), `created_at` and `expires_at` (N, epoch
seconds; `expires_at` is the table's TTL attribute), and while a reader refreshes it
early, `refresh_until` (N, the lease). Calls run under tight botocore
timeouts; every failure is raised as `StoreError` with a kind, for the caller to
count and route around.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import orjson

from cache.base import BatchRead, BatchWrite, CallTimes, note_calls
from cache.errors import ErrorKind, StoreError
from cache.record import CORRUPT, CacheRecord

KEY_ATTR = "cache_key"
TTL_ATTR = "expires_at"
LEASE_ATTR = "refresh_until"  # a reader is refreshing the item until then (epoch seconds)
T = TypeVar("T")
MAX_GET_BATCH = 100  # BatchGetItem limit
MAX_WRITE_BATCH = 25  # BatchWriteItem limit
# botocore's "legacy" retry backoff for DynamoDB: 50 ms, then doubling.
_BACKOFF_BASE_SECONDS = 0.05
# DynamoDB's error codes, by what they mean for the caller.
_CODES = {
    "ProvisionedThroughputExceededException": ErrorKind.THROTTLED,
    "ThrottlingException": ErrorKind.THROTTLED,
    "RequestLimitExceeded": ErrorKind.THROTTLED,
    "ConditionalCheckFailedException": ErrorKind.CONDITION_FAILED,
    "ResourceNotFoundException": ErrorKind.MISSING_TABLE,
    "AccessDeniedException": ErrorKind.ACCESS_DENIED,
    "UnrecognizedClientException": ErrorKind.ACCESS_DENIED,
    "ValidationException": ErrorKind.INVALID_REQUEST,
}


def make_client(
    timeout: float = 0.5,
    max_attempts: int = 2,
    endpoint_url: str | None = None,
    *,
    region: str | None = None,
    credentials: Mapping[str, str] | None = None,
    require_credentials: bool = False,
    connections: int = 50,
) -> Any:
    """A DynamoDB client that gives up fast: a slow table must not stall a request.

    `connections`: at least the store's workers, so no call waits inside botocore for a
    connection (that wait would be timed as the table's).

    Built with botocore alone (boto3 would add s3transfer to every cold start).
    Without `endpoint_url`, botocore honours `AWS_ENDPOINT_URL_DYNAMODB` by itself;
    without `region` or `credentials`, its own chain (profile, environment) applies.
    `require_credentials`: `StoreError(NO_CREDENTIALS)` now if that chain finds none
    (resolved once, on the session that builds the client), not at the first call.
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError, NoRegionError, ProfileNotFound

    session = botocore.session.get_session()
    keys = credentials or {}
    try:
        # A new session re-reads credentials and region (a restored SnapStart container
        # must), but the JSON service model it would load again is the same: share it.
        session.register_component("data_loader", _shared_loader(session))
        # A local DynamoDB-compatible server ignores the region, but signing needs one.
        # An empty one (AWS_DEFAULT_REGION="") is none.
        region = region or session.get_config_variable("region") or None
        region = region or ("us-east-1" if endpoint_url else None)
        if region is None:
            raise NoRegionError()
        if endpoint_url is None:
            _check_region(session, region)
        client = session.create_client(
            "dynamodb",
            region_name=region,
            endpoint_url=endpoint_url,
            config=_config(timeout, max_attempts, connections),
            aws_access_key_id=keys.get("aws_access_key_id"),
            aws_secret_access_key=keys.get("aws_secret_access_key"),
        )
        # create_client resolved the chain on this session: asking again reads its answer
        found = keys or session.get_credentials() is not None
    except NoRegionError:
        raise
    except ProfileNotFound as exc:
        raise StoreError(
            ErrorKind.BAD_CONFIG, f"AWS_PROFILE names a profile no AWS config file has: {exc}"
        ) from None
    except BotoCoreError as exc:  # a credential provider that failed, not one that found none
        raise StoreError(ErrorKind.BAD_CONFIG, f"the AWS credential chain failed: {exc}") from None
    if require_credentials and not found:
        raise StoreError(ErrorKind.NO_CREDENTIALS, "the credential chain found none")
    return client


def _check_region(session: Any, region: str) -> None:
    """Refuse a region botocore's own partition data does not list: an endpoint built
    from it would fail on every request instead of once, at start."""
    partitions = session.get_component("data_loader").load_data("partitions")["partitions"]
    known = {name for p in partitions for name in p["regions"] if not name.endswith("-global")}
    if region not in known:
        raise StoreError(
            ErrorKind.BAD_CONFIG,
            f"region {region!r} (AWS_REGION, AWS_DEFAULT_REGION or the profile) is none of the "
            f"{len(known)} regions botocore knows, such as us-east-1 or eu-west-1",
        )


_LOADERS: dict[str | None, Any] = {}  # botocore's data loader per AWS_DATA_PATH value


def _shared_loader(session: Any) -> Any:
    """botocore's data loader, one per process and `AWS_DATA_PATH`, narrowed to what a
    DynamoDB client reads, and otherwise botocore's own (`botocore.loaders.create_loader`:
    paths with `~` and `$VARS` expanded; any JSON its parser takes).

    Two of its costs are paid by every cold container and buy nothing here (measured
    on this project's 2-core machine, 2026-12-01): JSON objects parsed into
    `OrderedDict`s (plain dicts keep the order too: endpoints.json 36 ms -> 17 ms with
    orjson; a file orjson refuses, such as a number past 64 bits, falls back to `json`),
    and a scan of ~445 service folders to check that "dynamodb" exists (14 ms per
    model type). `Loader(file_loader=...)` and `list_available_services` are
    botocore's own extension points."""
    paths = session.get_config_variable("data_path")
    if paths not in _LOADERS:
        import json
        import os

        from botocore.loaders import JSONFileLoader, Loader

        class PlainJSONFileLoader(JSONFileLoader):
            def _load_file(self, full_path: str, open_method: Callable) -> Any:
                if not os.path.isfile(full_path):
                    return None
                with open_method(full_path, "rb") as fp:
                    payload = fp.read()
                try:
                    return orjson.loads(payload)
                except orjson.JSONDecodeError:
                    return json.loads(payload.decode("utf-8"))

        class DynamoDBLoader(Loader):
            def list_available_services(self, type_name: str) -> list[str]:
                return ["dynamodb"]

        extra = (
            [os.path.expanduser(os.path.expandvars(p)) for p in paths.split(os.pathsep)]
            if paths is not None
            else []
        )
        _LOADERS[paths] = DynamoDBLoader(
            extra_search_paths=extra, file_loader=PlainJSONFileLoader()
        )
    return _LOADERS[paths]


def _config(timeout: float, max_attempts: int, connections: int) -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        # "legacy" backs DynamoDB off 50 ms, 100 ms, … ("standard" waits up to 1 s
        # after the first throttle: longer than a cache lookup is worth).
        retries={"total_max_attempts": max_attempts, "mode": "legacy"},
        max_pool_connections=connections,
        tcp_keepalive=True,
        # Requests are built here, never from user input: skip botocore's re-validation.
        parameter_validation=False,
    )


def worst_call_seconds(timeout: float, max_attempts: int) -> float:
    """How long one call to a hung table takes with `make_client`'s settings: every
    attempt waits out `timeout`, with the legacy backoff between attempts."""
    backoff = sum(_BACKOFF_BASE_SECONDS * 2**i for i in range(max_attempts - 1))
    return max_attempts * timeout + backoff


def classify(exc: BaseException) -> ErrorKind:
    """The kind of a botocore failure, for counters, logs and retry decisions."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        return _CODES.get(code, ErrorKind.CLIENT_ERROR)
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
        return ErrorKind.UNREACHABLE
    if isinstance(exc, NoCredentialsError):
        return ErrorKind.NO_CREDENTIALS
    return ErrorKind.OTHER


def encode(key: str, record: CacheRecord) -> dict[str, Any]:
    return {
        KEY_ATTR: {"S": key},
        "value": {"S": orjson.dumps(record.value).decode()},
        "model_version": {"S": record.version},
        "value_schema": {"N": str(record.schema)},
        "compute_ms": {"N": str(round(record.compute_ms, 3))},
        "created_at": {"N": str(round(record.created_at, 3))},
        TTL_ATTR: {"N": str(int(record.expires_at))},
    }


def item_bytes(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB counts it: the UTF-8 length of every attribute name
    and value (numbers counted as their digits, a slight over-estimate)."""
    return sum(
        len(name.encode()) + len(next(iter(v.values())).encode()) for name, v in item.items()
    )


def decode(item: Mapping[str, Any]) -> CacheRecord:
    """The record an item holds, or `CORRUPT` when any attribute is missing or malformed.

    Items written before `value_schema` existed decode as schema 0: never usable.
    """
    try:
        return CacheRecord(
            value=orjson.loads(item["value"]["S"]),
            version=item["model_version"]["S"],
            created_at=float(item["created_at"]["N"]),
            expires_at=float(item[TTL_ATTR]["N"]),
            schema=int(item.get("value_schema", {"N": "0"})["N"]),
            compute_ms=float(item.get("compute_ms", {"N": "0"})["N"]),
        )
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        return CORRUPT


_sending = threading.local()  # the ledger of the call this worker thread is making


class _Wire:
    """A store's attempts on the wire, from all its workers (by thread): which call's
    ledger each belongs to and when it was sent. An attempt a lookup abandoned at its
    deadline stays here until it ends, holding its worker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.out: dict[int, tuple[_Ledger, float]] = {}


class _Ledger:
    """The table calls one store call sends, each attempt timed on the wire (from the
    moment its request is sent to its answer's arrival, through botocore's `before-send`
    and `before-parse` events) by the worker thread that makes it: what the table is
    judged by. Never the time a call waited for a worker, nor botocore's own CPU
    (serializing, signing, parsing), which threads sharing two cores stretch. A client
    without botocore's events is timed around the whole call."""

    def __init__(self, wire: _Wire, hooked: bool) -> None:
        self._wire = wire
        self._hooked = hooked
        self._ended: list[float] = []
        self._waited: list[float] = []

    def submit(self, pool: ThreadPoolExecutor, work: Callable[..., T], *args: Any) -> Future:
        """`work(*args, self)` on `pool`, noting how long it waited for a worker."""
        submitted = time.monotonic()

        def run() -> T:
            with self._wire.lock:
                self._waited.append(time.monotonic() - submitted)
            return work(*args, self)

        return pool.submit(run)

    def send(self, call: Callable[[], T]) -> T:
        _sending.ledger = self
        if not self._hooked:
            self.sent()
        try:
            return call()
        finally:
            self.ended()  # an attempt that failed on the wire (a timeout) ends here
            _sending.ledger = None

    def sent(self) -> None:
        self.ended()  # a retry: the attempt before it failed on the wire
        with self._wire.lock:
            self._wire.out[threading.get_ident()] = (self, time.monotonic())

    def ended(self) -> None:
        with self._wire.lock:
            attempt = self._wire.out.pop(threading.get_ident(), None)
            if attempt is not None:
                self._ended.append(time.monotonic() - attempt[1])

    def times(self) -> CallTimes:
        now = time.monotonic()
        with self._wire.lock:
            out = [now - sent for ledger, sent in self._wire.out.values() if ledger is self]
            held = max((now - sent for _, sent in self._wire.out.values()), default=0.0)
            return CallTimes(list(self._ended), out, list(self._waited), held)


def _on_the_wire(**_: Any) -> None:
    """botocore's `before-send`: an attempt's request leaves now."""
    ledger = getattr(_sending, "ledger", None)
    if ledger is not None:
        ledger.sent()


def _off_the_wire(**_: Any) -> None:
    """botocore's `before-parse`: the attempt's answer has arrived."""
    ledger = getattr(_sending, "ledger", None)
    if ledger is not None:
        ledger.ended()


class DynamoDBStore:
    """`RecordStore` on one DynamoDB table through the low-level boto3 client.

    Batch calls are split at DynamoDB's limits and the chunks sent at once; keys or
    items DynamoDB leaves unprocessed are resent with exponential backoff a bounded
    number of times. A call given `timeout` returns within it whatever the table does
    (a hung socket, an answer trickling in, endless unprocessed rounds): the request
    runs on a worker thread and is abandoned at the deadline (it ends on its own, at
    botocore's socket timeouts), no new round starts past it, and what was not done
    by then is reported as unprocessed (batches) or raised as `TIMEOUT`.
    """

    def __init__(
        self,
        table: str,
        client: Any | None = None,
        *,
        unprocessed_retries: int = 3,
        backoff_seconds: float = 0.02,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 16,
    ) -> None:
        self.table = table
        self.client = client if client is not None else make_client()
        self.unprocessed_retries = unprocessed_retries
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="l2")  # threads start lazily
        events = getattr(getattr(self.client, "meta", None), "events", None)
        self._wire, self._hooked = _Wire(), events is not None
        if events is not None:
            events.register("before-send.dynamodb", _on_the_wire)
            events.register("before-parse.dynamodb", _off_the_wire)

    def _call(self, operation: str, ledger: _Ledger | None, **kwargs: Any) -> dict[str, Any]:
        def send() -> dict[str, Any]:
            return getattr(self.client, operation)(**kwargs)

        try:
            return ledger.send(send) if ledger is not None else send()
        except Exception as exc:
            raise StoreError(classify(exc), f"{operation}: {exc}") from exc

    def _within(self, deadline: float | None, work: Callable[[_Ledger | None], T], what: str) -> T:
        """`work(ledger)` on a worker thread, waited for until `deadline` (monotonic) at
        most; its table calls noted (`note_calls`) for the caller to judge."""
        if deadline is None:
            return work(None)
        left = deadline - time.monotonic()
        if left <= 0:
            raise StoreError(ErrorKind.CUT, f"{what}: no time left in the L2 budget")
        ledger = _Ledger(self._wire, self._hooked)
        future = ledger.submit(self._pool, work)
        try:
            return future.result(timeout=left)
        except FutureTimeout:
            if future.cancel():  # still queued: no worker was free, the table never saw it
                raise StoreError(ErrorKind.CUT, f"{what}: no L2 worker free within the "
                                 "budget") from None  # fmt: skip
            raise StoreError(ErrorKind.CUT, f"{what}: past the L2 budget") from None
        finally:
            note_calls(ledger.times())

    def get(self, key: str, *, timeout: float | None = None) -> CacheRecord | None:
        def read(ledger: _Ledger | None) -> dict[str, Any]:
            return self._call("get_item", ledger, TableName=self.table, Key={KEY_ATTR: {"S": key}})

        item = self._within(_deadline(timeout), read, "get_item").get("Item")
        return decode(item) if item is not None else None

    def put(self, key: str, record: CacheRecord, *, timeout: float | None = None) -> None:
        item = encode(key, record)
        self._within(
            _deadline(timeout),
            lambda ledger: self._call("put_item", ledger, TableName=self.table, Item=item),
            "put_item",
        )

    def claim(
        self,
        key: str,
        expires_at: float,
        until: float,
        now: float,
        *,
        timeout: float | None = None,
    ) -> bool:
        request = {
            "TableName": self.table,
            "Key": {KEY_ATTR: {"S": key}},
            "UpdateExpression": f"SET {LEASE_ATTR} = :until",
            "ConditionExpression": (
                f"{TTL_ATTR} = :expires AND "
                f"(attribute_not_exists({LEASE_ATTR}) OR {LEASE_ATTR} < :now)"
            ),
            "ExpressionAttributeValues": {
                ":until": {"N": str(round(until, 3))},
                ":expires": {"N": str(int(expires_at))},
                ":now": {"N": str(round(now, 3))},
            },
        }
        try:
            self._within(
                _deadline(timeout),
                lambda ledger: self._call("update_item", ledger, **request),
                "update_item",
            )
        except StoreError as exc:
            if exc.kind is ErrorKind.CONDITION_FAILED:
                return False
            raise
        return True

    def delete(self, key: str) -> bool:
        response = self._call(
            "delete_item",
            None,
            TableName=self.table,
            Key={KEY_ATTR: {"S": key}},
            ReturnValues="ALL_OLD",
        )
        return "Attributes" in response

    def _until_processed(
        self,
        operation: str,
        request: dict[str, Any],
        leftover: str,
        on_response: Callable,
        deadline: float | None,
        ledger: _Ledger | None,
    ) -> tuple[dict[str, Any], int]:
        """Call a batch operation, resending what DynamoDB left unprocessed with backoff,
        starting no round (nor backoff) that would end past `deadline`.

        Returns what is still unprocessed after the allowed retries, and the calls made.
        """
        calls = 0
        for attempt in range(self.unprocessed_retries + 1):
            if attempt:
                pause = self.backoff_seconds * 2 ** (attempt - 1)
                if deadline is not None and time.monotonic() + pause >= deadline:
                    break
                self._sleep(pause)
            response = self._call(operation, ledger, RequestItems=request)
            calls += 1
            on_response(response)
            request = response.get(leftover) or {}
            if not request.get(self.table):
                return {}, calls
        return request, calls

    def _chunks(
        self, operation: str, chunks: list[Any], leftover: str, on_response: Callable,
        deadline: float | None, build: Callable[[Any], dict[str, Any]],
    ) -> tuple[list[dict[str, Any] | None], int, int]:  # fmt: skip
        """Every chunk's request at once, each made by `build(chunk)` on the worker that
        sends it (a chunk the deadline leaves unsent is never built); per chunk what is
        left unprocessed (None: all of it, the deadline came first), the calls made, and
        the items the deadline left undone; the table calls noted (`note_calls`)."""

        def one(chunk: Any, ledger: _Ledger | None) -> tuple[dict[str, Any], int]:
            request = build(chunk)
            return self._until_processed(
                operation, request, leftover, on_response, deadline, ledger
            )

        if deadline is None:
            done = [one(chunk, None) for chunk in chunks]
            return [left for left, _ in done], sum(calls for _, calls in done), 0
        ledger = _Ledger(self._wire, self._hooked)
        futures = [ledger.submit(self._pool, one, chunk) for chunk in chunks]
        wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        lefts: list[dict[str, Any] | None] = []
        calls, late = 0, 0
        try:
            for chunk, future in zip(chunks, futures, strict=True):
                if not future.done():
                    future.cancel()  # if it never started; else it ends on its own
                    lefts.append(None)
                    late += len(chunk)
                    continue
                left, made = future.result()  # a failed chunk raises its StoreError here
                lefts.append(left)
                calls += made
        finally:
            note_calls(ledger.times())
        return lefts, calls, late

    def get_many(self, keys: Sequence[str], *, timeout: float | None = None) -> BatchRead:
        deadline = _deadline(timeout)  # building the requests spends it too
        result = BatchRead()
        found: dict[str, CacheRecord] = {}
        lock = threading.Lock()  # chunks collect from several threads

        def collect(response: dict[str, Any]) -> None:
            with lock:
                for item in response.get("Responses", {}).get(self.table, []):
                    key = item.get(KEY_ATTR, {}).get("S")
                    if key is not None:
                        found[key] = decode(item)

        unique = list(dict.fromkeys(keys))  # duplicates are a ValidationException
        chunks = [unique[i : i + MAX_GET_BATCH] for i in range(0, len(unique), MAX_GET_BATCH)]

        def build(chunk: list[str]) -> dict[str, Any]:
            return {self.table: {"Keys": [{KEY_ATTR: {"S": k}} for k in chunk]}}

        lefts, result.calls, result.late = self._chunks(
            "batch_get_item", chunks, "UnprocessedKeys", collect, deadline, build
        )
        with lock:  # a chunk abandoned at the deadline may still be collecting
            result.records = dict(found)
        for chunk, left in zip(chunks, lefts, strict=True):
            unread = chunk if left is None else [
                k[KEY_ATTR]["S"] for k in left.get(self.table, {}).get("Keys", [])
            ]  # fmt: skip
            result.unprocessed += [k for k in unread if k not in result.records]
        return result

    def put_many(
        self, records: Mapping[str, CacheRecord], *, timeout: float | None = None
    ) -> BatchWrite:
        deadline = _deadline(timeout)
        result = BatchWrite()
        pairs = list(records.items())
        chunks = [pairs[i : i + MAX_WRITE_BATCH] for i in range(0, len(pairs), MAX_WRITE_BATCH)]
        sizes: dict[str, int] = {}  # each encoded item's bytes, by key

        def build(chunk: list[tuple[str, CacheRecord]]) -> dict[str, Any]:
            """Encoded on the worker that sends it: the request's thread never waits on
            encoding a thousand items, and a chunk the deadline leaves unsent costs nothing."""
            items = [encode(key, record) for key, record in chunk]
            for item in items:
                sizes[item[KEY_ATTR]["S"]] = item_bytes(item)
            return {self.table: [{"PutRequest": {"Item": item}} for item in items]}

        lefts, result.calls, result.late = self._chunks(
            "batch_write_item", chunks, "UnprocessedItems", lambda _r: None, deadline, build
        )
        for chunk, left in zip(chunks, lefts, strict=True):
            if left is None:
                result.unprocessed += len(chunk)
                continue
            left_keys = {r["PutRequest"]["Item"][KEY_ATTR]["S"] for r in left.get(self.table, [])}
            result.unprocessed += len(left_keys)
            for key, _ in chunk:
                if key not in left_keys:
                    result.written += 1
                    result.item_bytes.append(sizes[key])
        return result


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout
