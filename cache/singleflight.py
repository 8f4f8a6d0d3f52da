"""Concurrent identical misses in one process compute once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


class _Call:
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class SingleFlight:
    """Like Go's singleflight, for sets of keys.

    `run_many` claims the keys nobody is computing, computes them with one call,
    and waits for the keys another thread is already computing: a burst of the
    same uncached payload costs one model call, not one per request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, _Call] = {}

    def run_many(
        self, keys: Sequence[str], compute: Callable[[list[str]], Sequence[Any]]
    ) -> tuple[dict[str, Any], set[str]]:
        """Values for every key (unique keys), and the subset another caller computed."""
        mine: dict[str, _Call] = {}
        theirs: dict[str, _Call] = {}
        with self._lock:
            for key in keys:
                call = self._calls.get(key)
                if call is None:
                    mine[key] = self._calls[key] = _Call()
                else:
                    theirs[key] = call
        results: dict[str, Any] = {}
        if mine:
            self._lead(mine, compute, results)
        for key, call in theirs.items():
            call.done.wait()
            if call.error is not None:
                raise call.error
            results[key] = call.value
        return results, set(theirs)

    def _lead(
        self, mine: dict[str, _Call], compute: Callable[[list[str]], Sequence[Any]], out: dict
    ) -> None:
        claimed = list(mine)
        try:
            values = compute(claimed)
            for key, value in zip(claimed, values, strict=True):
                mine[key].value = out[key] = value
        except BaseException as exc:
            for call in mine.values():
                call.error = exc
            raise
        finally:
            with self._lock:
                for key in claimed:
                    del self._calls[key]
            for call in mine.values():
                call.done.set()
