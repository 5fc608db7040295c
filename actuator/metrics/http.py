"""HTTP server request metrics, recorded by the actuator middleware on the pass-through path.

Default names follow Micrometer's ``http.server.requests`` as Spring Boot
exposes it to Prometheus, so existing Spring Boot dashboards work unchanged::

    http_server_requests_seconds_count{method="GET",uri="/items/{item_id}",status="200",
                                       outcome="SUCCESS",exception="none"} 42
    http_server_requests_active{method="GET"} 3

``metrics.naming = "otel"`` switches to the OpenTelemetry semantic conventions::

    http_server_request_duration_seconds_count{http_request_method="GET",
        http_route="/items/{item_id}",http_response_status_code="200",error_type=""} 42
    http_server_active_requests{http_request_method="GET"} 3
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Gauge, Histogram, values
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actuator.metrics.histogram import HistogramSeries, LabelledHistogram
from actuator.metrics.routes import RouteTemplates, relative_path

if TYPE_CHECKING:
    from actuator.settings import MetricsSettings

logger = logging.getLogger("actuator.metrics")

Handler = Callable[[Scope, Receive, Send, str], Awaitable[None]]
Series = HistogramSeries | Histogram

OVERFLOW = "OVERFLOW"
DISCONNECTED = "CLIENT_DISCONNECTED"
_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "QUERY")
)
_OUTCOMES = {
    1: "INFORMATIONAL",
    2: "SUCCESS",
    3: "REDIRECTION",
    4: "CLIENT_ERROR",
    5: "SERVER_ERROR",
}


@dataclass(frozen=True)
class Naming:
    """Metric and label names of one convention, and how its label values read."""

    duration: str
    duration_help: str
    labels: tuple[str, ...]
    active: str
    active_help: str
    active_labels: tuple[str, ...]
    other_method: str

    def values(
        self, method: str, uri: str, status: int | None, outcome: str, error: BaseException | None
    ) -> tuple[str, ...]:
        status_text = "UNKNOWN" if status is None else str(status)
        if self is OTEL:
            if outcome == DISCONNECTED:
                error_type = "client_disconnected"
            elif error is not None:
                error_type = _qualified_name(error)
            else:
                error_type = status_text if outcome == "SERVER_ERROR" else ""
            return (method, uri, "" if status is None else status_text, error_type)
        exception = "none" if error is None else type(error).__name__
        return (method, uri, status_text, outcome, exception)


MICROMETER = Naming(
    duration="http_server_requests",
    duration_help="Duration of HTTP server requests, until the last body byte is sent",
    labels=("method", "uri", "status", "outcome", "exception"),
    active="http_server_requests_active",
    active_help="HTTP server requests in progress",
    active_labels=("method",),
    other_method="UNKNOWN",
)
OTEL = Naming(
    duration="http_server_request_duration",
    duration_help="Duration of HTTP server requests, until the last body byte is sent",
    labels=("http_request_method", "http_route", "http_response_status_code", "error_type"),
    active="http_server_active_requests",
    active_help="HTTP server requests in progress",
    active_labels=("http_request_method",),
    other_method="_OTHER",
)
NAMINGS: Mapping[str, Naming] = {"micrometer": MICROMETER, "otel": OTEL}


def outcome(status: int | None) -> str:
    """Micrometer's outcome of a status code: ``SUCCESS``, ``CLIENT_ERROR``..."""
    return "UNKNOWN" if status is None else _OUTCOMES.get(status // 100, "UNKNOWN")


def _qualified_name(error: BaseException) -> str:
    cls = type(error)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


class _Exchange:
    """One request in flight: what was sent, and when the last body chunk went out."""

    __slots__ = ("_receive", "_send", "disconnected", "end", "in_flight", "method", "status")

    def __init__(self, receive: Receive, send: Send, method: str, in_flight: InFlight) -> None:
        self._receive = receive
        self._send = send
        self.method = method
        self.in_flight = in_flight
        self.status: int | None = None
        self.end: float | None = None
        self.disconnected = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect" and self.end is None:
            self.disconnected = True
        return message

    def send(self, message: Message) -> Awaitable[None]:
        # A plain function handing back the server's own awaitable: no coroutine
        # of ours per message. A send that fails (a client gone, ASGI 2.4's
        # OSError) raises through the app into HttpServerMetrics.__call__.
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
        elif not message.get("more_body", False) and self.end is None:
            # The last body chunk (or a pathsend/trailers message): the client has
            # its answer. Background tasks that run after this are not timed.
            self.end = perf_counter()
            self.in_flight.discard(self)
        return self._send(message)


class InFlight(Protocol):
    def add(self, exchange: _Exchange, /) -> None: ...
    def discard(self, exchange: _Exchange, /) -> None: ...


class _GaugeInFlight:
    """Requests in progress for multiprocess mode: a ``livesum`` gauge that adds up
    across workers, moved on every request."""

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._children: dict[str, Gauge] = {}

    def child(self, method: str) -> Gauge:
        child = self._children.get(method)
        if child is None:
            child = self._children[method] = self._gauge.labels(method)
        return child

    def add(self, exchange: _Exchange) -> None:
        self.child(exchange.method).inc()

    def discard(self, exchange: _Exchange) -> None:
        self.child(exchange.method).dec()


class HttpServerMetrics:
    """Times HTTP requests that pass through the middleware and counts those in flight.

    Created by ``ActuatorMetrics`` from the ``metrics`` settings; the middleware
    calls it for every request it does not answer itself.

    Parameters:
        registry: where the histogram and the gauge are registered.
        settings: ``naming``, ``buckets``, ``max_uri_tags``, ``exclude``,
            ``include_actuator`` (see ``MetricsSettings``).
        base_path: the actuator's base path, for the ``uri`` of its own requests.
    """

    def __init__(
        self, registry: CollectorRegistry, settings: MetricsSettings, base_path: str
    ) -> None:
        naming = self.naming = NAMINGS[settings.naming]
        try:
            # One process: the actuator's own histogram, cheaper to observe and to
            # scrape. Several: prometheus-client's, whose values the workers share.
            self._duration: LabelledHistogram | Histogram = (
                LabelledHistogram(
                    naming.duration,
                    naming.duration_help,
                    naming.labels,
                    unit="seconds",
                    buckets=settings.buckets,
                    registry=registry,
                )
                if values.ValueClass is values.MutexValue
                else Histogram(
                    naming.duration,
                    naming.duration_help,
                    naming.labels,
                    unit="seconds",
                    buckets=settings.buckets,
                    registry=registry,
                )
            )
            self._active = Gauge(
                naming.active,
                naming.active_help,
                naming.active_labels,
                multiprocess_mode="livesum",
                registry=registry,
            )
        except ValueError as exc:
            raise ValueError(
                f"Cannot register the HTTP server metrics in the given registry "
                f"({exc}); is another Actuator using it?"
            ) from None
        self.max_uri_tags = settings.max_uri_tags
        self.include_actuator = settings.include_actuator
        self.base_path = base_path
        self._exclude = tuple(settings.exclude)
        self._templates = RouteTemplates()
        self._uris: set[str] = set()
        self._capped = False
        self._broken = False
        self._series: dict[tuple[str, ...], Series] = {}
        self._completed: dict[tuple[str, str, int | None], Series] = {}
        self._methods: set[str] = set()
        self._method_labels: dict[str, str] = {}
        # Requests in progress. In one process: the open exchanges themselves,
        # counted per method when the gauge is collected (set.add and
        # set.discard are atomic and far cheaper than a locked gauge update).
        self._open: set[_Exchange] = set()
        self._in_flight: InFlight = self._open
        if values.ValueClass is not values.MutexValue:
            self._in_flight = _GaugeInFlight(self._active)

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, app: ASGIApp, uri: str | None = None
    ) -> None:
        """Run ``app`` for an HTTP request, timing it. ``uri`` overrides route resolution."""
        if self._exclude and self._excluded(scope):
            await app(scope, receive, send)
            return
        method = self._method_labels.get(scope["method"])
        if method is None:
            method = self._label_method(scope["method"])
        exchange = _Exchange(receive, send, method, self._in_flight)
        root_path = scope.get("root_path", "")
        self._in_flight.add(exchange)
        start = perf_counter()
        try:
            await app(scope, exchange.receive, exchange.send)
        except BaseException as exc:
            self._record(scope, root_path, method, exchange, start, exc, uri)
            raise
        if exchange.end is None or exchange.disconnected:
            self._record(scope, root_path, method, exchange, start, None, uri)
            return
        # The common case, kept short: a complete answer and no exception.
        try:
            status = exchange.status
            if uri is None:
                uri = self._templates.template(scope, root_path, status)
            series = self._completed.get((method, uri, status))
            if series is None:
                series = self._completed_series(method, uri, status)
            series.observe(exchange.end - start)
        except Exception:
            self._failed()

    def _completed_series(self, method: str, uri: str, status: int | None) -> Series:
        """The series of complete answers, cached under the ``uri`` admitted (a uri
        refused by ``max_uri_tags`` is looked up again each time, never cached)."""
        if uri not in self._uris:
            uri = self._admit(uri)
        key = (method, uri, status)
        series = self._completed.get(key)
        if series is None:
            series = self._completed[key] = self._series_for(
                method, uri, status, outcome(status), None
            )
        return series

    def _label_method(self, method: str) -> str:
        """The ``method`` label of a request method not cached yet, its in-flight series
        made ready. Only standard methods are cached: a client inventing methods must
        not grow the cache (they all share one label)."""
        label = method if method in _METHODS else self.naming.other_method
        if label not in self._methods:
            self._add_method(label)
        if label == method:
            self._method_labels[method] = label
        return label

    def _add_method(self, method: str) -> None:
        self._methods.add(method)
        if isinstance(self._in_flight, _GaugeInFlight):
            self._in_flight.child(method)
            return
        open_exchanges = self._open

        def in_flight() -> float:
            return sum(1 for exchange in list(open_exchanges) if exchange.method == method)

        self._active.labels(method).set_function(in_flight)

    def instrument_handler(self, handler: Handler) -> Handler:
        """The actuator's own request handler, timed with ``uri`` = ``{base_path}/{endpoint}``."""

        async def timed(scope: Scope, receive: Receive, send: Send, subpath: str) -> None:
            async def serve(scope: Scope, receive: Receive, send: Send) -> None:
                await handler(scope, receive, send, subpath)

            await self(scope, receive, send, serve, self.actuator_uri(subpath))

        return timed

    def actuator_uri(self, subpath: str) -> str:
        segments = subpath.strip("/").split("/")
        if not segments[0]:
            return self.base_path or "/"
        if len(segments) == 1:
            return f"{self.base_path}/{segments[0]}"
        return f"{self.base_path}/{segments[0]}/{{*path}}"

    def _excluded(self, scope: Scope) -> bool:
        path = relative_path(scope)
        for prefix in self._exclude:
            if path.startswith(prefix) and (
                len(path) == len(prefix) or path[len(prefix)] == "/" or prefix.endswith("/")
            ):
                return True
        return False

    def _record(
        self,
        scope: Scope,
        root_path: str,
        method: str,
        exchange: _Exchange,
        start: float,
        error: BaseException | None,
        uri: str | None,
    ) -> None:
        try:
            self._record_outcome(scope, root_path, method, exchange, start, error, uri)
        except Exception:
            self._failed()

    def _failed(self) -> None:
        # Metrics must never break a request, nor hide the app's own exception.
        if not self._broken:
            self._broken = True
            logger.exception("Recording HTTP server metrics failed (logged once)")

    def _record_outcome(
        self,
        scope: Scope,
        root_path: str,
        method: str,
        exchange: _Exchange,
        start: float,
        error: BaseException | None,
        uri: str | None,
    ) -> None:
        end = exchange.end
        if end is None:
            end = perf_counter()
            exchange.in_flight.discard(exchange)
        status = exchange.status
        if exchange.disconnected or _is_disconnect(error):
            result, error = DISCONNECTED, None
        elif error is not None:
            if exchange.end is not None and status is not None and status < 500:
                error = None  # raised after a complete answer: a background task failed
                result = outcome(status)
            else:
                status, result = 500, "SERVER_ERROR"
        elif exchange.end is None:
            if status is None:
                status, result = 500, "SERVER_ERROR"  # the server answers 500 for it
            else:
                result = DISCONNECTED  # a streaming answer cut short by the client
        else:
            result = outcome(status)
        if uri is None:
            uri = self._templates.template(scope, root_path, status)
        if uri not in self._uris:
            uri = self._admit(uri)
        self._series_for(method, uri, status, result, error).observe(end - start)

    def _series_for(
        self, method: str, uri: str, status: int | None, result: str, error: BaseException | None
    ) -> Series:
        labels = self.naming.values(method, uri, status, result, error)
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = self._duration.labels(*labels)
        return series

    def _admit(self, uri: str) -> str:
        if not uri.startswith("/"):  # NOT_FOUND, REDIRECTION, UNKNOWN, OVERFLOW
            return uri
        if len(self._uris) >= self.max_uri_tags:
            if not self._capped:
                self._capped = True
                logger.warning(
                    "More than %d distinct uri values in HTTP metrics: new ones are recorded "
                    "as uri=%r from now on (metrics.max_uri_tags; first refused: %r)",
                    self.max_uri_tags,
                    OVERFLOW,
                    uri,
                )
            return OVERFLOW
        self._uris.add(uri)
        return uri


def _is_disconnect(error: BaseException | None) -> bool:
    return isinstance(error, (ClientDisconnect, OSError, asyncio.CancelledError))
