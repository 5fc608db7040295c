"""Prometheus series of the limiter, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from actuator.overload.limiter import ConcurrencyLimiter


class OverloadCollector(Collector):
    """``actuator_overload_limit``, ``..._in_flight_requests``, ``..._queued_requests``
    and ``actuator_overload_refused_requests_total{reason}``."""

    def __init__(self, limiter: ConcurrencyLimiter) -> None:
        self.limiter = limiter

    def describe(self) -> list[Metric]:
        return list(self.collect())

    def collect(self) -> Iterator[Metric]:
        limiter = self.limiter
        yield GaugeMetricFamily(
            "actuator_overload_limit",
            "Requests of the app allowed in flight now",
            value=limiter.limit,
        )
        yield GaugeMetricFamily(
            "actuator_overload_in_flight_requests",
            "Requests of the app in flight",
            value=limiter.in_flight,
        )
        yield GaugeMetricFamily(
            "actuator_overload_queued_requests",
            "Requests of the app waiting for a slot",
            value=limiter.queued,
        )
        refused = CounterMetricFamily(
            "actuator_overload_refused_requests",
            "Requests of the app refused with 429, by reason",
            labels=["reason"],
        )
        for reason, count in limiter.refused.items():
            refused.add_metric([reason], count)
        yield refused
