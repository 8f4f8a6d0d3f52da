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
from concurrent.futures import ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import orjson

from cache.base import BatchRead, BatchWrite, note_wait
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
) -> Any:
    """A DynamoDB client that gives up fast: a slow table must not stall a request.

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
            config=_config(timeout, max_attempts),
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


def _config(timeout: float, max_attempts: int) -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        # "legacy" backs DynamoDB off 50 ms, 100 ms, … ("standard" waits up to 1 s
        # after the first throttle: longer than a cache lookup is worth).
        retries={"total_max_attempts": max_attempts, "mode": "legacy"},
        max_pool_connections=50,
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

    @staticmethod
    def _note_wait(submitted: float, began: list[float]) -> None:
        if began:
            note_wait(min(began) - submitted)

    def _submit(self, work: Callable[..., T], began: list[float], *args: Any) -> Any:
        """`work(*args)` on a worker, noting in `began` when a worker took it."""

        def run() -> T:
            began.append(time.monotonic())
            return work(*args)

        return self._pool.submit(run)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self.client, operation)(**kwargs)
        except Exception as exc:
            raise StoreError(classify(exc), f"{operation}: {exc}") from exc

    def _within(self, deadline: float | None, work: Callable[[], T], what: str) -> T:
        """`work()` on a worker thread, waited for until `deadline` (monotonic) at most."""
        if deadline is None:
            return work()
        left = deadline - time.monotonic()
        if left <= 0:
            raise StoreError(ErrorKind.TIMEOUT, f"{what}: no time left in the L2 budget")
        submitted, began = time.monotonic(), []
        future = self._submit(work, began)
        try:
            return future.result(timeout=left)
        except FutureTimeout:
            if future.cancel():  # still queued: no worker was free, the table never saw it
                raise StoreError(ErrorKind.BUSY, f"{what}: no L2 worker free within the "
                                 "budget") from None  # fmt: skip
            raise StoreError(ErrorKind.TIMEOUT, f"{what}: past the L2 budget") from None
        finally:
            self._note_wait(submitted, began)

    def get(self, key: str, *, timeout: float | None = None) -> CacheRecord | None:
        def read() -> dict[str, Any]:
            return self._call("get_item", TableName=self.table, Key={KEY_ATTR: {"S": key}})

        item = self._within(_deadline(timeout), read, "get_item").get("Item")
        return decode(item) if item is not None else None

    def put(self, key: str, record: CacheRecord, *, timeout: float | None = None) -> None:
        item = encode(key, record)
        self._within(
            _deadline(timeout),
            lambda: self._call("put_item", TableName=self.table, Item=item),
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
                _deadline(timeout), lambda: self._call("update_item", **request), "update_item"
            )
        except StoreError as exc:
            if exc.kind is ErrorKind.CONDITION_FAILED:
                return False
            raise
        return True

    def delete(self, key: str) -> bool:
        response = self._call(
            "delete_item",
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
            response = self._call(operation, RequestItems=request)
            calls += 1
            on_response(response)
            request = response.get(leftover) or {}
            if not request.get(self.table):
                return {}, calls
        return request, calls

    def _chunks(
        self, operation: str, chunks: list[dict[str, Any]], leftover: str,
        on_response: Callable, deadline: float | None,
    ) -> tuple[list[dict[str, Any]], int, bool]:  # fmt: skip
        """Every chunk's request at once; per chunk what is left unprocessed (the whole
        chunk when it did not finish by `deadline`), the calls made, and whether the
        deadline cut any chunk short."""

        def one(request: dict[str, Any]) -> tuple[dict[str, Any], int]:
            return self._until_processed(operation, request, leftover, on_response, deadline)

        if deadline is None:
            done = [one(chunk) for chunk in chunks]
            return [left for left, _ in done], sum(calls for _, calls in done), False
        submitted, began = time.monotonic(), []
        futures = [self._submit(one, began, chunk) for chunk in chunks]
        wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        self._note_wait(submitted, began)
        lefts, calls, cut = [], 0, False
        for chunk, future in zip(chunks, futures, strict=True):
            if not future.done():
                future.cancel()
                lefts.append(chunk)
                cut = True
                continue
            left, made = future.result()  # a failed chunk raises its StoreError here
            lefts.append(left)
            calls += made
        return lefts, calls, cut

    def get_many(self, keys: Sequence[str], *, timeout: float | None = None) -> BatchRead:
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
        chunks = [
            {self.table: {"Keys": [{KEY_ATTR: {"S": k}} for k in unique[i : i + MAX_GET_BATCH]]}}
            for i in range(0, len(unique), MAX_GET_BATCH)
        ]
        lefts, result.calls, result.timed_out = self._chunks(
            "batch_get_item", chunks, "UnprocessedKeys", collect, _deadline(timeout)
        )
        with lock:  # a chunk abandoned at the deadline may still be collecting
            result.records = dict(found)
        result.unprocessed = [
            k[KEY_ATTR]["S"]
            for left in lefts
            for k in left.get(self.table, {}).get("Keys", [])
            if k[KEY_ATTR]["S"] not in result.records
        ]
        return result

    def put_many(
        self, records: Mapping[str, CacheRecord], *, timeout: float | None = None
    ) -> BatchWrite:
        result = BatchWrite()
        puts = [{"PutRequest": {"Item": encode(k, r)}} for k, r in records.items()]
        chunks = [
            {self.table: puts[i : i + MAX_WRITE_BATCH]}
            for i in range(0, len(puts), MAX_WRITE_BATCH)
        ]
        lefts, result.calls, result.timed_out = self._chunks(
            "batch_write_item", chunks, "UnprocessedItems", lambda _r: None, _deadline(timeout)
        )
        for chunk, left in zip(chunks, lefts, strict=True):
            left_keys = {r["PutRequest"]["Item"][KEY_ATTR]["S"] for r in left.get(self.table, [])}
            result.unprocessed += len(left_keys)
            for request in chunk[self.table]:
                item = request["PutRequest"]["Item"]
                if item[KEY_ATTR]["S"] not in left_keys:
                    result.written += 1
                    result.item_bytes.append(item_bytes(item))
        return result


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout
