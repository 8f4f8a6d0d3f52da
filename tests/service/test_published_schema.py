"""The published API is the API: each request field's published pattern accepts exactly
what the app accepts (a client generated from /openapi.json sends nothing it refuses,
and nothing it refused is let through), and a 405's `Allow` names every method."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from model.flight_delay import EXAMPLE, FlightFeatures
from service.factory import create_app
from tests.conftest import make_settings
from tests.model.test_contract_faults import Toy, serve

CODES = {"carrier": 2, "origin": 3, "dest": 3}


@pytest.fixture(scope="module")
def published(artifact_path: Path) -> dict:
    client = TestClient(create_app(make_settings(artifact_path)))
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    query = {p["name"]: p["schema"] for p in schema["paths"]["/predict"]["get"]["parameters"]}
    return {"body": body["schema"]["properties"], "query": query}


def accepted(field: str, value: object, **others: object) -> bool:
    try:
        FlightFeatures.model_validate({**EXAMPLE, **others, field: value})
    except ValidationError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(CODES)), value=st.one_of(
    st.text(max_size=4),
    # the long s (U+017F) and the Kelvin sign (U+212A) upper-case to ASCII letters
    st.text(alphabet="aAzZ09\u017f\u212a \n", max_size=4),
))  # fmt: skip
def test_a_published_pattern_accepts_exactly_what_the_app_accepts(
    published: dict, field: str, value: str
) -> None:
    for where in ("body", "query"):
        schema = published[where][field]
        fits = bool(re.fullmatch(schema["pattern"], value)) and (
            schema["minLength"] <= len(value) <= schema["maxLength"]
        )
        assert fits == accepted(field, value), (where, field, value)


def test_every_flight_field_says_what_it_takes(published: dict) -> None:
    for where in ("body", "query"):
        fields = published[where]
        assert {f: fields[f]["pattern"] for f in CODES} == {
            "carrier": "^[A-Za-z0-9]{2}$",
            "origin": "^[A-Za-z]{3}$",
            "dest": "^[A-Za-z]{3}$",
        }
        assert (fields["month"]["minimum"], fields["month"]["maximum"]) == (1, 12)
        assert "exists in `month`" in fields["day"]["description"]  # what JSON Schema cannot say


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH"])
def test_a_405_names_every_method_the_path_takes(artifact_path: Path, method: str) -> None:
    client = TestClient(create_app(make_settings(artifact_path)))
    answer = client.request(method, "/predict")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD, POST"
    assert client.request(method, "/predict/batch").headers["allow"] == "POST"


class Owner(BaseModel):
    name: str


class WithOwner(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"owner": {"name": "x"}}}
    )
    owner: Owner


class OwnerModel(Toy):
    """A request a query cannot carry (an object field): no GET, so Allow says POST only."""

    Request = WithOwner

    def predict_many(self, rows: list) -> list:
        return [{"progression": float(len(row["owner"]["name"]))} for row in rows]


def test_a_model_without_get_allows_post_only(tmp_path: Path) -> None:
    client = serve(OwnerModel, tmp_path)
    assert client.put("/predict").headers["allow"] == "POST"
    assert client.post("/predict", json={"owner": {"name": "ab"}}).json()["progression"] == 2.0


def test_a_published_day_rule_is_the_apps(published: dict, artifact_path: Path) -> None:
    """Every month and day: valid by the published body schema (its `if`/`then`) exactly
    when the app takes it."""
    import jsonschema

    client = TestClient(create_app(make_settings(artifact_path)))
    schema = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
    validator = jsonschema.Draft202012Validator(schema["content"]["application/json"]["schema"])
    for month in range(1, 13):
        for day in range(1, 32):
            body = {**EXAMPLE, "month": month, "day": day}
            assert validator.is_valid(body) == accepted("day", day, month=month), (month, day)


@settings(max_examples=300, deadline=None)
@given(x=st.floats(-1, 31, allow_nan=False) | st.sampled_from([0.05, 0.0499999999, 30.05]))
def test_a_rounded_fields_published_bounds_are_the_values_it_takes(x: float) -> None:
    """iris's `gt=0, le=30` after `Rounded(1)`: the published bounds are the unrounded
    numbers that pass (0.05 and 30.049999999999997), so a published-valid value is
    taken and a published-invalid one refused."""
    from model.iris import RoundedMeasurements

    field = RoundedMeasurements.model_json_schema()["properties"]["petal_width"]
    assert "gt" not in field and "le" not in field  # JSON Schema's own words
    fits = field["minimum"] <= x <= field["maximum"]
    try:
        RoundedMeasurements.model_validate({**RoundedMeasurements.model_config[
            "json_schema_extra"]["example"], "petal_width": x})  # fmt: skip
        taken = True
    except ValidationError:
        taken = False
    assert fits == taken


def started_lines(capsys: pytest.CaptureFixture) -> list[dict]:
    """The start-up lines the app logged (JSON on stderr) since the last read."""
    import json

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]  # fmt: skip
    return [line for line in lines if line.get("message") == "started"]


def test_the_start_up_line_says_get_is_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    capsys.readouterr()
    serve(OwnerModel, tmp_path)
    (started,) = started_lines(capsys)
    assert started["get_predict"] == "left out: field 'owner' is objects or a union"
