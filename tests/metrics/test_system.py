"""The process and system meters Spring Boot Admin's details page reads."""

from __future__ import annotations

import os
import time

from prometheus_client import CollectorRegistry

from actuator.info.contributors.runtime import process_start_time
from actuator.metrics.system import SystemCollector, _Rate, cpu_count


def _values(collector: SystemCollector) -> dict[str, float]:
    return {family.name: family.samples[0].value for family in collector.collect()}


def test_uptime_counts_from_the_process_start() -> None:
    started = process_start_time()
    assert started <= time.time()
    with open("/proc/self/stat", encoding="ascii") as stat:  # the suite runs on Linux
        assert stat.read()
    uptime = _values(SystemCollector())["process_uptime_seconds"]
    assert abs(uptime - (time.time() - started)) < 5


def test_cpu_count_is_the_cpus_the_process_may_use() -> None:
    assert _values(SystemCollector())["system_cpus"] == float(cpu_count())
    assert cpu_count() <= len(os.sched_getaffinity(0))
    assert cpu_count() >= 1


def test_cpu_usage_is_a_share_measured_over_at_least_the_window() -> None:
    readings = iter([(0.1, 0.5), (0.6, 1.0), (0.6, 2.0), (1.6, 4.0)])
    rate = _Rate(lambda: next(readings), window=1.0, baseline=(0.0, 0.0))
    assert rate.value() == 0.2  # the first value is measured from the baseline
    assert rate.value() == 0.2  # half a window later: not measured again
    assert rate.value() == 0.5 / 1.5
    assert rate.value() == 0.5


def test_cpu_usage_has_a_value_from_the_first_scrape_on() -> None:
    """Spring Boot Admin lists the process panel only when the meter is there."""
    collector = SystemCollector()
    values = _values(collector)
    assert 0.0 <= values["process_cpu_usage"] <= 1.0
    assert 0.0 <= values["system_cpu_usage"] <= 1.0


def test_cpu_usage_is_missing_rather_than_made_up_without_readings() -> None:
    assert _Rate(lambda: None, window=1.0, baseline=(0.0, 0.0)).value() is None


def test_a_busy_process_reports_cpu_usage_between_zero_and_one() -> None:
    collector = SystemCollector()
    deadline = time.monotonic() + 1.1
    while time.monotonic() < deadline:
        pass
    values = _values(collector)
    assert 0.0 < values["process_cpu_usage"] <= 1.0
    assert 0.0 <= values["system_cpu_usage"] <= 1.0
    assert values["system_load_average_1m"] >= 0.0


def test_registers_next_to_the_process_collectors() -> None:
    registry = CollectorRegistry()
    registry.register(SystemCollector())
    assert registry.get_sample_value("system_cpus") == float(cpu_count())
