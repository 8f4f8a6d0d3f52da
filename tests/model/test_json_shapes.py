"""Values and requests of any JSON shape, through the app and every tier: a value is
checked and stored in JSON form (enums, dates, decimals, UUIDs, nested models, NaN where
`Value` allows it), a request type a key can carry is keyed canonically, one it cannot
is refused at start, and GET carries what POST carries (review-7's cases)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
import uuid
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from model.contract import Real
from service.factory import create_app
from service.settings import SettingsError
from tests.conftest import make_settings
from tests.model.test_contract_faults import Toy, serve


class Label(str, enum.Enum):  # noqa: UP042 (users write it so; its str() is not its value)
    A = "a"
    B = "b"


class Where(BaseModel):
    city: str
    at: dt.date


class Rich(BaseModel):
    label: Label
    mode: Literal["fast", "slow"]
    when: dt.datetime
    amount: decimal.Decimal
    id: uuid.UUID
    where: Where


RICH_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


class RichValue(Toy):
    Value = Rich

    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return [{"label": Label.B, "mode": "fast", "when": dt.datetime(2024, 1, 2, 3),
                 "amount": decimal.Decimal("1.50"), "id": RICH_ID,
                 "where": Where(city="Lima", at=dt.date(2024, 1, 2))} for _ in rows]  # fmt: skip


class RichAsText(Toy):
    """The same value, returned in its JSON form already."""

    Value = Rich

    def predict_many(self, rows: Any) -> Any:
        return [{"label": "b", "mode": "fast", "when": "2024-01-02T03:00:00", "amount": "1.50",
                 "id": str(RICH_ID), "where": {"city": "Lima", "at": "2024-01-02"}}
                for _ in rows]  # fmt: skip


class Loose(BaseModel):
    model_config = ConfigDict(allow_inf_nan=True)
    y: float
    ys: list[float]


class NonFinite(Toy):
    Value = Loose

    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return [{"y": math.nan, "ys": [math.inf, -math.inf, 1.0]} for _ in rows]


class StringForFloat(Toy):
    def predict_many(self, rows: Any) -> Any:
        return [{"progression": "1.5"} for _ in rows]  # JSON's "1.5" is no float


RICH_JSON = {"label": "b", "mode": "fast", "when": "2024-01-02T03:00:00", "amount": "1.50",
             "id": str(RICH_ID), "where": {"city": "Lima", "at": "2024-01-02"}}  # fmt: skip


@pytest.mark.parametrize("cls", [RichValue, RichAsText])
def test_a_value_of_any_json_shape_answers_the_same_from_every_tier(
    cls: type[Toy], tmp_path: Path, moto_endpoint: str, table: str
) -> None:
    tiered = {"cache_mode": "tiered", "dynamodb_endpoint": moto_endpoint, "cache_table": table}
    first = serve(cls, tmp_path, **tiered)
    answers = [first.post("/predict", json={"age": 1.0, "bmi": 2.0}) for _ in range(2)]
    fresh = serve(cls, tmp_path, **tiered).post("/predict", json={"age": 1.0, "bmi": 2.0})
    got = [a.json() for a in (*answers, fresh)]
    assert [g.pop("cache") for g in got] == ["MISS", "HIT-L1", "HIT-L2"], got
    for g in got:
        g.pop("model_version")
        assert g == RICH_JSON


def test_non_finite_numbers_are_kept_without_loss_where_value_allows_them(
    tmp_path: Path, moto_endpoint: str, table: str
) -> None:
    tiered = {"cache_mode": "tiered", "dynamodb_endpoint": moto_endpoint, "cache_table": table}
    NonFinite.calls = 0
    first = serve(NonFinite, tmp_path, **tiered).post("/predict", json={"age": 1.0, "bmi": 2.0})
    fresh = serve(NonFinite, tmp_path, **tiered).post("/predict", json={"age": 1.0, "bmi": 2.0})
    assert (first.json()["cache"], fresh.json()["cache"]) == ("MISS", "HIT-L2")
    for answer in (first, fresh):
        assert answer.json()["y"] == "NaN"
        assert answer.json()["ys"] == ["Infinity", "-Infinity", 1.0]
    assert NonFinite.calls == 1


def test_a_value_checked_as_json_refuses_a_string_for_a_number(tmp_path: Path) -> None:
    client = serve(StringForFloat, tmp_path)
    assert client.post("/predict", json={"age": 1.0, "bmi": 2.0}).status_code == 500
    assert client.get("/stats").json()["l1_items"] == 0


@pytest.mark.parametrize(
    ("stored", "valid"),
    [
        (RICH_JSON, True),
        (RICH_JSON | {"amount": 1.5}, False),  # a number where Value writes text
        (RICH_JSON | {"label": "c"}, False),
        (RICH_JSON | {"extra": 1}, False),
        ({k: v for k, v in RICH_JSON.items() if k != "id"}, False),
        ("text", False),
    ],
)
def test_a_stored_value_is_valid_only_as_value_writes_it(stored: Any, valid: bool) -> None:
    assert RichValue.is_valid(RichValue.__new__(RichValue), stored) is valid


class Tags(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"tags": ["a"], "d": "1.5", "w": {"1": 2.0}}},
    )
    tags: set[str]
    d: decimal.Decimal
    w: dict[int, float]


class Keyed(Toy):
    Request = Tags

    def predict_many(self, rows: Any) -> Any:
        type(self).calls += 1
        return [{"progression": float(len(r["tags"])) + float(r["d"])} for r in rows]


def test_decimals_sets_and_integer_keys_are_keyed_canonically(tmp_path: Path) -> None:
    Keyed.calls = 0
    client = serve(Keyed, tmp_path)
    one = client.post("/predict", json={"tags": ["x", "y", "z"], "d": "1.5", "w": {"1": 2.0}})
    same = client.post("/predict", json={"tags": ["z", "x", "y"], "d": "1.5", "w": {"1": 2.0}})
    other = client.post("/predict", json={"tags": ["x"], "d": "1.5", "w": {"1": 2.0}})
    assert [r.status_code for r in (one, same, other)] == [200, 200, 200], one.text
    assert [r.json()["cache"] for r in (one, same, other)] == ["MISS", "HIT-L1", "MISS"]
    assert Keyed.calls == 2


class Blob(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"b": "eA=="}})
    b: bytes


class Unkeyable(Toy):
    Request = Blob


def test_a_request_no_key_can_carry_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    artifact = tmp_path / Unkeyable.artifact_file
    Unkeyable.train(artifact)
    settings = make_settings(artifact, model=f"{__name__}:Unkeyable")
    with pytest.raises(SettingsError, match="its Request cannot be keyed: a bytes"):
        create_app(settings)


class Many(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "lit": "a", "p": [1.0, 2.0], "s": "x"}})  # fmt: skip
    lit: Literal["a", 1]
    p: tuple[Real, Real]
    s: str


class ManyFields(Toy):
    Request = Many

    def predict_many(self, rows: Any) -> Any:
        return [{"progression": float(sum(r["p"]))} for r in rows]


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ({"lit": 1, "p": [1.0, 2.0], "s": "x"}, "lit=1&p=1,2&s=x"),
        ({"lit": "a", "p": [0.5, -2.0], "s": "x"}, "lit=a&p=0.5,-2&s=x"),
    ],
)
def test_get_carries_what_post_carries(body: dict, query: str, tmp_path: Path) -> None:
    client = serve(ManyFields, tmp_path)
    post = client.post("/predict", json=body)
    get = client.get(f"/predict?{query}")
    assert post.status_code == 200 and get.status_code == 200, get.text
    assert get.json()["cache"] == "HIT-L1"


def test_a_query_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    client = serve(ManyFields, tmp_path)
    answer = client.get("/predict?lit=a&p=1,2&s=%FF")
    assert answer.status_code == 422
    assert "not UTF-8" in answer.json()["message"]
