"""The process and system meters Spring Boot Admin's details page reads, in Micrometer's names.

::

    process_uptime_seconds 5231.4
    process_cpu_usage 0.021
    system_cpu_usage 0.18
    system_cpus 2.0
    system_load_average_1m 0.42

``process_cpu_usage`` and ``system_cpu_usage`` are the share of all CPUs
(0 to 1) used by this process and by the whole machine since the previous
collection, measured over at least one second (a collection sooner than that
reports the last value again), as Micrometer's "recent CPU usage". The
machine's usage comes from ``/proc/stat`` and is left out where there is none
(macOS, Windows), as is the load average where ``os.getloadavg`` is missing.
``system_cpus`` counts the CPUs this process may use (its affinity, capped by
the container's CPU limit, as the JVM counts them); ``/actuator/metrics``
calls it ``system.cpu.count``, Micrometer's name, which Prometheus' linter
refuses for a gauge (``_count`` is a histogram's suffix). The uptime
counts from the process start, as the ``process`` info section's ``startTime``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from actuator.info.contributors.runtime import available_cpus, cgroup_limits, process_start_time

_MIN_WINDOW = 1.0


def cpu_count() -> int:
    """The CPUs this process may use, as the ``process`` info section counts them
    (affinity capped by the container's CPU limit, the JVM's ``availableProcessors``)."""
    return available_cpus(cgroup_limits()[0])


def system_cpu_times() -> tuple[float, float] | None:
    """``(busy, total)`` jiffies of all CPUs from ``/proc/stat``; ``None`` where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [float(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 4:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    return total - idle, total


class _Rate:
    """The share of a resource used since the previous reading.

    ``read`` gives ``(used, elapsed)`` counters; a reading is taken only once
    ``elapsed`` grew by ``window``, so two scrapes in a row do not measure noise.
    The first reading is measured from ``baseline`` (the counters' origin: the
    process start, or boot), so the meter has a value from the first scrape on.
    """

    def __init__(
        self,
        read: Callable[[], tuple[float, float] | None],
        window: float,
        baseline: tuple[float, float],
    ) -> None:
        self._read = read
        self._window = window
        self._last: tuple[float, float] | None = baseline
        self._value: float | None = None
        self._lock = threading.Lock()

    def value(self) -> float | None:
        with self._lock:
            current, last = self._read(), self._last
            if current is None or last is None:
                return None
            used, elapsed = current[0] - last[0], current[1] - last[1]
            if elapsed > 0 and (elapsed >= self._window or self._value is None):
                self._value = min(1.0, max(0.0, used / elapsed))
                self._last = current
            return self._value


class SystemCollector:
    """Uptime, CPU usage and count, and load average, in Micrometer's names."""

    def __init__(self) -> None:
        self._started = process_start_time()
        self._cpus = cpu_count()
        cpus = self._cpus
        started_monotonic = time.monotonic() - max(0.0, time.time() - self._started)
        self._process = _Rate(
            lambda: (time.process_time() / cpus, time.monotonic()),
            _MIN_WINDOW,
            baseline=(0.0, started_monotonic),
        )
        # /proc/stat counts clock ticks (usually 100 a second) on every online CPU since boot.
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._system = _Rate(
            system_cpu_times, _MIN_WINDOW * ticks * (os.cpu_count() or 1), baseline=(0.0, 0.0)
        )

    def describe(self) -> Iterable[Metric]:
        return [_gauge(name, text) for name, text in _DESCRIPTIONS.items()]

    def collect(self) -> Iterable[Metric]:
        values: dict[str, float | None] = {
            "process_uptime_seconds": max(0.0, time.time() - self._started),
            "process_cpu_usage": self._process.value(),
            "system_cpu_usage": self._system.value(),
            "system_cpus": float(self._cpus),
            "system_load_average_1m": _load_average(),
        }
        families = []
        for name, value in values.items():
            if value is None:
                continue
            family = _gauge(name, _DESCRIPTIONS[name])
            family.add_metric([], value)
            families.append(family)
        return families


_DESCRIPTIONS = {
    "process_uptime_seconds": "The uptime of the process",
    "process_cpu_usage": "The recent CPU usage of this process, a share of all its CPUs (0-1)",
    "system_cpu_usage": "The recent CPU usage of the whole machine (0-1)",
    "system_cpus": "The number of processors available to the process",
    "system_load_average_1m": "The system load average over the last minute",
}


def _gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation)


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
