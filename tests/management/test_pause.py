from __future__ import annotations

import asyncio
import threading

import pytest

from actuator import Actuator


async def test_python_api_pauses_resumes_and_flips() -> None:
    actuator = Actuator()
    assert actuator.pause("maintenance") is True
    assert actuator.pause("again") is False
    assert actuator.paused
    assert actuator.availability.refusals["pause"] == "maintenance"
    assert actuator.pause_control.state.by == "app"
    assert actuator.resume() is True
    assert actuator.resume() is False
    assert actuator.flip() is True
    assert actuator.flip() is False
    assert not actuator.paused
    assert "pause" not in actuator.availability.refusals


async def test_wait_resumed_returns_at_once_when_not_paused() -> None:
    actuator = Actuator()
    await asyncio.wait_for(actuator.wait_resumed(), timeout=5)


async def test_workers_waiting_for_resumption_wake_up_on_resume() -> None:
    actuator = Actuator()
    actuator.pause("maintenance")
    woke: list[int] = []

    async def worker(n: int) -> None:
        await actuator.wait_resumed()
        woke.append(n)

    workers = [asyncio.ensure_future(worker(n)) for n in range(3)]
    await asyncio.sleep(0.05)
    assert woke == []
    actuator.resume()
    await asyncio.wait_for(asyncio.gather(*workers), timeout=5)
    assert sorted(woke) == [0, 1, 2]


async def test_a_resume_from_another_thread_wakes_the_loop() -> None:
    actuator = Actuator()
    actuator.pause()
    waiter = asyncio.ensure_future(actuator.wait_resumed())
    await asyncio.sleep(0.01)
    thread = threading.Thread(target=actuator.resume)
    thread.start()
    await asyncio.wait_for(waiter, timeout=5)
    thread.join()
    assert not actuator.paused


async def test_callbacks_sync_and_async_run_in_transition_order() -> None:
    actuator = Actuator()
    await actuator.startup()
    calls: list[str] = []

    @actuator.on_pause
    async def slow_pause() -> None:
        await asyncio.sleep(0.01)
        calls.append("pause")

    actuator.on_resume(lambda: calls.append("resume"))
    try:
        for _ in range(3):
            actuator.pause()
            actuator.resume()
        await actuator.pause_control.settled()
    finally:
        await actuator.shutdown()
    assert calls == ["pause", "resume"] * 3


async def test_a_failing_callback_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = Actuator()
    await actuator.startup()
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    actuator.on_pause(broken)
    actuator.on_pause(lambda: calls.append("pause"))
    try:
        actuator.pause()
        await actuator.pause_control.settled()
    finally:
        await actuator.shutdown()
    assert calls == ["pause"]
    assert "on_pause callback" in caplog.text


async def test_callbacks_of_changes_made_before_startup_run_at_startup() -> None:
    actuator = Actuator()
    calls: list[str] = []
    actuator.on_pause(lambda: calls.append("pause"))
    actuator.pause()
    await actuator.startup()
    try:
        await actuator.pause_control.settled()
    finally:
        await actuator.shutdown()
    assert calls == ["pause"]


async def test_concurrent_flips_from_many_threads_keep_state_consistent() -> None:
    actuator = Actuator()
    await actuator.startup()
    calls: list[bool] = []
    actuator.on_pause(lambda: calls.append(True))
    actuator.on_resume(lambda: calls.append(False))
    flips_per_thread, threads = 200, 8

    def flip_many() -> None:
        for _ in range(flips_per_thread):
            actuator.flip()

    try:
        workers = [threading.Thread(target=flip_many) for _ in range(threads)]
        for worker in workers:
            worker.start()

        def join_all() -> None:
            for worker in workers:
                worker.join()

        await asyncio.to_thread(join_all)
        await actuator.pause_control.settled()
    finally:
        await actuator.shutdown()
    # An even number of flips ends where it started, and every flip was one transition.
    assert not actuator.paused
    assert "pause" not in actuator.availability.refusals
    assert len(calls) == flips_per_thread * threads
    assert calls == [True, False] * (len(calls) // 2)


def test_callbacks_must_be_callable() -> None:
    with pytest.raises(TypeError, match="on_pause callback must be callable"):
        Actuator().on_pause("not a function")  # type: ignore[arg-type]


def test_pause_paths_must_be_absolute() -> None:
    with pytest.raises(ValueError, match=r"pause\.paths"):
        Actuator(settings={"pause": {"paths": ["api"]}})
