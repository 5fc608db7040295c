"""Admission: slots, the queue, deadlines and refusals, on a real event loop."""

from __future__ import annotations

import asyncio

import pytest

from actuator.overload import build_limiter
from actuator.overload.limiter import QUIET_SECONDS, ConcurrencyLimiter
from actuator.overload.limits import AimdLimit, FixedLimit, GradientLimit
from actuator.settings import OverloadSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_requests_under_the_limit_are_admitted_and_counted() -> None:
    limiter = ConcurrencyLimiter(FixedLimit(2))
    first, second = await limiter.admit(), await limiter.admit()
    assert isinstance(first, float)
    assert isinstance(second, float)
    assert limiter.in_flight == 2
    limiter.release(first)
    assert limiter.in_flight == 1


async def test_beyond_the_limit_without_a_queue_a_request_is_refused_at_once() -> None:
    limiter = ConcurrencyLimiter(FixedLimit(1), queue_size=0)
    await limiter.admit()
    assert await limiter.admit() == "limit"
    assert limiter.refused["limit"] == 1
    assert limiter.in_flight == 1


async def test_a_queued_request_takes_the_next_freed_slot() -> None:
    limiter = ConcurrencyLimiter(FixedLimit(1), queue_size=1, queue_timeout=5)
    started = await limiter.admit()
    waiter = asyncio.ensure_future(limiter.admit())
    await asyncio.sleep(0)
    assert limiter.queued == 1
    assert limiter.try_admit() is None  # a newcomer does not overtake the queue
    limiter.release(started)  # type: ignore[arg-type]
    assert isinstance(await waiter, float)
    assert (limiter.in_flight, limiter.queued) == (1, 0)


async def test_a_full_queue_refuses_and_a_waiter_times_out() -> None:
    limiter = ConcurrencyLimiter(FixedLimit(1), queue_size=1, queue_timeout=0.01)
    await limiter.admit()
    waiter = asyncio.ensure_future(limiter.admit())
    await asyncio.sleep(0)
    assert await limiter.admit() == "queue_full"
    assert await waiter == "queue_timeout"
    assert (limiter.in_flight, limiter.queued) == (1, 0)
    assert limiter.refused == {"limit": 0, "queue_full": 1, "queue_timeout": 1, "deadline": 0}


async def test_a_deadline_that_the_queue_cannot_meet_is_refused_at_once() -> None:
    clock = Clock()
    limiter = ConcurrencyLimiter(FixedLimit(1), queue_size=10, queue_timeout=5, clock=clock)
    started = await limiter.admit()
    clock.now += 0.2  # requests take 0.2 s
    limiter.release(started)  # type: ignore[arg-type]
    await limiter.admit()
    # Waiting for the slot (about 0.2 s) and being served (0.2 s) needs more than 0.3 s.
    assert await limiter.admit(deadline=0.3) == "deadline"
    assert limiter.queued == 0
    # A caller that can wait longer joins the queue.
    waiter = asyncio.ensure_future(limiter.admit(deadline=1.0))
    await asyncio.sleep(0)
    assert limiter.queued == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.queued == 0


async def test_a_waiter_cancelled_as_it_is_handed_a_slot_leaves_the_count_right() -> None:
    limiter = ConcurrencyLimiter(FixedLimit(1), queue_size=1, queue_timeout=5)
    started = await limiter.admit()
    waiter = asyncio.ensure_future(limiter.admit())
    await asyncio.sleep(0)
    limiter.release(started)  # type: ignore[arg-type]
    waiter.cancel()  # cancelled before it could run with its slot
    try:
        admitted = await waiter
    except asyncio.CancelledError:
        assert limiter.in_flight == 0  # the slot went back
    else:
        assert isinstance(admitted, float)  # or the caller holds it, counted once
        assert limiter.in_flight == 1
    assert limiter.queued == 0


async def test_shedding_lasts_while_refusals_keep_coming_and_ends_after_a_quiet_second() -> None:
    clock = Clock()
    limiter = ConcurrencyLimiter(FixedLimit(1), clock=clock)
    await limiter.admit()
    assert limiter.shedding_for() == 0.0
    for _ in range(5):
        assert await limiter.admit() == "limit"
        clock.now += 0.5
    assert limiter.shedding_for() == pytest.approx(2.5)
    clock.now += QUIET_SECONDS + 0.1
    assert limiter.shedding_for() == 0.0


@pytest.mark.parametrize(
    ("mode", "algorithm"), [("fixed", FixedLimit), ("aimd", AimdLimit), ("gradient", GradientLimit)]
)
def test_the_settings_build_the_algorithm_their_mode_names(mode: str, algorithm: type) -> None:
    settings = OverloadSettings.model_validate(
        {"enabled": True, "mode": mode, "limit": 7, "min_limit": 2, "max_limit": 9}
    )
    limiter = build_limiter(settings)
    assert isinstance(limiter.algorithm, algorithm)
    assert limiter.limit == 7 if mode == "fixed" else 2 <= limiter.limit <= 9
