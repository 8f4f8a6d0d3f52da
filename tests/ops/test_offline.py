"""The real serverless.yml served by serverless-offline on 127.0.0.1 (make offline):
API keys enforced, one Python process per container, and a container that starts
after the table is warm answering from L2 without importing scikit-learn.

Marked `deploy`: it needs `npm ci` (make test-deploy runs it).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from service.ops import warm
from service.ops.offline import missing_tools, offline_stack
from service.ops.processes import free_port
from service.ops.template import offline_api_key, offline_table_name
from stress_test.lambda_view import lambda_view, read_lines
from stress_test.payloads import unique_payloads

pytestmark = [pytest.mark.deploy, pytest.mark.offline_stack]
API_KEY = offline_api_key()


def post(url: str, payload: dict, key: str | None = API_KEY) -> tuple[int, dict]:
    headers = {"content-type": "application/json"} | ({"x-api-key": key} if key else {})
    request = urllib.request.Request(
        f"{url}/predict", json.dumps(payload).encode(), headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def facts(log: Path, expected: int) -> list[dict]:
    """The invocation lines of the containers, once `expected` of them were printed."""
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in read_lines(log)[0] if "HandlerMs" in line]
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_offline_stack_keys_containers_and_a_warm_cold_start(
    tmp_path: Path, capsys, aws_env: None
) -> None:
    if missing_tools():
        pytest.fail(missing_tools())
    payloads = unique_payloads(9, offset=150_000)
    schedule = tmp_path / "warm.jsonl"
    schedule.write_text("\n".join(json.dumps(p) for p in payloads))
    log = tmp_path / "offline.log"
    started = time.monotonic()
    with open(log, "w") as sink, offline_stack(free_port(), "tiered", sink, counting=True) as stack:
        assert post(stack.url, payloads[0], key=None)[0] == 403  # private: true
        assert post(stack.url, payloads[0], key="wrong")[0] == 403
        table = offline_table_name()
        code = warm.main(
            [str(schedule), "--endpoint", stack.dynamodb, "--table", table, "--no-progress"]
        )
        assert code == 0
        status, body = post(stack.url, payloads[0])  # the first container, on a warm table
        assert (status, body["cache"]) == (200, "HIT-L2")
        (first,) = facts(log, 1)
        assert first["ColdStart"] and not first["ModelInMemory"]  # scikit-learn never imported
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda p: post(stack.url, p), payloads[1:]))
        assert [a[0] for a in answers] == [200] * 8
        lines = facts(log, 9)
    view = lambda_view(lines, 0, 1024, "tiered", 9)
    assert view["containers_started"] >= 2  # concurrent requests got containers of their own
    assert view["containers_loading_model"] == 0
    assert view["hit_rate"]["MISS"] == 0
    assert time.monotonic() - started < 60  # the stack stopped by itself, well bounded
    capsys.readouterr()


def test_offline_http_door_checks_the_apps_key_and_answers_get(aws_env: None) -> None:
    """`make offline FRONT=http`: an HTTP API's routes (payload 2.0) in front, nothing
    there checks a key, so the app does (401, where API Gateway's REST API says 403)."""
    if missing_tools():
        pytest.fail(missing_tools())
    payload = unique_payloads(1, offset=160_000)[0]
    with offline_stack(free_port(), "memory", None, front="http", counting=True) as stack:
        assert post(stack.url, payload, key=None)[0] == 401
        status, posted = post(stack.url, payload)
        query = "&".join(f"{name}={value}" for name, value in payload.items())
        request = urllib.request.Request(
            f"{stack.url}/predict?{query}", headers={"x-api-key": API_KEY}
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            got = json.loads(response.read())
    assert status == 200 and posted["cache"] == "MISS"
    assert {**got, "cache": None} == {**posted, "cache": None}
