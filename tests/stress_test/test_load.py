"""Load scenarios: expected hit rates, a smoke run of the runner, and distributed locust."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.ops.processes import free_port, wait_for_port
from stress_test.load import run
from stress_test.payloads import expected_hit_rate, zipf_weights
from stress_test.scenarios import Options, Scenario, expected_rate

ROOT = Path(__file__).resolve().parents[2]
SUMMARY_FIELDS = {
    "scenario", "cache_mode", "requests", "failures", "duration_s", "rps", "p50_ms", "p95_ms",
    "p99_ms", "hit_l1", "hit_l2", "miss", "expected_hit_rate",
}  # fmt: skip


def simulated_hit_rate(scenario: Scenario, draws: int, batch: bool = False) -> float:
    seen, hits, items = set(), 0, 0
    for _ in range(draws):
        for payload in scenario.batch() if batch else [scenario.payload()]:
            key = tuple(payload.values())
            hits += key in seen
            seen.add(key)
            items += 1
    return hits / items


@pytest.mark.parametrize(("name", "draws"), [("hot", 20_000), ("same", 100), ("unique", 2_000)])
def test_expected_hit_rate_matches_a_simulation(name: str, draws: int) -> None:
    options = Options(seed=1, hot_k=500, zipf_s=1.1)
    simulated = simulated_hit_rate(Scenario(name, options), draws)
    assert simulated == pytest.approx(expected_rate(name, options, draws), abs=0.01)


def test_batch_expected_hit_rate_matches_a_simulation() -> None:
    options = Options(seed=3, hot_k=500, batch_size=20, batch_overlap=0.8)
    simulated = simulated_hit_rate(Scenario("batch", options), 1_000, batch=True)
    assert simulated == pytest.approx(expected_rate("batch", options, 20_000), abs=0.01)


def test_independent_caches_lower_the_expected_rate() -> None:
    weights = zipf_weights(1000, 1.1)
    assert expected_hit_rate(weights, 10_000, caches=2) < expected_hit_rate(weights, 10_000)


def test_bounded_expected_rate_matches_the_real_l1() -> None:
    """The LRU model of a bounded cache agrees with cachetools' TTLCache in MemoryStore."""
    from cache import MemoryStore

    options = Options(seed=9, hot_k=2000, zipf_s=0.8)
    scenario = Scenario("hot", options)
    memory, hits = MemoryStore(maxsize=300, ttl=3600), 0
    for _ in range(20_000):
        key = str(tuple(scenario.payload().values()))
        hits += memory.get(key) is not None
        memory.put(key, 1)
    bounded = expected_rate("hot", options, 20_000, capacity=300)
    assert hits / 20_000 == pytest.approx(bounded, abs=0.015)
    assert bounded < expected_rate("hot", options, 20_000) - 0.05


def test_streams_are_seeded_and_unique_streams_never_collide() -> None:
    assert (
        Scenario("unique", Options(), stream_id=1).payload()
        != Scenario("unique", Options(), stream_id=2).payload()
    )
    a, b = Scenario("hot", Options(seed=5)), Scenario("hot", Options(seed=5))
    assert [a.payload() for _ in range(50)] == [b.payload() for _ in range(50)]


def test_smoke_run_writes_summary_and_report(tmp_path: Path) -> None:
    out = run.main(
        ["--scenario", "hot", "--duration", "3", "--users", "8", "--hot-k", "50",
         "--modes", "off,memory,tiered", "--max-requests", "20000", "--out", str(tmp_path)]
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert [row["cache_mode"] for row in summary["modes"]] == ["off", "memory", "tiered"]
    for row in summary["modes"]:
        assert set(row) >= SUMMARY_FIELDS
        assert row["requests"] > 0 and row["failures"] == 0
        assert row["hit_l1"] + row["hit_l2"] + row["miss"] == row["requests"]
    off, memory, tiered = summary["modes"]
    assert off["hit_l1"] == off["hit_l2"] == 0
    assert memory["hit_l1"] > memory["miss"] and memory["hit_l2"] == 0
    assert tiered["hit_l1"] > 0
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 3
    assert "expected_hit_rate" in report and "<dt>p50_ms p95_ms p99_ms</dt>" in report
    # a local stack had no containers and no API Gateway: neither shown nor priced
    assert "Server view (local stack)" in report and "containers started" not in report
    assert "API Gateway REST" not in report and "USD per 1M" not in report
    assert tiered["lambda"]["cost_per_million_requests_usd"] is None
    assert "{'" not in report and '{"' not in report  # no dict repr, no JSON blob
    few = [o for o, f in tiered["latency_by_outcome"].items() if f["requests"] < 100]
    assert not few or "† fewer than 100" in report  # small samples are flagged
    assert (out / "memory.html").exists() and (out / "tiered_stats.csv").exists()


def test_distributed_master_with_two_workers(tmp_path: Path) -> None:
    """A locust master and 2 workers on 127.0.0.1 against a local server."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CACHE_MODE": "memory", "LOG_LEVEL": "WARNING"}
    with run.local_stack("memory", 1, tmp_path / "server.log") as (host, _pid):
        port = free_port()
        locust = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "stress_test/load/locustfile.py"),
        ]
        master = subprocess.Popen(
            [*locust, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
             str(port), "--expect-workers", "2", "--headless", "--users", "4", "--spawn-rate",
             "4", "--run-time", "3s", "--host", host, "--scenario", "hot",
             "--results-file", str(tmp_path / "results.json"), "--loglevel", "WARNING"],
            env=env, cwd=tmp_path,
        )  # fmt: skip
        wait_for_port("127.0.0.1", port)
        worker = [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        workers = [subprocess.Popen(worker, env=env, cwd=tmp_path) for _ in range(2)]
        try:
            assert master.wait(timeout=60) == 0
        finally:
            for process in [master, *workers]:
                if process.poll() is None:
                    process.kill()
                process.wait()
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["total"]["requests"] > 0
    assert result["total"]["failures"] == 0
    assert sum(result["outcomes"].values()) == result["total"]["requests"]


def test_soak_keeps_l1_within_its_bound() -> None:
    from stress_test.load import soak

    result = soak.main(["--payloads", "5000", "--batch", "250", "--l1-max-items", "500"])
    assert result["errors"] == 0
    assert result["payloads"] == 5000
    assert result["l1_items"] == result["l1_max_items"] == 500
    assert len(result["rss_mib"]) > 10


def test_schedule_scenario_sends_that_days_departures() -> None:
    scenario = Scenario("schedule", Options(schedule_date="2013-12-24"))
    sent = [scenario.payload() for _ in range(200)]
    assert {(p["month"], p["day"], p["weekday"]) for p in sent} == {(12, 24, 2)}
    assert len(scenario.pool) == 752  # distinct payloads of the day's 761 departures


def test_warmed_schedule_run_answers_from_the_cache_from_the_first_request(
    tmp_path: Path,
) -> None:
    """`make warm` before the load: a fresh stack never misses and never loads the model."""
    out = run.main(
        ["--scenario", "schedule", "--duration", "3", "--users", "4", "--modes", "tiered",
         "--warm", "--model-preload", "0", "--out", str(tmp_path)]
    )  # fmt: skip
    (row,) = json.loads((out / "summary.json").read_text())["modes"]
    assert row["warm"]["written"] == 752 and row["warm"]["invalid"] == 0
    assert row["requests"] > 0 and row["failures"] == 0
    assert row["miss"] == 0 and row["first_second_hit_rate"] == 1.0
    assert row["server_stats"]["model_loaded"] is False
