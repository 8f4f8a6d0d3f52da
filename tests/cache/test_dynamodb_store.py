"""The DynamoDB tier through the real boto3 calls against moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from cache import CacheRecord, DynamoDBStore, StoreError
from cache.dynamodb import KEY_ATTR
from tests.conftest import TABLE
from tests.dynamo import Faults, moto_store


@pytest.fixture
def store(aws_env: None) -> Iterator[DynamoDBStore]:
    with mock_aws():
        yield moto_store(TABLE, sleep=lambda _s: None)


def record(value: object = 0.25, version: str = "v1", now: int = 1_000) -> CacheRecord:
    return CacheRecord(
        {"p": value}, version, created_at=now, expires_at=now + 60, schema=1, compute_ms=1.5
    )


def test_put_then_get_round_trips_every_attribute(store: DynamoDBStore) -> None:
    store.put("k", record())
    assert store.get("k") == record()
    item = store.client.get_item(TableName=TABLE, Key={KEY_ATTR: {"S": "k"}})["Item"]
    assert set(item) == {
        KEY_ATTR, "value", "model_version", "value_schema", "compute_ms", "created_at",
        "expires_at",
    }  # fmt: skip
    assert item["expires_at"] == {"N": "1060"}
    assert store.get("absent") is None


def test_table_has_ttl_on_expires_at(store: DynamoDBStore) -> None:
    ttl = store.client.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


@pytest.mark.parametrize(
    "item",
    [
        {"value": {"S": "{not json"}},
        {"value": {"N": "1"}},
        {"model_version": {"S": "v1"}},
        {"value": {"S": "1"}, "model_version": {"S": "v1"}, "created_at": {"S": "x"}},
    ],
)
def test_corrupt_items_decode_as_corrupt(store: DynamoDBStore, item: dict) -> None:
    store.client.put_item(TableName=TABLE, Item={KEY_ATTR: {"S": "bad"}, **item})
    assert store.get("bad").corrupt


def test_batches_split_at_dynamodb_limits(store: DynamoDBStore) -> None:
    records = {f"k{i}": record(i) for i in range(260)}
    written = store.put_many(records)
    assert (written.written, written.unprocessed, written.calls) == (260, 0, 11)  # 25 per call
    read = store.get_many([*records, "k0", "absent"])  # duplicates are dropped
    assert read.records == records
    assert read.calls == 3  # 100 per call
    assert read.unprocessed == []


def test_unprocessed_keys_are_retried_then_reported(store: DynamoDBStore) -> None:
    store.put_many({f"k{i}": record(i) for i in range(3)})
    real = store.client.batch_get_item
    rounds = []

    def flaky(**kwargs):
        rounds.append(kwargs)
        response = real(**kwargs)
        if len(rounds) == 1:  # first round: DynamoDB leaves one key for later
            keys = kwargs["RequestItems"][TABLE]["Keys"]
            response["Responses"][TABLE] = [
                i for i in response["Responses"][TABLE] if i[KEY_ATTR] != keys[0][KEY_ATTR]
            ]
            response["UnprocessedKeys"] = {TABLE: {"Keys": keys[:1]}}
        return response

    store.client.batch_get_item = flaky
    read = store.get_many(["k0", "k1", "k2"])
    assert len(read.records) == 3 and read.calls == 2

    def never(**kwargs):
        return {"Responses": {TABLE: []}, "UnprocessedKeys": kwargs["RequestItems"]}

    store.client.batch_get_item = never
    read = store.get_many(["k0", "k1"])
    assert read.unprocessed == ["k0", "k1"]
    assert read.calls == store.unprocessed_retries + 1


def test_unprocessed_items_are_retried_then_counted(store: DynamoDBStore) -> None:
    real = store.client.batch_write_item
    calls = []

    def half(**kwargs):
        calls.append(kwargs)
        items = kwargs["RequestItems"][TABLE]
        done, rest = items[: len(items) // 2], items[len(items) // 2 :]
        if done:
            real(RequestItems={TABLE: done})
        return {"UnprocessedItems": {TABLE: rest} if rest else {}}

    store.client.batch_write_item = half
    result = store.put_many({f"k{i}": record(i) for i in range(8)})
    assert (result.written, result.unprocessed) == (7, 1)  # 8 → 4 → 2 → 1 left after 3 retries
    assert len(calls) == 4


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ProvisionedThroughputExceededException", "throttled"),
        ("ThrottlingException", "throttled"),
        ("ResourceNotFoundException", "missing_table"),
        ("ValidationException", "invalid_request"),
        ("AccessDeniedException", "access_denied"),
    ],
)
def test_errors_are_raised_as_store_errors_with_a_kind(
    store: DynamoDBStore, code: str, kind: str
) -> None:
    Faults(store.client, code)
    with pytest.raises(StoreError) as info:
        store.get("k")
    assert info.value.kind == kind


def test_unreachable_endpoint_fails_fast(aws_env: None) -> None:
    from cache import make_client

    client = make_client(timeout=0.2, max_attempts=2, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StoreError) as info:
        DynamoDBStore(TABLE, client).get("k")
    assert info.value.kind == "unreachable"


def test_refresh_lease_is_held_by_one_reader_at_a_time(store: DynamoDBStore) -> None:
    """A conditional write: one live lease per record, and none on a changed record."""
    store.put("k", record(now=1_000))  # expires at 1060
    assert store.claim("k", 1060, until=1_010, now=1_000)
    assert not store.claim("k", 1060, until=1_011, now=1_001)  # leased
    assert store.claim("k", 1060, until=1_030, now=1_020)  # the lease ran out
    assert not store.claim("k", 1000, until=1_040, now=1_035)  # another record now
    assert not store.claim("absent", 1060, until=1_040, now=1_035)
    store.put("k", record(now=1_050))  # the refresh lands: the lease goes with the old item
    assert store.claim("k", 1110, until=1_060, now=1_051)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"])
def test_client_reads_the_same_models_as_botocores_own(aws_env: None, region: str) -> None:
    """make_client's loader (plain dicts, no folder scan) builds the client botocore's
    default loader builds: same endpoint, operations and request shapes."""
    import botocore.session

    from cache import make_client

    ours = make_client(region=region)
    theirs = botocore.session.Session().create_client("dynamodb", region_name=region)
    assert ours.meta.endpoint_url == theirs.meta.endpoint_url
    model, reference = ours.meta.service_model, theirs.meta.service_model
    assert model.operation_names == reference.operation_names
    for name in ("GetItem", "BatchWriteItem", "UpdateItem"):
        shape, expected = model.operation_model(name), reference.operation_model(name)
        assert list(shape.input_shape.members) == list(expected.input_shape.members)
        assert shape.metadata == expected.metadata


def test_an_aws_data_path_is_read_as_botocore_reads_it(
    aws_env: None, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_DATA_PATH with `~` and `$VARS`, a model with a number orjson cannot parse (past
    64 bits), and a later change of the variable in the same process: make_client's
    client has the operations botocore's own client has, each time."""
    import gzip
    import json
    from pathlib import Path

    import botocore
    import botocore.session

    from cache import make_client

    shipped = Path(botocore.__file__).parent / "data" / "dynamodb" / "2012-08-10"
    model = json.loads(gzip.decompress((shipped / "service-2.json.gz").read_bytes()))
    model["operations"]["PingTable"] = dict(model["operations"]["DescribeLimits"])
    model["metadata"]["bigNumber"] = 2**70
    folder = tmp_path / "home" / "models" / "dynamodb" / "2012-08-10"
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELS", "models")
    for data_path, has_ping in (("~/$MODELS", True), ("", False)):
        monkeypatch.setenv("AWS_DATA_PATH", data_path)
        ours = make_client(region="us-east-1").meta.service_model.operation_names
        theirs = botocore.session.Session().create_client("dynamodb", region_name="us-east-1")
        assert ours == theirs.meta.service_model.operation_names
        assert ("PingTable" in ours) is has_ping
