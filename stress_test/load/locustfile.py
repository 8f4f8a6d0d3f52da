"""Locust scenarios that repeat payloads, each request recorded under its cache outcome.

    locust -f stress_test/load/locustfile.py --host http://127.0.0.1:8000 \
        --scenario hot --hot-k 1000 --zipf-s 1.1 --seed 42

Requests appear in locust's tables as `/predict HIT-L1`, `/predict HIT-L2`,
`/predict MISS` (from the `X-Cache` header), so its latency columns split by
outcome. Batch requests appear as `/predict/batch`. Item-level outcomes are also
counted per second in every process, merged on the master, and written to
`--results-file` for the hit-rate report. Set `PREDCACHE_API_KEY` to send
`x-api-key` (a deployed stage). `--max-requests` stops each load process after
that many requests, so a run is bounded in requests as well as time.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections import Counter, defaultdict
from typing import Any

from locust import FastHttpUser, constant, events, task

from cache.outcome import Outcome
from stress_test.scenarios import Options, Scenario

_user_ids = itertools.count()
# per-second item outcomes of this process: {epoch second: Counter}
_timeline: dict[int, Counter] = defaultdict(Counter)
_sent = Counter()


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    group = parser.add_argument_group("predcache")
    Options.add_arguments(group)
    group.add_argument("--max-requests", type=int, default=0, help="per load process; 0 = none")
    group.add_argument(
        "--results-file", default="", help="where the master writes final figures (JSON)"
    )


def _record(outcomes: Counter) -> None:
    _timeline[int(time.time())].update(outcomes)


@events.report_to_master.add_listener
def _send(client_id: str, data: dict) -> None:
    data["predcache_timeline"] = {str(s): dict(c) for s, c in _timeline.items()}
    _timeline.clear()


@events.worker_report.add_listener
def _receive(client_id: str, data: dict) -> None:
    for second, counts in data.get("predcache_timeline", {}).items():
        _timeline[int(second)].update(counts)


def _entry(entry: Any) -> dict[str, Any]:
    return {
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        **{f"p{q}_ms": entry.get_response_time_percentile(q / 100) for q in (50, 95, 99)},
    }


@events.quit.add_listener
def _write_results(exit_code: int, **_: Any) -> None:
    """Final figures, written after the runner stopped (locust's CSVs lag up to 1 s)."""
    environment = _environment["current"]
    path = environment.parsed_options.results_file
    if not path or type(environment.runner).__name__ == "WorkerRunner":
        return
    stats = environment.runner.stats
    total = stats.total
    timeline = [
        [second, *(_timeline[second].get(o, 0) for o in Outcome)] for second in sorted(_timeline)
    ]
    totals = Counter()
    for counts in _timeline.values():
        totals.update(counts)
    result = {
        "total": _entry(total)
        | {
            "duration_s": max(0.0, (total.last_request_timestamp or 0) - total.start_time),
        },
        "entries": {name: _entry(entry) for (name, _method), entry in stats.entries.items()},
        "outcomes": dict(totals),
        "timeline": timeline,
    }
    with open(path, "w") as handle:
        json.dump(result, handle)


_environment: dict[str, Any] = {}


@events.init.add_listener
def _remember(environment: Any, **_: Any) -> None:
    _environment["current"] = environment


class PredictUser(FastHttpUser):
    """Sends the scenario's payloads back to back (no think time: a throughput test)."""

    wait_time = constant(0)

    def on_start(self) -> None:
        options = Options.from_namespace(self.environment.parsed_options)
        runner = self.environment.runner
        worker = getattr(runner, "worker_index", 0) or 0
        self.scenario = Scenario(
            self.environment.parsed_options.scenario,
            options,
            stream_id=worker * 1000 + next(_user_ids),
        )
        self.headers = {"content-type": "application/json"}
        if os.environ.get("PREDCACHE_API_KEY"):
            self.headers["x-api-key"] = os.environ["PREDCACHE_API_KEY"]
        self.max_requests = self.environment.parsed_options.max_requests

    def _bounded(self) -> None:
        _sent["requests"] += 1
        if self.max_requests and _sent["requests"] >= self.max_requests:
            self.environment.runner.quit()

    @task
    def predict(self) -> None:
        if self.scenario.name == "batch":
            self._batch()
            return
        with self.client.post(
            "/predict", json=self.scenario.payload(), headers=self.headers, catch_response=True
        ) as response:
            outcome = response.headers.get("x-cache") if response.status_code == 200 else None
            if outcome in set(Outcome):
                response.request_meta["name"] = f"/predict {outcome}"
                _record(Counter({outcome: 1}))
            else:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
        self._bounded()

    def _batch(self) -> None:
        with self.client.post(
            "/predict/batch",
            json={"items": self.scenario.batch()},
            headers=self.headers,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            else:
                totals = response.json()["cache"]
                _record(Counter({o: totals[o.field] for o in Outcome}))
        self._bounded()
