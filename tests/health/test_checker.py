"""Running checks: concurrency, the thread pool, timeouts, logging, single-flight and caching."""

from __future__ import annotations

import asyncio
import functools
import logging
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

from actuator import Actuator, EventLoopLagIndicator, Health, Status
from tests.support.asgi import Lifespan, RecordingApp, client_for, light_actuator

ALWAYS = {"health": {"show_details": "always"}}


class Boom(Exception):
    pass


async def component(actuator: Actuator, name: str) -> tuple[int, dict[str, Any]]:
    """Status code and body of ``/actuator/health/{name}``, through HTTP."""
    async with client_for(actuator.wrap(RecordingApp())) as client:
        answer = await client.get(f"/actuator/health/{name}")
    return answer.status_code, answer.json()


async def test_twenty_slow_async_indicators_answer_together() -> None:
    actuator = light_actuator(ALWAYS)
    for i in range(20):

        @actuator.indicator(f"db{i}")
        async def slow() -> Health:
            await asyncio.sleep(0.05)
            return Health.up()

    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        started = time.monotonic()
        answer = await client.get("/actuator/health")
        elapsed = time.monotonic() - started
    assert answer.status_code == 200
    assert all(answer.json()["components"][f"db{i}"]["status"] == "UP" for i in range(20))
    assert elapsed < 0.5  # one after another would take 1 s


async def test_sync_indicators_run_in_the_actuators_own_thread_pool() -> None:
    actuator = light_actuator()
    threads: list[str] = []

    def blocking() -> bool:
        threads.append(threading.current_thread().name)
        return True

    actuator.add_indicator("blocking", blocking)
    actuator.add_indicator("object", type("Obj", (), {"health": lambda self: blocking()})())
    results = await actuator.health()
    await actuator.shutdown()
    assert results.status == Status.INIT  # readinessState: no lifespan, no request yet
    assert len(threads) == 2
    assert all(name.startswith("actuator_") for name in threads), threads


async def test_a_cheap_sync_indicator_declared_non_blocking_runs_on_the_loop() -> None:
    actuator = light_actuator()
    threads: list[str] = []

    def cheap() -> bool:
        threads.append(threading.current_thread().name)
        return True

    actuator.add_indicator("cheap", cheap, blocking=False)
    await actuator.health("cheap")
    assert threads == [threading.current_thread().name]


async def test_a_slow_indicator_times_out_as_down_naming_the_timeout() -> None:
    actuator = light_actuator(ALWAYS)

    @actuator.indicator("slow", timeout=0.1)
    async def slow() -> Health:
        await asyncio.sleep(10)
        return Health.up()

    started = time.monotonic()
    status, body = await component(actuator, "slow")
    assert time.monotonic() - started < 0.6
    assert status == 503
    assert body == {
        "status": "DOWN",
        "details": {"error": "TimeoutError: indicator 'slow' did not answer within 0.1s"},
    }


async def test_an_exception_is_down_with_its_type_and_message_and_no_traceback() -> None:
    actuator = light_actuator(ALWAYS)

    @actuator.indicator("broker")
    def broker() -> Health:
        raise Boom("connection refused by broker:5672")

    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.get("/actuator/health/broker")
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "DOWN",
        "details": {"error": "tests.health.test_checker.Boom: connection refused by broker:5672"},
    }
    assert "Traceback" not in answer.text


async def test_a_failure_is_logged_once_with_its_traceback_and_the_recovery_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = light_actuator()
    failing = True

    @actuator.indicator("db")
    async def db() -> Health:
        if failing:
            raise Boom("down")
        return Health.up()

    with caplog.at_level(logging.DEBUG, logger="actuator.health"):
        for _ in range(3):
            assert (await actuator.health("db")).status == Status.DOWN
        failing = False
        assert (await actuator.health("db")).status == Status.UP
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    first, *traceback = warnings[0].getMessage().splitlines()
    assert first == "Health indicator 'db' is DOWN: tests.health.test_checker.Boom: down"
    # The traceback is in the message, through the sanitizer (exc_info would bypass it).
    assert traceback[0] == "Traceback (most recent call last):"
    assert 'raise Boom("down")' in "\n".join(traceback)
    recovered = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert recovered == ["Health indicator 'db' recovered: UP"]


async def test_a_new_kind_of_failure_is_logged_again(caplog: pytest.LogCaptureFixture) -> None:
    actuator = light_actuator()
    errors = iter([Boom("a"), Boom("a"), Boom("b")])

    @actuator.indicator("db")
    async def db() -> Health:
        raise next(errors)

    with caplog.at_level(logging.WARNING, logger="actuator.health"):
        for _ in range(3):
            await actuator.health("db")
    assert [r.getMessage()[-1] for r in caplog.records] == ["a", "b"]


async def test_an_indicator_that_swallows_cancellation_cannot_hang_the_answer() -> None:
    actuator = light_actuator(ALWAYS)
    released = asyncio.Event()

    @actuator.indicator("stubborn", timeout=0.1)
    async def stubborn() -> Health:
        while not released.is_set():
            try:
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                continue
        return Health.up()

    try:
        started = time.monotonic()
        status, body = await component(actuator, "stubborn")
        assert time.monotonic() - started < 0.6
    finally:
        released.set()
    assert status == 503
    assert body["details"]["error"].startswith("TimeoutError: indicator 'stubborn'")


async def test_the_overall_deadline_bounds_the_answer_whatever_the_timeouts() -> None:
    actuator = light_actuator({"health": {"show_details": "always", "deadline": 0.2}})
    released = asyncio.Event()

    @actuator.indicator("patient", timeout=30)
    async def patient() -> Health:
        await released.wait()
        return Health.up()

    try:
        started = time.monotonic()
        status, body = await component(actuator, "patient")
        assert time.monotonic() - started < 0.6
    finally:
        released.set()
    assert status == 503
    assert body["details"] == {
        "error": "TimeoutError: no answer within the health deadline of 0.2s"
    }


async def test_a_hung_sync_indicator_holds_one_thread_and_reports_still_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = light_actuator()
    release = threading.Event()
    calls = 0

    def stuck() -> bool:
        nonlocal calls
        calls += 1
        return release.wait(timeout=10)

    actuator.add_indicator("stuck", stuck, timeout=0.05)
    try:
        with caplog.at_level(logging.WARNING, logger="actuator.health"):
            first = await actuator.health("stuck")
            second = await actuator.health("stuck")
            third = await actuator.health("stuck")
    finally:
        release.set()
    assert calls == 1
    assert isinstance(first, Health)
    assert first.details["error"] == "TimeoutError: indicator 'stuck' did not answer within 0.05s"
    for later in (second, third):
        assert isinstance(later, Health)
        assert later.status == Status.DOWN
        assert later.details["error"].startswith(
            "TimeoutError: indicator 'stuck' is still running its previous call"
        )
    assert len(caplog.records) == 1  # one hang, one warning

    for _ in range(100):  # the thread finishes; the next check starts a new call
        if (await actuator.health("stuck")).status == Status.UP:
            break
        await asyncio.sleep(0.01)
    assert calls == 2
    await actuator.shutdown()


def test_a_hung_sync_indicator_does_not_keep_the_process_from_exiting() -> None:
    script = textwrap.dedent("""
        import asyncio, threading
        from actuator import Actuator
        actuator = Actuator(settings={"health": {"event_loop": {"enabled": False}}})
        actuator.add_indicator("stuck", lambda: threading.Event().wait(), timeout=0.05)
        async def main():
            await actuator.startup()
            print((await actuator.health("stuck")).status)
            await actuator.shutdown()
        asyncio.run(main())
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "DOWN"


async def test_concurrent_requests_share_one_in_flight_check() -> None:
    actuator = light_actuator()
    runs = 0

    @actuator.indicator("db", groups=["readiness"])
    async def db() -> Health:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.3)
        return Health.up()

    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answers = await asyncio.gather(
            *(client.get("/actuator/health/readiness") for _ in range(50))
        )
    assert {a.status_code for a in answers} == {200}
    assert runs == 1


async def test_a_ttl_reuses_the_last_result_until_it_expires() -> None:
    actuator = light_actuator()
    runs = 0

    @actuator.indicator("cached", ttl=0.3)
    def cached() -> bool:
        nonlocal runs
        runs += 1
        return True

    await actuator.health("cached")
    await actuator.health("cached")
    assert runs == 1
    await asyncio.sleep(0.35)
    await actuator.health("cached")
    assert runs == 2
    await actuator.shutdown()


async def test_without_a_ttl_every_check_runs_again() -> None:
    actuator = light_actuator()
    runs = 0

    @actuator.indicator("fresh")
    async def fresh() -> bool:
        nonlocal runs
        runs += 1
        return True

    for _ in range(3):
        await actuator.health("fresh")
    assert runs == 3


async def test_background_refresh_runs_from_lifespan_startup_to_shutdown() -> None:
    actuator = light_actuator()
    runs = 0

    refreshed = asyncio.Event()

    @actuator.indicator("polled", interval=0.1)
    async def polled() -> bool:
        nonlocal runs
        runs += 1
        refreshed.set()
        return True

    lifespan = Lifespan(actuator.wrap(RecordingApp()))
    await asyncio.sleep(0.1)
    assert runs == 0  # nothing runs before the app starts
    assert await lifespan.startup() == {"type": "lifespan.startup.complete"}
    assert actuator.checker.refreshing
    await asyncio.sleep(0.25)
    assert runs >= 2
    refreshed.clear()
    await asyncio.wait_for(refreshed.wait(), 5)  # just after a refresh: the next is 0.1 s away
    before = runs
    assert (await actuator.health("polled")).status == Status.UP
    assert runs == before  # a probe reads the refreshed result, no inline check
    assert await lifespan.shutdown() == {"type": "lifespan.shutdown.complete"}
    assert not actuator.checker.refreshing
    stopped_at = runs
    await asyncio.sleep(0.1)
    assert runs == stopped_at


async def test_indicators_added_or_removed_after_startup_start_and_stop_refreshing() -> None:
    actuator = light_actuator()
    runs = {"a": 0, "b": 0}

    def counter(name: str) -> Any:
        async def check() -> bool:
            runs[name] += 1
            return True

        return check

    actuator.add_indicator("a", counter("a"), interval=0.03)
    await actuator.startup()
    actuator.add_indicator("b", counter("b"), interval=0.03)
    await asyncio.sleep(0.15)
    assert runs["a"] >= 2
    assert runs["b"] >= 2
    actuator.remove_indicator("b")
    await asyncio.sleep(0.05)
    after_removal = runs["b"]
    await asyncio.sleep(0.1)
    assert runs["b"] == after_removal
    assert "b" not in {r.name for r in actuator.registrations}
    await actuator.shutdown()


def test_removing_an_unknown_indicator_raises_key_error() -> None:
    with pytest.raises(KeyError, match="nope"):
        light_actuator().remove_indicator("nope")


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(None, "NoneType"), ("UP", "str"), (1, "int"), ({"status": "UP"}, "dict")],
)
async def test_a_junk_result_is_down_with_a_type_error_naming_the_indicator(
    value: object, type_name: str
) -> None:
    actuator = light_actuator()
    # Deliberately not a Health, Status or bool: what a misused indicator does.
    actuator.add_indicator("junk", lambda: value, blocking=False)  # type: ignore[arg-type,return-value]
    health = await actuator.health("junk")
    assert isinstance(health, Health)
    assert health.status == Status.DOWN
    assert health.details["error"] == (
        f"TypeError: indicator 'junk' returned {type_name}; expected Health, Status or bool"
    )


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (True, Status.UP),
        (False, Status.DOWN),
        (Status.OUT_OF_SERVICE, Status.OUT_OF_SERVICE),
        (Status("DEGRADED"), Status("DEGRADED")),
        (Health.unknown(x=1), Status.UNKNOWN),
    ],
)
async def test_bool_status_and_health_results(value: object, status: Status) -> None:
    actuator = light_actuator()

    async def indicator() -> object:
        return value

    actuator.add_indicator("value", indicator)  # type: ignore[arg-type]
    assert (await actuator.health("value")).status == status


async def test_every_kind_of_indicator_is_called() -> None:
    class SyncObject:
        def health(self) -> Health:
            return Health.up(kind="sync object")

    class AsyncObject:
        async def health(self) -> Health:
            return Health.up(kind="async object")

    class AsyncCallable:
        async def __call__(self) -> Health:
            return Health.up(kind="async callable")

    async def with_arg(kind: str) -> Health:
        return Health.up(kind=kind)

    actuator = light_actuator()
    actuator.add_indicator("a", SyncObject())
    actuator.add_indicator("b", AsyncObject())
    actuator.add_indicator("c", AsyncCallable())
    actuator.add_indicator("d", functools.partial(with_arg, "partial"))
    actuator.add_indicator("e", lambda: with_arg("lambda around a coroutine"))
    kinds = []
    for name in "abcde":
        health = await actuator.health(name)
        assert isinstance(health, Health)
        kinds.append(health.details["kind"])
    await actuator.shutdown()
    assert kinds == [
        "sync object",
        "async object",
        "async callable",
        "partial",
        "lambda around a coroutine",
    ]


@pytest.mark.parametrize("option", ["timeout", "ttl", "interval"])
@pytest.mark.parametrize("value", [0, -1, float("nan")])
def test_invalid_timings_raise_value_error_naming_the_option(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{option} for indicator 'db' must be > 0"):
        light_actuator().add_indicator("db", lambda: True, **{option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, "0.5"])
def test_timings_that_are_not_numbers_raise_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="timeout for indicator 'db' must be a number"):
        light_actuator().add_indicator("db", lambda: True, timeout=value)  # type: ignore[arg-type]


def test_a_non_indicator_raises_type_error() -> None:
    with pytest.raises(TypeError, match="indicator 'db' must be a callable"):
        light_actuator().add_indicator("db", 42)  # type: ignore[arg-type]


async def test_an_async_indicator_that_blocks_the_loop_past_its_timeout_is_down() -> None:
    actuator = light_actuator(ALWAYS)

    @actuator.indicator("blocking", timeout=0.2)
    async def blocking() -> Health:
        time.sleep(0.5)  # noqa: ASYNC251 - the bug under test: blocking inside async def
        return Health.up()

    @actuator.indicator("fine", timeout=0.2)
    async def fine() -> Health:
        await asyncio.sleep(0.01)
        return Health.up()

    code, body = await component(actuator, "")
    await actuator.shutdown()
    blocked = body["components"]["blocking"]
    assert blocked["status"] == "DOWN"
    assert "indicator 'blocking' blocked the event loop for 0.5 s" in blocked["details"]["error"]
    # The other indicator waited through the same stall but did not cause it: still UP.
    assert body["components"]["fine"]["status"] == "UP"
    assert code == 503


async def test_a_sync_indicator_declared_non_blocking_that_blocks_is_down() -> None:
    actuator = light_actuator(ALWAYS)

    @actuator.indicator("cheap", timeout=0.1, blocking=False)
    def cheap() -> Health:
        time.sleep(0.3)
        return Health.up()

    _, body = await component(actuator, "cheap")
    await actuator.shutdown()
    assert body["status"] == "DOWN"
    assert "blocked the event loop for 0.3 s" in body["details"]["error"]


async def test_the_watchdog_names_the_indicator_that_blocks_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="actuator.health")
    actuator = light_actuator(ALWAYS)
    loop_lag = EventLoopLagIndicator(threshold=0.2, interval=0.02)
    actuator.add_indicator("loop", loop_lag)

    @actuator.indicator("stuck", timeout=0.1)
    async def stuck() -> Health:
        time.sleep(0.6)  # noqa: ASYNC251
        return Health.up()

    await loop_lag.start()
    await asyncio.sleep(0.05)
    await component(actuator, "stuck")
    await loop_lag.stop()
    await actuator.shutdown()
    stalls = [r.getMessage() for r in caplog.records if "Event loop blocked" in r.getMessage()]
    assert len(stalls) == 1
    assert "by indicator 'stuck'" in stalls[0]
