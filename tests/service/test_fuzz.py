"""Property-based checks: hypothesis over the payload schema, schemathesis over OpenAPI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.flight_delay import FlightFeatures
from service.factory import create_app
from tests.conftest import PAYLOAD, make_settings

pytestmark = pytest.mark.slow  # subprocesses, many requests: not in `make test-fast`

FIELDS = tuple(PAYLOAD)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
near_valid = st.fixed_dictionaries(
    {
        "carrier": st.text(max_size=3) | st.sampled_from(["UA", "ua", "9E", "zz"]),
        "origin": st.text(max_size=4) | st.sampled_from(["EWR", "jfk", "XXX"]),
        "dest": st.text(max_size=4) | st.sampled_from(["ORD", "lax"]),
        "month": st.integers(-2, 14) | st.floats(allow_nan=True) | json_values,
        "day": st.integers(-1, 33),
        "weekday": st.integers(-1, 9),
        "hour": st.integers(-1, 25) | st.floats(0, 23),
    }
)
payloads = near_valid | st.dictionaries(st.sampled_from((*FIELDS, "extra")), json_values)


@pytest.fixture(scope="module")
def fuzz_client(artifact_path: Path) -> TestClient:
    return TestClient(create_app(make_settings(artifact_path)))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=payloads)
def test_any_payload_is_200_or_422_naming_a_field(fuzz_client: TestClient, payload: dict) -> None:
    body = json.dumps(payload)  # Python's json writes NaN/Infinity, as hostile clients do
    response = fuzz_client.post(
        "/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        FlightFeatures.model_validate(payload)  # only valid payloads are predicted
        assert 0 <= response.json()["delay_probability"] <= 1
    else:
        fields = {error["field"].split(".")[0] for error in response.json()["detail"]}
        assert fields <= set(FIELDS) | {"extra", "body"} | set(payload)
        with pytest.raises(ValueError):
            FlightFeatures.model_validate(payload)


@settings(max_examples=200, deadline=None)
@given(
    carrier=st.sampled_from(["UA", "AA", "9E"]),
    hour=st.integers(0, 23),
    data=st.data(),
)
def test_case_and_number_spelling_never_change_the_key(carrier: str, hour: int, data) -> None:
    from cache import make_key

    base = {**PAYLOAD, "carrier": carrier, "hour": hour}
    variant = {
        **base,
        "carrier": data.draw(st.sampled_from([carrier, carrier.lower()])),
        "origin": data.draw(st.sampled_from(["EWR", "ewr", "Ewr"])),
        "hour": data.draw(st.sampled_from([hour, float(hour)])),
    }
    keys = {
        make_key("m", "v", FlightFeatures.model_validate(p).model_dump(), schema=1)
        for p in (base, variant)
    }
    assert len(keys) == 1


def test_openapi_operations_never_answer_5xx(artifact_path: Path) -> None:
    """schemathesis generates requests from the app's own OpenAPI schema, valid and not."""
    app = create_app(make_settings(artifact_path))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /predict",
        "POST /predict/batch",
        "GET /health",
        "GET /stats",
    }
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation, mode in itertools.product(operations, modes):
        if mode is modes[1] and operation.method.upper() == "GET":
            continue  # no input to make invalid

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(mode))
        def check(case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.path, response.text)
            if 400 <= response.status_code < 500:
                body = response.json()
                assert body.get("message") or body.get("detail")

        check()
