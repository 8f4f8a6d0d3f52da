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
from stress_test.simulation.aws import AwsLimits
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
    assert sum(tiered["refused"].values()) == 0


def limits(**overrides: object) -> AwsLimits:
    return replace(AwsLimits(), **overrides)


@pytest.mark.parametrize(("front", "status"), [("rest", 503), ("http", 500), ("url", 429)])
def test_a_lambda_throttle_reaches_the_client_as_each_door_answers_it(
    times: sim.Times, front: str, status: int
) -> None:
    """Ten containers, each paying init and the model load: a burst of 300/s is refused
    by Lambda; REST's gateway response answers 503 (deploy/front.js), an HTTP API its
    fixed 500, a function URL Lambda's own 429."""
    config = sim.Config(scenario="hot", mode="off", rate=300, duration=10, cpu_scaling=False,
                        front=front, limits=limits(account_concurrency=10))  # fmt: skip
    result = sim.simulate(config, times)
    assert result["refused"][f"lambda_throttle_{status}"] > 0
    others = {k: v for k, v in result["refused"].items() if k != f"lambda_throttle_{status}"}
    assert not any(others.values()) and result["peak_concurrent_containers"] == 10
    assert sum(sim.simulate(replace(config, limits=AwsLimits()), times)["refused"].values()) == 0


def test_the_usage_plan_answers_429_before_lambda_runs(times: sim.Times) -> None:
    config = sim.Config(scenario="hot", mode="memory", rate=400, duration=10,
                        limits=limits(plan_rate=100, plan_burst=100))  # fmt: skip
    result = sim.simulate(config, times)
    answered = result["answered"]
    assert 900 <= answered <= 1_300  # 100 burst + 100/s for 10 s, Poisson arrivals
    assert result["refused"]["usage_plan_429"] == result["requests"] - answered


def test_the_scaling_rate_limits_a_standing_start_whatever_the_account_limit(
    times: sim.Times,
) -> None:
    """1,000 new environments per 10 s: raising the account's concurrency to 3,000 does
    not let a standing start at 3,000/s (each environment busy for ~2 s) go through."""
    burst = limits(plan_rate=10_000, plan_burst=10_000, account_concurrency=3_000)
    config = sim.Config(scenario="unique", mode="off", rate=3_000, duration=4, limits=burst)
    result = sim.simulate(config, times)
    assert result["containers_started"] <= 1_000 + 4 * 100 + 1
    assert result["refused"]["lambda_throttle_503"] > 0
    unbounded = replace(burst, scaling_bucket=10**6, scaling_refill_per_s=10**6)
    assert sim.simulate(replace(config, limits=unbounded), times)["containers_started"] > 1_500


def test_ten_requests_a_second_per_unit_of_concurrency(times: sim.Times) -> None:
    """A limit of 10 caps invocations at 100/s: at 1,000/s about 90 % are refused (503)."""
    config = sim.Config(scenario="hot", mode="memory", rate=1_000, duration=20,
                        limits=limits(account_concurrency=10, plan_rate=10_000,
                                      plan_burst=10_000))  # fmt: skip
    result = sim.simulate(config, times)
    refused = result["refused"]["lambda_throttle_503"] / result["requests"]
    assert 0.86 <= refused <= 0.92


def erlang_b(servers: int, load: float) -> float:
    """Erlang's loss formula B(c, A), by its recurrence."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def test_loss_under_a_limit_of_ten_is_erlang_b(measurements: Path) -> None:
    """Below the request-rate cap, a concurrency limit makes a pure loss system: the
    steady refusals match Erlang B within 2 percentage points."""
    data = json.loads(measurements.read_text())
    data["bench"]["service_ms"]["off"] = {"p50": 150.0, "p99": 150.0}  # fixed 150 ms
    measurements.write_text(json.dumps(data))
    times = sim.Times.measured(load(measurements), "off", measurements)
    rate, service_s = 50.0, 0.150
    config = sim.Config(scenario="unique", mode="off", rate=rate, duration=400,
                        limits=limits(account_concurrency=10), cpu_scaling=False)  # fmt: skip
    result = sim.simulate(config, times)
    lost = result["steady_refused_share"]
    assert abs(lost - erlang_b(10, rate * service_s)) <= 0.02, lost


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
        (["--rate", "10", "--routing", "random"], "invalid choice"),
        (["--rate", "10", "--max-lifetime-s", "0"], "max-lifetime-s must be positive"),
        (["--rate", "10", "--idle-seconds", "-1"], "idle-seconds must be positive"),
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
    assert "50 req/s offered" in rows[0] and "l1_max_items" in rows[1]
    assert [row.split()[1] for row in rows[2:4]] == ["10", "10000"] and rows[4] == ""
    assert all(f" {code} " in rows[1] for code in (429, 500, 502, 503, 504))  # fixed, 0 or not
    assert any(line.strip().startswith("429 500 502 503 504 requests refused") for line in rows)
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


def test_timeouts_answer_502_from_the_function_and_504_from_api_gateway(
    times: sim.Times,
) -> None:
    base = sim.Config(scenario="hot", mode="memory", rate=20, duration=10, cpu_scaling=False)
    short = sim.simulate(replace(base, limits=limits(function_timeout_s=1.0)), times)
    assert short["refused"]["function_timeout_502"] > 0  # a 1.5 s model load: stopped at 1 s
    assert short["refused"]["integration_timeout_504"] == 0
    slow = limits(function_timeout_s=60.0, integration_timeout_s=1.0)
    gateway = sim.simulate(replace(base, limits=slow), times)
    assert gateway["refused"]["integration_timeout_504"] > 0


def test_recycled_environments_keep_cold_starts_coming_in_steady_traffic(
    times: sim.Times,
) -> None:
    config = sim.Config(scenario="hot", mode="memory", rate=50, duration=600, max_lifetime_s=60)
    recycled = sim.simulate(config, times)
    assert recycled["containers_recycled"] > 0 and recycled["cold_starts_per_hour"] > 0
    forever = sim.simulate(replace(config, max_lifetime_s=10**9), times)
    assert forever["cold_starts_per_hour"] == 0


def test_routing_decides_which_l1_a_request_meets(times: sim.Times) -> None:
    config = sim.Config(scenario="realistic", mode="memory", rate=200, duration=60)
    rates = {
        routing: sim.simulate(replace(config, routing=routing), times)["hit_rate"]["HIT-L1"]
        for routing in sim.ROUTING
    }
    assert rates["lru"] < rates["mru"]  # spreading requests thins every container's L1


def test_less_memory_is_less_cpu(times: sim.Times) -> None:
    config = sim.Config(scenario="hot", mode="off", rate=20, duration=20)
    small = sim.simulate(replace(config, memory_mb=512), times)["latency_ms"]["p50"]
    full = sim.simulate(replace(config, memory_mb=1769), times)["latency_ms"]["p50"]
    flat = sim.simulate(replace(config, memory_mb=512, cpu_scaling=False), times)
    assert small > 3 * full * 0.9 and flat["latency_ms"]["p50"] < small


def test_a_fresh_clone_simulates_from_the_reference_set(
    monkeypatch, tmp_path: Path, capsys
) -> None:
    from stress_test import measurements

    monkeypatch.delenv("PREDCACHE_MEASUREMENTS")
    monkeypatch.setattr(measurements, "DEFAULT", tmp_path / "absent.json")
    assert simulate_main(["--rate", "20", "--duration", "5", "--modes", "tiered"]) == 0
    err = capsys.readouterr().err
    assert "using the reference measurements" in err and "commit" in err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert simulate_main(["--rate", "20", "--measurements", str(broken)]) == 2
    assert "is not a measurements file" in capsys.readouterr().err


def test_snapstart_restores_instead_of_init_and_model_load(times: sim.Times) -> None:
    config = sim.Config(scenario="hot", mode="memory", rate=1_111, duration=20,
                        limits=limits(plan_rate=2_000, plan_burst=4_000))  # fmt: skip
    cold = sim.simulate(config, times)
    restored = sim.simulate(replace(config, restore_ms=300), times)
    assert restored["containers_loading_model"] == 0 and restored["snapstart_restores"] > 0
    assert restored["snapstart_restore_usd_per_million"] > 0
    costs = restored["cost_per_million_requests_usd"]  # restores are in the price
    assert costs["snapstart_restores"] == restored["snapstart_restore_usd_per_million"]
    parts = sum(v for k, v in costs.items() if k not in ("total", "prices_as_of", "region"))
    assert costs["total"] == pytest.approx(parts, abs=1e-3)
    assert sum(restored["refused"].values()) < sum(cold["refused"].values())
    assert restored["latency_ms"]["p99"] < cold["latency_ms"]["p99"]


def test_an_image_pays_its_fetch_on_every_new_environment(times: sim.Times) -> None:
    """PACKAGE=image: no SnapStart, and each cold start first fetches the image."""
    config = sim.Config(scenario="hot", mode="memory", rate=1_111, duration=20,
                        limits=limits(plan_rate=2_000, plan_burst=4_000))  # fmt: skip
    zipped = sim.simulate(config, times)
    image = sim.simulate(replace(config, image_fetch_ms=1_000), times)
    assert image["snapstart_restores"] == 0
    assert image["latency_ms"]["p99"] > zipped["latency_ms"]["p99"] + 900
    assert image["containers_started"] >= zipped["containers_started"]


def test_a_month_costs_what_is_answered_not_what_is_offered(times: sim.Times) -> None:
    """90 % refused by the usage plan (429s, not billed): the month is the answered
    requests at their cost, not the offered rate at an answered request's cost."""
    from service.ops.prices import per_month

    config = sim.Config(scenario="hot", mode="memory", rate=200, duration=20,
                        limits=limits(plan_rate=20, plan_burst=20))  # fmt: skip
    run = sim.simulate(config, times)
    total = run["cost_per_million_requests_usd"]["total"]
    assert run["refused"]["usage_plan_429"] > 0.8 * 200 * 20 and run["refused_requests_billed"] == 0
    answered_rps = (200 * 20 - sum(run["refused"].values())) / 20
    assert run["monthly_usd_at_this_rate"] == pytest.approx(per_month(total, answered_rps), 0.02)
    assert run["monthly_usd_at_this_rate"] < 0.2 * per_month(total, 200)


def test_a_partial_machine_file_is_completed_from_the_reference_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """After `make bench` alone, `make simulate` takes bench from this machine and the
    cold-start figures from the reference set, and says so."""
    import stress_test.measurements as measurements

    mine = tmp_path / "measurements.json"
    mine.write_text(json.dumps({"bench": BENCH["bench"]}))
    monkeypatch.delenv("PREDCACHE_MEASUREMENTS", raising=False)
    monkeypatch.setattr(measurements, "DEFAULT", mine)
    data = load()
    assert data["bench"] == BENCH["bench"]
    assert data["bench_cold"] == json.loads(measurements.REFERENCE.read_text())["bench_cold"]
    err = capsys.readouterr().err
    assert "reference measurements" in err and "for bench_cold" in err
    assert "this machine's measurements.json for bench" in err and "make bench-cold" in err


def test_each_row_carries_its_range_over_the_cold_start_inputs(measurements: Path, capsys) -> None:
    """Init, model load and restore times x0.5 and x2: a standing-start burst refuses
    more the slower a cold start is, and the row says how far its answer rests on them;
    `--init-ms` and `--model-load-ms` replace the measured ones."""
    from stress_test.simulation.cli import sensitivity

    config = sim.Config(scenario="hot", mode="memory", rate=1_111, duration=20,
                        limits=limits(plan_rate=2_000, plan_burst=4_000))  # fmt: skip
    times = sim.Times.measured(json.loads(measurements.read_text()), "memory", measurements)
    base = sum(sim.simulate(config, times)["refused"].values())
    ranges = sensitivity(config, times)
    assert ranges["x0.5"]["refused"] <= base <= ranges["x2"]["refused"]
    assert ranges["x0.5"]["refused"] < ranges["x2"]["refused"]
    args = ["--rate", "1111", "--duration", "20", "--modes", "memory", "--plan-rate", "2000",
            "--plan-burst", "4000", "--measurements", str(measurements)]  # fmt: skip
    assert simulate_main(args) == 0
    measured = capsys.readouterr().out
    assert simulate_main([*args, "--init-ms", "1", "--model-load-ms", "1"]) == 0
    instant = capsys.readouterr().out
    assert "refused x0.5-x2" in measured and measured != instant


def test_l0_answers_repeats_without_lambda_but_inside_the_gateways_throttle_and_fee(
    times: sim.Times,
) -> None:
    """API Gateway's cache (rest): a payload answered once is answered again at the
    gateway for its TTL, with no invocation; the usage plan still counts it, and it
    still pays the REST request fee, plus the cache's hours."""
    config = sim.Config(scenario="hot", mode="tiered", rate=200, duration=20,
                        options=Options(hot_k=50))  # fmt: skip
    plain, cached = sim.simulate(config, times), sim.simulate(replace(config, l0_ttl=300), times)
    assert cached["l0_hit_rate"] > 0.8 and cached["ok_200"]["hit_l0"] > 0
    assert cached["answered"] < 0.2 * plain["answered"]  # `answered`: by the function
    costs = cached["cost_per_million_requests_usd"]
    assert costs["api_gateway_rest"] == 3.5 and costs["api_gateway_cache"] > 0
    plain_costs = plain["cost_per_million_requests_usd"]
    assert costs["lambda_requests"] < 0.2 * plain_costs["lambda_requests"]
    throttled = limits(plan_rate=50, plan_burst=50)
    refused = [sim.simulate(replace(c, limits=throttled), times)["refused"]["usage_plan_429"]
               for c in (config, replace(config, l0_ttl=300))]  # fmt: skip
    assert refused[1] == pytest.approx(refused[0], rel=0.05)  # L0 sits behind the plan


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"front": "http", "l0_ttl": 60}, "the http door has no cache"),
        ({"l0_ttl": 3601}, "at most 3600 s"),
        ({"front": "alb"}, "unknown front door"),
        ({"provisioned": 10, "restore_ms": 500}, "cannot be combined with SnapStart"),
        ({"image_fetch_ms": 1000, "restore_ms": 500}, "SnapStart does not apply to container"),
    ],
)
def test_what_aws_would_refuse_the_simulation_refuses(change: dict, says: str) -> None:
    with pytest.raises(sim.SimulationError, match=says):
        sim.Config(scenario="hot", rate=10, **change).check()


def test_provisioned_environments_take_a_burst_without_cold_starts(times: sim.Times) -> None:
    config = sim.Config(scenario="hot", mode="tiered", rate=300, duration=10, warm=True)
    cold, ready = sim.simulate(config, times), sim.simulate(replace(config, provisioned=50), times)
    assert cold["containers_started"] > 10 and ready["containers_started"] == 0
    assert ready["latency_ms"]["p99"] < cold["latency_ms"]["p99"]
    assert ready["cost_per_million_requests_usd"]["lambda_provisioned"] > 0


def test_door_fees(times: sim.Times) -> None:
    config = sim.Config(scenario="hot", mode="tiered", rate=50, duration=5)
    fees = {door: sim.simulate(replace(config, front=door), times)["cost_per_million_requests_usd"]
            for door in ("rest", "http", "url")}  # fmt: skip
    assert (fees["rest"]["api_gateway_rest"], fees["http"]["api_gateway_http"]) == (3.5, 1.0)
    assert not [part for part in fees["url"] if part.startswith("api_gateway")]


def test_a_throttled_table_is_a_miss_not_a_refusal(times: sim.Times) -> None:
    """DynamoDB past a partition's read units: the app's lookup fails, it computes."""
    config = sim.Config(scenario="hot", mode="tiered", rate=300, duration=10, warm=True,
                        options=Options(hot_k=5))  # fmt: skip
    tight = sim.simulate(replace(config, limits=limits(partition_read_units_per_s=5)), times)
    assert tight["dynamodb_throttled"]["read"] > 0
    assert tight["hit_rate"]["MISS"] > sim.simulate(config, times)["hit_rate"]["MISS"]
    assert sum(tight["refused"].values()) == 0


def test_levers_prints_each_door_with_each_lever_it_can_take(
    measurements: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = ["--rate", "300", "--duration", "6", "--modes", "tiered", "--levers", "--no-sensitivity",
            "--measurements", str(measurements), "--out", str(tmp_path)]  # fmt: skip
    assert simulate_main(args) == 0
    runs = json.loads((tmp_path / "simulation.json").read_text())["runs"]
    pairs = {(r["front"], r["config"]["lever"]) for r in runs}
    assert ("rest", "L0 300 s") in pairs and ("http", "L0 300 s") not in pairs
    assert {f for f, _ in pairs} == {"rest", "http", "url"} and len(pairs) == 19
    printed = capsys.readouterr().out
    assert "provisioned 100" in printed and "SnapStart" in printed and "image" in printed


def test_a_rate_sweep_runs_each_rate_open_loop(measurements: Path, tmp_path: Path, capsys) -> None:
    """`make simulate SWEEP=rate=…` (review of issue 44): one open-loop row per rate, even
    from the default closed loop of users."""
    code = simulate_main(["--duration", "10", "--modes", "memory", "--sweep", "rate=20,80",
                          "--measurements", str(measurements), "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    runs = json.loads((tmp_path / "simulation.json").read_text())["runs"]
    assert [(r["config"]["rate"], r["config"]["users"]) for r in runs] == [(20.0, 0), (80.0, 0)]


def test_max_rate_names_each_doors_limit_and_what_refuses_above_it(
    measurements: Path, tmp_path: Path, capsys
) -> None:
    """A cold fleet of 200 environments, each ~2.2 s to its first answer here, holds
    ~90/s: concurrency binds. Once grown, the usage plan (rest, 1,000/s), route throttle
    (http) and Lambda's 10 invocations a second per unit of concurrency (url, 2,000/s) do."""
    code = simulate_main(["--max-rate", "--modes", "tiered", "--duration", "5",
                          "--concurrency-limit", "200", "--measurements", str(measurements),
                          "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    limits = json.loads((tmp_path / "simulation.json").read_text())["limits"]
    assert [limit["front"] for limit in limits] == ["rest", "http", "url"]
    steady_binds = {"rest": "usage_plan", "http": "http_route", "url": "invocation_rate"}
    for limit in limits:
        start, steady = limit["standing_start"], limit["steady_state"]
        assert 0 < start["rate"] < start["refusing_rate"] <= start["rate"] * 1.06, limit
        assert start["range"]["x2"] < start["rate"] < start["range"]["x0.5"]
        assert start["refused_above"] and start["cost_per_million_usd"] > 0
        assert start["rate"] < steady["rate"] and steady["answered_rps"] > start["rate"]
        assert list(steady["refused_above"]) == [steady_binds[limit["front"]]]
        assert f"{limit['front']:5} tiered" in out
    assert "plan rate (1,000/s)" in out and "invocations/concurrency (2,000/s)" in out
    assert "report.html" in out and "<td>" in (tmp_path / "report.html").read_text()


def test_max_rate_says_when_even_the_smallest_rate_is_refused(measurements: Path, capsys) -> None:
    assert simulate_main(["--max-rate", "--modes", "tiered", "--duration", "5", "--measurements",
                          str(measurements), "--concurrency-limit", "1"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refused even at 10 req/s" in err
    assert "concurrency" in err and "raise that limit" in err
    assert simulate_main(["--max-rate", "--sweep", "rate=1,2", "--measurements",
                          str(measurements)]) == 2  # fmt: skip
    assert "drop --sweep" in capsys.readouterr().err
    assert simulate_main(["--max-rate", "--stack", "local", "--measurements",
                          str(measurements)]) == 2  # fmt: skip
    assert "drop --stack local" in capsys.readouterr().err


def test_each_run_reports_in_a_folder_of_its_own_with_latest_beside(
    measurements: Path, tmp_path: Path, capsys
) -> None:
    args = ["--rate", "40", "--duration", "5", "--modes", "memory,tiered", "--no-sensitivity",
            "--sweep", "front=rest,url", "--measurements", str(measurements),
            "--reports", str(tmp_path / "reports")]  # fmt: skip
    assert simulate_main(args) == 0 and simulate_main(args) == 0
    reports = tmp_path / "reports"
    folders = sorted(p for p in reports.iterdir() if p.name != "latest")
    assert len(folders) == 2 and (reports / "latest").resolve() == folders[1].resolve()
    page = (reports / "latest" / "report.html").read_text()
    assert "{'" not in page and '{"' not in page  # no dict repr, no JSON in a cell
    assert "<th>answered/s</th>" in page and "<dt>429 500 502 503 504</dt>" in page
    capsys.readouterr()


def test_headline_opens_the_run_with_each_doors_limit(measurements: Path, capsys) -> None:
    args = ["--headline", "--rate", "40", "--duration", "5", "--modes", "memory",
            "--concurrency-limit", "100", "--no-sensitivity", "--measurements",
            str(measurements)]  # fmt: skip
    assert simulate_main(args) == 0
    out = capsys.readouterr().out
    assert out.index("the most each door answers") < out.index("40 req/s offered")
    assert "rest  tiered" in out and "memory    rest" in out
