"""What AWS does to a request before and around the function, as named parameters.

Each limit has its default, the status code a client sees when it bites, and the
AWS page it comes from (read on `READ_ON` from the stored copy of that page). Where
AWS publishes no figure, the limit says so and is a parameter all the same. The
usage plan and the function timeout default to what `serverless.yml` declares.
`docs/capacity.md` prints `LIMITS` as its table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

READ_ON = "2026-12-01"
LAMBDA_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
LAMBDA_ERRORS = "https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html"
LAMBDA_LIFECYCLE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html"
LAMBDA_MEMORY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"
APIGW_THROTTLING = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html"
APIGW_QUOTAS = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"


class Status(NamedTuple):
    """An answer a client sees, by where it came from."""

    code: int
    source: str
    label: str  # for a printed column

    @property
    def field(self) -> str:
        return f"{self.source}_{self.code}"


PLAN_429 = Status(429, "usage_plan", "429 plan")
QUOTA_429 = Status(429, "usage_plan_quota", "429 quota")
ACCOUNT_429 = Status(429, "apigw_account", "429 acct")
THROTTLE_500 = Status(500, "lambda_throttle", "500 lambda")
TIMEOUT_502 = Status(502, "function_timeout", "502 timeout")
INTEGRATION_504 = Status(504, "integration_timeout", "504 gw")
REFUSALS = (PLAN_429, QUOTA_429, ACCOUNT_429, THROTTLE_500, TIMEOUT_502, INTEGRATION_504)


def _template() -> dict:
    from service.ops.template import template

    return template()


def _plan() -> dict:
    return _template()["provider"]["apiGateway"]["usagePlan"]


@dataclass(frozen=True)
class AwsLimits:
    """The limits one simulated run is subject to (see `LIMITS` for their sources)."""

    plan_rate: float = field(default_factory=lambda: float(_plan()["throttle"]["rateLimit"]))
    plan_burst: int = field(default_factory=lambda: int(_plan()["throttle"]["burstLimit"]))
    plan_quota_per_month: int = field(default_factory=lambda: int(_plan()["quota"]["limit"]))
    account_rate: float = 10_000.0
    account_burst: int = 5_000
    account_concurrency: int = 1_000
    reserved_concurrency: int = 0  # 0: none, the function shares the account's
    scaling_bucket: int = 1_000  # new execution environments at most, refilled …
    scaling_refill_per_s: float = 100.0  # … continuously: 1,000 every 10 s
    requests_per_concurrency: float = 10.0  # synchronous invocations a second per unit
    function_timeout_s: float = field(
        default_factory=lambda: float(_template()["provider"]["timeout"])
    )
    integration_timeout_s: float = 29.0
    init_limit_s: float = 10.0

    @property
    def concurrency(self) -> int:
        """The most environments the function may run at once."""
        return self.reserved_concurrency or self.account_concurrency


class Limit(NamedTuple):
    name: str
    default: str
    status: str
    source: str


LIMITS = (
    Limit("plan_rate / plan_burst", "1,000/s, 2,000 (serverless.yml)", "429", APIGW_THROTTLING),
    Limit("plan_quota_per_month", "10,000,000 (serverless.yml)", "429", APIGW_THROTTLING),
    Limit("account_rate / account_burst", "10,000/s, 5,000 (per Region, all APIs)", "429",
          APIGW_QUOTAS),
    Limit("account_concurrency", "1,000 (new accounts may get less)", "500", LAMBDA_QUOTAS),
    Limit("reserved_concurrency", "none", "500", LAMBDA_SCALING),
    Limit("scaling_bucket / scaling_refill_per_s",
          "1,000 environments per 10 s per function, refilled continuously", "500",
          LAMBDA_SCALING),
    Limit("requests_per_concurrency", "10 requests/s per unit of concurrency", "500",
          LAMBDA_QUOTAS),
    Limit("function_timeout_s", "15 s (serverless.yml)", "502", LAMBDA_ERRORS),
    Limit("integration_timeout_s", "29 s (REST API default)", "504", APIGW_QUOTAS),
    Limit("init_limit_s", "10 s, then init is retried inside the first invocation", "502 if "
          "that exceeds the timeout", LAMBDA_LIFECYCLE),
)  # fmt: skip
