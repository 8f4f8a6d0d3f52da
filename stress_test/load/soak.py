"""`make soak`: many unique payloads against one service process; RSS must stay bounded.

Unique payloads are the cache's worst case: every one is a miss and a new L1
entry. L1 is bounded by `L1_MAX_ITEMS`, so after it fills the process's resident
memory should flatten. Payloads go in batches over one keep-alive connection.

    python -m stress_test.load.soak [--payloads 200000] [--batch 100] [--mode memory]
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from stress_test.load.run import local_stack
from stress_test.payloads import unique_payloads


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def soak(url: str, pid: int, payloads: int, batch: int, samples: int = 20) -> dict:
    """Send `payloads` unique payloads; RSS sampled `samples` times along the way."""
    target = urlparse(url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    curve, errors, sent = [(0, rss_mib(pid))], 0, 0
    every = max(1, payloads // batch // samples)
    started = time.perf_counter()
    for number, offset in enumerate(range(0, payloads, batch), start=1):
        items = unique_payloads(min(batch, payloads - offset), offset=offset)
        connection.request(
            "POST", "/predict/batch", json.dumps({"items": items}),
            {"content-type": "application/json"},
        )  # fmt: skip
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or json.loads(body)["cache"]["miss"] != len(items):
            errors += 1
        sent += len(items)
        if number % every == 0:
            curve.append((sent, rss_mib(pid)))
    connection.request("GET", "/stats")
    stats = json.loads(connection.getresponse().read())
    return {
        "payloads": sent,
        "errors": errors,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_mib": curve,
        "l1_items": stats["l1_items"],
        "l1_max_items": stats["l1_max_items"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="predcache soak", description="Unique-payload soak: RSS stays bounded"
    )
    parser.add_argument("--payloads", type=int, default=200_000, help="unique payloads sent")
    parser.add_argument("--batch", type=int, default=100, help="payloads per batch request")
    parser.add_argument(
        "--mode", choices=("memory", "tiered"), default="memory", help="the server's CACHE_MODE"
    )
    parser.add_argument(
        "--l1-max-items", type=int, default=10_000, help="the server's L1_MAX_ITEMS"
    )
    args = parser.parse_args(argv)
    log = Path(tempfile.mkdtemp(prefix="soak-")) / "server.log"
    env = {"L1_MAX_ITEMS": str(args.l1_max_items), "LOG_LEVEL": "WARNING"}
    with local_stack(args.mode, 1, log, **env) as (url, pid):
        result = soak(url, pid, args.payloads, args.batch)
    curve = result["rss_mib"]
    print(
        f"{result['payloads']} unique payloads in {result['seconds']} s, {result['errors']} errors"
    )
    print(f"L1 items at the end: {result['l1_items']} (bound {result['l1_max_items']})")
    print("RSS MiB by payloads sent: " + ", ".join(f"{n}: {m:.1f}" for n, m in curve))
    print(f"RSS start {curve[0][1]:.1f} MiB -> end {curve[-1][1]:.1f} MiB")
    return result


if __name__ == "__main__":
    main()
