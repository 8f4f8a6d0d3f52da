"""`predcache simulate` (`make simulate`): the simulation's command line.

    predcache simulate --scenario hot --modes off,memory,tiered \
        (--users 32 [--spawn-rate 1] | --rate 1000 [--ramp 60] [--daily]) --duration 45 \
        [--stack lambda|local] [--concurrency-limit 1000] [--api-rate 1000 --api-burst 2000] \
        [--idle-seconds 600] [--l1-max-items N] [--l1-ttl S] [--cache-ttl S] [--memory-mb M] \
        [--warm] [--sweep name=v1,v2,...] [--validate stress_test/reports/<run>/summary.json]
        [--out DIR]

What is simulated, and from which inputs: `stress_test.simulation.model`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from stress_test.folders import run_folder
from stress_test.measurements import MissingMeasurements, default_path, load, source
from stress_test.scenarios import Options
from stress_test.simulation.aws import DOORS, AwsLimits
from stress_test.simulation.columns import COLUMNS, legend, print_markdown
from stress_test.simulation.model import (
    ROUTING,
    SCALES,
    Config,
    SimulationError,
    Times,
    scaled,
    simulate,
    stack_of,
)
from stress_test.simulation.validation import FROM_THE_RUN, validate_run

ALIASES = {  # earlier flag names, still accepted
    "account_concurrency": ["--concurrency-limit"],
    "plan_rate": ["--api-rate"],
    "plan_burst": ["--api-burst"],
    "function_timeout_s": ["--timeout"],
}
SWEEPABLE = {
    "l1_max_items": int, "l1_ttl": float, "cache_ttl": float, "memory_mb": int,
    "idle_seconds": float, "max_lifetime_s": float, "account_concurrency": int,
    "reserved_concurrency": int, "routing": str, "front": str, "l0_ttl": float,
    "provisioned": int, "restore_ms": float, "warm": lambda v: v.lower() in ("1", "true", "yes"),
    "image_fetch_ms": float, "rate": float,
}  # fmt: skip
SKIPPED = ("scenario", "mode", "options", "seed", "limits")
HELP = {  # one line per generated flag (Config's and AwsLimits' fields)
    "stack": "measured figures of which stack: lambda (make stress STACK=lambda) or local",
    "users": "closed loop: this many users, each waiting for its answer",
    "spawn_rate": "users started per second (0: all at once)",
    "rate": "open loop: requests per second",
    "ramp": "seconds to reach --rate from 0",
    "daily": "--rate is the peak of a day-shaped curve compressed into --duration",
    "duration": "simulated seconds",
    "idle_seconds": "an idle execution environment is reaped after this",
    "reap_every_s": "how often idle environments are looked at",
    "max_lifetime_s": "an environment is recycled once this old (not published; assumed)",
    "routing": "which idle environment takes a request (not published; assumed)",
    "cpu_scaling": "below 1,769 MB, CPU-bound times stretch by the memory's CPU share",
    "refused_rtt_ms": "a refusal's round trip before a closed-loop user retries",
    "restore_ms": "SnapStart: a new environment resumes in this long, the model loaded",
    "image_fetch_ms": "a container image (PACKAGE=image): a new environment first fetches "
    "its layers for this long (no SnapStart; AWS publishes no figure: assumed)",
    "front": "the front door: rest (API keys, usage plan, L0), http (HTTP API) or url "
    "(function URL): its throttles, statuses and request fee",
    "l0_ttl": "rest: API Gateway's cache on GET /predict for this many seconds (0: off)",
    "l0_size_gb": "L0's cache size in GB, which sets its hourly price",
    "provisioned": "environments kept initialised with the model loaded (provisioned "
    "concurrency; not with SnapStart)",
    "l1_max_items": "L1 size bound (L1_MAX_ITEMS)",
    "l1_ttl": "L1 lifetime, seconds (L1_TTL_SECONDS)",
    "cache_ttl": "L2 lifetime, seconds (CACHE_TTL_SECONDS)",
    "memory_mb": "the function's memory (serverless.yml)",
    "cores": "CPUs all containers share, for a local emulation (0: one each, as in AWS)",
    "warm": "tiered: L2 holds every payload of the scenario's pool at the start",
    "script": "a traffic script (JSON) instead of users or a rate",
    "plan_rate": "usage plan: requests per second (429 past it)",
    "plan_burst": "usage plan: burst (429 past it)",
    "plan_quota_per_month": "usage plan: requests per month (429 past it)",
    "account_rate": "API Gateway account limit per Region, requests per second (429)",
    "account_burst": "API Gateway account burst per Region (429)",
    "account_concurrency": "Lambda concurrency of the account (a throttle answers 500)",
    "reserved_concurrency": "the function's reserved concurrency (0: none, the account's)",
    "scaling_bucket": "new execution environments at once, per function",
    "scaling_refill_per_s": "new environments allowed per second after the bucket",
    "requests_per_concurrency": "synchronous invocations a second per unit of concurrency",
    "function_timeout_s": "the function's timeout (serverless.yml; 502 past it)",
    "integration_timeout_s": "API Gateway's integration timeout (504 past it)",
    "init_limit_s": "Lambda's init phase limit, then init is retried in the first invocation",
    "table_read_units_per_s": "DynamoDB: a new on-demand table's read units a second",
    "table_write_units_per_s": "DynamoDB: a new on-demand table's write units a second",
    "partition_read_units_per_s": "DynamoDB: one partition's (one key's) read units a second",
    "partition_write_units_per_s": "DynamoDB: one partition's write units a second",
}


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    name, _, values = text.partition("=")
    name = name.strip().replace("-", "_")
    name = "account_concurrency" if name == "concurrency_limit" else name
    if name not in SWEEPABLE or not values:
        raise SimulationError(
            f"--sweep takes name=v1,v2,… with a name from {', '.join(SWEEPABLE)}; got {text!r}"
        )
    try:
        parsed = [SWEEPABLE[name](v.strip()) for v in values.split(",") if v.strip()]
    except ValueError as exc:
        raise SimulationError(f"--sweep {name}: {exc}") from exc
    if any(not isinstance(v, str) and v < 0 for v in parsed):
        raise SimulationError(f"--sweep {name}: values must not be negative")
    return name, parsed


def _add_fields(parser: argparse.ArgumentParser, instance: Any, skipped: tuple = ()) -> None:
    """One flag per dataclass field, typed and defaulted by the field's value."""
    for f in fields(instance):
        if f.name in skipped:
            continue
        flags = ["--" + f.name.replace("_", "-"), *ALIASES.get(f.name, [])]
        value = getattr(instance, f.name)
        described = {"default": value, "help": HELP[f.name]}
        if isinstance(value, bool):
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, **described)
        elif f.name in ("stack", "routing", "front"):
            choices = {"stack": ("lambda", "local"), "routing": ROUTING, "front": tuple(DOORS)}[
                f.name
            ]
            parser.add_argument(*flags, choices=choices, **described)
        else:
            parser.add_argument(*flags, type=type(value), dest=f.name, **described)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="predcache simulate", description=__doc__.split("\n\n")[0]
    )
    Options.add_arguments(parser)
    parser.add_argument(
        "--modes", default="off,memory,tiered", help="cache modes to simulate, comma-separated"
    )
    _add_fields(parser, Config(), SKIPPED)
    _add_fields(parser.add_argument_group("AWS limits (docs/capacity.md)"), AwsLimits())
    parser.add_argument("--sweep", default="", help="name=v1,v2,…: one row per value")
    parser.add_argument(
        "--levers", action="store_true",
        help="one row per front door and capacity lever (as deployed, ramp, warm, SnapStart, "
        "provisioned concurrency, L0): the same requests, each lever alone",
    )  # fmt: skip
    parser.add_argument(
        "--max-rate", action="store_true",
        help="per front door and mode: the highest open-loop rate answered with no refusal "
        "from a standing start, what refuses above it, and the cost there",
    )  # fmt: skip
    parser.add_argument(
        "--sensitivity", action=argparse.BooleanOptionalAction, default=True,
        help="run each row again with init, model load and restore x0.5 and x2",
    )  # fmt: skip
    parser.add_argument("--validate", type=Path, help="a stress run's summary.json to reproduce")
    parser.add_argument(
        "--pool-conformance", action="store_true",
        help="play one script on the Lambda stack (make offline) and in the simulation: "
        "containers started, reused, reaped and model loads must agree within one",
    )  # fmt: skip
    parser.add_argument("--measurements", type=Path, help=f"default: {default_path()}")
    parser.add_argument(
        "--init-ms",
        type=float,
        default=0.0,
        help="a container's init instead of the measured one (0: measured)",
    )
    parser.add_argument(
        "--model-load-ms", type=float, default=0.0, help="a first miss's model load (0: measured)"
    )
    parser.add_argument("--out", type=Path, help="folder for simulation.json and report.html")
    parser.add_argument(
        "--markdown", action="store_true",
        help="print the tables as markdown, without their legends (docs/capacity.md)",
    )  # fmt: skip
    parser.add_argument(
        "--reports", type=Path,
        help="instead of --out: a new timestamped folder under this one, and a 'latest' link",
    )  # fmt: skip
    parser.add_argument(
        "--headline", action="store_true",
        help=f"open with each door's highest rate with no refusal ({HEADLINE_MODE}, as "
        "--max-rate prints it, without its x0.5-x2 range)",
    )  # fmt: skip
    return parser.parse_args(argv)


# Each lever alone, as `--levers` applies it to every door: what it changes in a run.
# A ramp sends the same requests over `duration` (the rate x1.5, reached after 2/3 of
# it); SnapStart's restore time is not published (500 ms assumed, ours measured
# 154 ms), nor is what fetching a container image adds to a new environment (1,000 ms
# assumed: the sensitivity rows show x0.5 and x2); provisioned concurrency is sized to
# this burst's warm peak (~40) with room.
LEVERS: dict[str, Callable[[Config], dict[str, Any]]] = {  # a run -> what the lever changes
    "as deployed": lambda base: {},
    "ramp": lambda base: {"ramp": base.duration * 2 / 3, "rate": base.rate * 1.5},
    "warm": lambda base: {"warm": True},
    "SnapStart": lambda base: {"restore_ms": 500.0},
    "image": lambda base: {"image_fetch_ms": 1000.0},
    "provisioned 100": lambda base: {"provisioned": 100},
    "L0 300 s": lambda base: {"l0_ttl": 300.0},
}


def lever_configs(base: Config) -> list[tuple[str, Config]]:
    """(lever, config) for every door and lever the door can take."""
    rows = []
    for door in DOORS:
        for lever, change in LEVERS.items():
            config = replace(base, front=door, **change(base))
            if not config.l0_ttl or DOORS[door].l0:
                rows.append((lever, config))
    return rows


def _swept(config: Config, name: str, value: Any) -> Config:
    if name in {f.name for f in fields(AwsLimits)}:
        return replace(config, limits=replace(config.limits, **{name: value}))
    if name == "rate":  # a rate is an open loop: no closed-loop users beside it
        return replace(config, rate=value, users=0)
    return replace(config, **{name: value})


def _configs(args: argparse.Namespace) -> list[tuple[str, Config]]:
    """(lever, config) per run; the lever is "" outside `--levers`."""
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    limits = AwsLimits(**{f.name: getattr(args, f.name) for f in fields(AwsLimits)})
    base = Config(
        scenario=args.scenario,
        options=Options.from_namespace(args),
        seed=args.seed,
        limits=limits,
        **{f.name: getattr(args, f.name) for f in fields(Config) if f.name not in SKIPPED},
    )
    configs = [("", replace(base, mode=mode)) for mode in modes]
    if args.levers:
        if not base.rate:
            raise SimulationError("--levers needs an open-loop --rate")
        configs = [pair for _, c in configs for pair in lever_configs(c)]
    elif args.sweep:
        name, values = parse_sweep(args.sweep)
        configs = [("", _swept(c, name, v)) for _, c in configs for v in values]
    for _, config in configs:
        config.check()
    return configs


def _times(config: Config, data: dict, path: Path, args: argparse.Namespace) -> Times:
    """The run's measured times (its stack's, on a local or shared-core run), or the cold
    starts given instead (`--init-ms`, `--model-load-ms`)."""
    times = Times.measured(data, config.mode, path, stack_of(config, data))
    return replace(
        times,
        init_ms=args.init_ms or times.init_ms,
        model_load_ms=args.model_load_ms or times.model_load_ms,
    )


HEADLINE_MODE = "tiered"  # --headline's mode: the one a deployment runs


def sensitivity(config: Config, times: Times) -> dict[str, dict[str, Any]]:
    """The run again with init, model load, restore and image fetch times scaled by 0.5
    and by 2: how far its refusals and p99 rest on what one machine measured (or assumed)."""
    ranges = {}
    for scale in SCALES:
        run = simulate(*scaled(config, times, scale))
        ranges[f"x{scale:g}"] = {
            "refused": sum(run["refused"].values()),
            "p99_ms": (run["latency_ms"] or {}).get("p99"),
        }
    return ranges


def _print_rows(rows: list[dict[str, Any]], sweep: str, markdown: bool = False) -> None:
    """One line per run, the same columns every time (so runs compare), then what each
    column means; as a markdown table alone with `markdown` (docs/capacity.md's blocks)."""
    name = sweep.partition("=")[0].replace("-", "_") if sweep else ""
    name = "account_concurrency" if name == "concurrency_limit" else name
    name = "" if name == "front" else name  # the door is a column of its own
    heads = ["mode", *([name] if name else []), *(head for head, _, _, _ in COLUMNS)]
    lines = [[row["cache_mode"], *([f"{row['config'][name]:g}" if name == "rate"
                                     else str(row["config"][name])] if name else []),
              *(figure(row) for _, _, figure, _ in COLUMNS)] for row in rows]  # fmt: skip
    if markdown:
        print_markdown(heads, lines)
        return
    config = rows[0]["config"]
    load = (f"open loop, {config['rate']:g} req/s offered" if config["rate"] and name != "rate"
            else "open loop at each rate" if name == "rate"
            else f"closed loop, {config['users']} users")  # fmt: skip
    print(f"{rows[0]['scenario']}, {load}, {config['duration']:g} s simulated per run:")
    widths = [8, *([15] if name else []), *(width for _, width, _, _ in COLUMNS)]
    for line in [heads, *lines]:
        cells = zip(line[1:], widths[1:], strict=True)
        print(f"{line[0]:{widths[0]}} " + " ".join(f"{cell:>{w}}" for cell, w in cells))
    print()
    for heads_, meaning in legend():
        print(f"  {heads_:19} {meaning}")
    sys.stdout.flush()


def config_row(config: Config) -> dict[str, Any]:
    """A run's configuration as flat JSON-ready data (the AWS limits beside the rest)."""
    flat = {f.name: getattr(config, f.name) for f in fields(Config)}
    flat.pop("options")
    return {**flat.pop("limits").__dict__, **flat}


def _pool_conformance(args: argparse.Namespace, data: dict, path: Path) -> dict[str, Any]:
    from stress_test.simulation.conformance import FIGURES, conformance

    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip() in ("memory", "tiered"))
    times = {mode: Times.measured(data, mode, path) for mode in modes}
    result = conformance(modes, times)
    for mode, row in result["modes"].items():
        print(f"[{mode}] {'figure':24} {'measured':>9} {'simulated':>10}")
        for name in FIGURES:
            print(f"  {name:29} {row['measured'][name]:9d} {row['simulated'][name]:10d}")
    print(f"second wave: {result['second_wave']}")
    print("pool conformance: " + ("ok" if result["ok"] else "MISSED"))
    return result


LONG_SECONDS = 60  # a run longer than this is announced, once


def _warn_if_long(first: float, left: int) -> None:
    """Once, after the first row: how long the rest will take, measured on that row."""
    if first * left > LONG_SECONDS:
        print(f"warning: {left} more rows like the first ({first:.1f} s each, its x0.5/x2 "
              f"runs included): ~{first * left:.0f} s more; shorten --duration, lower the load "
              "or add --no-sensitivity", file=sys.stderr)  # fmt: skip


def _limits(
    args: argparse.Namespace, data: dict, path: Path, modes: str = ""
) -> list[dict[str, Any]]:
    """`--max-rate` (and `--headline`, for `modes`): every door for every mode, printed
    as one table."""
    from stress_test.simulation.limit import FLOOR, max_rate, print_limits

    if args.max_rate and (args.sweep or args.levers):
        raise SimulationError("--max-rate searches the rate itself: drop --sweep and --levers")
    if args.stack == "local":  # one server process: no door, no Lambda, nothing to search
        raise SimulationError("--max-rate and --headline search AWS's doors and Lambda: "
                              "drop --stack local")  # fmt: skip
    limits = []
    open_loop = argparse.Namespace(**{**vars(args), "rate": FLOOR, "users": 0, "sweep": "",
                                      "levers": False, "modes": modes or args.modes})  # fmt: skip
    for _, config in _configs(open_loop):
        for door in DOORS:
            door_config = replace(config, front=door)
            times = _times(config, data, path, args)
            limits.append(max_rate(door_config, times, spread=args.sensitivity and not modes))
    print_limits(limits, args.duration, args.markdown)
    return limits


def _print_validation(entries: list[dict[str, Any]]) -> None:
    print("inputs taken from the measured run itself: " + "; ".join(FROM_THE_RUN))
    for entry in entries:
        print(f"[{entry['mode']}] simulated {entry['simulated']['requests']} requests, "
              f"measured {entry['measured']['requests']}")  # fmt: skip
        for name, check in entry["checks"].items():
            print(f"  {name:28} {check['gap']:8} {'ok' if check['ok'] else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        path = source(args.measurements)
        data = load(args.measurements)
        if args.pool_conformance:
            result = {"pool_conformance": _pool_conformance(args, data, path)}
        elif args.max_rate:
            result = {"limits": _limits(args, data, path)}
        elif args.validate:
            result = {"validation": validate_run(args.validate, data, path)}
            _print_validation(result["validation"])
        else:
            rows = []
            configs = _configs(args)
            limits = _limits(args, data, path, HEADLINE_MODE) if args.headline else []
            started = time.perf_counter()
            for lever, config in configs:
                times = _times(config, data, path, args)
                row = simulate(config, times)
                row["sensitivity"] = sensitivity(config, times) if args.sensitivity else {}
                row["config"] = config_row(config) | ({"lever": lever} if lever else {})
                rows.append(row)
                if len(rows) == 1:
                    _warn_if_long(time.perf_counter() - started, len(configs) - 1)
            _print_rows(rows, "lever=" if args.levers else args.sweep, args.markdown)
            print(f"(simulated in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
            result = {"runs": rows, "measurements": data} | ({"limits": limits} if limits else {})
    except (SimulationError, MissingMeasurements) as exc:
        print(f"predcache simulate: {exc}", file=sys.stderr)
        return 2
    out = run_folder(args.reports) if args.reports else args.out
    if out:
        from stress_test.simulation.report import write_simulation_report

        out.mkdir(parents=True, exist_ok=True)
        (out / "simulation.json").write_text(json.dumps(result, indent=2, default=str))
        if "runs" in result or "limits" in result:
            print(f"report: {write_simulation_report(out, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
