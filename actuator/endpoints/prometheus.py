"""``/actuator/prometheus``: the registry in the Prometheus text format or OpenMetrics."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, ClassVar

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from actuator.endpoints.base import Endpoint, EndpointError, EndpointResponse, OperationRequest
from actuator.metrics.exposition import encode, fast_format

if TYPE_CHECKING:
    import concurrent.futures

    from actuator.metrics.registry import ActuatorMetrics

TEXT = "text/plain"
OPENMETRICS = "application/openmetrics-text"
# The sample names a family name stands for, so ``name[]=http_server_requests_seconds``
# selects the whole histogram, as ``name[]=..._count`` selects one of its series.
_RenderKey = tuple[str, bool, "tuple[str, ...] | None"]
_SUFFIXES = ("", "_total", "_created", "_bucket", "_count", "_sum", "_info", "_gcount", "_gsum")


class PrometheusEndpoint(Endpoint):
    """``GET /prometheus``: every metric of the actuator's registry, for Prometheus to scrape.

    The Accept header picks the format, through prometheus-client's own
    ``choose_encoder``: OpenMetrics 1.0 (``application/openmetrics-text;
    version=1.0.0``, ending with ``# EOF``) when asked for, else the text format
    0.0.4 (``text/plain; version=0.0.4``). Compressed with gzip when the client
    accepts it. ``?name[]=a&name[]=b`` keeps only those metrics (family or
    sample names). Health gauges are refreshed before the answer is built.
    """

    name: ClassVar[str] = "prometheus"
    max_path: ClassVar[int | None] = 0
    query_params: ClassVar[frozenset[str]] = frozenset({"name[]"})
    produces: ClassVar[tuple[str, ...]] = (TEXT, OPENMETRICS)

    def __init__(
        self,
        metrics: ActuatorMetrics,
        executor: Callable[[], concurrent.futures.Executor],
    ) -> None:
        self.metrics = metrics
        self.executor = executor
        self._rendering: dict[_RenderKey, asyncio.Future[bytes]] = {}

    def _forget(self, key: _RenderKey, done: asyncio.Future[bytes]) -> None:
        if self._rendering.get(key) is done:
            del self._rendering[key]

    async def read(self, request: OperationRequest) -> EndpointResponse:
        metrics = self.metrics
        await metrics.refresh_health()
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        encoding = choose_content_encoding(request.headers.get("accept-encoding"))
        if encoding is None:
            raise EndpointError(
                "No acceptable content coding: Accept-Encoding refuses both gzip and identity",
                status=406,
            )
        compress = encoding == "gzip"
        names = request.query.get("name[]")
        loop = asyncio.get_running_loop()
        key = (content_type, compress, None if names is None else tuple(names))
        rendering = self._rendering.get(key)
        if rendering is None or rendering.get_loop() is not loop:
            # Rendering thousands of series takes milliseconds: keep it off the
            # event loop. Scrapes that arrive meanwhile (Prometheus replicas, a
            # dashboard) share this render instead of starting one each.
            rendering = self._rendering[key] = loop.run_in_executor(
                self.executor(), render, metrics.scrape_registry, encoder, names, compress
            )
            rendering.add_done_callback(lambda done: self._forget(key, done))
        body = await asyncio.shield(rendering)
        headers = {"Vary": "Accept, Accept-Encoding"}
        if compress:
            headers["Content-Encoding"] = "gzip"
        return EndpointResponse(body=body, media_type=content_type, headers=headers)


def choose_content_encoding(accept_encoding: str | None) -> str | None:
    """``"gzip"``, ``"identity"`` or ``None`` (nothing acceptable) for an Accept-Encoding header.

    q-values count (RFC 9110, 12.5.3), which prometheus-client's ``gzip_accepted``
    ignores: ``gzip;q=0`` refuses gzip, ``identity;q=0`` refuses an uncompressed
    answer, ``*`` stands for codings not named. gzip wins a tie, as Prometheus
    (``Accept-Encoding: gzip``) expects; no header means identity.
    """
    if accept_encoding is None or not accept_encoding.strip():
        return "identity"
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        coding = {"x-gzip": "gzip"}.get(coding.lower(), coding.lower())
        if not coding:
            continue
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
                if not 0.0 <= weight <= 1.0:  # NaN too
                    weight = 0.0
        weights[coding] = weight
    anything = weights.get("*")
    gzip_weight = weights.get("gzip", anything if anything is not None else 0.0)
    identity_weight = weights.get("identity", anything if anything is not None else 1.0)
    if gzip_weight > 0 and gzip_weight >= identity_weight:
        return "gzip"
    if identity_weight > 0:
        return "identity"
    return None


def render(
    registry: CollectorRegistry,
    encoder: Callable[[Collector], bytes],
    names: Iterable[str] | None = None,
    compress: bool = False,
) -> bytes:
    """The exposition of ``registry`` (restricted to ``names``), gzipped if asked."""
    source: Collector = registry
    if names is not None:
        source = registry.restricted_registry(
            {name + suffix for name in names for suffix in _SUFFIXES}
        )
    fmt = fast_format(encoder)
    body = encoder(source) if fmt is None else encode(source, fmt)
    return gzip.compress(body, compresslevel=6, mtime=0) if compress else body
