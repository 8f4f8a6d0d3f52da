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
from collections import Counter, deque
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cache.outcome import Outcome
from service.ops.prices import (
    ARCHITECTURES,
    PLATFORM_LOG_BYTES,
    PRICES,
    cost_per_million,
    per_month,
    usd,
)
from service.ops.template import memory_mb
from service.settings import CACHE_MODES, ONE_VCPU_MB, Settings
from stress_test.lambda_view import percentiles
from stress_test.load.script import Step, script_payload
from stress_test.measurements import need
from stress_test.scenarios import SCENARIOS, Options, Scenario
from stress_test.simulation.aws import (
    ACCOUNT_429,
    DOORS,
    INTEGRATION_504,
    PLAN_429,
    QUOTA_429,
    REFUSALS,
    THROTTLE_CAUSES,
    TIMEOUT_502,
    AwsLimits,
    Door,
    Status,
)

_DEFAULTS = Settings()  # what a deployment runs unless told otherwise
# AWS does not publish how long an idle execution environment is kept. Public
# measurements mostly see 5 to 15 minutes; 10 minutes is the middle of that.
AWS_IDLE_SECONDS = 600
L0_TTL_MAX = 3_600  # API Gateway's longest cache TTL (deploy/front.js)
# AWS publishes no latency for an answer from its cache: assumed, a gateway round trip
L0_HIT_MS = 5.0
CACHE_SIZES = tuple(p.rsplit("_", 1)[1] for p in PRICES if p.startswith("api_gateway_cache_hour_"))
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
    # a container image (PACKAGE=image): a new environment first fetches and unpacks
    # the image's layers for this long (wall time, not CPU; AWS publishes no figure)
    image_fetch_ms: float = 0.0
    front: str = "rest"  # the front door (aws.DOORS)
    l0_ttl: float = 0.0  # rest: API Gateway's cache on GET /predict for this long; 0: off
    l0_size_gb: str = "0.5"  # its size, which sets its hourly price
    provisioned: int = 0  # environments kept initialised, model loaded (not with SnapStart)
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
        for name in ("spawn_rate", "ramp", "refused_rtt_ms", "restore_ms", "l0_ttl",
                     "provisioned", "image_fetch_ms"):  # fmt: skip
            if getattr(self, name) < 0:
                raise SimulationError(f"{name.replace('_', '-')} must not be negative")
        self._check_front()
        _check_limits(self.limits)
        if self.provisioned > self.limits.concurrency:
            raise SimulationError("--provisioned exceeds the function's concurrency")

    def _check_front(self) -> None:
        """The door, its cache and provisioned concurrency: what AWS would refuse."""
        if self.front not in DOORS:
            raise SimulationError(f"unknown front door {self.front!r}: one of {tuple(DOORS)}")
        if self.l0_ttl and not DOORS[self.front].l0:
            raise SimulationError(f"--l0-ttl: the {self.front} door has no cache (rest has)")
        if self.l0_ttl > L0_TTL_MAX:
            raise SimulationError(f"--l0-ttl {self.l0_ttl:g}: AWS allows at most {L0_TTL_MAX} s")
        if self.l0_ttl and f"api_gateway_cache_hour_{self.l0_size_gb}" not in PRICES:
            raise SimulationError(f"--l0-size-gb {self.l0_size_gb}: priced sizes are "
                                  f"{', '.join(CACHE_SIZES)}")  # fmt: skip
        if self.provisioned and self.restore_ms:
            raise SimulationError("provisioned concurrency cannot be combined with SnapStart")
        if self.image_fetch_ms and self.restore_ms:
            raise SimulationError("SnapStart does not apply to container images")

    @property
    def door(self) -> Door:
        return DOORS[self.front]

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
    __slots__ = ("born", "idle_since", "l1", "loaded", "number", "provisioned")

    def __init__(
        self, config: Config, env: Any, number: int = 0, provisioned: bool = False
    ) -> None:
        from cachetools import TTLCache

        self.number = number
        self.l1 = TTLCache(config.l1_max_items, config.l1_ttl, timer=lambda: env.now)
        self.loaded = self.provisioned = provisioned  # initialised ahead, model preloaded
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
        self.throttled: Counter[str] = Counter()  # by `THROTTLE_CAUSES`
        self.steady_throttled: Counter[str] = Counter()  # the same, second half
        for number in range(config.provisioned):  # ready before the first request
            self._park(ExecutionEnvironment(config, env, -number - 1, provisioned=True))

    def take(self) -> tuple[ExecutionEnvironment | None, bool]:
        """An environment and whether it is new (cold); None when Lambda throttles."""
        if self.idle:
            environment, cold = self._pop(), False
            self.reused += 1
        elif self.busy >= self.config.limits.concurrency:
            return self.throttle("concurrency"), False
        elif not self.scaling.take(self.env.now):
            return self.throttle("scaling"), False
        else:
            self.started += 1
            environment, cold = ExecutionEnvironment(self.config, self.env, self.started), True
        self.busy += 1
        self.peak = max(self.peak, self.busy)
        return environment, cold

    def throttle(self, cause: str) -> None:
        """Count a Lambda throttle by which of Lambda's limits it hit."""
        self.throttled[cause] += 1
        self.steady_throttled[cause] += self.env.now >= self.config.duration / 2

    def _pop(self) -> ExecutionEnvironment:
        if self.config.routing == "lowest":
            return heapq.heappop(self.idle)[1]
        return self.idle.pop() if self.config.routing == "mru" else self.idle.popleft()

    def release(self, environment: ExecutionEnvironment, reset: bool = False) -> None:
        """Back to idle; a reset (timed out) or too old environment is retired instead."""
        self.busy -= 1
        now = self.env.now
        old = now - environment.born >= self.config.max_lifetime_s
        if (reset or old) and not environment.provisioned:  # AWS keeps provisioned ones ready
            self.recycled += not reset
            return
        environment.idle_since = now
        self._park(environment)

    def _park(self, environment: ExecutionEnvironment) -> None:
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
            kept = [e for e in entries
                    if self._of(e).idle_since > limit or self._of(e).provisioned]  # fmt: skip
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
        self.l0: dict[tuple, float] = {}  # payload -> expiry, at API Gateway (rest door)
        self.l0_hits = 0
        self.l2: dict[tuple, float] = {}  # payload -> expiry
        # DynamoDB: the table's throughput and each key's partition; lookups of items
        # under 4 KB, eventually consistent, take half a read unit, a write one unit
        self.table_reads = TokenBucket(2 * limits.table_read_units_per_s,
                                       2 * limits.table_read_units_per_s)  # fmt: skip
        self.table_writes = TokenBucket(limits.table_write_units_per_s,
                                        limits.table_write_units_per_s)  # fmt: skip
        self.partition_reads: dict[tuple, TokenBucket] = {}
        self.l2_throttled: Counter[str] = Counter()  # read | write
        self.billed_provisioned: list[float] = []  # ms billed on provisioned environments
        self.items: Counter[str] = Counter()
        self.steady: Counter[str] = Counter()  # outcomes in the second half of the run
        self.refused: Counter[str] = Counter()  # by `Status.field`
        self.seen: set[tuple] = set()
        self.steady_requests = 0
        self.steady_refused: Counter[str] = Counter()  # by `Status.field`, second half
        self.requests = self.ready = self.model_loads = self.loading = self.restores = 0
        self.events: list[tuple[str, float]] = []  # (cold | model, when)
        self.latency: list[float] = []
        self.billed: list[float] = []
        self.container: ExecutionEnvironment | None = None  # local stack: its one process

    def _gateway_refusal(self) -> Status | None:
        """What the front door answers before its cache or the function: the usage plan
        (rest) or route throttle (http), the plan's quota, the account's throttle."""
        now, limits, door = self.env.now, self.config.limits, self.config.door
        if door.plan is PLAN_429 and self.admitted >= limits.plan_quota_per_month:
            return QUOTA_429
        if door.plan and not self.plan.take(now):
            return door.plan
        self.admitted += 1
        if door.account_throttle and not self.account.take(now):
            return ACCOUNT_429
        return None

    def _l0_hit(self, key: tuple) -> bool:
        return bool(self.config.l0_ttl) and self.l0.get(key, -1.0) > self.env.now

    def _outcome(self, environment: ExecutionEnvironment, key: tuple) -> str:
        mode, now = self.config.mode, self.env.now
        if mode != "off" and key in environment.l1:
            return Outcome.HIT_L1
        if mode == "tiered" and self._l2_read(key) and self.l2.get(key, -1.0) > now:
            environment.l1[key] = True
            return Outcome.HIT_L2
        return Outcome.MISS

    def _l2_read(self, key: tuple) -> bool:
        """Whether DynamoDB serves the lookup: a throttled one is a miss to the app."""
        now, limits = self.env.now, self.config.limits
        per_key = 2 * limits.partition_read_units_per_s
        partition = self.partition_reads.setdefault(key, TokenBucket(per_key, per_key))
        if self.table_reads.take(now) and partition.take(now):
            return True
        self.l2_throttled["read"] += 1
        return False

    def _store(self, environment: ExecutionEnvironment, key: tuple) -> None:
        if self.config.mode != "off":
            environment.l1[key] = True
        if self.config.mode == "tiered":
            if self.table_writes.take(self.env.now):
                self.l2[key] = self.env.now + self.config.cache_ttl
            else:  # throttled: the answer goes out, the item is not written
                self.l2_throttled["write"] += 1

    def _refuse(self, status: Status, steady: bool) -> None:
        self.refused[status.field] += 1
        self.steady_refused[status.field] += steady

    def request(self, payload: dict) -> Any:
        """One request, end to end; returns its latency in ms, or None if refused."""
        key = tuple(payload.values())
        self.requests += 1
        self.seen.add(key)
        steady = self.env.now >= self.config.duration / 2
        self.steady_requests += steady
        if self.config.stack == "local":
            return (yield from self._local(key))
        door, started = self.config.door, self.env.now
        refusal = self._gateway_refusal()
        if refusal is None and self._l0_hit(key):  # answered by API Gateway's cache
            self.l0_hits += 1
            yield self.env.timeout(L0_HIT_MS / 1000)
            self.latency.append(L0_HIT_MS)
            return L0_HIT_MS
        if refusal is None and not self.invoke_rate.take(self.env.now):
            refusal = door.lambda_throttle
            self.pool.throttle("invocation_rate")
        environment, cold = (None, False) if refusal else self.pool.take()
        if environment is None:
            self._refuse(refusal or door.lambda_throttle, steady)
            return None
        work = self.env.process(self._invoke(environment, key, cold))
        if door.integration_timeout:
            yield work | self.env.timeout(self.config.limits.integration_timeout_s)
        else:  # a function URL waits for the function
            yield work
        if not work.triggered:  # API Gateway gives up; the function runs on to its timeout
            self._refuse(INTEGRATION_504, steady)
            return None
        if work.value is TIMEOUT_502:
            self._refuse(TIMEOUT_502, steady)
            return None
        if self.config.l0_ttl and not self._l0_hit(key):  # API Gateway keeps the answer
            self.l0[key] = self.env.now + self.config.l0_ttl
        yield self.env.timeout(self.times.overhead_ms.get(work.value, 0.0) / 1000)
        total = (self.env.now - started) * 1000
        self.latency.append(total)
        return total

    def _init(self, environment: ExecutionEnvironment) -> Any:
        """A cold environment's init, in ms. Past `init_limit_s` Lambda stops the init
        phase and runs init again inside the first invocation: (init phase ms, ms the
        invoke phase owes). Under SnapStart it resumes instead, its model loaded; from a
        container image it first fetches the image (not CPU: it waits)."""
        if self.config.image_fetch_ms:
            yield self.env.timeout(self.config.image_fetch_ms / 1000)
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
            self._bill(environment, budget_ms + math.ceil(init_ms))
            self.pool.release(environment, reset=True)
            return TIMEOUT_502
        yield self.env.timeout(service / 1000)
        if outcome == Outcome.MISS:
            self._store(environment, key)
        self._count(outcome)
        self._bill(environment, math.ceil(load_ms + service) + math.ceil(init_ms))  # INIT billed
        self.pool.release(environment)
        return outcome

    def _bill(self, environment: ExecutionEnvironment, ms: float) -> None:
        (self.billed_provisioned if environment.provisioned else self.billed).append(ms)

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
    total = sum(world.items.values())  # answered by the function
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
        "front": config.front,
        "ok_200": {o.field: world.items[o] for o in Outcome} | {"hit_l0": world.l0_hits},
        "refused": {status.field: world.refused[status.field] for status in REFUSALS},
        "rps": round(world.requests / config.duration, 1),
        "answered_rps": round(len(world.latency) / config.duration, 1),
        "lambda_throttled": {cause: pool.throttled[cause] for cause in THROTTLE_CAUSES},
        "lambda_throttled_steady": {c: pool.steady_throttled[c] for c in THROTTLE_CAUSES},
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
        # of all answers, the share API Gateway's cache gave (no Lambda, no concurrency)
        "l0_hit_rate": round(world.l0_hits / len(world.latency), 4) if world.latency else None,
        "provisioned_concurrency": config.provisioned,
        "dynamodb_throttled": dict(world.l2_throttled),
        # `warm` writes the pool into a new on-demand table at its initial write rate
        "warm_fill_seconds": round(
            len(Scenario(config.scenario, config.options).pool)
            / config.limits.table_write_units_per_s,
            2,
        )
        if config.warm
        else None,
        "steady_hit_rate": {
            o: round(world.steady[o] / steady, 4) if steady else None for o in Outcome
        },
        "steady_refused": {s.field: world.steady_refused[s.field] for s in REFUSALS},
        "steady_refused_share": round(sum(world.steady_refused.values()) / world.steady_requests, 4)
        if world.steady_requests
        else None,
        "first_sightings": round(len(world.seen) / world.requests, 4) if world.requests else None,
        "latency_ms": percentiles(world.latency),
        **_costs(world, total),
    }


# Refusals a door still bills its request fee for: the request reached the integration
# (a Lambda throttle, a function or integration timeout). Usage-plan, route and account
# throttles (429) are not billed (API Gateway pricing page's FAQ on what is charged, as
# quoted in shared/NOTES.md 2026-12-01: check the live page); a function URL has no fee.
BILLED_REFUSALS = tuple(s for s in REFUSALS if s.source in
                        ("lambda_throttle", "function_timeout", "integration_timeout"))  # fmt: skip


def _costs(world: World, total: int) -> dict[str, Any]:
    """Cost per million answered requests (the door's fee, SnapStart restores, L0's
    hours and provisioned concurrency included; answers from L0 invoke nothing), and a
    month at this run's mix: answered requests at that cost plus the request fee of the
    refusals AWS bills, not the offered rate times an answered request's cost."""
    config, door = world.config, world.config.door
    invocations = len(world.billed) + len(world.billed_provisioned)
    answered = max(1, len(world.latency))  # by the function and by L0
    tiered = config.mode == "tiered"
    reads = (world.items[Outcome.HIT_L2] + world.items[Outcome.MISS]) / answered
    writes = world.items[Outcome.MISS] / answered
    log_bytes = (FUNCTION_LOG_BYTES + PLATFORM_LOG_BYTES) * invocations / answered
    gb = config.memory_mb / 1024
    extras = {  # USD of the whole run, spread over its answers below
        "snapstart_restores": usd("lambda_snapstart_restore_gb", world.restores * gb),
        "lambda_provisioned": usd("lambda_provisioned_gb_second",
                                  config.provisioned * gb * config.duration)
        + usd("lambda_provisioned_duration_gb_second", sum(world.billed_provisioned) / 1000 * gb),
        "api_gateway_cache": usd(f"api_gateway_cache_hour_{config.l0_size_gb}",
                                 config.duration / 3600) if config.l0_ttl else 0.0,
    }  # fmt: skip
    extra_per_million = {name: value * 1e6 / answered for name, value in extras.items()}
    per_million = {}
    for arch in ARCHITECTURES:
        costs = cost_per_million(
            sum(world.billed) / answered, config.memory_mb, reads if tiered else 0.0,
            writes if tiered else 0.0, log_bytes, arch, door.fee,
            invocations / answered,
        )  # fmt: skip
        for name, value in extra_per_million.items():
            if value or name == "snapstart_restores":
                costs[name] = round(value, 4)
        costs["total"] = round(costs["total"] + sum(extra_per_million.values()), 4)
        per_million[arch] = costs
    billed_refused = sum(world.refused[status.field] for status in BILLED_REFUSALS)
    refused_fee = usd(door.fee, billed_refused) if door.fee else 0.0
    run_usd = per_million["x86_64"]["total"] * len(world.latency) / 1e6 + refused_fee
    month = per_month(run_usd * 1e6 / max(1, world.requests), world.requests / config.duration)
    rps = world.requests / config.duration
    return {
        "snapstart_restores": world.restores,
        "snapstart_restore_usd_per_million": round(extra_per_million["snapstart_restores"], 4),
        "billed_ms_mean": round(
            sum(world.billed + world.billed_provisioned) / max(1, invocations), 3
        ),
        "cost_per_million_requests_usd": per_million["x86_64"],
        "cost_per_million_requests_usd_arm64": per_million["arm64"],
        "refused_requests_billed": billed_refused if door.fee else 0,
        "monthly_usd_at_this_rate": round(month, 2),
        "usage_plan_quota_days": round(config.limits.plan_quota_per_month / (rps * 86_400), 2)
        if rps and door.plan is PLAN_429
        else None,
    }


def stack_of(config: Config, data: dict[str, Any]) -> dict[str, Any] | None:
    """A stack's measured figures where the simulated setting is that stack on this
    machine (the local stack, or containers sharing `cores`); None for AWS, where each
    container has a CPU of its own and the uncontended benchmarks apply."""
    if config.stack == "local" or config.cores:
        return data.get("stacks", {}).get(config.stack)
    return None


SCALES = (0.5, 2.0)  # figures resting on one machine's cold-start times come with this range


def scaled(config: Config, times: Times, scale: float) -> tuple[Config, Times]:
    """`config` and `times` with every cold-start time (init, model load, SnapStart's
    restore, an image's fetch) multiplied by `scale`: measured on one machine, or assumed."""
    return (
        replace(config, restore_ms=config.restore_ms * scale,
                image_fetch_ms=config.image_fetch_ms * scale),
        replace(times, init_ms=times.init_ms * scale, model_load_ms=times.model_load_ms * scale),
    )  # fmt: skip


def simulate(config: Config, times: Times) -> dict[str, Any]:
    config.check()
    return World(config, times).run()
