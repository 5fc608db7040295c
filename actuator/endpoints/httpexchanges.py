"""The httpexchanges endpoint: the app's most recent requests, from a bounded ring buffer.

Recording happens only while the endpoint is exposed: the middleware then
wraps the app in ``HttpExchangeRecorder``, which keeps a few references per
request (no copies, no formatting) in a ``deque`` with a fixed length; the
answer is built when someone asks. Requests the actuator answers itself are
not recorded, as they never reach the app.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar, NamedTuple

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actuator.endpoints._iso import duration, instant
from actuator.endpoints.base import Endpoint, OperationRequest
from actuator.sanitizer import MASK

Masker = Callable[[str, str, Any], Any]
"""``masker(source, key, value) -> value to show``: the env masking, applied to headers."""

ALWAYS_MASKED = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
"""Headers whose values never leave the process, whatever the masker says."""

RawHeaders = Sequence[tuple[bytes, bytes]]


class Exchange(NamedTuple):
    """One request as recorded: raw references, formatted only when read (a tuple: cheap)."""

    started: float
    """``time.perf_counter()`` when the request came in."""
    elapsed: float
    method: str
    scheme: str
    server: Any
    path: str
    query: bytes
    headers: RawHeaders
    client: Any
    status: int
    response_headers: RawHeaders
    user: Any


class HttpExchanges:
    """The ring buffer of recent exchanges, and how they are shown.

    Parameters:
        capacity: how many exchanges are kept (the oldest are dropped).
        include: what each shows beyond timestamp, method, uri and status
            (``time_taken``, ``principal``, ``remote_address``,
            ``request_headers``, ``response_headers``).
        masker: ``(source, key, value) -> value``, the env masking.
    """

    def __init__(self, capacity: int, include: Iterable[str], masker: Masker) -> None:
        self._exchanges: collections.deque[Exchange] = collections.deque(maxlen=capacity)
        # Exchanges record perf_counter() (one clock read per request fewer); this turns it
        # into wall-clock time when they are shown.
        self._wall_offset = time.time() - time.perf_counter()
        self.include = frozenset(include)
        self.masker = masker

    def add(self, exchange: Exchange) -> None:
        self._exchanges.append(exchange)  # atomic: safe from any thread

    def __len__(self) -> int:
        return len(self._exchanges)

    def describe(self) -> list[dict[str, Any]]:
        """The exchanges, newest first, in Spring Boot's shape."""
        return [self._describe(exchange) for exchange in reversed(list(self._exchanges))]

    def _describe(self, exchange: Exchange) -> dict[str, Any]:
        include = self.include
        request: dict[str, Any] = {"uri": self._uri(exchange), "method": exchange.method}
        if "remote_address" in include and exchange.client:
            request["remoteAddress"] = str(exchange.client[0])
        if "request_headers" in include:
            request["headers"] = self._headers("request", exchange.headers)
        response: dict[str, Any] = {"status": exchange.status}
        if "response_headers" in include:
            response["headers"] = self._headers("response", exchange.response_headers)
        described: dict[str, Any] = {
            "timestamp": instant(exchange.started + self._wall_offset),
            "request": request,
            "response": response,
        }
        if "principal" in include:
            name = _principal(exchange.user)
            if name is not None:
                described["principal"] = {"name": name}
        if "time_taken" in include:
            described["timeTaken"] = duration(exchange.elapsed)
        return described

    def _uri(self, exchange: Exchange) -> str:
        host = ""
        for key, value in exchange.headers:
            if key == b"host":
                host = value.decode("latin-1")
                break
        if not host and exchange.server:
            host = f"{exchange.server[0]}:{exchange.server[1]}"
        uri = f"{exchange.scheme}://{host}{exchange.path}"
        if exchange.query:
            uri += "?" + self._query(exchange.query.decode("latin-1"))
        return uri

    def _query(self, query: str) -> str:
        """The query string, with the values of secret-looking parameters masked."""
        parts = []
        for pair in query.split("&"):
            key, sep, value = pair.partition("=")
            if sep:
                shown = self.masker("httpexchanges", key, value)
                value = value if shown == value else MASK
            parts.append(f"{key}{sep}{value}")
        return "&".join(parts)

    def _headers(self, source: str, raw: RawHeaders) -> dict[str, list[str]]:
        headers: dict[str, list[str]] = {}
        for key, value in raw:
            name = key.decode("latin-1").lower()
            text = value.decode("latin-1")
            shown = MASK if name in ALWAYS_MASKED else self.masker(f"{source}Headers", name, text)
            headers.setdefault(name, []).append(str(shown))
        return headers


def _principal(user: Any) -> str | None:
    """The name of an authenticated Starlette ``scope["user"]``, if the app set one."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    name = getattr(user, "display_name", None) or getattr(user, "identity", None)
    return str(name) if name else None


_new_exchange = tuple.__new__


class HttpExchangeRecorder:
    """Pure ASGI wrapper that records each HTTP request of ``app`` into ``exchanges``."""

    def __init__(self, app: ASGIApp, exchanges: HttpExchanges) -> None:
        self.app = app
        self.exchanges = exchanges

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response: list[Any] = [500, ()]  # what an app that fails before answering gives

        # A plain function returning send's awaitable: no extra coroutine per message.
        def recording_send(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                response[0] = message["status"]
                response[1] = message.get("headers", ())
            return send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            # tuple.__new__ skips NamedTuple's Python-level __new__ (about 1 µs).
            self.exchanges.add(
                _new_exchange(
                    Exchange,
                    (
                        started,
                        time.perf_counter() - started,
                        scope["method"],
                        scope.get("scheme", "http"),
                        scope.get("server"),
                        scope["path"],
                        scope.get("query_string", b""),
                        scope.get("headers", ()),
                        scope.get("client"),
                        response[0],
                        response[1],
                        scope.get("user"),
                    ),
                )
            )


class HttpExchangesEndpoint(Endpoint):
    """``GET /httpexchanges``: the most recent requests of the app, newest first.

    ::

        {"exchanges": [{"timestamp": "2025-05-01T09:30:11.374512Z",
                        "request": {"uri": "http://shop.example.com/orders?page=2",
                                    "method": "GET"},
                        "response": {"status": 200},
                        "timeTaken": "PT0.0042S"}]}
    """

    name: ClassVar[str] = "httpexchanges"
    max_path: ClassVar[int | None] = 0

    def __init__(self, exchanges: HttpExchanges) -> None:
        self.exchanges = exchanges

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        return {"exchanges": self.exchanges.describe()}
