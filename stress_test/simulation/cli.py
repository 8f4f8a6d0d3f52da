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
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from cache.outcome import Outcome
from stress_test.measurements import MissingMeasurements, default_path, load
from stress_test.scenarios import Options
from stress_test.simulation.model import Config, SimulationError, Times, simulate, stack_of
from stress_test.simulation.validation import validate_run

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
    parser = argparse.ArgumentParser(
        prog="predcache simulate", description=__doc__.split("\n\n")[0]
    )
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
            lead
            + f"{row['rps']:9.1f} "
            + "".join(f"{rate[o] or 0:6.3f} " for o in Outcome)
            + f"{row['containers_started']:10d} "
            f"{row['containers_loading_model']:11d} {row['peak_concurrent_containers']:6d} "
            f"{row['throttled_429']:8d} {latency['p50']:8.1f} {latency['p99']:8.1f} "
            f"{row['cost_per_million_requests_usd']['total']:7.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        path = args.measurements or default_path()
        data = load(path)
        if args.validate:
            result = {"validation": validate_run(args.validate, data, path)}
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
        from stress_test.simulation.report import write_simulation_report

        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "simulation.json").write_text(json.dumps(result, indent=2, default=str))
        if "runs" in result:
            print(f"report: {write_simulation_report(args.out, result['runs'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
