"""HttpIndicator against a real uvicorn server on 127.0.0.1 (and nothing else)."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from actuator import Health, HttpIndicator, Status
from actuator.client import RetryPolicy
from actuator.health.indicators.http import redact_url
from tests.support.threaded import ThreadedUvicorn


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    client_port: int


@dataclass
class Dependency:
    """A small service to check: every path a behaviour, every request recorded."""

    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.seen.append(Seen(scope["method"], path, headers, scope["client"][1]))

        async def answer(status: int, body: bytes = b"ok", extra: tuple[Any, ...] = ()) -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-length", str(len(body)).encode()), *extra],
                }
            )
            await send({"type": "http.response.body", "body": body})

        if path == "/ok":
            await answer(200)
        elif path.startswith("/status/"):
            await answer(int(path.rsplit("/", 1)[1]))
        elif path == "/redirect":
            await answer(302, b"", ((b"location", b"/status/503"),))
        elif path == "/slow":
            await asyncio.sleep(5)
            await answer(200)
        elif path == "/drip":  # headers at once, then a small body one byte at a time
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"20")],
                }
            )
            for _ in range(20):
                await asyncio.sleep(0.1)
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/stream":  # an endless body: the status alone must answer
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(100):
                await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
                await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b""})
        else:
            await answer(404, b"not found")


@pytest.fixture(scope="module")
def dependency() -> Iterator[tuple[str, Dependency]]:
    app = Dependency()
    with ThreadedUvicorn(app) as server:
        yield server.url, app


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # The indicator's own client honours proxy variables; loopback tests must not meet one.
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


async def check(url: str, **kwargs: Any) -> Health:
    """One check by a fresh indicator, its own client closed afterwards."""
    indicator = HttpIndicator(url, **kwargs)
    try:
        return await indicator.health()
    finally:
        await indicator.stop()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: connecting is refused, and no
    one else can take the port while the socket is held."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{holder.getsockname()[1]}/"
    finally:
        holder.close()


async def test_up_on_expected_status_with_details(dependency: tuple[str, Dependency]) -> None:
    url, _ = dependency
    health = await check(url + "/ok")
    assert health.status == Status.UP
    assert health.details["url"] == url + "/ok"
    assert health.details["method"] == "GET"
    assert health.details["status"] == 200
    assert 0 <= health.details["elapsedSeconds"] < 5


async def test_down_on_unexpected_status_names_it(dependency: tuple[str, Dependency]) -> None:
    url, _ = dependency
    health = await check(url + "/status/503")
    assert health.status == Status.DOWN
    assert health.details["error"] == "unexpected HTTP status 503 Service Unavailable"
    assert health.details["status"] == 503


@pytest.mark.parametrize(
    ("expected", "status", "up"),
    [
        (204, "/status/204", True),
        (range(200, 300), "/status/302", False),
        ([200, 418], "/status/418", True),
        (lambda code: code < 500, "/status/404", True),
        (lambda code: code < 500, "/status/500", False),
    ],
)
async def test_expected_takes_a_status_a_container_or_a_predicate(
    dependency: tuple[str, Dependency], expected: Any, status: str, up: bool
) -> None:
    url, _ = dependency
    health = await check(url + status, expected=expected)
    assert (health.status == Status.UP) is up


async def test_down_with_a_clear_error_when_the_connection_is_refused(refused_url: str) -> None:
    health = await check(refused_url)
    assert health.status == Status.DOWN
    error = health.details["error"]
    assert error.startswith("httpx.ConnectError")
    assert "ConnectionRefusedError" in error
    assert "status" not in health.details


async def test_down_when_the_server_does_not_answer_in_time(
    dependency: tuple[str, Dependency],
) -> None:
    url, _ = dependency
    health = await check(url + "/slow", timeout=0.2)
    assert health.status == Status.DOWN
    assert health.details["error"].endswith("no answer within 0.2s")
    assert health.details["elapsedSeconds"] < 3  # the server would have taken 5 s


async def test_timeout_bounds_the_whole_exchange_not_each_read(
    dependency: tuple[str, Dependency],
) -> None:
    # Each byte comes well within the timeout; the whole body does not.
    url, _ = dependency
    health = await check(url + "/drip", timeout=0.5)
    assert health.status == Status.DOWN
    assert health.details["error"] == "TimeoutError: no answer within 0.5s"


async def test_an_endless_body_is_not_waited_for(dependency: tuple[str, Dependency]) -> None:
    url, _ = dependency
    health = await check(url + "/stream", timeout=1.0)
    assert health.status == Status.UP
    assert health.details["status"] == 200


async def test_redirects_are_not_followed_by_default(dependency: tuple[str, Dependency]) -> None:
    url, _ = dependency
    not_followed = await check(url + "/redirect")
    followed = await check(url + "/redirect", follow_redirects=True)
    assert not_followed.status == Status.UP
    assert not_followed.details["status"] == 302
    assert followed.status == Status.DOWN
    assert followed.details["status"] == 503


async def test_credentials_in_the_url_are_masked_but_sent(
    dependency: tuple[str, Dependency],
) -> None:
    url, app = dependency
    secret_url = url.replace("http://", "http://svc:s3cret@") + "/ok?api_key=k3y&page=2"
    health = await check(secret_url)
    shown = health.details["url"]
    assert "s3cret" not in shown
    assert "k3y" not in shown
    assert shown == url.replace("http://", "http://******@") + "/ok?api_key=******&page=2"
    sent = app.seen[-1].headers["authorization"]
    assert base64.b64decode(sent.split()[1]) == b"svc:s3cret"


async def test_credentials_are_masked_in_errors_too(refused_url: str) -> None:
    health = await check(refused_url.replace("http://", "http://svc:s3cret@"))
    assert health.status == Status.DOWN
    assert "s3cret" not in str(dict(health.details))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p@[::1]:8080/x", "http://******@[::1]:8080/x"),
        ("https://host/x?token=t&q=1", "https://host/x?token=******&q=1"),
        ("http://host/plain?q=1", "http://host/plain?q=1"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


async def test_one_pooled_client_is_reused_and_closed_by_stop(
    dependency: tuple[str, Dependency],
) -> None:
    url, app = dependency
    indicator = HttpIndicator(url + "/ok")
    await indicator.health()
    client = indicator._client
    await indicator.health()
    assert indicator._client is client
    # The same kept-alive connection served both checks.
    assert app.seen[-1].client_port == app.seen[-2].client_port
    await indicator.stop()
    assert client is not None
    assert client.is_closed
    # Used again (the app restarted), it opens a fresh client.
    assert (await indicator.health()).status == Status.UP
    await indicator.stop()


async def test_a_client_passed_in_is_used_and_never_closed(
    dependency: tuple[str, Dependency],
) -> None:
    url, app = dependency
    async with httpx.AsyncClient(headers={"x-from": "mine"}) as client:
        indicator = HttpIndicator(url + "/ok", client=client)
        await indicator.health()
        await indicator.stop()
        assert not client.is_closed
        assert (await indicator.health()).status == Status.UP
        assert app.seen[-1].headers["x-from"] == "mine"


@pytest.mark.parametrize("method", ["HEAD", "post", "OPTIONS"])
async def test_other_methods(dependency: tuple[str, Dependency], method: str) -> None:
    url, app = dependency
    health = await check(url + "/ok", method=method, headers={"authorization": "Bearer t0ken"})
    assert health.status == Status.UP
    assert health.details["method"] == method.upper()
    assert app.seen[-1].method == method.upper()
    assert app.seen[-1].headers["authorization"] == "Bearer t0ken"
    assert "t0ken" not in str(dict(health.details))


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"url": "ftp://127.0.0.1/"}, ValueError, "url"),
        ({"url": "127.0.0.1:8080/health"}, ValueError, "url"),
        ({"url": "http:///path-only"}, ValueError, "url"),
        ({"url": "http://127.0.0.1:99999/"}, ValueError, "url"),
        ({"url": "http://127.0.0.1/a b"}, ValueError, "url"),
        ({"url": b"http://127.0.0.1/"}, TypeError, "url"),
        ({"url": "http://127.0.0.1/", "method": "GE T"}, ValueError, "method"),
        ({"url": "http://127.0.0.1/", "timeout": 0}, ValueError, "timeout"),
        ({"url": "http://127.0.0.1/", "timeout": float("nan")}, ValueError, "timeout"),
        ({"url": "http://127.0.0.1/", "timeout": "1"}, TypeError, "timeout"),
        ({"url": "http://127.0.0.1/", "expected": "200"}, TypeError, "expected"),
        ({"url": "http://127.0.0.1/", "client": object()}, TypeError, "client"),
    ],
)
def test_bad_configuration_raises_naming_the_parameter(
    kwargs: dict[str, Any], error: type[Exception], named: str
) -> None:
    with pytest.raises(error, match=f"HttpIndicator {named}"):
        HttpIndicator(**kwargs)


def test_a_bad_url_error_does_not_show_its_credentials() -> None:
    with pytest.raises(ValueError, match="HttpIndicator url") as caught:
        HttpIndicator("ftp://user:s3cret@127.0.0.1/")
    assert "s3cret" not in str(caught.value)


async def test_a_refusal_is_retried_within_the_timeout_and_counts_as_up_once_answered() -> None:
    statuses = [503, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(statuses.pop(0))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        health = await HttpIndicator(
            "http://payments/health", client=client, retry=RetryPolicy(attempts=2, backoff=0.01)
        ).health()
    assert health.status.code == "UP"
    assert statuses == []


async def test_a_retry_after_longer_than_the_timeout_is_not_waited_for() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "30"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        health = await HttpIndicator("http://payments/health", client=client, timeout=0.3).health()
    assert health.status.code == "DOWN"
    assert health.details["status"] == 429
    assert len(calls) == 1


def test_the_retry_policy_must_be_a_retry_policy() -> None:
    with pytest.raises(TypeError, match="retry"):
        HttpIndicator("http://payments/health", retry=3)  # type: ignore[arg-type]


async def test_the_own_client_is_opened_at_start_off_the_loop_and_closed_at_stop() -> None:
    indicator = HttpIndicator("http://payments/health")
    await indicator.start()
    client = indicator._client
    assert isinstance(client, httpx.AsyncClient)
    await indicator.start()  # idempotent
    assert indicator._client is client
    await indicator.stop()
    assert indicator._client is None
    assert client.is_closed
