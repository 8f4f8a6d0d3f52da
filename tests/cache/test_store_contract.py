"""One contract, every `RecordStore` backend: DynamoDB (real boto3 calls, moto) and the
in-memory fake the read-path tests use. A new backend joins by adding a fixture param."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from cache import CacheRecord, RecordStore
from tests.cache.fakes import DictStore
from tests.conftest import TABLE
from tests.dynamo import moto_store


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest, aws_env: None) -> Iterator[RecordStore]:
    if request.param == "memory":
        yield DictStore()
        return
    with mock_aws():
        yield moto_store(TABLE, sleep=lambda _s: None)


def record(value: float = 0.25, expires_at: int = 1_060) -> CacheRecord:
    return CacheRecord({"p": value}, "v1", 1_000.0, expires_at, schema=1, compute_ms=1.5)


def test_a_record_put_is_read_back_whole(store: RecordStore) -> None:
    store.put("k", record())
    assert store.get("k") == record()
    assert store.get("absent") is None


def test_batches_read_what_was_written_and_skip_duplicates(store: RecordStore) -> None:
    records = {f"k{i}": record(i / 100) for i in range(30)}
    written = store.put_many(records)
    assert written.written == 30 and written.unprocessed == 0
    assert len(written.item_bytes) == 30 and all(size > 0 for size in written.item_bytes)
    read = store.get_many(["k0", "k0", *records, "absent"])
    assert read.records == records and read.unprocessed == []


def test_one_reader_at_a_time_holds_the_refresh_lease(store: RecordStore) -> None:
    store.put("k", record())
    assert store.claim("k", 1_060, until=1_010, now=1_000)
    assert not store.claim("k", 1_060, until=1_011, now=1_001)  # the lease is live
    assert store.claim("k", 1_060, until=1_030, now=1_020)  # it ran out
    assert not store.claim("k", 1_999, until=1_050, now=1_040)  # another record by now
    assert not store.claim("absent", 1_060, until=1_010, now=1_000)


def test_a_new_write_drops_the_lease(store: RecordStore) -> None:
    store.put("k", record())
    assert store.claim("k", 1_060, until=2_000, now=1_000)
    store.put("k", record(0.5, expires_at=1_090))
    assert store.claim("k", 1_090, until=2_000, now=1_001)


def test_delete_removes_a_record_and_says_whether_there_was_one(store: RecordStore) -> None:
    store.put("k", record())
    assert store.delete("k") is True
    assert store.get("k") is None
    assert store.delete("k") is False
