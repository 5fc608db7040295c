"""The fast exposition writes exactly what prometheus-client writes for the same samples."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector

from actuator.metrics.exposition import Format, encode, fast_format
from actuator.metrics.histogram import LabelledHistogram

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 2.5, 10.0)
LABELS = ("method", "uri", "status")
ENCODERS: dict[Format, Callable[[Collector], bytes]] = {
    "text": generate_latest,
    "openmetrics": openmetrics.generate_latest,
}
# Label values that need escaping in one format or the other, and non-ASCII ones.
AWKWARD = ["/plain", '/quote"d', "/back\\slash", "/new\nline", "/ünïcode/€", "/sp ace", ""]
# Observations that give special sums and values at bucket bounds.
AMOUNTS = [0.0, 0.005, 0.0050001, 0.3, 1.0, 10.0, 11.0, 1e-9, 123456.789]


@pytest.fixture(params=["text", "openmetrics"])
def fmt(request: pytest.FixtureRequest) -> Format:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both histograms stamp their series' _created with time.time().
    monkeypatch.setattr(time, "time", lambda: 1764500000.123456)


def feed(observe: Callable[[tuple[str, ...], float], None]) -> None:
    for i, uri in enumerate(AWKWARD):
        for j, amount in enumerate(AMOUNTS[: i + 3]):
            observe(("GET" if j % 2 else "POST", uri, str(200 + i)), amount)


def test_histogram_renders_byte_for_byte_as_prometheus_client_histogram(
    fmt: Format, frozen_time: None
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    mine = LabelledHistogram(
        "http_server_requests",
        "Duration \\ of\nrequests",
        LABELS,
        unit="seconds",
        buckets=BUCKETS,
        registry=ours,
    )
    reference = Histogram(
        "http_server_requests",
        "Duration \\ of\nrequests",
        LABELS,
        unit="seconds",
        buckets=BUCKETS,
        registry=theirs,
    )
    feed(lambda labels, amount: mine.labels(*labels).observe(amount))
    feed(lambda labels, amount: reference.labels(*labels).observe(amount))

    assert encode(ours, fmt) == ENCODERS[fmt](theirs)
    assert ENCODERS[fmt](ours) == ENCODERS[fmt](theirs)  # the samples themselves agree


def test_mixed_registry_renders_as_prometheus_client_does(fmt: Format) -> None:
    registry = CollectorRegistry()
    histogram = LabelledHistogram(
        "requests", "Requests", ("uri",), unit="seconds", buckets=BUCKETS, registry=registry
    )
    Counter("orders", "Orders placed", ["kind"], registry=registry).labels('a"b').inc(3)
    Gauge("temperature", "Heat", registry=registry).set(-math.inf)
    Info("build", "Build", registry=registry).info({"version": "1.2\n3"})
    Histogram("payload", "Sizes", registry=registry).observe(512)
    for uri in AWKWARD:
        histogram.labels(uri).observe(0.02)
    Gauge("late", "Registered after the histogram", registry=registry).set(math.nan)

    assert encode(registry, fmt) == ENCODERS[fmt](registry)


def test_special_sums_and_large_counts_render_as_prometheus_client_does(fmt: Format) -> None:
    registry = CollectorRegistry()
    histogram = LabelledHistogram(
        "requests", "Requests", ("uri",), buckets=BUCKETS, registry=registry
    )
    histogram.labels("/inf").observe(math.inf)
    histogram.labels("/nan").observe(0.1)
    histogram.labels("/nan").observe(math.nan)
    many = histogram.labels("/many")
    for _ in range(1_000_001):
        many.observe(0.001)

    body = encode(registry, fmt)

    assert body == ENCODERS[fmt](registry)
    assert b'requests_count{uri="/many"} 1.000001e+06' in body


def test_empty_histogram_renders_as_prometheus_client_does(fmt: Format) -> None:
    registry = CollectorRegistry()
    LabelledHistogram("requests", "Requests", ("uri",), buckets=BUCKETS, registry=registry)

    assert encode(registry, fmt) == ENCODERS[fmt](registry)


def test_created_series_follow_prometheus_clients_switch(
    fmt: Format, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prometheus_client.metrics

    monkeypatch.setattr(prometheus_client.metrics, "_use_created", False)
    registry = CollectorRegistry()
    LabelledHistogram("requests", "Requests", ("uri",), buckets=BUCKETS, registry=registry).labels(
        "/a"
    ).observe(0.2)

    body = encode(registry, fmt)

    assert b"_created" not in body
    assert body == ENCODERS[fmt](registry)


def test_a_series_renders_the_same_on_every_scrape(fmt: Format) -> None:
    registry = CollectorRegistry()
    histogram = LabelledHistogram(
        "requests", "Requests", ("uri",), buckets=BUCKETS, registry=registry
    )
    histogram.labels("/a").observe(0.2)
    encode(registry, fmt)  # the first scrape writes the lines it keeps
    histogram.labels("/a").observe(3.0)
    histogram.labels("/b").observe(0.001)

    assert encode(registry, fmt) == ENCODERS[fmt](registry)


def test_observations_land_in_the_first_bucket_whose_bound_holds_them() -> None:
    histogram = LabelledHistogram("requests", "Requests", ("uri",), buckets=(0.1, 1.0))
    series = histogram.labels("/a")
    for amount in (0.05, 0.1, 0.1000001, 1.0, 7.0):
        series.observe(amount)

    counts, total = series.snapshot()

    assert counts == [2, 2, 1]
    assert total == pytest.approx(8.2500001)


@pytest.mark.parametrize(
    ("buckets", "message"),
    [
        ((1.0, 0.5), "Buckets not in sorted order"),
        ((math.inf,), "Must have at least two buckets"),
    ],
)
def test_invalid_buckets_are_refused_as_prometheus_client_refuses_them(
    buckets: tuple[float, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LabelledHistogram("requests", "Requests", ("uri",), buckets=buckets)


def test_wrong_number_of_label_values_is_refused() -> None:
    histogram = LabelledHistogram("requests", "Requests", ("method", "uri"), buckets=BUCKETS)

    with pytest.raises(ValueError, match="Expected 2 label values, got 1"):
        histogram.labels("GET")


def test_registering_a_clashing_name_is_refused() -> None:
    registry = CollectorRegistry()
    Counter("requests_count", "Clash", registry=registry)

    with pytest.raises(ValueError, match="Duplicated timeseries"):
        LabelledHistogram("requests", "Requests", ("uri",), buckets=BUCKETS, registry=registry)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", "text"),
        ("text/plain", "text"),
        ("application/openmetrics-text; version=1.0.0", "openmetrics"),
        ("application/openmetrics-text", "openmetrics"),
        ("application/openmetrics-text; version=1.0.0; escaping=allow-utf-8", None),
        ("text/plain; version=1.0.0; escaping=dots", None),
    ],
)
def test_fast_path_takes_only_the_formats_it_writes_exactly(
    accept: str, expected: Format | None
) -> None:
    encoder, _ = choose_encoder(accept)

    assert fast_format(encoder) == expected


def test_unknown_encoders_are_left_to_themselves() -> None:
    assert fast_format(partial(generate_latest, registry=CollectorRegistry())) is None
    assert fast_format(lambda source: b"") is None
