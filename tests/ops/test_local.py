"""The embedded table: a moto server of its own, or, under SHARED_DYNAMODB_ENV, a table
of its own on the server a run's jobs share (make test-deploy's packages)."""

from __future__ import annotations

import pytest

from service.ops import local
from service.ops.local import SHARED_DYNAMODB_ENV, embedded_table, local_client


def test_a_shared_server_holds_each_tables_for_as_long_as_its_job_runs(
    monkeypatch: pytest.MonkeyPatch, moto_endpoint: str
) -> None:
    def no_server_of_its_own(*args: object) -> None:
        raise AssertionError("started a server of its own")

    monkeypatch.setattr(local, "dynamodb_server", no_server_of_its_own)
    monkeypatch.setenv(SHARED_DYNAMODB_ENV, moto_endpoint)
    client = local_client(moto_endpoint)
    with embedded_table("shared-a") as a, embedded_table("shared-b") as b:
        assert a == b == moto_endpoint
        assert {"shared-a", "shared-b"} <= set(client.list_tables()["TableNames"])
    assert not {"shared-a", "shared-b"} & set(client.list_tables()["TableNames"])
