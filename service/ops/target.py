"""Which table and which model an operator tool works on: the flags `predcache warm`,
`inspect` and `purge` share, resolved into the service's own settings and a store."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cache.dynamodb import DynamoDBStore, make_client
from cache.errors import StoreError
from service.settings import Settings, SettingsError


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", help="DynamoDB table (default: CACHE_TABLE)")
    parser.add_argument("--endpoint", help="DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB)")
    parser.add_argument("--local", action="store_true", help="the table `make serve` runs")
    parser.add_argument("--model-path", type=Path, help="the artifact (default: MODEL_PATH)")
    parser.add_argument("--ttl", type=int, help="entry lifetime, s (default: CACHE_TTL_SECONDS)")


@dataclass(frozen=True)
class Target:
    """The service's settings (tiered, no metrics) with the flags applied;
    `credentials` are set for a local table only."""

    settings: Settings
    credentials: dict[str, str] | None = None

    def store(self, timeout: float, max_attempts: int) -> DynamoDBStore:
        """The table's store; `SettingsError` in one line when no region is known."""
        from botocore.exceptions import NoRegionError

        settings = self.settings
        try:
            client: Any = make_client(
                timeout,
                max_attempts,
                settings.dynamodb_endpoint,
                region=settings.aws_region,
                credentials=self.credentials,
            )
        except NoRegionError:
            raise SettingsError(
                "no AWS region: set AWS_REGION (make warm REGION=...), or name a local "
                "table with --local or --endpoint"
            ) from None
        except StoreError as exc:  # a bad region, profile or credential source
            raise SettingsError(exc.detail) from None
        return DynamoDBStore(settings.cache_table, client)

    def where(self, store: DynamoDBStore) -> str:
        """Where the table is, as the client will really reach it (for messages)."""
        region = store.client.meta.region_name
        return self.settings.dynamodb_endpoint or f"AWS ({region} region)"


def resolve_target(args: argparse.Namespace) -> Target:
    """`--local` reads the endpoint and table `make serve` advertises; otherwise the
    settings' endpoint and region, and the standard AWS credential chain, apply."""
    from service.ops.local import LOCAL_CREDENTIALS, LOCAL_REGION, local_table

    settings = Settings.from_env()
    endpoint, table = args.endpoint or settings.dynamodb_endpoint, settings.cache_table
    region, credentials = settings.aws_region, None
    if args.local:
        endpoint, table = local_table()
        region, credentials = LOCAL_REGION, LOCAL_CREDENTIALS
    settings = dataclasses.replace(
        settings,
        cache_mode="tiered",
        cache_table=args.table or table,
        dynamodb_endpoint=endpoint,
        aws_region=region,
        model_path=args.model_path or settings.model_path,
        cache_ttl_seconds=args.ttl if args.ttl is not None else settings.cache_ttl_seconds,
        emit_metrics=False,
        model_preload=False,
    )
    return Target(settings, credentials)
