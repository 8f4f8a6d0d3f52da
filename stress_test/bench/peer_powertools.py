"""The peer `make bench-peer` measures against: Powertools for AWS Lambda's idempotency
utility used as a prediction cache, the way its documentation sets it up.

DynamoDB persistence plus its in-process LRU (`use_local_cache=True`), keyed on the
request body, around the same model (`MODEL`) and the same payload validation as
predcache. It has no web framework: the handler reads the API Gateway event itself.
"""

from __future__ import annotations

import os

import orjson
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)

from model.contract import load_model
from service.settings import Settings

TABLE = os.environ.get("PEER_TABLE", "powertools-idempotency")
_settings = Settings.from_env()
_model = load_model(_settings.model, _settings.model_path)
persistence = DynamoDBPersistenceLayer(table_name=TABLE)
config = IdempotencyConfig(
    event_key_jmespath="powertools_json(body)",
    use_local_cache=True,
    local_cache_max_items=_settings.l1_max_items,
    expires_after_seconds=_settings.cache_ttl_seconds,
)


@idempotent(config=config, persistence_store=persistence)
def handler(event: dict, context: object) -> dict:
    row = _model.Request.model_validate_json(event["body"]).model_dump()
    body = _model.predict_many([row])[0] | {"model_version": _model.artifact.version}
    return {"statusCode": 200, "body": orjson.dumps(body).decode()}
