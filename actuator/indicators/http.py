"""The HTTP dependency indicator: is a service we call answering?"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Container, Mapping

import httpx

from actuator.health import Health

_DEFAULT_OK = range(200, 400)


def _redact(url: str) -> str:
    """The URL without credentials, safe to show in health details."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, f"******@{host}", parts.path, parts.query,
                                    parts.fragment))


class HttpIndicator:
    """UP when ``url`` answers with an expected status within ``timeout`` seconds.

    Uses one pooled ``httpx.AsyncClient`` (opened on first use, closed when the
    app stops) unless you pass your own. Details: ``url`` (credentials
    masked), ``method``, ``status`` (the HTTP status received) and
    ``elapsedSeconds``; DOWN with ``error`` on connection errors, timeouts and
    unexpected statuses::

        actuator.add_indicator(
            "payments", HttpIndicator("http://payments:8080/actuator/health", timeout=0.3),
            groups=["readiness"],
        )

    Parameters:
        url: the URL to request.
        method: HTTP method. Default ``"GET"``.
        timeout: seconds for the whole request; keep it under the indicator's
            own timeout (default ``health.timeout``, 0.5 s). Default 0.4.
        expected: statuses that mean UP: a container of ints or a predicate.
            Default 200-399.
        headers: extra request headers (e.g. an Authorization header).
        client: an ``httpx.AsyncClient`` to use instead of the indicator's own.
    """

    def __init__(
        self,
        url: str,
        *,
        method: str = "GET",
        timeout: float = 0.4,
        expected: Container[int] | Callable[[int], bool] = _DEFAULT_OK,
        headers: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"url must be an absolute http(s) URL, got {url!r}")
        if isinstance(timeout, bool) or not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        self.url = url
        self.method = method.upper()
        self.timeout = timeout
        self.expected = expected
        self.headers = dict(headers or {})
        self._client = client
        self._owns_client = client is None

    def _is_expected(self, status: int) -> bool:
        if callable(self.expected):
            return bool(self.expected(status))
        return status in self.expected

    async def health(self) -> Health:
        client = self._client
        if client is None:
            client = self._client = httpx.AsyncClient(follow_redirects=False)
        details: dict[str, object] = {"url": _redact(self.url), "method": self.method}
        started = time.perf_counter()
        try:
            response = await client.request(self.method, self.url, headers=self.headers,
                                            timeout=self.timeout)
        except httpx.TimeoutException as exc:
            details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
            return Health.down(f"{type(exc).__name__}: no answer within {self.timeout:g}s",
                               **details)
        except httpx.HTTPError as exc:
            details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
            return Health.down(exc, **details)
        details["status"] = response.status_code
        details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
        if not self._is_expected(response.status_code):
            return Health.down(f"unexpected HTTP status {response.status_code}", **details)
        return Health.up(**details)

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()
