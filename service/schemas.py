"""Request and response bodies of the HTTP contract (README: The API), validation only."""

from __future__ import annotations

import calendar
from typing import Annotated, Any, Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

MAX_BATCH_ITEMS = 1000
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


def _whole_number(value: Any) -> Any:
    """Accept 7 and 7.0, refuse "7" and true: strings and booleans are not numbers here."""
    if isinstance(value, bool | str):
        raise PydanticCustomError(
            "int_type", "Input should be a JSON integer, not {kind}", {"kind": type(value).__name__}
        )
    return value


def _upper(value: Any) -> Any:
    """Upper-case ASCII codes only: U+017F (long s) upper-cases to S, which must not pass."""
    return value.upper() if isinstance(value, str) and value.isascii() else value


Whole = Annotated[int, BeforeValidator(_whole_number)]
Carrier = Annotated[str, BeforeValidator(_upper), Field(pattern=r"^[A-Z0-9]{2}$", examples=["UA"])]
Airport = Annotated[str, BeforeValidator(_upper), Field(pattern=r"^[A-Z]{3}$", examples=["EWR"])]


class FlightFeatures(BaseModel):
    """One scheduled departure. Codes are case-insensitive and stored upper-case."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"example": EXAMPLE},
    )

    carrier: Carrier = Field(description="2-letter/digit IATA airline code")
    origin: Airport = Field(description="3-letter IATA origin airport")
    dest: Airport = Field(description="3-letter IATA destination airport")
    month: Whole = Field(ge=1, le=12)
    day: Whole = Field(ge=1, le=31, description="a day that exists in `month` (Feb 29 allowed)")
    weekday: Whole = Field(ge=1, le=7, description="ISO weekday, 1 = Monday … 7 = Sunday")
    hour: Whole = Field(ge=0, le=23, description="scheduled departure hour")

    @field_validator("day")
    @classmethod
    def _day_exists(cls, day: int, info: ValidationInfo) -> int:
        month = info.data.get("month")
        if month is not None and day > _DAYS_IN_MONTH[month]:
            raise PydanticCustomError(
                "day_not_in_month", "month {month} has no day {day}", {"month": month, "day": day}
            )
        return day


CacheOutcome = Literal["HIT-L1", "HIT-L2", "MISS"]


class Prediction(BaseModel):
    delay_probability: float = Field(ge=0, le=1, description="P(departure delay > 15 min)")
    model_version: str
    cache: CacheOutcome
    unknown: list[str] = Field(description="fields whose value the model never saw")


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: bytes) -> M:
    """`model` from raw JSON bytes; a 422 naming the fields, as a declared body would get."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from None


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route that parses `model` itself."""
    schema = model.model_json_schema()
    return {"required": True, "content": {"application/json": {"schema": schema}}}


class BatchPrediction(Prediction):
    age_s: float = Field(ge=0, description="seconds since the value was computed")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[FlightFeatures] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class BatchTotals(BaseModel):
    hit_l1: int
    hit_l2: int
    miss: int


class BatchResponse(BaseModel):
    predictions: list[BatchPrediction]
    cache: BatchTotals


class Health(BaseModel):
    status: Literal["ok"]
    model_version: str
    model_loaded: bool
    cache_mode: str
