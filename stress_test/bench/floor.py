"""Server mode against the framework's floor, the last part of `predcache bench`.

The floor is `floor_app`: a bare FastAPI app whose `POST /predict` reads the body and
answers fixed bytes. It and predcache (`service.app:app`, `CACHE_MODE=memory`, the
payload already in L1) are each served as `make serve` serves (uvicorn, one worker,
uvloop, httptools, no access log), in turn, and driven by the same load: `CONNECTIONS`
keep-alive connections sending one POST after another for `SECONDS` (raw HTTP/1.1 on
asyncio streams, so the client costs little of the machine's CPU). Printed: requests
per second of each, and predcache's as a share of the floor's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import orjson
from fastapi import FastAPI, Request, Response

from service.ops.local import uvicorn_command
from service.ops.processes import free_port, stop, wait_for_port

CONNECTIONS = 16
SECONDS = 3.0
WARM_UP_SECONDS = 0.5  # the first request (predcache: its miss) and connection set-up
ROUNDS = 2  # each server measured this many times, in turn (A B A B); the best is kept
FIXED = b'{"value":0.1,"cache":"HIT-L1"}'  # an answer's size, no model's fields

floor_app = FastAPI()


@floor_app.post("/predict")
async def floor(request: Request) -> Response:
    await request.body()
    return Response(FIXED, media_type="application/json")


async def _client(port: int, request: bytes, until: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered = 0
    while time.monotonic() < until:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"the server answered {head[:40]!r}")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))  # fmt: skip
        await reader.readexactly(length)
        answered += 1
    writer.close()
    return answered


def requests_per_second(port: int, body: bytes, seconds: float) -> float:
    request = (b"POST /predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip

    async def load() -> int:
        until = time.monotonic() + seconds
        return sum(await asyncio.gather(*(_client(port, request, until)
                                          for _ in range(CONNECTIONS))))  # fmt: skip

    started = time.monotonic()
    answered = asyncio.run(load())
    return answered / (time.monotonic() - started)


def served(app: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = uvicorn_command("127.0.0.1", port, 1)
    command[command.index("service.app:app")] = app
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    wait_for_port("127.0.0.1", port)
    return process, port


def compare(payload: dict, seconds: float = SECONDS, rounds: int = ROUNDS) -> dict[str, float]:
    """Requests per second of predcache's cached POST /predict and of the floor."""
    body = orjson.dumps(payload)
    env = {**os.environ, "CACHE_MODE": "memory", "MODEL_PRELOAD": "1"}
    best = {"predcache": 0.0, "floor": 0.0}
    for _ in range(rounds):
        for name, app in (("predcache", "service.app:app"),
                          ("floor", "stress_test.bench.floor:floor_app")):  # fmt: skip
            process, port = served(app, env)
            try:
                requests_per_second(port, body, WARM_UP_SECONDS)
                best[name] = max(best[name], requests_per_second(port, body, seconds))
            finally:
                stop(process)
    return best


def report(payload: dict) -> dict[str, float]:
    best = compare(payload)
    print(f"\nserver mode (uvicorn as `make serve`, {CONNECTIONS} connections, {SECONDS:.0f} s, "
          f"best of {ROUNDS}, LOG_LEVEL={os.environ.get('LOG_LEVEL', 'INFO')}): cached POST "
          f"/predict {best['predcache']:,.0f} req/s, bare FastAPI floor {best['floor']:,.0f} "
          f"req/s: {best['predcache'] / best['floor']:.2f}x the floor", flush=True)  # fmt: skip
    return best
