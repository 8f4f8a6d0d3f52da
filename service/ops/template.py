"""`serverless.yml` read as data: the one home of what the deployment declares that
local stacks need too — the cache table's schema (keys, billing, TTL), the offline
stage's values, the function's memory size.

`make serve`, `make offline`, the load runs and the tests create their tables from
here, so a local table is the table AWS gets.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "serverless.yml"
TABLE_RESOURCE = "PredictionCacheTable"
OFFLINE_STAGE = "offline"


@functools.cache
def template() -> dict[str, Any]:
    """serverless.yml as data (CloudFormation tags such as !Ref read as None), parsed once."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(TEMPLATE.read_text(), Loader=Loader)


def offline_params() -> dict[str, Any]:
    """The `offline` stage's params: table name, fixed API key, cache mode."""
    return template()["params"][OFFLINE_STAGE]


def offline_table_name() -> str:
    return offline_params()["cacheTable"]


def offline_api_key() -> str:
    return offline_params()["apiKeys"][0]["value"]


def memory_mb() -> int:
    """The function's memory size (what Lambda bills and sizes its CPU by)."""
    return int(template()["provider"]["memorySize"])


def runtime() -> str:
    """The function's Lambda runtime, e.g. "python3.12": `RUNTIME` (what `make package
    RUNTIME=` passes on), else the template's default."""
    import os

    declared = str(template()["provider"]["runtime"])
    if declared.startswith("${param:"):
        declared = template()["params"]["default"][declared.removeprefix("${param:")[:-1]]
    return os.environ.get("RUNTIME") or declared


def runtime_version() -> str:
    """The Python version of the function's Lambda runtime, e.g. "3.12"."""
    return runtime().removeprefix("python")


def table_properties() -> dict[str, Any]:
    return template()["resources"]["Resources"][TABLE_RESOURCE]["Properties"]


def create_table(client: Any, name: str) -> None:
    """The cache table exactly as the template declares it (keys, billing, TTL), if absent.

    For local servers and tests only: in AWS the deployment stack owns the table.
    """
    properties = table_properties()
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_table(
            TableName=name,
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            BillingMode=properties["BillingMode"],
        )
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    ttl = properties["TimeToLiveSpecification"]
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": ttl["Enabled"], "AttributeName": ttl["AttributeName"]},
    )
