"""`predcache inspect|purge`: one payload's L2 item from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from service.ops import cli
from tests.conftest import PAYLOAD, instance


def run(capsys, *args: str) -> tuple[int, dict]:
    code = cli.main(list(args))
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else {})


def test_inspect_then_purge(artifact_path: Path, moto_endpoint, table, capsys) -> None:
    target = ["--endpoint", moto_endpoint, "--table", table, "--model-path", str(artifact_path)]
    payload = json.dumps({**PAYLOAD, "carrier": "ua"})  # validated like a request
    code, absent = run(capsys, "inspect", payload, *target)
    assert code == 0 and absent["l2"] == {"present": False}
    served = instance(artifact_path, moto_endpoint, table).post("/predict", json=PAYLOAD).json()
    code, found = run(capsys, "inspect", payload, *target)
    item = found["l2"]
    assert item["present"] and item["usable"] and item["why"] is None
    assert item["model_version"] == served["model_version"] and item["value_schema"] == 1
    assert item["value"]["delay_probability"] == served["delay_probability"]
    assert item["created"] < item["expires"]
    code, purged = run(capsys, "purge", payload, *target)
    assert code == 0 and purged["purged"] is True and purged["key"] == found["key"]
    assert "L1_TTL_SECONDS (300 s)" in purged["note"]
    code, after = run(capsys, "inspect", payload, *target)
    assert after["l2"] == {"present": False}
    again = instance(artifact_path, moto_endpoint, table).post("/predict", json=PAYLOAD)
    assert again.headers["x-cache"] == "MISS"


def test_invalid_payload_is_refused_in_one_line(capsys) -> None:
    assert cli.main(["inspect", '{"carrier": "UA"}']) == 2
    assert capsys.readouterr().err.strip() == (
        "predcache inspect: invalid payload: origin: Field required"
    )
