"""Process and runtime metrics: CPU, memory, file descriptors and GC from prometheus-client,
plus the event-loop lag and the actuator's own thread pool.

::

    process_cpu_seconds_total 4.2
    process_resident_memory_bytes 5.1e+07
    process_open_fds 17.0
    python_gc_collections_total{generation="0"} 310.0
    asyncio_event_loop_lag_seconds 0.0004
    asyncio_event_loop_lag_seconds_max 0.012
    executor_active_threads{name="actuator"} 0.0
    executor_pool_size_threads{name="actuator"} 2.0
    executor_pool_max_threads{name="actuator"} 8.0
    executor_queued_tasks{name="actuator"} 0.0

The event-loop lag comes from the ``eventLoop`` health indicator's heartbeat
(absent when ``health.event_loop.enabled`` is off). The executor series
use Micrometer's names for executors (``executor_*{name=...}``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric

from actuator.health.indicators.event_loop import EventLoopLagIndicator

if TYPE_CHECKING:
    from actuator.health.checker import HealthChecker
    from actuator.health.service import HealthService

_POOL = "actuator"


def register_process_collectors(registry: CollectorRegistry) -> None:
    """Add prometheus-client's process, platform and GC collectors, unless already there
    (the global ``REGISTRY`` has them from the start)."""
    for make in (ProcessCollector, PlatformCollector, GCCollector):
        # A duplicate means the registry exports these already: nothing to add.
        with contextlib.suppress(ValueError):
            make(registry=registry)


class RuntimeCollector:
    """The event-loop lag measured by the core, and the actuator's thread pool usage."""

    def __init__(self, health: HealthService, checker: HealthChecker) -> None:
        self.health = health
        self.checker = checker

    def describe(self) -> Iterable[Metric]:
        return [*self._loop_families(), *self._pool_families()]

    def collect(self) -> Iterable[Metric]:
        families: list[Metric] = []
        indicator = self._loop_indicator()
        if indicator is not None:
            measured = indicator.measure()
            lag, worst = self._loop_families()
            lag.add_metric([], measured.lag)
            worst.add_metric([], measured.max_lag)
            families += [lag, worst]
        stats = self.checker.pool_stats()
        active, size, limit, queued = self._pool_families()
        active.add_metric([_POOL], stats.busy)
        size.add_metric([_POOL], stats.threads)
        limit.add_metric([_POOL], stats.max_workers)
        queued.add_metric([_POOL], stats.queued)
        return [*families, active, size, limit, queued]

    def _loop_indicator(self) -> EventLoopLagIndicator | None:
        for registration in self.health.registrations:
            if isinstance(registration.source, EventLoopLagIndicator):
                return registration.source
        return None

    @staticmethod
    def _loop_families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "asyncio_event_loop_lag_seconds", "How late the event loop ran its last heartbeat"
            ),
            GaugeMetricFamily(
                "asyncio_event_loop_lag_seconds_max",
                "The worst event-loop lag in the indicator's window (default 60 s)",
            ),
        ]

    @staticmethod
    def _pool_families() -> list[GaugeMetricFamily]:
        labels = ["name"]
        return [
            GaugeMetricFamily(
                "executor_active_threads", "Threads of the pool running a task", labels=labels
            ),
            GaugeMetricFamily(
                "executor_pool_size_threads", "Threads the pool has started", labels=labels
            ),
            GaugeMetricFamily(
                "executor_pool_max_threads", "Most threads the pool may start", labels=labels
            ),
            GaugeMetricFamily(
                "executor_queued_tasks", "Tasks waiting for a thread of the pool", labels=labels
            ),
        ]
