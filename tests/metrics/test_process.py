"""Process and runtime metrics."""

from __future__ import annotations

import asyncio
import time

from actuator import Actuator
from tests.metrics.support import series


def values(actuator: Actuator) -> dict[str, float]:
    return {
        sample.name: sample.value
        for metric in actuator.metrics.registry.collect()
        for sample in metric.samples
        if not sample.labels or "name" in sample.labels
    }


async def test_process_metrics_cover_cpu_memory_and_file_descriptors() -> None:
    found = values(Actuator())
    assert found["process_cpu_seconds_total"] >= 0
    assert found["process_resident_memory_bytes"] > 0
    assert found["process_open_fds"] > 0
    assert series(Actuator(), "python_gc_collections_total")


async def test_event_loop_lag_comes_from_the_core_heartbeat() -> None:
    actuator = Actuator(settings={"health": {"event_loop": {"enabled": True, "interval": 0.01}}})
    await actuator.startup()
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.2)  # noqa: ASYNC251 - blocking the loop is the point: the heartbeat is late
        await asyncio.sleep(0.05)
        found = values(actuator)
    finally:
        await actuator.shutdown()
    assert found["asyncio_event_loop_lag_seconds_max"] >= 0.1
    assert "asyncio_event_loop_lag_seconds" in found


async def test_thread_pool_usage_is_reported_with_micrometer_executor_names() -> None:
    actuator = Actuator(settings={"health": {"max_threads": 3}})
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = asyncio.Event()

    def busy() -> None:
        loop.call_soon_threadsafe(started.set)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result()

    task = loop.run_in_executor(actuator.checker.executor, busy)
    await started.wait()
    found = series(actuator, "executor_active_threads")
    limit = series(actuator, "executor_pool_max_threads")
    release.set()
    await task
    assert found == {(("name", "actuator"),): 1.0}
    assert limit == {(("name", "actuator"),): 3.0}


async def test_process_metrics_can_be_switched_off() -> None:
    found = values(Actuator(settings={"metrics": {"process": False}}))
    assert "process_cpu_seconds_total" not in found
    assert "executor_pool_max_threads" not in found
