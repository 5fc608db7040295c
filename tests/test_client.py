"""The retrying client: deadlines, back-off with full jitter, Retry-After."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from actuator.client import (
    DeadlineExceeded,
    RetryPolicy,
    call_with_retries,
    request,
    retry_after,
)


class FakeTime:
    """A clock that only moves when the client sleeps; records the sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def answers(
    *steps: int | Exception, headers: dict[str, str] | None = None
) -> tuple[Callable[[float], Awaitable[httpx.Response]], list[float]]:
    """An attempt function answering ``steps`` in turn; records each attempt's timeout."""
    timeouts: list[float] = []
    pending = list(steps)
    request_ = httpx.Request("GET", "http://service/x")

    async def attempt(left: float) -> httpx.Response:
        timeouts.append(left)
        step = pending.pop(0)
        if isinstance(step, Exception):
            raise step
        return httpx.Response(step, headers=headers, request=request_)

    return attempt, timeouts


async def run(
    attempt,
    time: FakeTime,
    *,
    method: str = "GET",
    deadline: float = 10.0,
    policy: RetryPolicy | None = None,
    uniform: Callable[[float, float], float] = lambda low, high: high,
) -> httpx.Response:
    return await call_with_retries(
        attempt,
        method=method,
        deadline=deadline,
        policy=policy,
        clock=time.clock,
        sleep=time.sleep,
        uniform=uniform,
    )


async def test_429_and_503_are_retried_with_exponential_back_off_until_success() -> None:
    time = FakeTime()
    attempt, timeouts = answers(429, 503, 200)
    response = await run(attempt, time, policy=RetryPolicy(attempts=3, backoff=0.1))
    assert response.status_code == 200
    assert time.sleeps == [0.1, 0.2]
    assert timeouts == [10.0, 9.9, pytest.approx(9.7)]  # each attempt gets what is left


async def test_the_back_off_is_full_jitter_between_zero_and_the_bound() -> None:
    time = FakeTime()
    bounds: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high / 4

    attempt, _ = answers(503, 503, 503, 200)
    await run(
        attempt, time, policy=RetryPolicy(attempts=4, backoff=1.0, max_backoff=3.0), uniform=uniform
    )
    assert bounds == [(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)]
    assert time.sleeps == [0.25, 0.5, 0.75]


async def test_retry_after_is_honoured_as_the_least_wait() -> None:
    time = FakeTime()
    attempt, _ = answers(429, 200, headers={"Retry-After": "2"})
    await run(attempt, time)
    assert time.sleeps == [2.0]


async def test_a_retry_after_beyond_the_deadline_returns_the_refusal_at_once() -> None:
    time = FakeTime()
    attempt, timeouts = answers(429, 200, headers={"Retry-After": "30"})
    response = await run(attempt, time, deadline=5.0)
    assert response.status_code == 429
    assert time.sleeps == []
    assert len(timeouts) == 1


async def test_after_the_last_attempt_the_last_answer_is_returned() -> None:
    time = FakeTime()
    attempt, _ = answers(503, 503)
    response = await run(attempt, time, policy=RetryPolicy(attempts=2))
    assert response.status_code == 503


async def test_other_statuses_are_not_retried() -> None:
    time = FakeTime()
    attempt, timeouts = answers(500, 200)
    assert (await run(attempt, time)).status_code == 500
    assert len(timeouts) == 1


async def test_transport_errors_are_retried_for_idempotent_methods_only() -> None:
    time = FakeTime()
    attempt, _ = answers(httpx.ConnectError("refused"), 200)
    assert (await run(attempt, time, method="GET")).status_code == 200
    attempt, _ = answers(httpx.ReadError("reset"), 200)
    with pytest.raises(httpx.ReadError):
        await run(attempt, FakeTime(), method="POST")
    # A 429 says the work was not done: retried whatever the method.
    attempt, _ = answers(429, 201)
    assert (await run(attempt, FakeTime(), method="POST")).status_code == 201


async def test_the_last_transport_error_is_raised_when_attempts_run_out() -> None:
    attempt, _ = answers(httpx.ConnectError("one"), httpx.ConnectError("two"))
    with pytest.raises(httpx.ConnectError, match="two"):
        await run(attempt, FakeTime(), policy=RetryPolicy(attempts=2))


async def test_no_retry_starts_when_the_back_off_would_pass_the_deadline() -> None:
    attempt, _ = answers(httpx.ConnectError("refused"), 200)
    with pytest.raises(httpx.ConnectError, match="refused"):  # the error, not a vaguer one
        await run(attempt, FakeTime(), deadline=0.01, policy=RetryPolicy(backoff=1.0))


async def test_the_deadline_passing_before_an_attempt_is_deadline_exceeded() -> None:
    time = FakeTime()

    async def late_sleep(seconds: float) -> None:
        time.now += seconds + 3.0  # an overloaded loop wakes the client late

    attempt, _ = answers(httpx.ConnectError("refused"), 200)
    with pytest.raises(DeadlineExceeded, match="after 1 attempt"):
        await call_with_retries(
            attempt,
            method="GET",
            deadline=20.0,
            clock=time.clock,
            sleep=late_sleep,
            uniform=lambda low, high: 18.0,
        )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("soon", None),
        (None, None),
        ("-1", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: retry now
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after(value) == seconds


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"attempts": 0}, ValueError),
        ({"attempts": 1.5}, TypeError),
        ({"backoff": -1}, ValueError),
    ],
)
def test_invalid_policies_are_refused_naming_the_field(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


async def test_request_propagates_the_time_left_and_retries_through_httpx() -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers["x-request-timeout"])
        return httpx.Response(429 if len(seen) == 1 else 200, headers={"Retry-After": "0"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        response = await request(
            client, "GET", "http://service/x", deadline=5.0, headers={"accept": "application/json"}
        )
    assert response.status_code == 200
    assert len(seen) == 2
    assert 4.0 < float(seen[1]) <= float(seen[0]) <= 5.0


async def test_a_deadline_must_be_positive() -> None:
    attempt, _ = answers(200)
    with pytest.raises(ValueError, match="deadline"):
        await run(attempt, FakeTime(), deadline=0)
