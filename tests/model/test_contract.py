"""One contract suite, every model: what the cache promises holds for each model the
service can serve (as dogpile.cache runs one suite against every backend). A new
model joins by adding its `Model` class to `MODELS`."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cache import make_key
from cache.dynamodb import KEY_ATTR
from model.contract import Model, model_class
from service.factory import create_app
from stress_test.bench.cold import cold_start
from stress_test.bench.rounding import numbers
from tests.conftest import make_settings

MODELS = ["model.flight_delay:FlightDelay", "model.iris:Iris", "model.iris:IrisTrees"]


@pytest.fixture(scope="session")
def artifacts(artifact_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each model's artifact, trained on its own real data (flight: the session's sample)."""
    paths = {MODELS[0]: artifact_path}
    for spec in MODELS[1:]:
        path = tmp_path_factory.mktemp("models") / model_class(spec).artifact_file
        model_class(spec).train(path)
        paths[spec] = path
    return paths


@pytest.fixture(params=MODELS)
def spec(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def cls(spec: str) -> type[Model]:
    return model_class(spec)


def serve(spec: str, artifacts: dict, **overrides: Any) -> TestClient:
    settings = make_settings(artifacts[spec], model=spec, **overrides)
    return TestClient(create_app(settings))


def tiered(spec: str, artifacts: dict, endpoint: str, table: str) -> TestClient:
    return serve(spec, artifacts, cache_mode="tiered", dynamodb_endpoint=endpoint,
                 cache_table=table)  # fmt: skip


def answer(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("cache", "model_version")}


def test_keys_are_stable_and_discriminating(cls: type[Model]) -> None:
    example = cls.example()
    key = make_key(cls.name, "v1", cls.Request(**example).model_dump(), schema=cls.value_schema)
    assert key == make_key(cls.name, "v1", cls.Request(**dict(reversed(example.items())))
                           .model_dump(), schema=cls.value_schema)  # fmt: skip
    others = {
        make_key(cls.name, "v1", cls.Request(**cls.payload(i)).model_dump(), schema=1)
        for i in range(200)
    }
    assert len(others) == 200  # 200 distinct payloads, 200 keys


def test_the_example_is_answered_and_cached_equals_computed_across_tiers(
    spec: str, artifacts: dict, moto_endpoint: str, table: str
) -> None:
    first = tiered(spec, artifacts, moto_endpoint, table)
    miss = first.post("/predict", json=first.app.state.predictions.model.example())
    assert miss.status_code == 200 and miss.json()["cache"] == "MISS"
    hit_l1 = first.post("/predict", json=first.app.state.predictions.model.example()).json()
    other = tiered(spec, artifacts, moto_endpoint, table)  # another container: its own L1
    hit_l2 = other.post("/predict", json=other.app.state.predictions.model.example()).json()
    assert (hit_l1["cache"], hit_l2["cache"]) == ("HIT-L1", "HIT-L2")
    for cached in (hit_l1, hit_l2):
        assert answer(cached).keys() == answer(miss.json()).keys()
        assert all(
            math.isclose(a, b, abs_tol=1e-9)
            for a, b in zip(numbers(answer(cached)), numbers(answer(miss.json())), strict=True)
        )


def test_bad_input_is_422_and_never_cached(
    spec: str, artifacts: dict, moto_endpoint: str, table: str
) -> None:
    client = tiered(spec, artifacts, moto_endpoint, table)
    example = client.app.state.predictions.model.example()
    name = next(iter(example))
    for body in ({}, {**example, "extra": 1}, {**example, name: None}):
        response = client.post("/predict", json=body)
        assert response.status_code == 422 and response.json()["message"]
    batch = client.post("/predict/batch", json={"items": [example, {**example, name: None}]})
    assert batch.status_code == 422 and f"items.1.{name}" in batch.json()["message"]
    items = client.app.state.predictions.cache.store.client.scan(TableName=table)["Items"]
    assert items == [] and client.get("/stats").json()["model"]["rows"] == 0


def test_a_malformed_cached_value_is_recomputed(
    spec: str, artifacts: dict, moto_endpoint: str, table: str
) -> None:
    client = tiered(spec, artifacts, moto_endpoint, table)
    predictions = client.app.state.predictions
    example = predictions.model.example()
    computed = client.post("/predict", json=example).json()
    key = predictions.key(predictions.model.Request(**example))
    item = predictions.cache.store.client.get_item(TableName=table, Key={KEY_ATTR: {"S": key}})
    item["Item"]["value"] = {"S": '{"not": "this model\'s value"}'}
    predictions.cache.store.client.put_item(TableName=table, Item=item["Item"])
    fresh = tiered(spec, artifacts, moto_endpoint, table)
    again = fresh.post("/predict", json=example)
    assert again.headers["x-cache"] == "MISS" and answer(again.json()) == answer(computed)
    assert fresh.get("/stats").json()["l2"]["errors"]["corrupt"] == 1


@pytest.mark.slow
def test_a_cold_l2_hit_imports_no_scikit_learn(
    spec: str, artifacts: dict, moto_endpoint: str, table: str
) -> None:
    warm = tiered(spec, artifacts, moto_endpoint, table)
    example = warm.app.state.predictions.model.example()
    computed = warm.post("/predict", json=example).json()
    env = {**os.environ, "MODEL": spec, "MODEL_PATH": str(artifacts[spec]),
           "CACHE_MODE": "tiered", "CACHE_TABLE": table,
           "AWS_ENDPOINT_URL_DYNAMODB": moto_endpoint, "LOG_LEVEL": "WARNING"}  # fmt: skip
    hit = cold_start(example, env)
    assert (hit["status"], hit["cache"], hit["sklearn_imported"]) == (200, "HIT-L2", False)
    assert hit["value"] == answer(computed)  # the same value in another process


def test_a_predict_call_that_breaks_the_contract_is_500_and_caches_nothing(
    spec: str, artifacts: dict
) -> None:
    client = serve(spec, artifacts, cache_mode="memory")
    model = client.app.state.predictions.model
    example, honest = model.example(), model.predict_many
    for broken in (lambda rows: [], lambda rows: [{"bogus": 1} for _ in rows]):
        model.predict_many = broken
        response = client.post("/predict", json=example)
        assert response.status_code == 500 and response.json() == {"message": "internal error"}
        assert client.get("/stats").json()["l1_items"] == 0  # nothing of it was kept
    model.predict_many = honest  # the next request is computed afresh, not served a bad value
    assert client.post("/predict", json=example).headers["x-cache"] == "MISS"
    assert client.get("/stats").json()["l1"]["errors"] == {}


def test_every_route_is_in_the_openapi_page_with_the_models_schema(
    spec: str, artifacts: dict
) -> None:
    client = serve(spec, artifacts)
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["example"] == client.app.state.predictions.model.example()
    assert set(body["schema"]["properties"]) == set(model_class(spec).Request.model_fields)


def test_no_code_outside_model_names_a_flight_field() -> None:
    """The cache, the service, the tools and the deployment know models only through the
    contract: a flight field named anywhere but in `model/` is a leak."""
    import re

    root = Path(__file__).resolve().parents[2]
    word = re.compile(r"""["'](carrier|origin|dest|weekday|delay_probability)["']""")
    leaks = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("cache", "service", "stress_test", "deploy")
        for path in (root / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if word.search(line)
    ]
    assert leaks == []


@pytest.mark.slow
def test_warm_inspect_and_purge_serve_the_second_model_with_only_model_set(
    artifacts: dict, moto_endpoint: str, table: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
) -> None:  # fmt: skip
    import json

    from service.ops import cli

    spec = MODELS[1]
    monkeypatch.setenv("MODEL", spec)
    cls = model_class(spec)
    rows = [cls.payload(i) for i in range(40)]
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows[:20]) + "\n")
    csv = tmp_path / "rows.csv"
    csv.write_text(",".join(rows[0]) + "\n" + "".join(
        ",".join(str(v) for v in r.values()) + "\n" for r in rows[20:]))  # fmt: skip
    target = ["--endpoint", moto_endpoint, "--table", table, "--model-path", str(artifacts[spec])]
    for path in (jsonl, csv):
        assert cli.main(["warm", str(path), *target, "--json", "--no-progress"]) == 0
        assert json.loads(capsys.readouterr().out)["written"] == 20
    served = tiered(spec, artifacts, moto_endpoint, table)
    assert {served.post("/predict", json=r).headers["x-cache"] for r in rows} == {"HIT-L2"}
    assert served.app.state.predictions.artifact.loaded is False  # answered without the model
    assert cli.main(["inspect", json.dumps(rows[0]), *target]) == 0
    assert json.loads(capsys.readouterr().out)["l2"]["usable"] is True
    assert cli.main(["purge", json.dumps(rows[0]), *target]) == 0
    assert json.loads(capsys.readouterr().out)["purged"] is True
    fresh = tiered(spec, artifacts, moto_endpoint, table)
    assert fresh.post("/predict", json=rows[0]).headers["x-cache"] == "MISS"
