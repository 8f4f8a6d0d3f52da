"""`predcache bench-rounding`, a short run: both kinds of keys that are not exact, each
beside its exact variant, and interval keys change no answer."""

from __future__ import annotations

import re

import pytest

from stress_test.bench import rounding


def test_a_short_run_compares_rounded_and_interval_keys(capsys: pytest.CaptureFixture) -> None:
    rounding.main(["--requests", "300", "--pool", "20", "--hit-rounds", "20"])
    said = capsys.readouterr().out
    intervals = said.split("interval keys:")[1]
    rates = [float(r) for r in re.findall(r"L1 hit rate ([\d.]+)", intervals)]
    assert rates[0] > rates[1]  # cells hit where exact keys miss
    assert "largest change to a number in an answer: 0;" in intervals
    assert re.search(r"changed: 0 of \d+", intervals) and "an L1 hit through Mangum" in intervals
