"""`make bench-peer`: predcache's Lambda handler against Powertools idempotency as a cache.

One run, one moto server, the same payloads and the same `Predictor` on both sides;
each side runs in fresh interpreters as Lambda containers (`stress_test.bench.harness`):

    init          spawn → handler imported (interpreter start included)
    miss          new payload: lookups, model, writes (the model load is excluded)
    local hit     the same payloads again in the same container
    DynamoDB hit  a fresh container reading what the first one wrote

plus predcache's own `GET /health` in the writer container: the framework's floor,
which the L1 hit is compared with. Medians per path and the ratios predcache/peer.

    predcache bench-peer [--requests 50] [--containers 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import orjson

from cache.stats import median
from stress_test.machine import describe_machine
from stress_test.payloads import unique_payloads

SIDES = ("predcache", "powertools")


class FunctionProcess:
    """A fresh interpreter serving one side's handler; stderr (its logs) to a file."""

    def __init__(self, side: str, env: dict[str, str], log: Path) -> None:
        started = time.perf_counter()
        self.log = log
        with open(log, "wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stress_test.bench.harness", side],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=sink,
            )
        if orjson.loads(self.process.stdout.readline() or b"{}").get("ready") is not True:
            raise SystemExit(f"{side} container did not start; see {log}")
        self.init_ms = (time.perf_counter() - started) * 1000

    def send(self, body: dict | None, path: str = "/predict", expect: str | None = None) -> float:
        """One invocation; its handler duration in ms. Checks status and outcome."""
        request = {"method": "POST" if body else "GET", "path": path, "body": body}
        self.process.stdin.write(orjson.dumps(request) + b"\n")
        self.process.stdin.flush()
        answer = orjson.loads(self.process.stdout.readline())
        if answer["status"] != 200 or (expect and answer["cache"] != expect):
            raise SystemExit(f"expected 200 {expect or ''}, got {answer}")
        return answer["ms"]

    def log_bytes(self) -> int:
        return self.log.stat().st_size

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def measure(side: str, env: dict, rounds: int, requests: int, logs: Path) -> dict[str, list]:
    """Samples per path for one side: `rounds` writer/reader container pairs."""
    samples: dict[str, list[float]] = defaultdict(list)
    ours = side == "predcache"
    for r in range(rounds):
        offset = 900_000 + 10_000 * r + (5_000 if ours else 0)
        warmup, *payloads = unique_payloads(requests + 1, offset=offset)
        writer = FunctionProcess(side, env, logs / f"{side}-writer-{r}.log")
        samples["init"].append(writer.init_ms)
        writer.send(warmup)  # imports scikit-learn and loads the model: not a miss's cost
        samples["miss"] += [writer.send(p, expect="MISS" if ours else None) for p in payloads]
        before = writer.log_bytes()
        hit = "HIT-L1" if ours else None
        samples["local hit"] += [writer.send(p, expect=hit) for p in payloads]
        samples["log bytes per local hit"].append((writer.log_bytes() - before) / len(payloads))
        if ours:
            samples["GET /health"] += [writer.send(None, "/health") for _ in payloads]
        writer.close()
        reader = FunctionProcess(side, env, logs / f"{side}-reader-{r}.log")
        samples["init"].append(reader.init_ms)
        reader.send(warmup)  # opens the connection to DynamoDB
        samples["DynamoDB hit"] += [
            reader.send(p, expect="HIT-L2" if ours else None) for p in payloads
        ]
        reader.close()
    return samples


def create_peer_table(client: object, table: str) -> None:
    """The table Powertools documents: hash key `id`, TTL on `expiration`."""
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
    )


def measure_both(containers: int, requests: int) -> dict[str, dict[str, list]]:
    """Both sides on one moto server: each with its own table, the same payloads."""
    from service.ops.local import embedded_table, local_client, local_env

    table = f"peer-{uuid.uuid4().hex[:8]}"
    with embedded_table(table) as endpoint, tempfile.TemporaryDirectory() as logs:
        create_peer_table(local_client(endpoint), f"{table}-peer")
        env = {
            **os.environ,
            **local_env(endpoint),
            "AWS_LAMBDA_FUNCTION_NAME": "bench",  # both sides behave as inside Lambda
            "CACHE_MODE": "tiered",
            "CACHE_TABLE": table,
            "PEER_TABLE": f"{table}-peer",
            "MODEL_PRELOAD": "0",
        }
        return {side: measure(side, env, containers, requests, Path(logs)) for side in SIDES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="predcache bench-peer", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=50, help="payloads per container")
    parser.add_argument("--containers", type=int, default=3, help="writer/reader pairs per side")
    args = parser.parse_args(argv)
    print(describe_machine(), flush=True)
    results = measure_both(args.containers, args.requests)
    paths = ("init", "miss", "local hit", "DynamoDB hit")
    medians = {s: {p: median(v) for p, v in r.items()} for s, r in results.items()}
    print(
        f"\n{args.containers} fresh writer + reader containers per side, {args.requests} payloads "
        "each; handler duration p50 in ms (init: spawn to ready)"
    )
    print(f"{'path':14} {'predcache':>10} {'powertools':>11} {'ratio':>7}")
    for path in paths:
        ours, peer = medians["predcache"][path], medians["powertools"][path]
        print(f"{path:14} {ours:10.3f} {peer:11.3f} {ours / peer:6.2f}x")
    floor = medians["predcache"]["GET /health"]
    hit = medians["predcache"]["local hit"]
    print(f"\npredcache L1 hit {hit:.3f} ms vs GET /health {floor:.3f} ms: {hit / floor:.2f}x")
    print(
        "log bytes printed per local hit: "
        f"predcache {medians['predcache']['log bytes per local hit']:.0f}, "
        f"powertools {medians['powertools']['log bytes per local hit']:.0f}"
    )


if __name__ == "__main__":
    main()
