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
APIGW_HTTP_QUOTAS = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html"
)
APIGW_GATEWAY_RESPONSES = "https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html"
LAMBDA_URLS = "https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html"
LAMBDA_PROVISIONED = "https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html"
DYNAMODB_PARTITIONS = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)
DYNAMODB_ON_DEMAND = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html"
)


class Status(NamedTuple):
    """An answer a client sees, by where it came from."""

    code: int
    source: str
    label: str  # for a printed column

    @property
    def field(self) -> str:
        return f"{self.source}_{self.code}"


PLAN_429 = Status(429, "usage_plan", "429 plan")
ROUTE_429 = Status(429, "http_route", "429 route")  # an HTTP API stage's route throttle
QUOTA_429 = Status(429, "usage_plan_quota", "429 quota")
ACCOUNT_429 = Status(429, "apigw_account", "429 acct")
# A Lambda throttle (Lambda's own 429) as each door answers it: REST maps it to a gateway
# response, which deploy/front.js answers 503 with Retry-After (tests/deploy/test_front.py
# holds the packaged template to these statuses); an HTTP API answers its fixed 500; a
# function URL passes Lambda's 429 on.
THROTTLE_503 = Status(503, "lambda_throttle", "503 lambda")
THROTTLE_500 = Status(500, "lambda_throttle", "500 lambda")
THROTTLE_429 = Status(429, "lambda_throttle", "429 lambda")
TIMEOUT_502 = Status(502, "function_timeout", "502 timeout")
INTEGRATION_504 = Status(504, "integration_timeout", "504 gw")
REFUSALS = (PLAN_429, ROUTE_429, QUOTA_429, ACCOUNT_429, THROTTLE_503, THROTTLE_500,
            THROTTLE_429, TIMEOUT_502, INTEGRATION_504)  # fmt: skip

# What binds, by a refusal's source or a Lambda throttle's cause: (its short name, what
# it is with the flags that move it).
CAUSES = {
    "usage_plan": ("plan rate", "the usage plan's rate (--plan-rate, --plan-burst)"),
    "http_route": ("route throttle", "an HTTP API route's throttle (--plan-rate, --plan-burst)"),
    "usage_plan_quota": ("plan quota", "the usage plan's monthly quota (--plan-quota-per-month)"),
    "apigw_account": ("account rate",
                      "API Gateway's account rate per Region (--account-rate, --account-burst)"),
    "function_timeout": ("function timeout", "the function's timeout (--function-timeout-s)"),
    "integration_timeout": ("gateway timeout",
                            "API Gateway's integration timeout (--integration-timeout-s)"),
    # a Lambda throttle (503 rest, 500 http, 429 url), by which of Lambda's limits it hit
    "scaling": ("Lambda scaling",
                "Lambda's scaling rate for new environments (--scaling-bucket, "
                "--scaling-refill-per-s)"),
    "concurrency": ("concurrency",
                    "Lambda concurrency (--concurrency-limit, --reserved-concurrency)"),
    "invocation_rate": ("invocations/concurrency",
                        "Lambda's invocations a second per unit of concurrency "
                        "(--requests-per-concurrency)"),
}  # fmt: skip
THROTTLE_CAUSES = ("scaling", "concurrency", "invocation_rate")


@dataclass(frozen=True)
class Door:
    """What stands between a client and the function, and how it answers a refusal."""

    name: str
    fee: str | None  # its request fee in service/ops/prices.py, None: no fee
    plan: Status | None  # the throttle on plan_rate/plan_burst (usage plan, route), or none
    account_throttle: bool  # API Gateway's per-Region account throttle applies
    integration_timeout: bool  # API Gateway's (integration_timeout_s) applies, else the function's
    lambda_throttle: Status
    l0: bool  # has API Gateway's cache
    source: str


DOORS = {
    "rest": Door("rest", "api_gateway_rest_request", PLAN_429, True, True, THROTTLE_503, True,
                 APIGW_GATEWAY_RESPONSES),
    "http": Door("http", "api_gateway_http_request", ROUTE_429, True, True, THROTTLE_500, False,
                 APIGW_HTTP_QUOTAS),
    "url": Door("url", None, None, False, False, THROTTLE_429, False, LAMBDA_URLS),
}  # fmt: skip


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
    integration_timeout_s: float = 29.0  # REST's default; an HTTP API's is 30 s
    init_limit_s: float = 10.0
    # DynamoDB on demand: a new table's first throughput, and one partition's ceiling
    table_read_units_per_s: float = 12_000.0
    table_write_units_per_s: float = 4_000.0
    partition_read_units_per_s: float = 3_000.0
    partition_write_units_per_s: float = 1_000.0

    @property
    def concurrency(self) -> int:
        """The most environments the function may run at once."""
        return self.reserved_concurrency or self.account_concurrency


class Limit(NamedTuple):
    name: str
    default: str
    status: str
    source: str


THROTTLED = "503 rest, 500 http, 429 url"  # what a Lambda throttle answers on each door
LIMITS = (
    Limit("plan_rate / plan_burst", "1,000/s, 2,000 (serverless.yml)", "429", APIGW_THROTTLING),
    Limit("plan_quota_per_month", "10,000,000 (serverless.yml)", "429", APIGW_THROTTLING),
    Limit("account_rate / account_burst", "10,000/s, 5,000 (per Region, all APIs)", "429",
          APIGW_QUOTAS),
    Limit("account_concurrency", "1,000 (new accounts may get less)", THROTTLED, LAMBDA_QUOTAS),
    Limit("reserved_concurrency", "none", THROTTLED, LAMBDA_SCALING),
    Limit("scaling_bucket / scaling_refill_per_s",
          "1,000 environments per 10 s per function, refilled continuously", THROTTLED,
          LAMBDA_SCALING),
    Limit("requests_per_concurrency", "10 requests/s per unit of concurrency", THROTTLED,
          LAMBDA_QUOTAS),
    Limit("function_timeout_s", "15 s (serverless.yml)", "502", LAMBDA_ERRORS),
    Limit("integration_timeout_s", "29 s (REST API default)", "504", APIGW_QUOTAS),
    Limit("init_limit_s", "10 s, then init is retried inside the first invocation", "502 if "
          "that exceeds the timeout", LAMBDA_LIFECYCLE),
    Limit("http door: route throttle", "the usage plan's 1,000/s, 2,000 (deploy/front.js)",
          "429", APIGW_HTTP_QUOTAS),
    Limit("http door: integration timeout", "30 s (simulated at integration_timeout_s)", "504",
          APIGW_HTTP_QUOTAS),
    Limit("url door: throttle", "Lambda's concurrency only (reserved concurrency to cap it)",
          "429", LAMBDA_URLS),
    Limit("table_read_units_per_s / table_write_units_per_s",
          "12,000 / 4,000 a second on a new on-demand table", "none: a throttled read is a "
          "miss, a throttled write is skipped", DYNAMODB_ON_DEMAND),
    Limit("partition_read_units_per_s / partition_write_units_per_s",
          "3,000 / 1,000 a second per partition (one hot key stays on one)", "none, as above",
          DYNAMODB_PARTITIONS),
)  # fmt: skip
