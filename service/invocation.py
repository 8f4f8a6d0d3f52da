"""One Lambda container's view of its invocations, for the stress report's Lambda view.

With metrics on, a container prints one line when its init is done (`Event:
"init"`, its `ContainerId` and `InitMs`: containers still busy with a first request
when a run ends are counted too), and every invocation prints one line (its EMF
line, or the facts alone for a route that records no metrics) carrying what the
container itself measured, never inferred from outside:

    ContainerId   random per container (execution environment)
    ColdStart     first invocation of this container
    InitMs        import and app build of this container (cold starts only)
    ModelLoaded   the model was unpickled during this invocation
    ModelInMemory the model is loaded now (false: scikit-learn never imported)
    HandlerMs     the handler's duration; BilledMs: rounded up to 1 ms, plus InitMs
                  on a cold start (Lambda bills the init phase too)
    EndMs         epoch milliseconds at the end of the invocation
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI

Handler = Callable[[dict, Any], dict]


class InstrumentedHandler:
    """Wraps the Mangum handler of one container and emits the facts of each invocation."""

    def __init__(self, app: FastAPI, handler: Handler, init_started: float) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.predictions = app.state.predictions
        self.keys = app.state.keys  # taken anew after a SnapStart restore
        self.handler = handler
        self.init_ms = (time.perf_counter() - init_started) * 1000
        self.invocations = 0
        self.refusal: str | None = None
        if self.predictions.metrics is not None:
            init = {"ContainerId": self.id, "Event": "init", "InitMs": round(self.init_ms, 3)}
            self.predictions.metrics.release(init | {"EndMs": int(time.time() * 1000)})

    def renew(self, container_id: str) -> None:
        """A restored container: its own id, and its next invocation counts as its first
        (restore is billed apart from init, so it carries no InitMs)."""
        self.id, self.invocations, self.init_ms = container_id, 0, 0.0

    def refuse(self, reason: str) -> None:
        """From now on answer 503 with `reason`: the container cannot be trusted to serve."""
        self.refusal = reason

    def __call__(self, event: dict, context: Any) -> dict:
        if self.refusal is not None:
            body = orjson.dumps({"message": f"container cannot serve: {self.refusal}"})
            headers = {"content-type": "application/json", "retry-after": "1"}
            return {"statusCode": 503, "headers": headers, "body": body.decode()}
        metrics = self.predictions.metrics
        if metrics is None:
            return self.handler(event, context)
        artifact = self.predictions.artifact
        was_loaded = artifact.loaded
        metrics.hold()
        started = time.perf_counter()
        try:
            return self.handler(event, context)
        finally:
            handler_ms = (time.perf_counter() - started) * 1000
            cold = self.invocations == 0
            self.invocations += 1
            init_ms = round(self.init_ms, 3) if cold else 0.0
            metrics.release(
                {
                    "ContainerId": self.id,
                    "ColdStart": cold,
                    "InitMs": init_ms,
                    "ModelLoaded": artifact.loaded and not was_loaded,
                    "ModelInMemory": artifact.loaded,
                    "HandlerMs": round(handler_ms, 3),
                    "BilledMs": math.ceil(handler_ms) + math.ceil(init_ms),
                    "EndMs": int(time.time() * 1000),
                }
            )
