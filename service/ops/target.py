"""What the command-line tools (`service.warm`, `service.cache`) share: which table,
which model, and the service's settings with those flags applied."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from service.settings import Settings


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", help="DynamoDB table (default: CACHE_TABLE)")
    parser.add_argument("--endpoint", help="DynamoDB endpoint (default: AWS_ENDPOINT_URL_DYNAMODB)")
    parser.add_argument("--local", action="store_true", help="the table `make serve` runs")
    parser.add_argument("--model-path", type=Path, help="the artifact (default: MODEL_PATH)")
    parser.add_argument("--ttl", type=int, help="entry lifetime, s (default: CACHE_TTL_SECONDS)")


def target_settings(args: argparse.Namespace) -> tuple[Settings, str]:
    """The service's settings (tiered, no metrics) with the flags applied, and a
    description of where the table is, for messages.

    `--local` reads the endpoint and table `make serve` advertises; otherwise the
    standard AWS credential chain and region apply.
    """
    from service.local import LOCAL_CREDENTIALS, local_table

    settings = Settings.from_env()
    endpoint, table = args.endpoint or settings.dynamodb_endpoint, settings.cache_table
    if args.local:
        endpoint, table = local_table()
        for name, value in LOCAL_CREDENTIALS.items():
            os.environ.setdefault(name, value)
    settings = dataclasses.replace(
        settings,
        cache_mode="tiered",
        cache_table=args.table or table,
        dynamodb_endpoint=endpoint,
        model_path=args.model_path or settings.model_path,
        cache_ttl_seconds=args.ttl or settings.cache_ttl_seconds,
        emit_metrics=False,
        model_preload=False,
    )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "default"
    return settings, endpoint or f"AWS ({region} region)"
