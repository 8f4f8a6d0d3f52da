"""Load runs, benches and the simulation are end-to-end: the `slow` tier."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/stress_test/" in str(item.fspath):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _own_measurements(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Runs write their measurements to a file of the test's own, never this machine's."""
    path = tmp_path_factory.mktemp("measurements") / "measurements.json"
    monkeypatch.setenv("PREDCACHE_MEASUREMENTS", str(path))
