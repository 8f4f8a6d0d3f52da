"""API Gateway + Lambda + L1/L2 + DynamoDB as a discrete-event simulation.

Run it with `predcache simulate` (`stress_test.simulation.cli`). Built on SimPy. Traffic
is the locust scenarios with the same seeds (one stream per user, as the locustfile
draws them), either closed-loop users (each waits for its answer, like locust) or an
open Poisson arrival rate with an optional ramp or a daily curve. A request passes the
usage plan (token bucket: rate, burst) and the account's concurrency limit (both answer
429), takes an idle container or starts one (paying init), and is answered by its L1
(cachetools' TTLCache on the simulated clock: the real TTL and LRU bound), the shared L2
(TTL), or the model (paying the model load on a container's first miss). Idle containers
are reaped after `--idle-seconds`. Service times, init and model load are the measured
ones (`stress_test/measurements.json`, written by `make bench`, `make bench-cold` and
`make stress`); prices come from `service/ops/prices.py`.
"""

from __future__ import annotations

import heapq
import math
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cache.outcome import Outcome
from service.ops.prices import cost_per_million
from service.settings import CACHE_MODES, Settings
from stress_test.lambda_view import percentiles
from stress_test.measurements import need
from stress_test.scenarios import SCENARIOS, Options, Scenario

_DEFAULTS = Settings()  # what a deployment runs unless told otherwise
# AWS does not publish how long an idle execution environment is kept. Public
# measurements mostly see 5 to 15 minutes; 10 minutes is the middle of that.
AWS_IDLE_SECONDS = 600
SIM_EVENTS_PER_SECOND = 60_000  # this simulator's speed on a 2-core machine, roughly
Z99 = 2.326  # the 99th percentile of a standard normal


class SimulationError(ValueError):
    """A configuration the simulation refuses: one line says why."""


@dataclass(frozen=True)
class Config:
    """One simulated run. Closed loop when `users` > 0, else open at `rate` per second."""

    scenario: str = "hot"
    mode: str = "tiered"
    stack: str = "lambda"
    users: int = 0
    spawn_rate: float = 0.0  # users per second; 0: all at once
    rate: float = 0.0
    ramp: float = 0.0  # seconds to reach `rate` from 0
    daily: bool = False  # `rate` is the peak of a day-shaped curve compressed into `duration`
    duration: float = 45.0
    concurrency_limit: int = 1000
    api_rate: float = 1000.0
    api_burst: int = 2000
    idle_seconds: float = AWS_IDLE_SECONDS
    l1_max_items: int = _DEFAULTS.l1_max_items
    l1_ttl: float = float(_DEFAULTS.l1_ttl_seconds)
    cache_ttl: float = float(_DEFAULTS.cache_ttl_seconds)
    memory_mb: int = 1024
    timeout: float = 15.0  # the function's timeout (serverless.yml): API Gateway answers 504
    cores: int = 0  # CPUs all containers share (a local emulation); 0: one each, as in AWS
    warm: bool = False  # tiered: L2 holds every payload of the scenario's pool at the start
    seed: int = 42
    options: Options = field(default_factory=Options)

    def check(self) -> None:
        if self.scenario not in SCENARIOS:
            raise SimulationError(f"unknown scenario {self.scenario!r}: one of {SCENARIOS}")
        if self.mode not in CACHE_MODES:
            raise SimulationError(f"unknown cache mode {self.mode!r}: one of {CACHE_MODES}")
        if (self.users > 0) == (self.rate > 0):
            raise SimulationError("give either --users (closed loop) or --rate (open), > 0")
        for name in ("duration", "concurrency_limit", "api_rate", "api_burst", "idle_seconds",
                     "l1_max_items", "l1_ttl", "cache_ttl", "memory_mb", "timeout"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise SimulationError(f"{name.replace('_', '-')} must be positive")
        for name in ("spawn_rate", "ramp"):
            if getattr(self, name) < 0:
                raise SimulationError(f"{name.replace('_', '-')} must not be negative")


@dataclass
class Times:
    """Service times (ms) drawn from log-normals fitted to measured medians and p99s."""

    outcome: dict[str, tuple[float, float]]  # outcome -> (mu, sigma) of ln(ms)
    overhead_ms: dict[str, float]
    init_ms: float
    model_load_ms: float

    @staticmethod
    def fit(p50: float, p99: float) -> tuple[float, float]:
        p50 = max(p50, 0.001)
        return math.log(p50), max(0.0, math.log(max(p99, p50) / p50) / Z99)

    def draw(self, rng: random.Random, outcome: str) -> float:
        mu, sigma = self.outcome[outcome]
        return math.exp(rng.gauss(mu, sigma)) if sigma else math.exp(mu)

    @classmethod
    def measured(
        cls, data: dict[str, Any], mode: str, path: Path, figures: dict[str, Any] | None = None
    ) -> Times:
        """Service times per outcome from a stack's `figures` under load (`stack_figures`)
        when given, else the benchmarks' (through Mangum, one container on an idle CPU, as
        in AWS); init and model load always from the idle machine (`make bench-cold`)."""
        run = (figures or {}).get("modes", {}).get(mode, {})
        bench = need(data, "bench", path)["service_ms"]
        # the benchmark's miss reads and writes L2; without L2 a miss is the model alone
        fallback = bench | ({"MISS": bench["off"]} if mode != "tiered" else {})
        handler = {o: run.get("handler_ms", {}).get(o) or fallback[o] for o in bench}
        if mode == "off" and "MISS" in run.get("handler_ms", {}):  # cache off: every request
            handler["off"] = run["handler_ms"]["MISS"]
        cold = need(data, "bench_cold", path)
        return cls(
            outcome={o: cls.fit(v["p50"], v["p99"]) for o, v in handler.items()},
            overhead_ms=run.get("overhead_ms", {}),
            init_ms=cold["init_ms"],
            model_load_ms=cold["model_load_ms"],
        )


class ExecutionEnvironment:
    __slots__ = ("busy", "idle_since", "l1", "loaded", "number")

    def __init__(self, config: Config, env: Any, number: int = 0) -> None:
        self.number = number
        from cachetools import TTLCache

        self.l1 = TTLCache(config.l1_max_items, config.l1_ttl, timer=lambda: env.now)
        self.loaded = False
        self.busy = False
        self.idle_since = env.now


class World:
    """One run of one configuration: the pool, the tiers, the counters."""

    def __init__(self, config: Config, times: Times) -> None:
        import simpy

        self.config = config
        self.times = times
        self.env = simpy.Environment()
        self.rng = random.Random(config.seed)
        # Idle containers by age: a request takes the oldest idle one, as serverless-offline's
        # pool does (AWS does not document its choice).
        self.idle: list[tuple[int, ExecutionEnvironment]] = []
        self.busy = 0
        self.started = 0  # containers created
        self.ready = 0  # containers whose init is done
        self.model_loads = 0
        self.peak = 0
        self.l2: dict[tuple, float] = {}  # payload -> expiry
        self.items: Counter[str] = Counter()
        self.throttled = 0
        self.timed_out = 0
        self.loading = 0  # containers in init or model load now
        self.events: list[tuple[str, float]] = []  # (cold | model, when)
        self.latency: list[float] = []
        self.billed: list[float] = []
        self.tokens = float(config.api_burst)
        self.refilled = 0.0
        self.container: ExecutionEnvironment | None = None  # local stack: its one process

    def _admit(self) -> bool:
        """The usage plan's token bucket: `api_rate` a second, `api_burst` at most."""
        now = self.env.now
        self.tokens = min(
            self.config.api_burst, self.tokens + (now - self.refilled) * self.config.api_rate
        )
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def _container(self) -> tuple[ExecutionEnvironment | None, bool]:
        if self.idle:
            return heapq.heappop(self.idle)[1], False
        if self.busy >= self.config.concurrency_limit:
            return None, False
        self.started += 1
        return ExecutionEnvironment(self.config, self.env, self.started), True

    def _outcome(self, container: ExecutionEnvironment, key: tuple) -> str:
        mode, now = self.config.mode, self.env.now
        if mode != "off" and key in container.l1:
            return Outcome.HIT_L1
        if mode == "tiered" and self.l2.get(key, -1.0) > now:
            container.l1[key] = True
            return Outcome.HIT_L2
        return Outcome.MISS

    def _store(self, container: ExecutionEnvironment, key: tuple) -> None:
        if self.config.mode != "off":
            container.l1[key] = True
        if self.config.mode == "tiered":
            self.l2[key] = self.env.now + self.config.cache_ttl

    def request(self, payload: dict) -> Any:
        """One request, end to end; returns (latency ms or None if throttled)."""
        key = tuple(payload.values())
        if self.config.stack == "local":
            return (yield from self._local(key))
        if not self._admit():
            self.throttled += 1
            return None
        container, cold = self._container()
        if container is None:
            self.throttled += 1
            return None
        started = self.env.now
        container.busy = True  # taken now: a request arriving at the same instant sees it
        self.busy += 1
        self.peak = max(self.peak, self.busy)
        work = self.env.process(self._invoke(container, key, cold))
        yield work | self.env.timeout(self.config.timeout)
        if not work.triggered:  # API Gateway gives up; the container finishes regardless
            self.timed_out += 1
            return None
        outcome = work.value
        overhead = self.times.overhead_ms.get(outcome, 0.0)
        yield self.env.timeout(overhead / 1000)
        total = (self.env.now - started) * 1000
        self.latency.append(total)
        return total

    def _invoke(self, container: ExecutionEnvironment, key: tuple, cold: bool) -> Any:
        """The container's side of one invocation: init if cold, lookup, model; its outcome."""
        ms = 0.0
        if cold:  # counted once its init is done, as the containers report it
            ms = yield from self._cpu_bound(self.times.init_ms)
            self.ready += 1
            self.events.append(("cold", self.env.now))
        outcome = self._outcome(container, key)
        service = self.times.draw(self.rng, outcome if self.config.mode != "off" else "off")
        loading = outcome == "MISS" and not container.loaded
        if loading:  # the model load has waited its own time: add it to what is billed
            container.loaded = True
            load_ms = yield from self._cpu_bound(self.times.model_load_ms)
            yield self.env.timeout(service / 1000)
            service += load_ms
        else:
            yield self.env.timeout(service / 1000)
        self.model_loads += loading
        if loading:
            self.events.append(("model", self.env.now))
        if outcome == "MISS":
            self._store(container, key)
        self.items[outcome] += 1
        self.billed.append(math.ceil(service) + math.ceil(ms))
        container.busy = False
        container.idle_since = self.env.now
        self.busy -= 1
        heapq.heappush(self.idle, (container.number, container))
        return outcome

    def _cpu_bound(self, ms: float) -> Any:
        """An import-heavy phase (init, model load): with `cores` shared, it stretches by
        how many containers are in such a phase at once; returns the ms it took."""
        self.loading += 1
        share = max(1.0, self.loading / self.config.cores) if self.config.cores else 1.0
        yield self.env.timeout(ms * share / 1000)
        self.loading -= 1
        return ms * share

    def _local(self, key: tuple) -> Any:
        """The local stack: one long-lived process, model preloaded, serving concurrently
        (asyncio, a thread pool for misses). Its measured latency per outcome under load,
        contention included, plus the client's overhead, stands for each request."""
        if self.container is None:
            self.started, self.container = 1, ExecutionEnvironment(self.config, self.env)
            self.container.loaded = True
        arrived = self.env.now
        outcome = self._outcome(self.container, key)
        service = self.times.draw(self.rng, outcome if self.config.mode != "off" else "off")
        overhead = self.times.overhead_ms.get(outcome, 0.0)
        yield self.env.timeout((service + overhead) / 1000)
        if outcome == "MISS":
            self._store(self.container, key)
        self.items[outcome] += 1
        self.billed.append(math.ceil(service))
        total = (self.env.now - arrived) * 1000
        self.latency.append(total)
        return total

    def reaper(self) -> Any:
        while True:
            yield self.env.timeout(1.0)
            limit = self.env.now - self.config.idle_seconds
            kept = [(n, c) for n, c in self.idle if c.idle_since > limit]
            if len(kept) < len(self.idle):
                heapq.heapify(kept)
                self.idle = kept

    def user(self, stream_id: int, start: float) -> Any:
        scenario = Scenario(self.config.scenario, self.config.options, stream_id=stream_id)
        yield self.env.timeout(start)
        while self.env.now < self.config.duration:
            latency = yield from self.request(scenario.payload())
            if latency is None:  # 429 or 504: the client sees it, and goes on
                yield self.env.timeout(0.001)

    def rate_at(self, t: float) -> float:
        rate = self.config.rate
        if self.config.ramp:
            rate *= min(1.0, t / self.config.ramp)
        if self.config.daily:  # a day in `duration`: low at night, peak mid-afternoon
            phase = 2 * math.pi * (t / self.config.duration - 0.625)
            rate *= 0.55 + 0.45 * math.cos(phase)
        return rate

    def arrivals(self) -> Any:
        scenario = Scenario(self.config.scenario, self.config.options, stream_id=0)
        peak = self.config.rate
        while True:  # thinning: Poisson at the peak rate, kept with rate(t)/peak
            yield self.env.timeout(self.rng.expovariate(peak))
            if self.env.now >= self.config.duration:
                return
            if self.rng.random() * peak <= self.rate_at(self.env.now):
                self.env.process(self.request(scenario.payload()))

    def run(self) -> dict[str, Any]:
        config = self.config
        if config.warm and config.mode == "tiered":
            pool = Scenario(config.scenario, config.options).pool
            self.l2 = {tuple(p.values()): config.cache_ttl for p in pool}
        if config.stack == "lambda":
            self.env.process(self.reaper())
        if config.users:
            for u in range(config.users):
                start = u / config.spawn_rate if config.spawn_rate else 0.0
                self.env.process(self.user(u, start))
        else:
            self.env.process(self.arrivals())
        self.env.run(until=config.duration)
        return self.result()

    def result(self) -> dict[str, Any]:
        config = self.config
        total = sum(self.items.values())
        requests = total + self.throttled
        # per hour: from the second half of the run, past the first burst of cold starts
        settled = config.duration / 2
        hours = (config.duration - settled) / 3600
        late = Counter(kind for kind, at in self.events if at >= settled)
        mean_billed = sum(self.billed) / len(self.billed) if self.billed else 0.0
        tiered = config.mode == "tiered"
        reads = (self.items[Outcome.HIT_L2] + self.items[Outcome.MISS]) / max(1, total)
        reads = reads if tiered else 0.0
        writes = self.items[Outcome.MISS] / max(1, total) if tiered else 0.0
        return {
            "scenario": config.scenario,
            "cache_mode": config.mode,
            "stack": config.stack,
            "requests": requests,
            "answered": total,
            "throttled_429": self.throttled,
            "timed_out_504": self.timed_out,
            "rps": round(requests / config.duration, 1),
            "containers_started": self.ready if config.stack == "lambda" else self.started,
            "cold_starts": self.started,
            "containers_loading_model": self.model_loads,
            "peak_concurrent_containers": self.peak if config.stack == "lambda" else 1,
            "cold_starts_per_hour": round(late["cold"] / hours, 1),
            "model_loads_per_hour": round(late["model"] / hours, 1),
            "hit_rate": {o: round(self.items[o] / total, 4) if total else None for o in Outcome},
            "latency_ms": percentiles(self.latency),
            "billed_ms_mean": round(mean_billed, 3),
            "cost_per_million_requests_usd": cost_per_million(
                mean_billed, config.memory_mb, reads, writes, 0.0
            ),
        }


def estimate_events(config: Config, times: Times) -> float:
    """Roughly how many events a run makes, to warn before a long one."""
    if config.rate:
        return 3 * config.rate * config.duration
    hit = Outcome.HIT_L1
    mean_ms = math.exp(times.outcome[hit][0]) + times.overhead_ms.get(hit, 1.0)
    return 3 * config.users * config.duration / max(mean_ms / 1000, 1e-4)


def stack_of(config: Config, data: dict[str, Any]) -> dict[str, Any] | None:
    """A stack's measured figures where the simulated setting is that stack on this
    machine (the local stack, or containers sharing `cores`); None for AWS, where each
    container has a CPU of its own and the uncontended benchmarks apply."""
    if config.stack == "local" or config.cores:
        return data.get("stacks", {}).get(config.stack)
    return None


def simulate(config: Config, times: Times) -> dict[str, Any]:
    config.check()
    seconds = estimate_events(config, times) / SIM_EVENTS_PER_SECOND
    if seconds > 60:
        print(
            f"warning: {config.mode} at this load may take ~{seconds:.0f} s of real time; "
            "shorten --duration or lower the rate",
            file=sys.stderr,
        )
    return World(config, times).run()
