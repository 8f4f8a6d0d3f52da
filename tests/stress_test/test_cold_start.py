"""A fresh process whose first request is an L2 hit never imports scikit-learn."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stress_test.bench.cold import cold_start
from stress_test.payloads import unique_payloads
from tests.conftest import instance


@pytest.mark.parametrize("preload", ["0", "1"])
def test_cold_l2_hit_skips_the_model(
    artifact_path: Path, moto_endpoint: str, table: str, preload: str
) -> None:
    cached, fresh = unique_payloads(2, offset=900_000)
    warm: TestClient = instance(artifact_path, moto_endpoint, table)
    assert warm.post("/predict", json=cached).headers["x-cache"] == "MISS"
    env = {
        **os.environ,
        "MODEL_PATH": str(artifact_path),
        "CACHE_MODE": "tiered",
        "CACHE_TABLE": table,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_endpoint,
        "MODEL_PRELOAD": preload,
        "LOG_LEVEL": "WARNING",
    }
    hit = cold_start(cached, env)
    assert (hit["status"], hit["cache"]) == (200, "HIT-L2")
    assert hit["sklearn_imported"] is (preload == "1")
    miss = cold_start(fresh, env)
    assert (miss["status"], miss["cache"], miss["sklearn_imported"]) == (200, "MISS", True)
