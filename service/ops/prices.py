"""AWS prices every cost figure uses: one dated table, each price with its source
page, and the billing rules that turn usage into billed units.

us-east-1, on-demand, first pricing tier, without free tier. Update `AS_OF` with the
prices; reports and tools print it next to every cost they show. Since 1 August 2025
Lambda bills the INIT phase of on-demand ZIP functions on managed runtimes like any
other duration (https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/),
so every billed duration here includes a cold start's init.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

AS_OF = "2024-11-18"  # the latest change we know of: SnapStart for Python (2024-11-18)
REGION = "us-east-1"


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str


PRICES: dict[str, Price] = {
    "lambda_gb_second": Price(
        0.0000166667, "GB-second of x86_64 compute", "https://aws.amazon.com/lambda/pricing/"
    ),
    "lambda_gb_second_arm64": Price(
        0.0000133334, "GB-second of arm64 compute", "https://aws.amazon.com/lambda/pricing/"
    ),
    "lambda_request": Price(0.20 / 1e6, "request", "https://aws.amazon.com/lambda/pricing/"),
    "api_gateway_rest_request": Price(
        3.50 / 1e6, "REST API request (first 333 M a month)",
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
    "api_gateway_http_request": Price(
        1.00 / 1e6, "HTTP API request (first 300 M a month, per 512 KB)",
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
    "api_gateway_cache_hour_0.5": Price(
        0.020, "hour of a 0.5 GB REST API cache (L0)", "https://aws.amazon.com/api-gateway/pricing/"
    ),
    "api_gateway_cache_hour_1.6": Price(
        0.038, "hour of a 1.6 GB REST API cache (L0)", "https://aws.amazon.com/api-gateway/pricing/"
    ),
    "api_gateway_cache_hour_6.1": Price(
        0.200, "hour of a 6.1 GB REST API cache (L0)", "https://aws.amazon.com/api-gateway/pricing/"
    ),
    "lambda_provisioned_gb_second": Price(
        0.0000041667, "GB-second of provisioned concurrency kept ready (x86_64)",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    "lambda_provisioned_duration_gb_second": Price(
        0.0000097222, "GB-second of duration on provisioned concurrency (x86_64)",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    "dynamodb_write_unit": Price(
        0.625 / 1e6, "on-demand write request unit (1 KB)",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "dynamodb_read_unit": Price(
        0.125 / 1e6, "on-demand read request unit (4 KB, strongly consistent; half for "
        "eventually consistent)", "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "lambda_snapstart_cache_gb_second": Price(
        0.0000015046, "GB-second a published SnapStart version's snapshot is cached "
        "(Python and .NET; at least 3 hours)", "https://aws.amazon.com/lambda/pricing/",
    ),
    "lambda_snapstart_restore_gb": Price(
        0.0001397998, "GB restored from a SnapStart snapshot (per new environment)",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    "cloudwatch_logs_gb": Price(
        0.50, "GB of log data ingested (standard class)", "https://aws.amazon.com/cloudwatch/pricing/"
    ),
}  # fmt: skip


def usd(name: str, quantity: float) -> float:
    """What `quantity` units of `PRICES[name]` cost."""
    return PRICES[name].usd * quantity


ARCHITECTURES = {"x86_64": "lambda_gb_second", "arm64": "lambda_gb_second_arm64"}
# What Lambda itself prints per invocation (START, END and REPORT lines, the REPORT
# line with Init Duration on a cold start), estimated from their documented format:
# https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
PLATFORM_LOG_BYTES = 260
SECONDS_PER_MONTH = 30 * 86_400
# An eventually consistent read of an item under 4 KB bills half a read unit.
READ_UNITS_PER_LOOKUP = 0.5
WRITE_UNIT_BYTES = 1024  # a write bills one unit per started KB of the item


def write_units(item_bytes: Iterable[int]) -> int:
    """On-demand write units for writing items of these sizes."""
    return sum(max(1, -(-size // WRITE_UNIT_BYTES)) for size in item_bytes)


def cost_per_million(
    billed_ms: float,
    memory_mb: int,
    reads: float,
    writes: float,
    log_bytes: float,
    arch: str = "x86_64",
    fee: str | None = "api_gateway_rest_request",
    invocations: float = 1.0,
) -> dict[str, Any]:
    """USD per million requests, from per-request means: billed ms (init included),
    DynamoDB read and write items, bytes of log (the function's and Lambda's own), and
    Lambda invocations (fewer than one when a cache in front answers some). `fee`: the
    front door's request fee (`PRICES` name; part `api_gateway_rest`, `…_http`), None
    for a door without one."""
    million = 1e6
    gb_seconds = billed_ms / 1000 * memory_mb / 1024 * million
    door = {fee.removesuffix("_request"): usd(fee, million)} if fee else {}
    parts = {
        "lambda_compute": usd(ARCHITECTURES[arch], gb_seconds),
        "lambda_requests": usd("lambda_request", invocations * million),
        **door,
        "dynamodb_reads": usd("dynamodb_read_unit", reads * READ_UNITS_PER_LOOKUP * million),
        "dynamodb_writes": usd("dynamodb_write_unit", writes * million),
        "cloudwatch_logs": usd("cloudwatch_logs_gb", log_bytes * million / 1e9),
    }
    rounded = {name: round(value, 4) for name, value in parts.items()}
    return rounded | {
        "total": round(sum(parts.values()), 4),
        "prices_as_of": AS_OF,
        "region": REGION,
    }


def per_month(cost_per_million_usd: float, requests_per_second: float) -> float:
    """USD a 30-day month at a steady rate, from a cost per million requests."""
    return cost_per_million_usd * requests_per_second * SECONDS_PER_MONTH / 1e6
