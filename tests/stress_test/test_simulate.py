"""`make simulate`: the discrete-event model of API Gateway + Lambda + the cache tiers,
its bad-input lines, and its agreement with a measured run of the same configuration."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from stress_test.measurements import MissingMeasurements, load
from stress_test.scenarios import Options
from stress_test.simulation import model as sim
from stress_test.simulation.cli import main as simulate_main
from stress_test.simulation.validation import validate_run

BENCH = {
    "bench": {"service_ms": {"off": {"p50": 2.0, "p99": 3.0}, "MISS": {"p50": 6.0, "p99": 11.0},
                             "HIT-L1": {"p50": 0.3, "p99": 0.6},
                             "HIT-L2": {"p50": 3.0, "p99": 5.0}}},
    "bench_cold": {"init_ms": 700.0, "model_load_ms": 1500.0},
}  # fmt: skip


@pytest.fixture
def measurements(tmp_path: Path) -> Path:
    path = tmp_path / "measurements.json"
    path.write_text(json.dumps(BENCH))
    return path


@pytest.fixture
def times(measurements: Path) -> sim.Times:
    return sim.Times.measured(load(measurements), "tiered", measurements)


def test_tiered_shares_work_across_containers(times: sim.Times) -> None:
    config = sim.Config(scenario="hot", rate=200, duration=60, options=Options(hot_k=300))
    memory = sim.simulate(replace(config, mode="memory"), times)
    tiered = sim.simulate(config, times)
    off = sim.simulate(replace(config, mode="off"), times)
    assert off["hit_rate"]["MISS"] == 1.0
    assert tiered["hit_rate"]["MISS"] < memory["hit_rate"]["MISS"]
    assert tiered["containers_loading_model"] <= memory["containers_loading_model"]
    assert tiered["throttled_429"] == 0


def test_a_new_accounts_concurrency_limit_throttles_a_cold_burst(times: sim.Times) -> None:
    """Ten containers, each paying init and the model load: a burst of 300/s gets 429s."""
    config = sim.Config(scenario="hot", mode="off", rate=300, duration=10, concurrency_limit=10)
    result = sim.simulate(config, times)
    assert result["throttled_429"] > 0 and result["peak_concurrent_containers"] == 10
    assert sim.simulate(replace(config, concurrency_limit=1000), times)["throttled_429"] == 0


def test_l1_bound_and_ttl_are_the_real_ttlcache(times: sim.Times) -> None:
    config = sim.Config(scenario="hot", mode="memory", rate=300, duration=30, idle_seconds=600)
    small = sim.simulate(replace(config, l1_max_items=50), times)
    large = sim.simulate(replace(config, l1_max_items=10_000), times)
    short = sim.simulate(replace(config, l1_ttl=1), times)
    assert small["hit_rate"]["HIT-L1"] < large["hit_rate"]["HIT-L1"]
    assert short["hit_rate"]["HIT-L1"] < large["hit_rate"]["HIT-L1"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--scenario", "nope"], "invalid choice"),
        (["--rate", "-5"], "give either --users (closed loop) or --rate (open), > 0"),
        (["--rate", "10", "--l1-max-items", "-1"], "l1-max-items must be positive"),
        (["--rate", "10", "--modes", "fast"], "unknown cache mode 'fast'"),
        (["--rate", "10", "--sweep", "colour=1,2"], "--sweep takes name=v1,v2"),
    ],
)
def test_bad_input_gets_one_line(args, says, measurements: Path, capsys) -> None:
    try:
        code = simulate_main([*args, "--measurements", str(measurements)])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert says in err


def test_missing_measurements_name_the_make_target(tmp_path: Path, capsys) -> None:
    assert simulate_main(["--rate", "10", "--measurements", str(tmp_path / "absent.json")]) == 2
    err = capsys.readouterr().err
    assert "make bench" in err and "make bench-cold" in err
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"bench": BENCH["bench"]}))
    with pytest.raises(MissingMeasurements, match="make bench-cold"):
        sim.Times.measured(load(partial), "tiered", partial)


def test_sweep_prints_one_row_per_value(measurements: Path, tmp_path: Path, capsys) -> None:
    code = simulate_main(["--rate", "50", "--duration", "20", "--modes", "memory", "--measurements",
                     str(measurements), "--sweep", "l1_max_items=10,10000", "--out",
                     str(tmp_path)])  # fmt: skip
    assert code == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert len(rows) == 4 and "l1_max_items" in rows[0]  # header, 2 rows, report line
    runs = json.loads((tmp_path / "simulation.json").read_text())["runs"]
    assert [r["config"]["l1_max_items"] for r in runs] == [10, 10_000]
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()


def test_simulation_agrees_with_a_measured_local_run(
    tmp_path: Path, measurements: Path, monkeypatch
) -> None:
    """Validation: the same scenario, seed, users and duration as a real locust run
    against the local stack, simulated from that run's own measured service times."""
    from stress_test.load import run

    monkeypatch.setenv("PREDCACHE_MEASUREMENTS", str(measurements))
    out = run.main(["--scenario", "hot", "--duration", "4", "--users", "8", "--hot-k", "200",
                    "--modes", "memory,tiered", "--out", str(tmp_path / "run")])  # fmt: skip
    for entry in validate_run(out / "summary.json", load(measurements), measurements):
        checks = entry["checks"]
        for outcome in ("HIT-L1", "HIT-L2", "MISS"):
            assert checks[f"hit rate {outcome} (pp)"]["gap"] <= 5.0, entry
