"""The exposition of a registry, byte for byte what prometheus-client writes, but fast
for the histograms the actuator owns.

Most of a scrape's time goes into the HTTP request histogram: 18 sample lines
per series (15 buckets, count, sum, created), each rebuilt from a dict of
labels and formatted by prometheus-client on every scrape. A
``LabelledHistogram`` series keeps its lines without their values, written
once by prometheus-client's own encoder (so sorting and escaping are its
own); a scrape then only formats the values. Every other family goes through
prometheus-client's encoder as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Literal

from prometheus_client import exposition
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from actuator.metrics.histogram import HistogramFamily, HistogramSeries, LabelledHistogram

Format = Literal["text", "openmetrics"]
_EOF = "# EOF\n"
# Typed names for what prometheus-client leaves untyped.
_go_float: Callable[[float], str] = floatToGoString
_openmetrics: Callable[[Collector], bytes] = openmetrics.generate_latest


def fast_format(encoder: Callable[[Collector], bytes]) -> Format | None:
    """The format ``encoder`` (as ``choose_encoder`` picks it) writes, when ``encode`` can
    write the same; ``None`` for escapings or versions it leaves to prometheus-client."""
    if encoder is exposition.generate_latest:
        return "text"
    if not isinstance(encoder, partial) or encoder.args:
        return None
    options = dict(encoder.keywords)
    if options.pop("escaping", openmetrics.UNDERSCORES) != openmetrics.UNDERSCORES:
        return None
    if encoder.func is exposition.generate_latest and not options:
        return "text"
    version = options.pop("version", "1.0.0")
    if (
        encoder.func is openmetrics.generate_latest
        and not options
        and isinstance(version, str)
        and version.startswith("1.")
    ):
        return "openmetrics"
    return None


def encode(source: Collector, fmt: Format) -> bytes:
    """What prometheus-client's encoder for ``fmt`` writes for ``source``, faster."""
    chunks: list[bytes] = []
    for metric in source.collect():
        if isinstance(metric, HistogramFamily):
            chunks.append(_family(metric, fmt).encode("utf-8"))
        elif fmt == "text":
            chunks.append(exposition.generate_latest(_Only(metric)))
        else:
            chunks.append(_openmetrics(_Only(metric))[: -len(_EOF)])
    if fmt == "openmetrics":
        chunks.append(_EOF.encode("ascii"))
    return b"".join(chunks)


class _Only:
    """One metric, as a collector."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> Iterable[Metric]:
        return [self.metric]


def _slow(metrics: Iterable[Metric], fmt: Format) -> list[str]:
    """prometheus-client's lines for ``metrics`` (without OpenMetrics' ``# EOF``)."""

    class Source:
        def collect(self) -> Iterable[Metric]:
            return metrics

    if fmt == "text":
        return exposition.generate_latest(Source()).decode("utf-8").splitlines(keepends=True)
    return _openmetrics(Source()).decode("utf-8").splitlines(keepends=True)[:-1]


def _family(family: HistogramFamily, fmt: Format) -> str:
    histogram = family.histogram
    head, created_head = _heads(histogram, fmt)
    out: list[str] = [head]
    created: list[str] = []
    inline_created = fmt == "openmetrics" and family.created
    with_sum = histogram.bounds[0] >= 0
    for series, counts, total in family.snapshots:
        lines = series.lines.get(fmt)
        if lines is None:
            lines = series.lines[fmt] = _series_lines(histogram, series, fmt)
        cumulative = 0
        for prefix, count in zip(lines, counts, strict=False):
            cumulative += count
            # repr(float(n)) for the counts prometheus-client keeps as floats;
            # from 1e6 on Go's notation, which floatToGoString writes.
            out.append(
                f"{prefix}{cumulative}.0\n"
                if cumulative < 1_000_000
                else f"{prefix}{_go_float(cumulative)}\n"
            )
        position = len(counts)
        count_line = lines[position]
        out.append(
            f"{count_line}{cumulative}.0\n"
            if cumulative < 1_000_000
            else f"{count_line}{_go_float(cumulative)}\n"
        )
        if with_sum:
            position += 1
            out.append(f"{lines[position]}{_go_float(total)}\n")
        if inline_created:
            out.append(lines[position + 1])
        elif family.created:
            created.append(lines[position + 1])
    if created:
        out.append(created_head)
        out += created
    return "".join(out)


def _heads(histogram: LabelledHistogram, fmt: Format) -> tuple[str, str]:
    """The family's comment lines, and in the text format those of its ``_created`` gauge."""
    heads = histogram.formatted.get(fmt)
    if heads is None:
        template = HistogramSeries(histogram.bounds, ("x",) * len(histogram.labelnames))
        lines = _slow([_one_series(histogram, template)], fmt)
        samples = [i for i, line in enumerate(lines) if not line.startswith("#")]
        head = "".join(lines[: samples[0]])
        created_head = "".join(line for line in lines[samples[0] :] if line.startswith("#"))
        heads = histogram.formatted[fmt] = (head, created_head)
    return heads


def _series_lines(
    histogram: LabelledHistogram, series: HistogramSeries, fmt: Format
) -> tuple[str, ...]:
    """The series' sample lines up to and including the space before the value; the
    ``_created`` line (its value never changes) whole."""
    lines = [
        line for line in _slow([_one_series(histogram, series)], fmt) if not line.startswith("#")
    ]
    return (*(line[: line.rindex(" ") + 1] for line in lines[:-1]), lines[-1])


def _one_series(histogram: LabelledHistogram, series: HistogramSeries) -> Metric:
    return HistogramFamily(histogram, created=True, only=series)
