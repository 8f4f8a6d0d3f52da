"""A circuit breaker: after repeated failures, skip a tier for a cool-down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed → open after `threshold` consecutive failures → half-open after `cooldown`.

    Half-open lets one probe through; its success closes the circuit, its failure
    re-opens it for another cool-down. A failing store thus costs one timeout per
    cool-down instead of one per request.
    """

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 10.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._timer = timer
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()
        self.opened = 0

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._timer() - self._opened_at >= self.cooldown:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go to the guarded tier now."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half-open" and not self._probing:
                self._probing = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probing or self._failures >= self.threshold:
                if self._opened_at is None or self._probing:
                    self.opened += 1
                self._opened_at = self._timer()
                self._probing = False
