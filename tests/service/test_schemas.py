"""Every payload rule of the HTTP contract (README: The API), through the pydantic schema."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from model.flight_delay import FlightDelay, FlightFeatures
from service.schemas import MAX_BATCH_ITEMS, Bodies
from tests.conftest import PAYLOAD

BatchRequest = Bodies.of(FlightDelay).BatchRequest


def fields_in_error(payload: dict) -> set[str]:
    with pytest.raises(ValidationError) as info:
        FlightFeatures.model_validate(payload)
    return {str(e["loc"][0]) for e in info.value.errors()}


def test_valid_payload_is_normalised() -> None:
    flight = FlightFeatures.model_validate(
        {**PAYLOAD, "carrier": "ua", "origin": "ewr", "dest": "Ord", "hour": 17.0}
    )
    assert flight.model_dump() == PAYLOAD
    assert type(flight.hour) is int


def test_carrier_may_hold_digits() -> None:
    assert FlightFeatures.model_validate({**PAYLOAD, "carrier": "9e"}).carrier == "9E"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("carrier", "U"),
        ("carrier", "UAL"),
        ("carrier", "U-"),
        ("carrier", 12),
        ("origin", "EW"),
        ("origin", "EWR1"),
        ("origin", "E1R"),
        ("dest", ""),
        ("dest", None),
        ("month", 0),
        ("month", 13),
        ("day", 0),
        ("day", 32),
        ("weekday", 0),
        ("weekday", 8),
        ("hour", -1),
        ("hour", 24),
        ("hour", 7.5),
        ("hour", "7"),
        ("hour", True),
        ("month", float("nan")),
        ("month", float("inf")),
    ],
)
def test_each_rule_names_its_field(field: str, value: object) -> None:
    assert fields_in_error({**PAYLOAD, field: value}) == {field}


@pytest.mark.parametrize(("month", "day"), [(2, 30), (4, 31), (6, 31), (9, 31), (11, 31)])
def test_day_must_exist_in_month(month: int, day: int) -> None:
    assert fields_in_error({**PAYLOAD, "month": month, "day": day}) == {"day"}


def test_feb_29_and_month_ends_are_allowed() -> None:
    for month, day in [(2, 29), (1, 31), (4, 30), (12, 31)]:
        FlightFeatures.model_validate({**PAYLOAD, "month": month, "day": day})


def test_missing_and_extra_fields() -> None:
    payload = dict(PAYLOAD)
    del payload["hour"]
    assert fields_in_error(payload) == {"hour"}
    assert fields_in_error({**PAYLOAD, "distance": 719}) == {"distance"}


def test_batch_bounds() -> None:
    with pytest.raises(ValidationError):
        BatchRequest.model_validate({"items": []})
    with pytest.raises(ValidationError):
        BatchRequest.model_validate({"items": [PAYLOAD] * (MAX_BATCH_ITEMS + 1)})
    assert len(BatchRequest.model_validate({"items": [PAYLOAD] * MAX_BATCH_ITEMS}).items) == 1000
