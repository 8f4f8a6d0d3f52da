"""Equivalent payloads share a key; anything that changes the prediction changes it."""

from __future__ import annotations

import pytest

from cache import make_key
from cache.keys import canonical
from model.flight_delay import FlightFeatures
from tests.conftest import PAYLOAD


def key_of(payload: dict, version: str = "v1") -> str:
    row = FlightFeatures.model_validate(payload).model_dump()
    return make_key("flight-delay", version, row, schema=1)


def test_equivalent_payloads_share_a_key() -> None:
    reordered = dict(reversed(list(PAYLOAD.items())))
    variants = [
        reordered,
        {**PAYLOAD, "carrier": "ua", "origin": "ewr", "dest": "oRd"},
        {**PAYLOAD, "hour": 17.0, "month": 12.0},
    ]
    assert {key_of(v) for v in variants} == {key_of(PAYLOAD)}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("carrier", "AA"),
        ("origin", "JFK"),
        ("dest", "ATL"),
        ("month", 11),
        ("day", 23),
        ("weekday", 3),
        ("hour", 16),
    ],
)
def test_every_field_changes_the_key(field: str, value: object) -> None:
    assert key_of({**PAYLOAD, field: value}) != key_of(PAYLOAD)


def test_model_version_and_name_change_the_key() -> None:
    assert key_of(PAYLOAD, "v2") != key_of(PAYLOAD, "v1")
    assert make_key("other", "v1", PAYLOAD, schema=1) != key_of(PAYLOAD, "v1")


def test_value_schema_changes_the_key() -> None:
    """A release that changes the cached value's shape never reads the old shape."""
    assert make_key("flight-delay", "v1", PAYLOAD, schema=2) != key_of(PAYLOAD, "v1")


def test_fields_cannot_be_spliced_across_the_separator() -> None:
    assert make_key("a", "bc", {}, schema=1) != make_key("ab", "c", {}, schema=1)


def test_canonical_form_is_sorted_compact_json() -> None:
    assert canonical({"b": 1, "a": "x"}) == b'{"a":"x","b":1}'
    assert len(key_of(PAYLOAD)) == 64


def test_the_flight_models_keys_are_the_ones_a_warmed_table_holds() -> None:
    """The key of the flight model's example, as every release before wrote it (sha256
    over name, version, value schema and the compact sorted JSON): a table warmed before
    a release still hits after it."""
    from model.flight_delay import EXAMPLE

    row = FlightFeatures(**EXAMPLE).model_dump()
    assert canonical(row) == (
        b'{"carrier":"UA","day":24,"dest":"ORD","hour":17,"month":12,"origin":"EWR","weekday":2}'
    )
    assert make_key("flight-delay", "977d520eed74", row, schema=1) == (
        "7dc7ee17bf5a4cf062baaa4401182debbe9e645e0d720a8de34412cf4e977d94"
    )
