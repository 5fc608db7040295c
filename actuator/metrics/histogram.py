"""A labelled histogram for the request path: cheap to observe, cheap to scrape.

prometheus-client's ``Histogram`` takes two locks and a Python loop over the
buckets per observation, and rebuilds every sample (a dict of labels each) on
every scrape. This one finds the bucket with ``bisect`` and counts under one
lock per series; a scrape copies each series under that lock, so buckets,
count and sum always agree. Its samples are exactly the ones
prometheus-client's ``Histogram`` would have (same names, labels, order and
values), so every consumer of the registry sees no difference; the
exposition (``actuator.metrics.exposition``) renders it from per-series
lines formatted once, with only the values formatted per scrape.

Multiprocess mode keeps prometheus-client's ``Histogram``: its values live in
the files the workers share.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import prometheus_client.metrics
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import INF, floatToGoString

_go_float: Callable[[float], str] = floatToGoString  # untyped in prometheus-client


def created_enabled() -> bool:
    """Whether ``_created`` series are exported, as prometheus-client decides
    (``PROMETHEUS_DISABLE_CREATED_SERIES``, ``disable_created_metrics()``)."""
    return bool(getattr(prometheus_client.metrics, "_use_created", True))


class HistogramSeries:
    """One label set of a ``LabelledHistogram``: counts per bucket and the sum."""

    __slots__ = ("_bounds", "_counts", "_lock", "_sum", "created", "labels", "lines")

    def __init__(self, bounds: tuple[float, ...], labels: tuple[str, ...]) -> None:
        self._bounds = bounds
        self._counts = [0] * len(bounds)
        self._sum = 0.0
        self._lock = threading.Lock()
        self.labels = labels
        self.created = time.time()
        # Set by the exposition on the first scrape: this series' sample lines
        # without their values, per format.
        self.lines: dict[str, tuple[str, ...]] = {}

    def observe(self, amount: float) -> None:
        """Count ``amount`` in the first bucket whose bound is at least ``amount``."""
        index = bisect_left(self._bounds, amount)
        with self._lock:
            self._counts[index] += 1
            self._sum += amount

    def snapshot(self) -> tuple[list[int], float]:
        """Counts per bucket (not cumulative) and the sum, taken together."""
        with self._lock:
            return self._counts[:], self._sum


class LabelledHistogram(Collector):
    """A histogram with label names, registered in ``registry`` like prometheus-client's.

    ::

        duration = LabelledHistogram("http_server_requests", "Requests", ("method",),
                                     unit="seconds", buckets=(0.1, 1.0), registry=registry)
        duration.labels("GET").observe(0.03)
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        unit: str = "",
        buckets: Iterable[float],
        registry: CollectorRegistry | None = None,
    ) -> None:
        bounds = [float(bound) for bound in buckets]
        if bounds != sorted(bounds):
            raise ValueError("Buckets not in sorted order")
        if not bounds or bounds[-1] != INF:
            bounds.append(INF)
        if len(bounds) < 2:
            raise ValueError("Must have at least two buckets")
        # The checks prometheus-client makes on names, by building the family once.
        self.name = Metric(name, documentation, "histogram", unit).name
        self.documentation = documentation
        self.unit = unit
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(bounds)
        self.le = tuple(_go_float(bound) for bound in bounds)
        self._series: dict[tuple[str, ...], HistogramSeries] = {}
        self._lock = threading.Lock()
        # The exposition's comment lines per format, written on the first scrape.
        self.formatted: dict[str, tuple[str, str]] = {}
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str) -> HistogramSeries:
        """The series of one label set, created on first use."""
        series = self._series.get(values)
        if series is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"Expected {len(self.labelnames)} label values, got {len(values)}")
            with self._lock:
                series = self._series.setdefault(
                    values, HistogramSeries(self.bounds, tuple(str(v) for v in values))
                )
        return series

    def series(self) -> list[HistogramSeries]:
        """Every series, in the order they were created."""
        with self._lock:
            return list(self._series.values())

    def describe(self) -> Iterable[Metric]:
        return [Metric(self.name, self.documentation, "histogram", self.unit)]

    def collect(self) -> Iterable[Metric]:
        return [HistogramFamily(self, created_enabled())]


class HistogramFamily(Metric):
    """The histogram at one scrape. ``samples`` are built only when someone reads them
    (``/actuator/metrics``, a restricted registry); the exposition reads ``snapshots``."""

    def __init__(
        self, histogram: LabelledHistogram, created: bool, only: HistogramSeries | None = None
    ) -> None:
        super().__init__(histogram.name, histogram.documentation, "histogram", histogram.unit)
        self.histogram = histogram
        self.created = created
        chosen = histogram.series() if only is None else [only]
        self.snapshots = [(series, *series.snapshot()) for series in chosen]
        self._samples: list[Sample] | None = None

    @property
    def samples(self) -> list[Sample]:
        if self._samples is None:
            self._samples = list(self._build_samples())
        return self._samples

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        # Metric.__init__ sets an empty list: the samples come from the snapshots.
        self._samples = value or None

    def _build_samples(self) -> Iterator[Sample]:
        histogram = self.histogram
        name, labelnames, le = histogram.name, histogram.labelnames, histogram.le
        bounded = histogram.bounds[0] >= 0
        for series, counts, total in self.snapshots:
            labels: dict[str, Any] = dict(zip(labelnames, series.labels, strict=True))
            cumulative = 0.0
            for bound_text, count in zip(le, counts, strict=True):
                cumulative += count
                yield Sample(name + "_bucket", {**labels, "le": bound_text}, cumulative)
            yield Sample(name + "_count", dict(labels), cumulative)
            if bounded:
                yield Sample(name + "_sum", dict(labels), total)
            if self.created:
                yield Sample(name + "_created", dict(labels), series.created)
