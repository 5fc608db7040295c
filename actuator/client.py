"""Calling other services politely: a deadline on every call, retries inside it.

What a service mesh expects of a client, for the actuator's own outgoing calls
(the HTTP indicator, the fleet console's poller) and for yours::

    import httpx
    from actuator.client import RetryPolicy, request

    async with httpx.AsyncClient() as client:
        response = await request(client, "GET", "http://orders:8080/api/orders/42",
                                 deadline=2.0, policy=RetryPolicy(attempts=4))

- One **deadline** covers the whole call, retries and back-off included; each
  attempt gets what is left as its timeout, and the server is told what is
  left (``X-Request-Timeout``) so it can refuse at once a call it cannot
  answer in time.
- **Retries** on transport errors (refused connection, reset, timeout of an
  attempt) for idempotent methods, and on ``429`` and ``503`` for any method
  (the server says it did not do the work), up to ``attempts`` in all.
- **Exponential back-off with full jitter** between attempts: a random delay
  between 0 and ``min(max_backoff, backoff * 2**n)`` ("full jitter", from the
  AWS Architecture Blog's study of back-off), so clients refused together do
  not come back together. ``Backoff`` is the same rule for loops that retry
  on their own schedule (the fleet pusher, the console's poller, the Spring
  Boot Admin registration): one back-off in the package.
- ``Retry-After`` (seconds or an HTTP date) is honoured: the client waits at
  least that long, and gives up at once when that would pass the deadline.

After the last attempt, or when no time is left for another, the last
response is returned (a 429 or 503 the caller can read) or the last
transport error raised. ``DeadlineExceeded`` (an ``httpx.TimeoutException``)
says the deadline ran out before an attempt could start.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class DeadlineExceeded(httpx.TimeoutException):
    """The call's deadline ran out before an attempt could start."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry. Every field has a default.

    Parameters:
        attempts: attempts in all, the first included (1: no retry). Default 3.
        backoff: the first back-off's upper bound in seconds; doubles each retry. Default 0.05.
        max_backoff: the largest back-off bound in seconds. Default 2.0.
        statuses: answers that are retried. Default ``{429, 503}``.
        methods: methods retried after a transport error (the request may have
            been served). Default: the idempotent ones.
    """

    attempts: int = 3
    backoff: float = 0.05
    max_backoff: float = 2.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 503}))
    methods: frozenset[str] = IDEMPOTENT_METHODS

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise TypeError(f"attempts must be an int, got {self.attempts!r}")
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        for name in ("backoff", "max_backoff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")

    def backoff_bound(self, retry: int) -> float:
        """The upper bound of the back-off before retry number ``retry`` (0 for the first)."""
        return backoff_bound(self.backoff, self.max_backoff, retry)


def backoff_bound(base: float, cap: float, retry: int) -> float:
    """``min(cap, base * 2**retry)``: the bound of full-jitter back-off before retry ``retry``."""
    return float(min(cap, base * 2.0 ** min(retry, 60)))


@dataclass
class Backoff:
    """Delays for consecutive failures of a loop that retries on its own; ``reset()`` after
    a success. The delay before retry ``n`` is uniform in ``[0, min(cap, base * 2**n)]``,
    as between ``request``'s attempts::

        backoff = Backoff(base=0.5, cap=60)
        await asyncio.sleep(backoff.next())   # 0..0.5, then 0..1, 0..2, ... 0..60

    Parameters:
        base: the first delay's upper bound, seconds (default 0.5).
        cap: the largest upper bound, seconds (default 60).
        rng: the random source (tests pass a seeded one).
    """

    base: float = 0.5
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0:
            raise ValueError(f"base must be positive, got {self.base}")
        if self.cap < self.base:
            raise ValueError(f"cap must be at least base, got {self.cap}")

    def next(self) -> float:
        """The delay before the next attempt, counting this failure."""
        bound = backoff_bound(self.base, self.cap, self.failures)
        self.failures += 1
        return self.rng.uniform(0, bound)

    def reset(self) -> None:
        self.failures = 0


async def call_with_retries(
    attempt: Callable[[float], Awaitable[httpx.Response]],
    *,
    method: str,
    deadline: float,
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    uniform: Callable[[float, float], float] = random.uniform,
) -> httpx.Response:
    """Run ``attempt(seconds_left)`` until it succeeds, within ``deadline`` seconds.

    ``attempt`` makes one request with the given timeout and returns its
    response (for callers that stream or set their own options; ``request``
    is the plain case). ``clock``, ``sleep`` and ``uniform`` are for tests.
    """
    if not (isinstance(deadline, (int, float)) and deadline > 0):
        raise ValueError(f"deadline must be > 0 seconds, got {deadline!r}")
    policy = policy or RetryPolicy()
    method = method.upper()
    ends = clock() + deadline
    number = 0
    while True:
        left = ends - clock()
        if left <= 0:
            raise DeadlineExceeded(f"deadline of {deadline:g}s passed after {number} attempt(s)")
        last = number == policy.attempts - 1
        try:
            response = await attempt(left)
        except httpx.TransportError:
            if last or method not in policy.methods:
                raise
            wait = uniform(0.0, policy.backoff_bound(number))
            if clock() + wait >= ends:
                raise  # no time to retry: the error itself says most
        else:
            if last or response.status_code not in policy.statuses:
                return response
            wait = uniform(0.0, policy.backoff_bound(number))
            after = retry_after(response.headers.get("retry-after"))
            if after is not None:
                wait = max(wait, after)
            if clock() + wait >= ends:
                return response  # the server asks for more time than is left
        await sleep(wait)
        number += 1


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    deadline: float,
    policy: RetryPolicy | None = None,
    propagate_deadline: bool = True,
    **kwargs: Any,
) -> httpx.Response:
    """``client.request(method, url, **kwargs)`` within ``deadline`` seconds, retried.

    With ``propagate_deadline`` each attempt carries ``X-Request-Timeout``
    (seconds left), which the actuator's overload protection reads.
    """
    headers = httpx.Headers(kwargs.pop("headers", None))

    async def attempt(left: float) -> httpx.Response:
        if propagate_deadline:
            headers["x-request-timeout"] = f"{left:.3f}"
        return await client.request(method, url, headers=headers, timeout=left, **kwargs)

    return await call_with_retries(attempt, method=method, deadline=deadline, policy=policy)


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or an HTTP date), else ``None``."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
