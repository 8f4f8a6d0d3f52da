"""The simulated container pool against the real one (serverless-offline): one script,
both sides, every count within one; and the second wave only memory mode pays for."""

from __future__ import annotations

import pytest

from service.ops.offline import missing_tools
from stress_test.measurements import REFERENCE, load
from stress_test.simulation.conformance import FIGURES, TOLERANCE, conformance
from stress_test.simulation.model import Times

pytestmark = [pytest.mark.deploy, pytest.mark.offline_stack]  # Node.js, serverless-offline


def test_pool_and_second_wave_agree_with_the_lambda_stack() -> None:
    if missing_tools():
        pytest.fail(missing_tools())
    data = load(REFERENCE)
    times = {mode: Times.measured(data, mode, REFERENCE) for mode in ("memory", "tiered")}
    result = conformance(("memory", "tiered"), times)
    for mode, row in result["modes"].items():
        for name in FIGURES:
            assert abs(row["measured"][name] - row["simulated"][name]) <= TOLERANCE, (mode, row)
    assert result["modes"]["memory"]["measured"]["model_loads_wave_2"] >= 2
    assert result["second_wave"]["measured"]["tiered"] <= 0.1 * 3  # none of three
    assert result["second_wave"]["simulated"]["ok"] and result["ok"]
