"""HTTP server metrics: what is timed, how it is labelled, and what is left out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

import actuator.metrics.http as http_metrics
from actuator import Actuator, ActuatorMiddleware
from tests.metrics.support import SUM, client, counts_by, only_series, series


class Clock:
    """A perf_counter stand-in that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(http_metrics, "perf_counter", fake)
    return fake


class Boom(RuntimeError):
    pass


def make_app(clock: Clock | None = None) -> Starlette:
    async def ok(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def slow(request: Request) -> Response:
        if clock is not None:
            clock.now += 2.0
        return PlainTextResponse("slow")

    async def background(request: Request) -> Response:
        def later() -> None:
            if clock is not None:
                clock.now += 30.0

        return PlainTextResponse("done", background=BackgroundTask(later))

    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):
                if clock is not None:
                    clock.now += 1.5
                yield b"chunk"

        return StreamingResponse(chunks())

    async def fail(request: Request) -> Response:
        raise Boom("no")

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    return Starlette(
        routes=[
            Route("/ok", ok, methods=["GET", "POST"]),
            Route("/slow", slow),
            Route("/background", background),
            Route("/stream", stream),
            Route("/fail", fail),
            WebSocketRoute("/ws", ws),
        ]
    )


async def test_records_micrometer_names_and_labels() -> None:
    actuator = Actuator()
    async with client(actuator.wrap(make_app())) as http:
        await http.get("/ok")
        await http.post("/ok")
    assert series(actuator) == {
        (
            ("exception", "none"),
            ("method", "GET"),
            ("outcome", "SUCCESS"),
            ("status", "200"),
            ("uri", "/ok"),
        ): 1.0,
        (
            ("exception", "none"),
            ("method", "POST"),
            ("outcome", "SUCCESS"),
            ("status", "200"),
            ("uri", "/ok"),
        ): 1.0,
    }
    assert series(actuator, "http_server_requests_active") == {
        (("method", "GET"),): 0.0,
        (("method", "POST"),): 0.0,
    }


async def test_otel_naming_uses_semantic_convention_names() -> None:
    actuator = Actuator(settings={"metrics": {"naming": "otel"}})
    async with client(actuator.wrap(make_app()), raise_app_exceptions=False) as http:
        await http.get("/ok")
        await http.get("/fail")
    found = series(actuator, "http_server_request_duration_seconds_count")
    assert found == {
        (
            ("error_type", ""),
            ("http_request_method", "GET"),
            ("http_response_status_code", "200"),
            ("http_route", "/ok"),
        ): 1.0,
        (
            ("error_type", "tests.metrics.test_http.Boom"),
            ("http_request_method", "GET"),
            ("http_response_status_code", "500"),
            ("http_route", "/fail"),
        ): 1.0,
    }
    assert series(actuator, "http_server_active_requests") == {
        (("http_request_method", "GET"),): 0.0
    }
    assert series(actuator) == {}


async def test_request_duration_is_measured_in_seconds(clock: Clock) -> None:
    actuator = Actuator()
    async with client(actuator.wrap(make_app(clock))) as http:
        await http.get("/slow")
    assert series(actuator, SUM) == {
        (
            ("exception", "none"),
            ("method", "GET"),
            ("outcome", "SUCCESS"),
            ("status", "200"),
            ("uri", "/slow"),
        ): 2.0
    }


async def test_background_tasks_do_not_count(clock: Clock) -> None:
    actuator = Actuator()
    async with client(actuator.wrap(make_app(clock))) as http:
        assert (await http.get("/background")).text == "done"
    assert clock.now == 1030.0  # the background task ran, inside the app call
    assert list(series(actuator, SUM).values()) == [0.0]


async def test_streaming_responses_are_timed_to_their_last_chunk(clock: Clock) -> None:
    actuator = Actuator()
    async with client(actuator.wrap(make_app(clock))) as http:
        assert (await http.get("/stream")).content == b"chunk" * 3
    assert list(series(actuator, SUM).values()) == [4.5]


@pytest.mark.parametrize("inside_starlette", [True, False], ids=["add_middleware", "wrap"])
async def test_unhandled_exception_counts_as_500_and_still_propagates(
    inside_starlette: bool,
) -> None:
    actuator = Actuator()
    app = make_app()
    wrapped: ASGIApp
    if inside_starlette:
        app.add_middleware(ActuatorMiddleware, actuator=actuator)
        wrapped = app
    else:
        wrapped = actuator.wrap(app)
    async with client(wrapped) as http:
        with pytest.raises(Boom):
            await http.get("/fail")
    labels = only_series(actuator)
    assert (labels["status"], labels["outcome"], labels["exception"], labels["uri"]) == (
        "500",
        "SERVER_ERROR",
        "Boom",
        "/fail",
    )
    assert series(actuator, "http_server_requests_active") == {(("method", "GET"),): 0.0}


async def test_a_background_task_failing_after_the_answer_keeps_the_answer_status() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("ok")(scope, receive, send)
        raise Boom("after the answer")

    actuator = Actuator()
    async with client(actuator.wrap(app)) as http:
        with pytest.raises(Boom):
            await http.get("/x")
    labels = only_series(actuator)
    assert (labels["status"], labels["outcome"], labels["exception"]) == ("200", "SUCCESS", "none")


async def drive(
    app: object,
    scope_extra: dict[str, object],
    messages: list[Message],
    *,
    fail_after: int | None = None,
) -> list[Message]:
    """Call an ASGI app directly: ``messages`` are what it receives, then it waits forever."""
    sent: list[Message] = []
    incoming = list(messages)

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if fail_after is not None and len(sent) >= fail_after:
            raise OSError("connection lost")
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream",
        "raw_path": b"/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        **scope_extra,
    }
    await app(scope, receive, send)  # type: ignore[operator]
    return sent


def endless_stream_app() -> Starlette:
    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            while True:
                yield b"tick"
                await asyncio.sleep(0)

        return StreamingResponse(chunks())

    return Starlette(routes=[Route("/stream", stream)])


async def test_client_disconnecting_mid_stream_gets_its_own_outcome() -> None:
    actuator = Actuator()
    app = actuator.wrap(endless_stream_app())
    messages: list[Message] = [
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    ]
    sent = await asyncio.wait_for(drive(app, {}, messages), timeout=5)
    assert sent[0]["type"] == "http.response.start"
    labels = only_series(actuator)
    assert (labels["outcome"], labels["status"], labels["uri"]) == (
        "CLIENT_DISCONNECTED",
        "200",
        "/stream",
    )


async def test_client_disconnect_seen_as_a_failed_send_gets_its_own_outcome() -> None:
    # ASGI 2.4 servers raise OSError from send() once the client is gone;
    # Starlette turns it into ClientDisconnect, which propagates as before.
    actuator = Actuator()
    app = actuator.wrap(endless_stream_app())
    messages: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]
    with pytest.raises(ClientDisconnect):
        await asyncio.wait_for(
            drive(app, {"asgi": {"version": "3.0", "spec_version": "2.4"}}, messages, fail_after=3),
            timeout=5,
        )
    labels = only_series(actuator)
    assert (labels["outcome"], labels["exception"]) == ("CLIENT_DISCONNECTED", "none")


async def test_websocket_connections_are_not_counted() -> None:
    actuator = Actuator()
    app = actuator.wrap(make_app())
    incoming: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "scheme": "ws",
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert series(actuator) == {}


async def test_actuator_endpoints_are_excluded_by_default() -> None:
    actuator = Actuator()
    async with client(actuator.wrap(make_app())) as http:
        assert (await http.get("/actuator/health")).status_code == 200
        await http.get("/ok")
    assert counts_by(actuator) == {"/ok": 1}


async def test_actuator_endpoints_can_be_included_with_templated_uris() -> None:
    actuator = Actuator(settings={"metrics": {"include_actuator": True}})
    async with client(actuator.wrap(make_app())) as http:
        assert (await http.get("/actuator/health")).status_code == 200
        assert (await http.get("/actuator/health/readiness")).status_code == 200
        assert (await http.get("/actuator/nope")).status_code == 404
        assert (await http.get("/actuator")).status_code == 200
    assert counts_by(actuator) == {
        "/actuator/health": 1,
        "/actuator/health/{*path}": 1,
        "/actuator/nope": 1,
        "/actuator": 1,
    }


async def test_excluded_paths_are_not_recorded() -> None:
    actuator = Actuator(settings={"metrics": {"exclude": "/slow,/stream/"}})
    async with client(actuator.wrap(make_app())) as http:
        for path in ("/slow", "/stream", "/ok"):
            assert (await http.get(path)).status_code == 200
    assert counts_by(actuator) == {"/ok": 1}


async def test_distinct_uris_are_capped_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def hit(request: Request) -> Response:
        return PlainTextResponse("hit")

    routes = [Route(f"/r{i}/{{x}}", hit) for i in range(6)]
    actuator = Actuator(settings={"metrics": {"max_uri_tags": 3}})
    app = actuator.wrap(Starlette(routes=routes))
    with caplog.at_level(logging.WARNING, logger="actuator.metrics"):
        async with client(app) as http:
            for i in range(6):
                await http.get(f"/r{i}/1")
            await http.get("/r5/2")
            await http.get("/missing")
    assert counts_by(actuator) == {
        "/r0/{x}": 1,
        "/r1/{x}": 1,
        "/r2/{x}": 1,
        "OVERFLOW": 4,
        "NOT_FOUND": 1,
    }
    warnings = [r for r in caplog.records if "max_uri_tags" in r.getMessage()]
    assert len(warnings) == 1


async def test_unknown_methods_are_not_recorded_verbatim() -> None:
    actuator = Actuator()
    async with client(actuator.wrap(make_app())) as http:
        await http.request("FROBNICATE", "/ok")
    assert counts_by(actuator, "method") == {"UNKNOWN": 1}


async def test_switched_off_metrics_record_nothing() -> None:
    actuator = Actuator(settings={"metrics": {"enabled": False}})
    async with client(actuator.wrap(make_app())) as http:
        assert (await http.get("/ok")).text == "ok"
    assert actuator.metrics.http is None
    assert series(actuator) == {}


async def test_a_failure_inside_the_metrics_never_breaks_the_request(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    actuator = Actuator()
    assert actuator.metrics.http is not None

    def broken(*args: object) -> str:
        raise RuntimeError("template resolution bug")

    monkeypatch.setattr(actuator.metrics.http._templates, "template", broken)
    async with client(actuator.wrap(make_app()), raise_app_exceptions=True) as http:
        assert (await http.get("/ok")).text == "ok"
        assert (await http.get("/ok")).text == "ok"
        with pytest.raises(Boom):  # the app's own exception, not the metrics' one
            await http.get("/fail")
    assert len([r for r in caplog.records if "metrics failed" in r.getMessage()]) == 1


async def test_requests_in_flight_are_counted_per_method_until_the_answer_is_sent() -> None:
    actuator = Actuator()
    seen: list[dict[tuple[tuple[str, str], ...], float]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(series(actuator, "http_server_requests_active"))
        await PlainTextResponse("ok")(scope, receive, send)
        seen.append(series(actuator, "http_server_requests_active"))  # answer sent

    async with client(actuator.wrap(app)) as http:
        await http.post("/x")
    assert seen == [{(("method", "POST"),): 1.0}, {(("method", "POST"),): 0.0}]
