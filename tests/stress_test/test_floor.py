"""`predcache bench`'s last part, briefly: predcache and the bare FastAPI floor each
served by uvicorn as `make serve` serves, and both answer the same load."""

from __future__ import annotations

import pytest

from stress_test.bench.floor import compare
from stress_test.payloads import unique_payloads


@pytest.mark.slow
def test_both_servers_answer_the_same_load(artifact_path, monkeypatch) -> None:
    monkeypatch.setenv("MODEL_PATH", str(artifact_path))
    best = compare(unique_payloads(1, offset=180_000)[0], seconds=0.3, rounds=1)
    assert best["predcache"] > 0 and best["floor"] > 0  # every answer was a 200
