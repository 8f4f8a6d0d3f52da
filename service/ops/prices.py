"""AWS prices every cost figure uses: one dated table, each price with its source page.

us-east-1, on-demand, x86_64, first pricing tier, without free tier. Update `AS_OF`
with the prices; reports and tools print it next to every cost they show.
"""

from __future__ import annotations

from dataclasses import dataclass

AS_OF = "2024-11-01"  # the latest change in these prices (DynamoDB on-demand cut) we know of
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
    "lambda_request": Price(0.20 / 1e6, "request", "https://aws.amazon.com/lambda/pricing/"),
    "api_gateway_rest_request": Price(
        3.50 / 1e6, "REST API request (first 333 M a month)",
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
    "dynamodb_write_unit": Price(
        0.625 / 1e6, "on-demand write request unit (1 KB)",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "dynamodb_read_unit": Price(
        0.125 / 1e6, "on-demand read request unit (4 KB, strongly consistent; half for "
        "eventually consistent)", "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "cloudwatch_logs_gb": Price(
        0.50, "GB of log data ingested (standard class)", "https://aws.amazon.com/cloudwatch/pricing/"
    ),
}  # fmt: skip


def usd(name: str, quantity: float) -> float:
    """What `quantity` units of `PRICES[name]` cost."""
    return PRICES[name].usd * quantity
