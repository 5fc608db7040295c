"""Deadlines that hold even against code that swallows a cancellation."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest

from actuator._calls import GuardedCall, cancel_and_wait, within


class Stubborn:
    """Swallows the first cancellation, as nats-py's close() does while it reconnects."""

    def __init__(self, forever: bool = False) -> None:
        self.cancels = 0
        self.forever = forever

    async def __call__(self) -> str:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.cancels += 1
                if self.cancels > 1 and not self.forever:
                    raise


async def test_a_task_that_swallows_one_cancellation_is_cancelled_again_and_stops():
    stubborn = Stubborn()
    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    started = time.monotonic()
    assert await cancel_and_wait(task, timeout=5)
    assert task.cancelled()
    assert stubborn.cancels == 2
    assert time.monotonic() - started < 1


async def test_a_task_that_never_stops_is_left_behind_at_the_deadline():
    stubborn = Stubborn(forever=True)
    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    started = time.monotonic()
    assert not await cancel_and_wait(task, timeout=0.3)
    assert 0.25 < time.monotonic() - started < 2
    assert not task.done()
    assert stubborn.cancels >= 2  # asked more than once
    stubborn.forever = False  # let it go, so the test's loop can close
    task.cancel()
    await asyncio.wait({task})


async def test_a_task_that_failed_is_read_not_raised():
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.ensure_future(fails())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, timeout=1)


async def test_within_returns_the_answer_in_time():
    async def answer() -> int:
        await asyncio.sleep(0.01)
        return 42

    assert await within(answer(), timeout=2) == 42


async def test_within_raises_at_the_deadline_even_when_the_awaitable_swallows_cancellation():
    stubborn = Stubborn()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"0\.2s"):
        await within(stubborn(), timeout=0.2)
    assert time.monotonic() - started < 1.5
    assert stubborn.cancels == 2


async def test_within_cancelled_from_outside_cancels_what_it_waits_on():
    stubborn = Stubborn()
    outer = asyncio.ensure_future(within(stubborn(), timeout=60))
    await asyncio.sleep(0.05)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert stubborn.cancels == 2


async def test_concurrent_calls_of_a_sync_function_share_the_one_running_in_time():
    # Four requests for /info at once used to get "still running its previous
    # call" for every section but the first's.
    calls = 0
    release = threading.Event()

    def section() -> dict[str, int]:
        nonlocal calls
        calls += 1
        release.wait(5)
        return {"pid": 42}

    guarded: GuardedCall[dict[str, int]] = GuardedCall(section, name="info contributor 'x'")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = asyncio.ensure_future(guarded(5, pool))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(guarded(5, pool))
        await asyncio.sleep(0.05)
        release.set()
        assert await first == {"pid": 42}
        assert await second == {"pid": 42}
    assert calls == 1
