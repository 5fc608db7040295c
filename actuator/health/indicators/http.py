"""The HTTP dependency indicator: is a service we call answering?"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
from collections.abc import Callable, Container, Mapping
from functools import partial
from http import HTTPStatus

import httpx

from actuator.client import RetryPolicy, call_with_retries
from actuator.health.indicators._params import seconds
from actuator.health.result import Health, describe_exception
from actuator.sanitizer import MASK, sanitize_text

_DEFAULT_OK = range(200, 400)
_METHOD = re.compile(r"[A-Z]+\Z")
# A small body is read so the connection can go back to the pool; larger or
# unannounced (streamed) bodies are not waited for: the status is the answer.
_MAX_DRAIN = 64 * 1024


def redact_url(url: str) -> str:
    """``url`` safe to show: all its user info, and secret-looking query values, masked."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        # Up to the last "@", as the sanitizer does: a password may hold "/" unencoded.
        url = f"{scheme}://{MASK}@{rest.rpartition('@')[2]}"
    return sanitize_text(url)


def _check_url(url: object) -> str:
    if not isinstance(url, str):
        raise TypeError(f"HttpIndicator url must be a string, got {type(url).__name__}")
    problem = None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        problem = "contains whitespace or control characters"
    else:
        parts = urllib.parse.urlsplit(url)
        try:
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError as exc:
            problem = str(exc)
        else:
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problem = "must be an absolute http:// or https:// URL with a host"
    if problem:
        raise ValueError(f"HttpIndicator url {redact_url(url)!r} {problem}")
    return url


def _check_expected(
    expected: int | Container[int] | Callable[[int], bool],
) -> Container[int] | Callable[[int], bool]:
    if isinstance(expected, int) and not isinstance(expected, bool):
        return frozenset({expected})
    if not isinstance(expected, (bool, str, bytes)) and (
        callable(expected) or isinstance(expected, Container)
    ):
        return expected
    raise TypeError(
        f"HttpIndicator expected must be a status, statuses or a predicate, got {expected!r}"
    )


def _root_cause(exc: BaseException) -> BaseException | None:
    """The innermost ``OSError`` under an httpx error ("connection refused" beats
    httpx's "All connection attempts failed")."""
    found = None
    seen: set[int] = set()
    current: BaseException | None = exc.__cause__ or exc.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            found = current
        current = current.__cause__ or current.__context__
    return found


class HttpIndicator:
    """UP when ``url`` answers with an expected status within ``timeout`` seconds.

    ``timeout`` bounds the whole exchange (connecting, sending, the status
    line and headers, and reading a small body), not each step. Redirects are
    not followed by default: a 3xx proves the service answers, and following
    it could send the check (and its headers) to another host; pass
    ``follow_redirects=True`` to check where it leads.

    Uses one pooled ``httpx.AsyncClient`` of its own, opened on first use and
    closed by ``stop()`` (when the app stops), so checks reuse a kept-alive
    connection. Pass ``client=`` to use yours (its proxies, TLS settings,
    auth...): the indicator never closes a client it did not open.

    Details: ``url`` (user info and secret-looking query values masked),
    ``method``, ``status`` (the status received, when one was) and
    ``elapsedSeconds``. DOWN with ``error`` on a refused or failed connection,
    a timeout or an unexpected status::

        actuator.add_indicator(
            "payments",
            HttpIndicator("http://payments:8080/actuator/health/readiness", timeout=0.3),
            groups=["readiness"],
        )

    Parameters:
        url: the absolute http(s) URL to request.
        method: HTTP method, e.g. ``"HEAD"`` for a cheaper check. Default ``"GET"``.
        timeout: seconds for the whole request. Keep it under the indicator's
            own timeout (``health.timeout``, default 0.5 s) so the answer names
            the real cause. Default 0.4.
        expected: the statuses that mean UP: one int, a container of ints
            (``range(200, 300)``) or a predicate. Default 200-399.
        headers: extra request headers (an ``Authorization`` header...). Never shown.
        follow_redirects: follow 3xx answers. Default ``False``.
        client: an ``httpx.AsyncClient`` to use instead of the indicator's own.
        retry: retries within ``timeout`` (``actuator.client.RetryPolicy``): of a
            transport error, a 429 or a 503, after a jittered back-off and never
            past ``timeout`` or a ``Retry-After`` that does not fit. Default: one
            attempt (checks repeat anyway; a retry must fit in ``timeout``).
    """

    def __init__(
        self,
        url: str,
        *,
        method: str = "GET",
        timeout: float = 0.4,
        expected: int | Container[int] | Callable[[int], bool] = _DEFAULT_OK,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
        client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.url = _check_url(url)
        if not isinstance(method, str) or not _METHOD.match(method.upper()):
            raise ValueError(f"HttpIndicator method must be an HTTP method name, got {method!r}")
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise TypeError(
                f"HttpIndicator client must be an httpx.AsyncClient, got {type(client).__name__}"
            )
        self.method = method.upper()
        self.timeout = seconds("HttpIndicator", "timeout", timeout)
        self.expected = _check_expected(expected)
        self.headers = httpx.Headers(headers)
        self.follow_redirects = bool(follow_redirects)
        self._shown_url = redact_url(url)
        self._client = client
        self._owns_client = client is None
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"HttpIndicator retry must be a RetryPolicy, got {retry!r}")
        self.retry = retry if retry is not None else RetryPolicy(attempts=1)

    async def start(self) -> None:
        """Open the indicator's own client at the app's start, off the event loop.

        Building an httpx client loads the CA bundle (tenths of a second on a
        busy machine): done on a thread, before the first probe, it neither
        blocks the loop nor eats into a check's timeout.
        """
        if self._client is None:
            client = await asyncio.to_thread(_new_client)
            if self._client is None:
                self._client = client
            else:
                await client.aclose()

    async def health(self) -> Health:
        client = self._client
        if client is None:
            client = self._client = _new_client()
        details: dict[str, object] = {"url": self._shown_url, "method": self.method}
        started = time.perf_counter()
        try:
            response = await asyncio.wait_for(
                call_with_retries(
                    partial(self._request, client),
                    method=self.method,
                    deadline=self.timeout,
                    policy=self.retry,
                ),
                self.timeout,
            )
        except (asyncio.TimeoutError, TimeoutError, httpx.TimeoutException) as exc:
            # httpx names the step that timed out (ConnectTimeout, ReadTimeout...);
            # asyncio's own timeout is the overall deadline.
            kind = "TimeoutError"
            if isinstance(exc, httpx.TimeoutException):
                kind = describe_exception(exc).partition(":")[0]
            return self._down(f"{kind}: no answer within {self.timeout:g}s", details, started)
        except httpx.HTTPError as exc:
            return self._down(self._describe(exc), details, started)
        status = response.status_code
        details["status"] = status
        details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
        if not self._is_expected(status):
            return Health.down(f"unexpected HTTP status {status}{_reason(status)}", **details)
        return Health.up(**details)

    async def stop(self) -> None:
        """Close the indicator's own client (never one passed in). Reopened if used again."""
        if self._owns_client:
            client, self._client = self._client, None
            if client is not None:
                await client.aclose()

    async def _request(self, client: httpx.AsyncClient, left: float) -> httpx.Response:
        async with client.stream(
            self.method,
            self.url,
            headers=self.headers,
            timeout=left,
            follow_redirects=self.follow_redirects,
        ) as response:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) <= _MAX_DRAIN:
                await response.aread()
            return response

    def _is_expected(self, status: int) -> bool:
        if callable(self.expected):
            return bool(self.expected(status))
        return status in self.expected

    def _describe(self, exc: httpx.HTTPError) -> str:
        text = describe_exception(exc)
        cause = _root_cause(exc)
        if cause is not None and str(cause) not in text:
            text = f"{text} ({describe_exception(cause)})"
        # Error texts may quote the request URL: never with its credentials.
        return text.replace(self.url, self._shown_url)

    @staticmethod
    def _down(error: str, details: dict[str, object], started: float) -> Health:
        details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
        return Health.down(error, **details)


def _new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(limits=httpx.Limits(max_connections=4, max_keepalive_connections=1))


def _reason(status: int) -> str:
    try:
        return f" {HTTPStatus(status).phrase}"
    except ValueError:
        return ""
