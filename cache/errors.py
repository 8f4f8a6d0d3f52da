"""How a cache tier fails: one `ErrorKind` per cause, and the policy each implies.

Every store raises `StoreError` with a kind; the read path counts kinds in
`/stats` and routes around any of them (a failing tier never fails a request),
while an operator tool stops on a `permanent` kind instead of retrying it.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    # raised by a store
    TIMEOUT = "timeout"  # the table did not answer in time (botocore's socket timeouts)
    # the caller's deadline came while a call was out or queued: whose limit that was
    # (the table's, a `timeout`, or this process's, `busy`) the read path judges
    CUT = "cut"
    THROTTLED = "throttled"
    UNREACHABLE = "unreachable"
    MISSING_TABLE = "missing_table"
    NO_CREDENTIALS = "no_credentials"
    BAD_CONFIG = "bad_config"  # a region, profile or credential source that cannot work
    ACCESS_DENIED = "access_denied"
    INVALID_REQUEST = "invalid_request"
    CONDITION_FAILED = "condition_failed"
    CLIENT_ERROR = "client_error"
    OTHER = "other"
    # counted by the read path
    CIRCUIT_OPEN = "circuit_open"
    UNEXPECTED = "unexpected"
    CORRUPT = "corrupt"
    UNPROCESSED = "unprocessed"
    UNPROCESSED_WRITE = "unprocessed_write"
    WRITE_SKIPPED = "write_skipped"
    SLOW = "slow"  # answered, but slower than the slow-call threshold
    OVER_BUDGET = "over_budget"  # not made: the lookup's L2 budget was spent
    # a `cut` the read path judged this process's own: its queue (no L2 worker free, or
    # calls sent too late) while the table answered in time; counted in L2's `queue` in
    # /stats, never an error and never held against the breaker
    BUSY = "busy"

    @property
    def permanent(self) -> bool:
        """A retry cannot succeed until someone changes the table, the role or the request."""
        return self in _PERMANENT


_PERMANENT = frozenset(
    {
        ErrorKind.MISSING_TABLE,
        ErrorKind.NO_CREDENTIALS,
        ErrorKind.BAD_CONFIG,
        ErrorKind.ACCESS_DENIED,
        ErrorKind.INVALID_REQUEST,
    }
)


class StoreError(Exception):
    """A store call failed; `kind` says how."""

    def __init__(self, kind: ErrorKind, message: str = "") -> None:
        super().__init__(f"{kind}: {message}" if message else str(kind))
        self.kind = kind
        self.detail = message or str(kind)
