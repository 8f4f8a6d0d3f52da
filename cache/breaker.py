"""A circuit breaker: after repeated failures, skip a tier for a cool-down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ticket:
    """Permission for one call: whether it is the half-open probe, and which closed
    period it started in (a slow call from before the circuit opened reports late)."""

    probe: bool
    generation: int


class CircuitBreaker:
    """Closed → open after `threshold` consecutive failures → half-open after `cooldown`.

    Half-open lets one probe through; only that probe's success closes the circuit,
    its failure re-opens it for another cool-down. A failing store thus costs one
    timeout per cool-down instead of one per request. Outcomes of calls that started
    in an earlier period (before the circuit opened) change nothing.
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
        self._generation = 0
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

    def allow(self) -> Ticket | None:
        """A ticket if a call may go to the guarded tier now; hand it back with the outcome."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return Ticket(probe=False, generation=self._generation)
            if state == "half-open" and not self._probing:
                self._probing = True
                return Ticket(probe=True, generation=self._generation)
            return None

    def success(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.probe:
                self._opened_at = None
                self._probing = False
                self._failures = 0
            elif self._current(ticket):
                self._failures = 0

    def failure(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.probe:
                self._open()
            elif self._current(ticket):
                self._failures += 1
                if self._failures >= self.threshold:
                    self._open()

    def release(self, ticket: Ticket) -> None:
        """The call never reached the tier (it says nothing of its health): a probe's
        slot is handed back, the failure count stays."""
        with self._lock:
            if ticket.probe:
                self._probing = False

    def _current(self, ticket: Ticket) -> bool:
        return self._opened_at is None and ticket.generation == self._generation

    def _open(self) -> None:
        self._opened_at = self._timer()
        self._probing = False
        self._failures = 0
        self._generation += 1
        self.opened += 1
