"""A circuit breaker with the Go side's semantics (store/guard): closed,
it counts consecutive failures and opens after failure_threshold of them;
open, every call fails at once with CircuitOpenError, whose cause is the
failure that opened it (CacheAuthError after a password rotation);
after timeout seconds one call is let through (half-open) to probe, and
its success closes the breaker, its failure opens it again. A successful
health check moves an open breaker to half-open at once (probe_succeeded),
so calls recover at the speed of Redis, not of the timeout.

The clock is a parameter, so that tests move time rather than sleep.
"""

from __future__ import annotations

import time
from typing import Callable

from .errors import CircuitOpenError

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    """failure_threshold: consecutive failures that open it (5).
    timeout: seconds it stays open before a probe (1.0; the old layer's
    name, also accepted as open_timeout). A failure is what the caller
    reports with failure(): an unreachable Redis, a timeout, refused
    credentials; an error reply or a corrupt value is not one."""

    def __init__(self, failure_threshold: int = 5, timeout: float = 1.0, *, open_timeout: float | None = None,
                 name: str = "redis", clock: Callable[[], float] = time.monotonic):
        if open_timeout is not None:
            timeout = open_timeout
        if failure_threshold < 1 or timeout < 0:
            raise ValueError("failure_threshold must be at least 1 and timeout not negative")
        self.failure_threshold = failure_threshold
        self.timeout = timeout
        self.name = name
        self._clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.cause: BaseException | None = None
        self.opened = self.half_opened = self.closed = self.rejected = 0

    @property
    def state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.timeout:
            return HALF_OPEN
        return self._state

    def allow(self) -> None:
        """Admit a call, or raise CircuitOpenError. Half-open admits one
        probe at a time."""
        st = self._state
        if st == CLOSED:
            return
        if st == OPEN:
            if self._clock() - self._opened_at < self.timeout:
                self.rejected += 1
                raise self._open_error()
            self._state = HALF_OPEN
            self.half_opened += 1
            self._probing = False
        if self._probing:  # half-open, and the probe is out
            self.rejected += 1
            raise self._open_error()
        self._probing = True

    def _open_error(self) -> CircuitOpenError:
        c = self.cause
        msg = "circuit breaker open: Redis calls fail fast"
        if c is not None:
            msg += f" (opened by: {c})"
        err = CircuitOpenError(msg, c)
        if c is not None:
            err.__cause__ = c
        return err

    def success(self) -> None:
        self._failures = 0
        if self._state != CLOSED:
            self._state, self._probing, self.cause = CLOSED, False, None
            self.closed += 1

    def failure(self, err: BaseException | None = None) -> None:
        self._failures += 1
        if err is not None:
            self.cause = err
        if self._state == HALF_OPEN or self._failures >= self.failure_threshold and self._state == CLOSED:
            self._state, self._opened_at, self._probing = OPEN, self._clock(), False
            self.opened += 1

    def excluded(self) -> None:
        """A call that says nothing about Redis (the caller cancelled it):
        a half-open probe's place is freed."""
        self._probing = False

    def probe_succeeded(self) -> None:
        """A health check reached Redis: an open breaker goes half-open now."""
        if self._state == OPEN:
            self._opened_at = self._clock() - self.timeout

    def stats(self) -> dict:
        return {"state": self.state, "opened": self.opened, "half_opened": self.half_opened, "closed": self.closed,
                "rejected": self.rejected, "consecutive_failures": self._failures,
                "cause": str(self.cause) if self.cause is not None and self.state != CLOSED else ""}
