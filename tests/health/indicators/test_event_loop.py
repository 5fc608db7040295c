"""EventLoopLagIndicator: heartbeat, status, watchdog log, lifecycle.

Timing: the DOWN cases block the loop far beyond the threshold, and the
recovery waits with a generous deadline, so a loaded machine cannot flip them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from actuator import Actuator, EventLoopLagIndicator, Status


def block_the_loop(seconds: float) -> None:
    """What the tests are about: blocking code called on the event loop."""
    time.sleep(seconds)


def watchdogs() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "actuator-loop-watchdog"]


@pytest.fixture
async def started() -> AsyncIterator[Callable[..., Awaitable[EventLoopLagIndicator]]]:
    made: list[EventLoopLagIndicator] = []

    async def start(**kwargs: Any) -> EventLoopLagIndicator:
        indicator = EventLoopLagIndicator(**kwargs)
        made.append(indicator)
        await indicator.start()
        return indicator

    yield start
    for indicator in made:
        await indicator.stop()


async def wait_for_status(
    indicator: EventLoopLagIndicator, status: Status, deadline: float = 10.0
) -> float:
    """Seconds until ``indicator`` reports ``status`` (fails after ``deadline``)."""
    began = time.monotonic()
    while (await indicator.health()).status != status:
        if time.monotonic() - began > deadline:
            pytest.fail(f"still {(await indicator.health()).status} after {deadline}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - began


async def test_unknown_before_start() -> None:
    health = await EventLoopLagIndicator().health()
    assert health.status == Status.UNKNOWN
    assert "not running" in health.details["reason"]


async def test_up_when_the_loop_is_idle(started: Any) -> None:
    indicator = await started(threshold=1.0, interval=0.02)
    await asyncio.sleep(0.2)
    health = await indicator.health()
    assert health.status == Status.UP
    assert set(health.details) == {
        "lagSeconds",
        "maxLagSeconds",
        "stallSeconds",
        "thresholdSeconds",
    }
    assert 0 <= health.details["lagSeconds"] < 1.0
    assert health.details["thresholdSeconds"] == 1.0


async def test_down_after_the_loop_was_blocked_then_recovers(started: Any) -> None:
    indicator = await started(threshold=0.1, interval=0.02, recent=0.5, watchdog=False)
    await asyncio.sleep(0.05)
    block_the_loop(0.3)
    unblocked = time.monotonic()
    health = await indicator.health()  # before the late heartbeat: the stall shows
    assert health.status == Status.DOWN
    assert health.details["stallSeconds"] >= 0.25
    await asyncio.sleep(0.05)  # the late heartbeat lands and records the lag
    health = await indicator.health()
    assert health.status == Status.DOWN
    assert health.details["maxLagSeconds"] >= 0.25
    await wait_for_status(indicator, Status.UP)
    # The lag was recorded after the stall, so UP needs `recent` (0.5 s) from then.
    assert time.monotonic() - unblocked >= 0.5
    assert (await indicator.health()).details["maxLagSeconds"] >= 0.25  # still in the window


async def test_a_stall_in_progress_is_seen_from_another_thread(started: Any) -> None:
    indicator = await started(threshold=0.1, interval=0.02, watchdog=False)
    await asyncio.sleep(0.05)
    blocking = threading.Event()
    seen: list[Any] = []

    def probe() -> None:  # what a management server on another thread would see
        blocking.wait(5)
        time.sleep(0.2)
        seen.append(asyncio.run(indicator.health()))

    thread = threading.Thread(target=probe)
    thread.start()
    blocking.set()
    block_the_loop(0.6)  # while the probe looks
    thread.join()
    assert seen[0].status == Status.DOWN
    assert seen[0].details["stallSeconds"] >= 0.1


async def test_watchdog_logs_the_blocking_stack_once_per_stall(
    started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="actuator.health")
    # A generous threshold: a scheduling hiccup on a busy machine must not log too.
    await started(threshold=0.25, interval=0.02)
    await asyncio.sleep(0.05)
    block_the_loop(0.7)
    await asyncio.sleep(0.1)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Event loop blocked for" in warnings[0].getMessage()
    assert "test_watchdog_logs_the_blocking_stack_once_per_stall" in warnings[0].getMessage()
    assert "in block_the_loop" in warnings[0].getMessage()
    assert "time.sleep(seconds)" in warnings[0].getMessage()
    # The heartbeat adds the full length at INFO rather than warning twice.
    unblocked = [r for r in caplog.records if "unblocked after" in r.getMessage()]
    assert len(unblocked) == 1
    assert unblocked[0].levelno == logging.INFO

    block_the_loop(0.7)  # a second stall: a second warning
    await asyncio.sleep(0.1)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


async def test_without_the_watchdog_a_stall_is_still_logged_once(
    started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="actuator.health")
    await started(threshold=0.25, interval=0.02, watchdog=False)
    await asyncio.sleep(0.05)
    block_the_loop(0.5)
    await asyncio.sleep(0.1)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("Event loop was blocked for")
    assert not watchdogs()


async def test_stop_ends_the_heartbeat_and_the_watchdog() -> None:
    indicator = EventLoopLagIndicator(interval=0.02)
    await indicator.start()
    task = indicator._task
    thread = indicator._thread
    assert thread is not None
    assert thread.is_alive()
    await indicator.stop()
    assert task is not None
    assert task.done()
    assert not thread.is_alive()
    assert (await indicator.health()).status == Status.UNKNOWN
    await indicator.stop()  # stopping twice is harmless


async def test_start_is_idempotent_and_restartable() -> None:
    before = len(watchdogs())
    indicator = EventLoopLagIndicator(interval=0.02)
    await indicator.start()
    task = indicator._task
    await indicator.start()
    assert indicator._task is task
    assert len(watchdogs()) == before + 1
    await indicator.stop()
    await indicator.start()
    assert indicator._task is not task
    assert (await indicator.health()).status == Status.UP
    await indicator.stop()
    assert len(watchdogs()) == before


def test_a_loop_that_stops_or_closes_without_stop_is_not_reported_as_blocked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As in a test suite that drives an app without lifespan: the loop just goes away.
    caplog.set_level(logging.WARNING, logger="actuator.health")
    indicator = EventLoopLagIndicator(threshold=0.05, interval=0.01)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(indicator.start())
    thread = indicator._thread
    time.sleep(0.3)  # the loop is not running: idle, not blocked
    loop.close()
    assert thread is not None
    thread.join(2)
    assert not thread.is_alive()
    assert caplog.records == []
    assert asyncio.run(indicator.health()).status == Status.UNKNOWN


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"threshold": 0}, ValueError),
        ({"interval": -0.1}, ValueError),
        ({"recent": float("nan")}, ValueError),
        ({"window": float("inf")}, ValueError),
        ({"threshold": "1"}, TypeError),
        ({"interval": True}, TypeError),
        ({"watchdog": "yes"}, TypeError),
    ],
)
def test_bad_configuration_raises_naming_the_parameter(
    kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error, match=f"EventLoopLagIndicator {next(iter(kwargs))}"):
        EventLoopLagIndicator(**kwargs)


async def test_registered_as_event_loop_in_root_health_only() -> None:
    actuator = Actuator(
        settings={"health": {"show_details": "always", "event_loop": {"threshold": 2.5}}}
    )
    transport = httpx.ASGITransport(app=actuator)
    await actuator.startup()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await asyncio.sleep(0.15)
            root = (await client.get("/actuator/health")).json()
            liveness = (await client.get("/actuator/health/liveness")).json()
            readiness = (await client.get("/actuator/health/readiness")).json()
    finally:
        await actuator.shutdown()
    assert root["components"]["eventLoop"]["status"] == "UP"
    assert root["components"]["eventLoop"]["details"]["thresholdSeconds"] == 2.5
    assert "eventLoop" not in liveness.get("components", {})
    assert "eventLoop" not in readiness.get("components", {})
    assert (await actuator.health("eventLoop")).status == Status.UNKNOWN  # stopped again


def test_can_be_switched_off() -> None:
    actuator = Actuator(settings={"health": {"event_loop": {"enabled": False}}})
    assert "eventLoop" not in {r.name for r in actuator.registrations}
