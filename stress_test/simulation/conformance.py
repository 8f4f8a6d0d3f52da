"""Does the simulated container pool behave like a real one? The same script played
against the Lambda stack (`predcache offline`: serverless-offline's pool, one Python
process per container) and through the simulation configured as that stack; the
containers started, reused and reaped, and the model loads, must agree within one.

The script's second wave comes after its containers were reaped: in tiered mode its new
containers find wave 1's answers in L2 and never load the model; in memory mode each
one does. Both sides must show it.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from stress_test.lambda_view import read_lines
from stress_test.load.script import WAVE_2, pool_script, run_over_http
from stress_test.simulation.model import Config, Times, World
from stress_test.simulation.validation import EMULATED_STACK

TOLERANCE = 1  # containers or loads
FIGURES = ("containers_started", "invocations_reused", "reaped_before_wave_2",
           "model_loads_wave_1", "model_loads_wave_2")  # fmt: skip


def simulated(mode: str, idle_seconds: float, times: Times) -> dict[str, int]:
    """The script through the simulation, configured as the emulated stack."""
    config = Config(scenario="unique", mode=mode, **EMULATED_STACK, idle_seconds=idle_seconds,
                    cores=os.cpu_count() or 1, script=pool_script(idle_seconds))  # fmt: skip
    config = replace(config, reap_every_s=idle_seconds)  # serverless-offline's cleaner
    marks = World(config, times).run()["marks"]
    wave, end = marks[WAVE_2], marks[-1]
    return {
        "containers_started": end["started"],
        "invocations_reused": end["reused"],
        "reaped_before_wave_2": wave["reaped"],
        "model_loads_wave_1": wave["model_loads"],
        "model_loads_wave_2": end["model_loads"] - wave["model_loads"],
    }


def measured(mode: str, idle_seconds: int, workdir: Path) -> dict[str, int]:
    """The script against `predcache offline` in `mode`, counted from the containers'
    own lines (container id, cold start, model loaded, when each invocation started)."""
    from service.ops.offline import offline_stack
    from service.ops.processes import free_port
    from service.ops.template import offline_api_key

    log = workdir / f"offline-{mode}.log"
    with (
        open(log, "w") as sink,
        offline_stack(free_port(), mode, sink, idle_seconds, counting=True) as stack,
    ):
        starts = run_over_http(stack.url, offline_api_key(), pool_script(idle_seconds))
        time.sleep(0.5)  # the last lines reach the log
    invocations = [line for line in read_lines(log)[0] if "HandlerMs" in line]
    return counted(invocations, starts[WAVE_2] * 1000)


def counted(invocations: list[dict[str, Any]], wave_2_ms: float) -> dict[str, int]:
    def began(line: dict[str, Any]) -> float:
        return line["EndMs"] - line["HandlerMs"]

    before = [line for line in invocations if began(line) < wave_2_ms]
    after = [line for line in invocations if began(line) >= wave_2_ms]
    ids_before = {line["ContainerId"] for line in before}
    ids_after = {line["ContainerId"] for line in after}
    cold = sum(bool(line["ColdStart"]) for line in invocations)
    return {
        "containers_started": len(ids_before | ids_after),
        "invocations_reused": len(invocations) - cold,
        "reaped_before_wave_2": len(ids_before - ids_after),
        "model_loads_wave_1": sum(bool(line["ModelLoaded"]) for line in before),
        "model_loads_wave_2": sum(bool(line["ModelLoaded"]) for line in after),
    }


def conformance(modes: tuple[str, ...], times: dict[str, Times], idle_seconds: int = 2) -> dict:
    """Both sides per mode, each figure with its gap; `ok` when all are within one and
    tiered's second wave loads the model at most a tenth as often as memory's."""
    rows = {}
    with tempfile.TemporaryDirectory() as workdir:
        for mode in modes:
            real = measured(mode, idle_seconds, Path(workdir))
            model = simulated(mode, idle_seconds, times[mode])
            gaps = {name: abs(real[name] - model[name]) for name in FIGURES}
            rows[mode] = {"measured": real, "simulated": model, "gaps": gaps,
                          "ok": max(gaps.values()) <= TOLERANCE}  # fmt: skip
    second_wave = _second_wave(rows)
    return {
        "modes": rows,
        "second_wave": second_wave,
        "ok": all(r["ok"] for r in rows.values()) and second_wave.get("ok", True),
    }


def _second_wave(rows: dict[str, dict]) -> dict[str, Any]:
    if not {"memory", "tiered"} <= set(rows):
        return {}
    verdict = {}
    for side in ("measured", "simulated"):
        memory = rows["memory"][side]["model_loads_wave_2"]
        tiered = rows["tiered"][side]["model_loads_wave_2"]
        verdict[side] = {"memory": memory, "tiered": tiered, "ok": tiered <= 0.1 * memory}
    return verdict | {"ok": verdict["measured"]["ok"] and verdict["simulated"]["ok"]}
