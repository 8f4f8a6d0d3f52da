"""`make simulate`: API Gateway + Lambda + L1/L2 + DynamoDB as a discrete-event simulation.

    python -m stress_test.simulate --scenario hot --modes off,memory,tiered \
        (--users 32 [--spawn-rate 1] | --rate 1000 [--ramp 60] [--daily]) --duration 45 \
        [--stack lambda|local] [--concurrency-limit 1000] [--api-rate 1000 --api-burst 2000] \
        [--idle-seconds 600] [--l1-max-items N] [--l1-ttl S] [--cache-ttl S] [--memory-mb M] \
        [--warm] [--sweep name=v1,v2,...] [--validate stress_test/reports/<run>/summary.json]
        [--out DIR]

Built on SimPy. Traffic is the locust scenarios with the same seeds (one stream per
user, as the locustfile draws them), either closed-loop users (each waits for its
answer, like locust) or an open Poisson arrival rate with an optional ramp or a
daily curve. A request passes the usage plan (token bucket: rate, burst) and the
account's concurrency limit (both answer 429), takes an idle container or starts
one (paying init), and is answered by its L1 (cachetools' TTLCache on the simulated
clock: the real TTL and LRU bound), the shared L2 (TTL), or the model (paying the
model load on a container's first miss). Idle containers are reaped after
`--idle-seconds`. Service times, init and model load are the measured ones
(`stress_test/measurements.json`, written by `make bench`, `make bench-cold` and
`make stress`); prices come from `service/prices.py`.
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from stress_test.lambda_view import cost_per_million, percentiles, stack_figures
from stress_test.measurements import MissingMeasurements, default_path, load, need
from stress_test.scenarios import SCENARIOS, Options, Scenario

MODES = ("off", "memory", "tiered")
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
    l1_max_items: int = 10_000
    l1_ttl: float = 300.0
    cache_ttl: float = 86_400.0
    memory_mb: int = 1024
    timeout: float = 15.0  # the function's timeout (serverless.yml): API Gateway answers 504
    cores: int = 0  # CPUs all containers share (a local emulation); 0: one each, as in AWS
    warm: bool = False  # tiered: L2 holds every payload of the scenario's pool at the start
    seed: int = 42
    options: Options = field(default_factory=Options)

    def check(self) -> None:
        if self.scenario not in SCENARIOS:
            raise SimulationError(f"unknown scenario {self.scenario!r}: one of {SCENARIOS}")
        if self.mode not in MODES:
            raise SimulationError(f"unknown cache mode {self.mode!r}: one of {MODES}")
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


class Container:
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
        self.idle: list[tuple[int, Container]] = []
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
        self.container: Container | None = None  # local stack: its one process

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

    def _container(self) -> tuple[Container | None, bool]:
        if self.idle:
            return heapq.heappop(self.idle)[1], False
        if self.busy >= self.config.concurrency_limit:
            return None, False
        self.started += 1
        return Container(self.config, self.env, self.started), True

    def _outcome(self, container: Container, key: tuple) -> str:
        mode, now = self.config.mode, self.env.now
        if mode != "off" and key in container.l1:
            return "HIT-L1"
        if mode == "tiered" and self.l2.get(key, -1.0) > now:
            container.l1[key] = True
            return "HIT-L2"
        return "MISS"

    def _store(self, container: Container, key: tuple) -> None:
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

    def _invoke(self, container: Container, key: tuple, cold: bool) -> Any:
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
            self.started, self.container = 1, Container(self.config, self.env)
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
        reads = (self.items["HIT-L2"] + self.items["MISS"]) / max(1, total) if tiered else 0.0
        writes = self.items["MISS"] / max(1, total) if tiered else 0.0
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
            "hit_rate": {
                o: round(self.items[o] / total, 4) if total else None
                for o in ("HIT-L1", "HIT-L2", "MISS")
            },
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
    mean_ms = math.exp(times.outcome["HIT-L1"][0]) + times.overhead_ms.get("HIT-L1", 1.0)
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


# --- validation against measured runs -------------------------------------------------

TARGETS = {"hit_rate_pp": 2.0, "containers_pct": 15.0, "model_loads_pct": 15.0, "p50_pct": 25.0}


def config_of_run(summary: dict[str, Any], row: dict[str, Any]) -> Config:
    """The exact configuration of one measured mode, to simulate it."""
    from service.offline import IDLE_SECONDS

    params = summary["params"]
    options = Options(**{f.name: params[f.name] for f in fields(Options) if f.name in params})
    return Config(
        scenario=params["scenario"],
        mode=row["cache_mode"],
        stack=params.get("stack", "local"),
        users=params["users"],
        spawn_rate=params.get("spawn_rate") or 0.0,
        duration=row["duration_s"] or params["duration"],
        idle_seconds=IDLE_SECONDS,  # serverless-offline's reaper in the measured stack
        # serverless-offline's containers share this machine's cores
        cores=(os.cpu_count() or 1) if params.get("stack") == "lambda" else 0,
        options=options,
        memory_mb=(row.get("lambda") or {}).get("memory_mb", 1024),
    )


def _pct(simulated: float | None, measured: float | None) -> float | None:
    if simulated is None or not measured:
        return None
    return round(100 * abs(simulated - measured) / measured, 1)


def compare(simulated: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Simulated vs measured, each figure with its gap and whether it meets its target."""
    measured_items = row["hit_l1"] + row["hit_l2"] + row["miss"]
    measured_rate = {
        "HIT-L1": row["hit_l1"] / measured_items, "HIT-L2": row["hit_l2"] / measured_items,
        "MISS": row["miss"] / measured_items,
    } if measured_items else {}  # fmt: skip
    gaps = {
        f"hit rate {o} (pp)": round(100 * abs(simulated["hit_rate"][o] - measured_rate[o]), 2)
        for o in measured_rate
        if simulated["hit_rate"][o] is not None
    }
    checks = {name: (gap, gap <= TARGETS["hit_rate_pp"]) for name, gap in gaps.items()}
    view = row.get("lambda") or {}
    for name, sim_key, view_key, target in (
        ("containers started (%)", "containers_started", "containers_started", "containers_pct"),
        ("model loads (%)", "containers_loading_model", "containers_loading_model",
         "model_loads_pct"),
    ):  # fmt: skip
        gap = _pct(simulated[sim_key], view.get(view_key))
        if gap is not None:
            checks[name] = (gap, gap <= TARGETS[target])
    gap = _pct((simulated["latency_ms"] or {}).get("p50"), row.get("p50_ms"))
    if gap is not None:
        checks["latency p50 (%)"] = (gap, gap <= TARGETS["p50_pct"])
    return {
        "mode": row["cache_mode"],
        "simulated": simulated,
        "checks": {name: {"gap": g, "ok": ok} for name, (g, ok) in checks.items()},
        "measured": {
            "hit_rate": {o: round(v, 4) for o, v in measured_rate.items()},
            "containers_started": view.get("containers_started"),
            "containers_loading_model": view.get("containers_loading_model"),
            "p50_ms": row.get("p50_ms"),
        },
    }


def validate(summary_path: Path, data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """Each measured mode of a run simulated with its exact configuration, compared."""
    import json

    summary = json.loads(summary_path.read_text())
    results = []
    for row in summary["modes"]:
        config = config_of_run(summary, row)
        times = Times.measured(data, config.mode, path, stack_figures(summary["modes"]))
        results.append(compare(simulate(config, times), row))
    return results


# --- command line --------------------------------------------------------------------

SWEEPABLE = {
    "l1_max_items": int, "l1_ttl": float, "cache_ttl": float, "memory_mb": int,
    "idle_seconds": float, "concurrency_limit": int,
}  # fmt: skip


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    name, _, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if name not in SWEEPABLE or not values:
        raise SimulationError(
            f"--sweep takes name=v1,v2,… with a name from {', '.join(SWEEPABLE)}; got {text!r}"
        )
    try:
        parsed = [SWEEPABLE[name](v) for v in values.split(",") if v.strip()]
    except ValueError as exc:
        raise SimulationError(f"--sweep {name}: {exc}") from exc
    if any(v <= 0 for v in parsed):
        raise SimulationError(f"--sweep {name}: values must be positive")
    return name, parsed


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stress_test.simulate", description=__doc__)
    Options.add_arguments(parser)
    parser.add_argument("--modes", default="off,memory,tiered")
    defaults = Config()
    for f in fields(Config):
        if f.name in ("scenario", "mode", "options", "seed"):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            parser.add_argument(flag, action="store_true")
        elif f.name == "stack":
            parser.add_argument(flag, choices=("lambda", "local"), default=f.default)
        else:
            parser.add_argument(flag, type=type(getattr(defaults, f.name)), default=f.default)
    parser.add_argument("--sweep", default="", help="name=v1,v2,…: one row per value")
    parser.add_argument("--validate", type=Path, help="a stress run's summary.json to reproduce")
    parser.add_argument("--measurements", type=Path, help=f"default: {default_path()}")
    parser.add_argument("--out", type=Path, help="folder for simulation.json and report.html")
    return parser.parse_args(argv)


def _configs(args: argparse.Namespace) -> list[Config]:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    base = Config(
        scenario=args.scenario,
        options=Options.from_namespace(args),
        seed=args.seed,
        **{f.name: getattr(args, f.name) for f in fields(Config)
           if f.name not in ("scenario", "mode", "options", "seed")},
    )  # fmt: skip
    configs = [replace(base, mode=mode) for mode in modes]
    if args.sweep:
        name, values = parse_sweep(args.sweep)
        configs = [replace(c, **{name: v}) for c in configs for v in values]
    for config in configs:
        config.check()
    return configs


def _print_rows(rows: list[dict[str, Any]], sweep: str) -> None:
    name = sweep.partition("=")[0].replace("-", "_") if sweep else ""
    head = f"{'mode':8} {name:>14} " if name else f"{'mode':8} "
    print(
        head + f"{'req/s':>9} {'L1':>6} {'L2':>6} {'miss':>6} {'containers':>10} "
        f"{'model loads':>11} {'peak':>6} {'429s':>8} {'p50 ms':>8} {'p99 ms':>8} {'$/1M':>7}"
    )
    for row in rows:
        rate = row["hit_rate"]
        latency = row["latency_ms"] or {"p50": float("nan"), "p99": float("nan")}
        lead = f"{row['cache_mode']:8} " + (f"{row['config'][name]:>14} " if name else "")
        print(
            lead + f"{row['rps']:9.1f} {rate['HIT-L1'] or 0:6.3f} {rate['HIT-L2'] or 0:6.3f} "
            f"{rate['MISS'] or 0:6.3f} {row['containers_started']:10d} "
            f"{row['containers_loading_model']:11d} {row['peak_concurrent_containers']:6d} "
            f"{row['throttled_429']:8d} {latency['p50']:8.1f} {latency['p99']:8.1f} "
            f"{row['cost_per_million_requests_usd']['total']:7.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    import json

    args = _parse(argv)
    try:
        path = args.measurements or default_path()
        data = load(path)
        if args.validate:
            result = {"validation": validate(args.validate, data, path)}
            for entry in result["validation"]:
                print(f"[{entry['mode']}]")
                for name, check in entry["checks"].items():
                    print(f"  {name:28} {check['gap']:8} {'ok' if check['ok'] else 'MISSED'}")
        else:
            started = time.perf_counter()
            rows = []
            for config in _configs(args):
                times = Times.measured(data, config.mode, path, stack_of(config, data))
                row = simulate(config, times)
                row["config"] = {f.name: getattr(config, f.name) for f in fields(Config)
                                 if f.name != "options"}  # fmt: skip
                rows.append(row)
            _print_rows(rows, args.sweep)
            print(f"(simulated in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
            result = {"runs": rows, "measurements": data}
    except (SimulationError, MissingMeasurements) as exc:
        print(f"predcache simulate: {exc}", file=sys.stderr)
        return 2
    if args.out:
        from stress_test.report import write_simulation_report

        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "simulation.json").write_text(json.dumps(result, indent=2, default=str))
        if "runs" in result:
            print(f"report: {write_simulation_report(args.out, result['runs'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
