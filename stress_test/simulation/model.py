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
from collections import Counter, deque
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cache.outcome import Outcome
from service.ops.prices import (
    ARCHITECTURES,
    PLATFORM_LOG_BYTES,
    cost_per_million,
    per_month,
    usd,
)
from service.ops.template import memory_mb
from service.settings import CACHE_MODES, Settings
from stress_test.lambda_view import percentiles
from stress_test.load.script import Step, script_payload
from stress_test.measurements import need
from stress_test.scenarios import SCENARIOS, Options, Scenario
from stress_test.simulation.aws import (
    ACCOUNT_429,
    INTEGRATION_504,
    PLAN_429,
    QUOTA_429,
    REFUSALS,
    THROTTLE_500,
    TIMEOUT_502,
    AwsLimits,
    Status,
)

_DEFAULTS = Settings()  # what a deployment runs unless told otherwise
# AWS does not publish how long an idle execution environment is kept. Public
# measurements mostly see 5 to 15 minutes; 10 minutes is the middle of that.
AWS_IDLE_SECONDS = 600
SIM_EVENTS_PER_SECOND = 60_000  # this simulator's speed on a 2-core machine, roughly
Z99 = 2.326  # the 99th percentile of a standard normal
# What the function prints per request: one EMF line with the container's facts
# (`make bench-peer`, 2026-12-01, 2-core machine: 495 bytes per L1 hit).
FUNCTION_LOG_BYTES = 495


class SimulationError(ValueError):
    """A configuration the simulation refuses: one line says why."""


ROUTING = ("mru", "lru", "lowest")
# AWS publishes neither how long an idle environment is kept (public measurements see
# 5 to 15 minutes) nor how long one lives under steady traffic ("every few hours"):
LIFECYCLE_SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html"
ONE_VCPU_MB = 1769  # memory at which a function gets one full vCPU (LAMBDA_MEMORY page)


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
    limits: AwsLimits = field(default_factory=AwsLimits)
    idle_seconds: float = AWS_IDLE_SECONDS  # an idle environment is reaped after this
    reap_every_s: float = 1.0  # how often idle environments are looked at
    max_lifetime_s: float = 7_200.0  # an environment is recycled once this old
    routing: str = "mru"  # which idle environment takes a request (not published)
    cpu_scaling: bool = True  # below ONE_VCPU_MB, CPU-bound times stretch by the share
    refused_rtt_ms: float = 10.0  # a refusal's round trip, before a closed-loop user retries
    restore_ms: float = 0.0  # SnapStart: a new environment resumes in this long, model loaded
    l1_max_items: int = _DEFAULTS.l1_max_items
    l1_ttl: float = float(_DEFAULTS.l1_ttl_seconds)
    cache_ttl: float = float(_DEFAULTS.cache_ttl_seconds)
    memory_mb: int = field(default_factory=memory_mb)
    cores: int = 0  # CPUs all containers share (a local emulation); 0: one each, as in AWS
    warm: bool = False  # tiered: L2 holds every payload of the scenario's pool at the start
    seed: int = 42
    options: Options = field(default_factory=Options)
    script: tuple[Step, ...] = ()  # scripted traffic instead of users or a rate

    def check(self) -> None:
        if self.scenario not in SCENARIOS:
            raise SimulationError(f"unknown scenario {self.scenario!r}: one of {SCENARIOS}")
        if self.mode not in CACHE_MODES:
            raise SimulationError(f"unknown cache mode {self.mode!r}: one of {CACHE_MODES}")
        if self.routing not in ROUTING:
            raise SimulationError(f"unknown routing {self.routing!r}: one of {ROUTING}")
        if not self.script and (self.users > 0) == (self.rate > 0):
            raise SimulationError("give either --users (closed loop) or --rate (open), > 0")
        for name in ("duration", "idle_seconds", "reap_every_s", "max_lifetime_s",
                     "l1_max_items", "l1_ttl", "cache_ttl", "memory_mb"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise SimulationError(f"{name.replace('_', '-')} must be positive")
        for name in ("spawn_rate", "ramp", "refused_rtt_ms", "restore_ms"):
            if getattr(self, name) < 0:
                raise SimulationError(f"{name.replace('_', '-')} must not be negative")
        _check_limits(self.limits)

    @property
    def cpu_share(self) -> float:
        """How much slower CPU-bound work runs than on the full core it was measured on."""
        if not self.cpu_scaling or self.stack != "lambda":
            return 1.0
        return max(1.0, ONE_VCPU_MB / self.memory_mb)


def _check_limits(limits: AwsLimits) -> None:
    for spec in fields(limits):
        value = getattr(limits, spec.name)
        allowed_zero = spec.name == "reserved_concurrency"
        if value < 0 or (value == 0 and not allowed_zero):
            raise SimulationError(f"{spec.name.replace('_', '-')} must be positive")


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
    __slots__ = ("born", "idle_since", "l1", "loaded", "number")

    def __init__(self, config: Config, env: Any, number: int = 0) -> None:
        from cachetools import TTLCache

        self.number = number
        self.l1 = TTLCache(config.l1_max_items, config.l1_ttl, timer=lambda: env.now)
        self.loaded = False
        self.born = self.idle_since = env.now


class TokenBucket:
    """`rate` tokens a second up to `capacity`: how API Gateway throttles, and how
    Lambda refills its scaling rate and caps invocations per unit of concurrency."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate, self.capacity = rate, capacity
        self.tokens, self.at = float(capacity), 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Pool:
    """A function's execution environments: an idle one is taken by the routing policy
    (`mru`: the most recently used, `lru`, `lowest`: the oldest created); new ones are
    limited by concurrency and the scaling rate; idle ones are reaped after
    `idle_seconds`, and any is recycled once older than `max_lifetime_s`."""

    def __init__(self, config: Config, env: Any) -> None:
        self.config, self.env = config, env
        limits = config.limits
        self.scaling = TokenBucket(limits.scaling_refill_per_s, limits.scaling_bucket)
        self.idle: Any = [] if config.routing == "lowest" else deque()
        self.busy = self.started = self.reused = self.reaped = self.recycled = self.peak = 0

    def take(self) -> tuple[ExecutionEnvironment | None, bool]:
        """An environment and whether it is new (cold); None when Lambda throttles."""
        if self.idle:
            environment, cold = self._pop(), False
            self.reused += 1
        elif self.busy >= self.config.limits.concurrency or not self.scaling.take(self.env.now):
            return None, False
        else:
            self.started += 1
            environment, cold = ExecutionEnvironment(self.config, self.env, self.started), True
        self.busy += 1
        self.peak = max(self.peak, self.busy)
        return environment, cold

    def _pop(self) -> ExecutionEnvironment:
        if self.config.routing == "lowest":
            return heapq.heappop(self.idle)[1]
        return self.idle.pop() if self.config.routing == "mru" else self.idle.popleft()

    def release(self, environment: ExecutionEnvironment, reset: bool = False) -> None:
        """Back to idle; a reset (timed out) or too old environment is retired instead."""
        self.busy -= 1
        now = self.env.now
        if reset or now - environment.born >= self.config.max_lifetime_s:
            self.recycled += not reset
            return
        environment.idle_since = now
        if self.config.routing == "lowest":
            heapq.heappush(self.idle, (environment.number, environment))
        else:
            self.idle.append(environment)

    def reap(self) -> Any:
        """A SimPy process: every second, drop environments idle for `idle_seconds`."""
        while True:
            yield self.env.timeout(self.config.reap_every_s)
            limit = self.env.now - self.config.idle_seconds
            entries = list(self.idle)
            kept = [e for e in entries if self._of(e).idle_since > limit]
            if len(kept) < len(entries):
                self.reaped += len(entries) - len(kept)
                if self.config.routing == "lowest":
                    heapq.heapify(kept)
                    self.idle = kept
                else:
                    self.idle = deque(kept)

    @staticmethod
    def _of(entry: Any) -> ExecutionEnvironment:
        return entry[1] if isinstance(entry, tuple) else entry


class World:
    """One run of one configuration: API Gateway, the pool, the tiers, the counters."""

    def __init__(self, config: Config, times: Times) -> None:
        import simpy

        self.config, self.times = config, times
        self.env = simpy.Environment()
        self.rng = random.Random(config.seed)
        limits = config.limits
        self.plan = TokenBucket(limits.plan_rate, limits.plan_burst)
        self.account = TokenBucket(limits.account_rate, limits.account_burst)
        invoke_rate = limits.requests_per_concurrency * limits.concurrency
        self.invoke_rate = TokenBucket(invoke_rate, invoke_rate)
        self.pool = Pool(config, self.env)
        self.admitted = 0  # requests the usage plan let through: what its quota counts
        self.l2: dict[tuple, float] = {}  # payload -> expiry
        self.items: Counter[str] = Counter()
        self.steady: Counter[str] = Counter()  # outcomes in the second half of the run
        self.refused: Counter[str] = Counter()  # by `Status.field`
        self.seen: set[tuple] = set()
        self.steady_requests = self.steady_refused = 0
        self.requests = self.ready = self.model_loads = self.loading = self.restores = 0
        self.events: list[tuple[str, float]] = []  # (cold | model, when)
        self.latency: list[float] = []
        self.billed: list[float] = []
        self.container: ExecutionEnvironment | None = None  # local stack: its one process

    def _refusal(self) -> Status | None:
        """What API Gateway and Lambda's invoke limits answer before any environment."""
        now, limits = self.env.now, self.config.limits
        if self.admitted >= limits.plan_quota_per_month:
            return QUOTA_429
        if not self.plan.take(now):
            return PLAN_429
        self.admitted += 1
        if not self.account.take(now):
            return ACCOUNT_429
        if not self.invoke_rate.take(now):
            return THROTTLE_500
        return None

    def _outcome(self, environment: ExecutionEnvironment, key: tuple) -> str:
        mode, now = self.config.mode, self.env.now
        if mode != "off" and key in environment.l1:
            return Outcome.HIT_L1
        if mode == "tiered" and self.l2.get(key, -1.0) > now:
            environment.l1[key] = True
            return Outcome.HIT_L2
        return Outcome.MISS

    def _store(self, environment: ExecutionEnvironment, key: tuple) -> None:
        if self.config.mode != "off":
            environment.l1[key] = True
        if self.config.mode == "tiered":
            self.l2[key] = self.env.now + self.config.cache_ttl

    def request(self, payload: dict) -> Any:
        """One request, end to end; returns its latency in ms, or None if refused."""
        key = tuple(payload.values())
        self.requests += 1
        self.seen.add(key)
        steady = self.env.now >= self.config.duration / 2
        self.steady_requests += steady
        if self.config.stack == "local":
            return (yield from self._local(key))
        refusal = self._refusal()
        environment, cold = (None, False) if refusal else self.pool.take()
        if environment is None:
            self.refused[(refusal or THROTTLE_500).field] += 1
            self.steady_refused += steady
            return None
        started = self.env.now
        work = self.env.process(self._invoke(environment, key, cold))
        yield work | self.env.timeout(self.config.limits.integration_timeout_s)
        if not work.triggered:  # API Gateway gives up; the function runs on to its timeout
            self.refused[INTEGRATION_504.field] += 1
            return None
        if work.value is TIMEOUT_502:
            self.refused[TIMEOUT_502.field] += 1
            return None
        yield self.env.timeout(self.times.overhead_ms.get(work.value, 0.0) / 1000)
        total = (self.env.now - started) * 1000
        self.latency.append(total)
        return total

    def _init(self, environment: ExecutionEnvironment) -> Any:
        """A cold environment's init, in ms. Past `init_limit_s` Lambda stops the init
        phase and runs init again inside the first invocation: (init phase ms, ms the
        invoke phase owes). Under SnapStart it resumes instead, its model loaded."""
        if self.config.restore_ms:
            spent = yield from self._cpu_bound(self.config.restore_ms)
            environment.loaded = True
            self.restores += 1
            self.ready += 1
            self.events.append(("cold", self.env.now))
            return spent, 0.0
        limit_ms = self.config.limits.init_limit_s * 1000
        init_ms = self.times.init_ms * self.config.cpu_share
        spent = yield from self._cpu_bound(min(init_ms, limit_ms))
        self.ready += 1
        self.events.append(("cold", self.env.now))
        return spent, (init_ms if init_ms > limit_ms else 0.0)

    def _invoke(self, environment: ExecutionEnvironment, key: tuple, cold: bool) -> Any:
        """The environment's side of one invocation: its outcome, or `TIMEOUT_502`."""
        init_ms, owed_ms = (yield from self._init(environment)) if cold else (0.0, 0.0)
        outcome = self._outcome(environment, key)
        load_ms = 0.0
        if outcome == Outcome.MISS and not environment.loaded:
            environment.loaded = True
            load_ms = yield from self._cpu_bound(self.times.model_load_ms * self.config.cpu_share)
            self.model_loads += 1
            self.events.append(("model", self.env.now))
        drawn = outcome if self.config.mode != "off" else "off"
        service = self.times.draw(self.rng, drawn) * self.config.cpu_share + owed_ms
        budget_ms = self.config.limits.function_timeout_s * 1000
        if load_ms + service > budget_ms:  # stopped at the timeout; the environment is reset
            yield self.env.timeout(max(0.0, budget_ms - load_ms) / 1000)
            self.billed.append(budget_ms + math.ceil(init_ms))
            self.pool.release(environment, reset=True)
            return TIMEOUT_502
        yield self.env.timeout(service / 1000)
        if outcome == Outcome.MISS:
            self._store(environment, key)
        self._count(outcome)
        self.billed.append(math.ceil(load_ms + service) + math.ceil(init_ms))  # INIT billed
        self.pool.release(environment)
        return outcome

    def _count(self, outcome: str) -> None:
        self.items[outcome] += 1
        if self.env.now >= self.config.duration / 2:
            self.steady[outcome] += 1

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
            self.pool.started, self.container = 1, ExecutionEnvironment(self.config, self.env)
            self.container.loaded = True
        arrived = self.env.now
        outcome = self._outcome(self.container, key)
        service = self.times.draw(self.rng, outcome if self.config.mode != "off" else "off")
        overhead = self.times.overhead_ms.get(outcome, 0.0)
        yield self.env.timeout((service + overhead) / 1000)
        if outcome == Outcome.MISS:
            self._store(self.container, key)
        self._count(outcome)
        self.billed.append(math.ceil(service))
        total = (self.env.now - arrived) * 1000
        self.latency.append(total)
        return total

    def user(self, stream_id: int, start: float) -> Any:
        scenario = Scenario(self.config.scenario, self.config.options, stream_id=stream_id)
        yield self.env.timeout(start)
        while self.env.now < self.config.duration:
            latency = yield from self.request(scenario.payload())
            if latency is None:  # refused: the client sees it after a round trip, goes on
                yield self.env.timeout(self.config.refused_rtt_ms / 1000)

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

    def scripted(self) -> Any:
        """Play `config.script`; `marks` holds the pool's counters as each step starts."""
        self.marks: list[dict[str, int]] = []
        for step in self.config.script:
            self.marks.append(self._mark())
            if step.kind == "gap":
                yield self.env.timeout(step.seconds)
            elif step.kind == "burst":
                yield self.env.all_of(
                    [self.env.process(self.request(script_payload(i))) for i in step.payloads]
                )
            else:
                for i in step.payloads:
                    yield from self.request(script_payload(i))
        self.marks.append(self._mark())

    def _mark(self) -> dict[str, int]:
        pool = self.pool
        return {"started": pool.started, "reused": pool.reused, "reaped": pool.reaped,
                "model_loads": self.model_loads}  # fmt: skip

    def run(self) -> dict[str, Any]:
        config = self.config
        if config.script:
            self.env.process(self.pool.reap())
            self.env.run(until=self.env.process(self.scripted()))
            return {"marks": self.marks}
        if config.warm and config.mode == "tiered":
            pool = Scenario(config.scenario, config.options).pool
            self.l2 = {tuple(p.values()): config.cache_ttl for p in pool}
        if config.stack == "lambda":
            self.env.process(self.pool.reap())
        if config.users:
            for u in range(config.users):
                start = u / config.spawn_rate if config.spawn_rate else 0.0
                self.env.process(self.user(u, start))
        else:
            self.env.process(self.arrivals())
        self.env.run(until=config.duration)
        return result_of(self)


def result_of(world: World) -> dict[str, Any]:
    """A run's figures: answers by tier and refusals by source and status, the pool,
    latency, and cost; hit rates also over the steady second half, beside the share of
    first sightings D(N)/N, which is what a cold shared cache must miss."""
    config, pool = world.config, world.pool
    total = sum(world.items.values())
    settled = config.duration / 2
    hours = (config.duration - settled) / 3600
    late = Counter(kind for kind, at in world.events if at >= settled)
    steady = sum(world.steady.values())
    return {
        "scenario": config.scenario,
        "cache_mode": config.mode,
        "stack": config.stack,
        "requests": world.requests,
        "answered": total,
        "ok_200": {o.field: world.items[o] for o in Outcome},
        "refused": {status.field: world.refused[status.field] for status in REFUSALS},
        "rps": round(world.requests / config.duration, 1),
        "containers_started": world.ready if config.stack == "lambda" else pool.started,
        "cold_starts": pool.started,
        "invocations_reused": pool.reused,
        "containers_reaped": pool.reaped,
        "containers_recycled": pool.recycled,
        "containers_loading_model": world.model_loads,
        "peak_concurrent_containers": pool.peak if config.stack == "lambda" else 1,
        "cold_starts_per_hour": round(late["cold"] / hours, 1),
        "model_loads_per_hour": round(late["model"] / hours, 1),
        "hit_rate": {o: round(world.items[o] / total, 4) if total else None for o in Outcome},
        "steady_hit_rate": {
            o: round(world.steady[o] / steady, 4) if steady else None for o in Outcome
        },
        "steady_refused_share": round(world.steady_refused / world.steady_requests, 4)
        if world.steady_requests
        else None,
        "first_sightings": round(len(world.seen) / world.requests, 4) if world.requests else None,
        "latency_ms": percentiles(world.latency),
        **_costs(world, total),
    }


# Refusals API Gateway still bills its request fee for: the request reached the
# integration (a Lambda throttle, a function or integration timeout). Usage-plan and
# account throttles (429) are not billed (API Gateway pricing page's FAQ on what is
# charged, as quoted in shared/NOTES.md 2026-12-01: check the live page).
BILLED_REFUSALS = (THROTTLE_500, TIMEOUT_502, INTEGRATION_504)


def _costs(world: World, total: int) -> dict[str, Any]:
    """Cost per million answered requests (SnapStart restores included), and a month at
    this run's mix: answered requests at that cost plus the request fee of the refusals
    AWS bills, not the offered rate times an answered request's cost."""
    config = world.config
    invocations = max(1, len(world.billed))
    mean_billed = sum(world.billed) / invocations
    tiered = config.mode == "tiered"
    reads = (world.items[Outcome.HIT_L2] + world.items[Outcome.MISS]) / max(1, total)
    writes = world.items[Outcome.MISS] / max(1, total)
    log_bytes = FUNCTION_LOG_BYTES + PLATFORM_LOG_BYTES
    answered = max(1, len(world.latency))
    restore_usd = usd("lambda_snapstart_restore_gb", world.restores * config.memory_mb / 1024)
    restore_per_million = restore_usd * 1e6 / answered
    per_million = {}
    for arch in ARCHITECTURES:
        costs = cost_per_million(
            mean_billed, config.memory_mb, reads if tiered else 0.0,
            writes if tiered else 0.0, log_bytes, arch,
        )  # fmt: skip
        costs["snapstart_restores"] = round(restore_per_million, 4)
        costs["total"] = round(costs["total"] + restore_per_million, 4)
        per_million[arch] = costs
    billed_refused = sum(world.refused[status.field] for status in BILLED_REFUSALS)
    refused_fee = usd("api_gateway_rest_request", billed_refused)
    run_usd = per_million["x86_64"]["total"] * len(world.latency) / 1e6 + refused_fee
    month = per_month(run_usd * 1e6 / max(1, world.requests), world.requests / config.duration)
    rps = world.requests / config.duration
    return {
        "snapstart_restores": world.restores,
        "snapstart_restore_usd_per_million": round(restore_per_million, 4),
        "billed_ms_mean": round(mean_billed, 3),
        "cost_per_million_requests_usd": per_million["x86_64"],
        "cost_per_million_requests_usd_arm64": per_million["arm64"],
        "refused_requests_billed": billed_refused,
        "monthly_usd_at_this_rate": round(month, 2),
        "usage_plan_quota_days": round(config.limits.plan_quota_per_month / (rps * 86_400), 2)
        if rps
        else None,
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
