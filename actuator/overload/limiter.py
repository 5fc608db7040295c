"""Admission: a slot under the limit, a short wait in the queue, or a refusal with a reason."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable
from typing import Literal

from actuator.overload.limits import Limit

RefusalReason = Literal["limit", "queue_full", "queue_timeout", "deadline"]
REASONS: tuple[RefusalReason, ...] = ("limit", "queue_full", "queue_timeout", "deadline")

QUIET_SECONDS = 1.0
"""A second without a refusal ends a shedding episode."""


class ConcurrencyLimiter:
    """Counts the requests in flight against a ``Limit`` and queues or refuses the rest.

    ``admit`` is called before a request, ``release`` after it (with the time
    ``admit`` returned, so the limit learns the request's latency). Waiters
    are served first come, first served: a released slot passes straight to
    the oldest waiter, so a newcomer never overtakes the queue.

    A request with a deadline that has to wait is refused at once when the
    expected wait plus the usual latency is longer than its deadline: served
    late it would be wasted work.

    Parameters:
        limit: the algorithm (``FixedLimit``, ``GradientLimit``, ``AimdLimit``).
        queue_size: requests that may wait for a slot; 0 refuses at once.
        queue_timeout: longest wait in seconds.
        clock: monotonic seconds (``time.monotonic``; tests pass their own).
    """

    def __init__(
        self,
        limit: Limit,
        *,
        queue_size: int = 0,
        queue_timeout: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.algorithm = limit
        self.queue_size = queue_size
        self.queue_timeout = queue_timeout
        self.clock = clock
        self.in_flight = 0
        self.refused: dict[RefusalReason, int] = dict.fromkeys(REASONS, 0)
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._latency = 0.0  # smoothed latency of served requests, for deadline estimates
        self._shedding_since: float | None = None
        self._last_refusal = -QUIET_SECONDS - 1.0

    @property
    def limit(self) -> int:
        return self.algorithm.limit

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def try_admit(self) -> float | None:
        """The start time when a slot is free and nobody waits for one, else ``None``."""
        if self.in_flight < self.algorithm.limit and not self._waiters:
            self.in_flight += 1
            return self.clock()
        return None

    async def admit(self, deadline: float | None = None) -> float | RefusalReason:
        """A slot (its start time), waiting in the queue if allowed, or why not.

        ``deadline``: seconds the caller will wait for the whole answer.
        """
        started = self.try_admit()
        if started is not None:
            return started
        if len(self._waiters) >= self.queue_size:
            return self._refuse("limit" if self.queue_size == 0 else "queue_full")
        wait = self.queue_timeout
        if deadline is not None:
            if self.expected_wait() + self._latency > deadline:
                return self._refuse("deadline")
            wait = min(wait, deadline)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), wait)
        except asyncio.TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return self.clock()  # the slot came as the wait ran out: take it
            waiter.cancel()
            self._remove(waiter)
            return self._refuse("queue_timeout")
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(None)  # handed a slot, then cancelled: give it back
            else:
                waiter.cancel()
                self._remove(waiter)
            raise
        return self.clock()

    def release(self, started: float | None) -> None:
        """A request admitted at ``started`` finished (``None``: do not sample it)."""
        now = self.clock()
        if started is not None:
            rtt = now - started
            self.algorithm.on_sample(now, rtt, self.in_flight)
            self._latency = rtt if self._latency == 0.0 else 0.9 * self._latency + 0.1 * rtt
        # The oldest waiters take the freed slot, and any the limit grew by.
        self.in_flight -= 1
        while self._waiters and self.in_flight < self.algorithm.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def expected_wait(self) -> float:
        """Seconds a request joining the queue now would wait for a slot, roughly."""
        if self._latency == 0.0:
            return 0.0
        position = len(self._waiters) + 1
        return position * self._latency / max(1, self.algorithm.limit)

    def shedding_for(self) -> float:
        """Seconds the current shedding episode has lasted; 0 when not shedding."""
        now = self.clock()
        if self._shedding_since is None or now - self._last_refusal > QUIET_SECONDS:
            return 0.0
        return now - self._shedding_since

    def _refuse(self, reason: RefusalReason) -> RefusalReason:
        now = self.clock()
        if now - self._last_refusal > QUIET_SECONDS or self._shedding_since is None:
            self._shedding_since = now
        self._last_refusal = now
        self.refused[reason] += 1
        return reason

    def _remove(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
