"""Load runs, benches and the simulation are end-to-end: the `slow` tier."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/stress_test/" in str(item.fspath):
            item.add_marker(pytest.mark.slow)
