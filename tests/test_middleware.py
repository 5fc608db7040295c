"""The middleware under FastAPI, Starlette and a bare ASGI app: what it serves, what it passes."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from actuator import (
    ActuatorMiddleware,
    Endpoint,
    EndpointResponse,
    OperationRequest,
)
from tests.support.asgi import (
    Lifespan,
    RecordingApp,
    client_for,
    http_scope,
    light_actuator,
    request,
)


class Flags(Endpoint):
    """A small endpoint with a read and a write, for method and access tests."""

    name: ClassVar[str] = "flags"

    def __init__(self) -> None:
        self.flags = {"checkout": False}

    async def read(self, request: OperationRequest) -> Any:
        return self.flags

    async def write(self, request: OperationRequest) -> Any:
        self.flags.update(request.body or {})
        return EndpointResponse(status=204)


async def hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("echo " + await websocket.receive_text())
    await websocket.close()


async def test_fastapi_with_add_middleware() -> None:
    actuator = light_actuator()
    app = FastAPI()

    @app.get("/items")
    async def items() -> list[int]:
        return [1, 2]

    app.add_middleware(ActuatorMiddleware, actuator=actuator)
    async with client_for(app, actuator) as client:
        assert (await client.get("/actuator/health")).json()["status"] == "UP"
        assert (await client.get("/items")).json() == [1, 2]
        assert (await client.get("/missing")).json() == {"detail": "Not Found"}


@pytest.mark.parametrize("style", ["add_middleware", "middleware list"])
async def test_starlette_both_ways(style: str) -> None:
    actuator = light_actuator()
    routes = [Route("/hello", hello)]
    if style == "add_middleware":
        app = Starlette(routes=routes)
        app.add_middleware(ActuatorMiddleware, actuator=actuator)
    else:
        app = Starlette(
            routes=routes, middleware=[Middleware(ActuatorMiddleware, actuator=actuator)]
        )
    async with client_for(app, actuator) as client:
        assert (await client.get("/actuator/health/liveness")).json() == {"status": "UP"}
        assert (await client.get("/hello")).text == "hello"


async def test_a_bare_asgi_app_wrapped_two_ways() -> None:
    actuator = light_actuator()
    for wrapped in (
        actuator.wrap(RecordingApp()),
        ActuatorMiddleware(RecordingApp(), actuator=actuator),
    ):
        async with client_for(wrapped, actuator) as client:
            assert (await client.get("/actuator/health")).status_code == 200
            assert (await client.get("/x")).text == "app saw /x"


async def test_without_an_actuator_the_middleware_makes_one_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTUATOR_BASE_PATH", "/ops")
    monkeypatch.setenv("ACTUATOR_HEALTH__EVENT_LOOP__ENABLED", "false")
    middleware = ActuatorMiddleware(RecordingApp())
    async with client_for(middleware, middleware.actuator) as client:
        assert (await client.get("/ops/health")).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/orders/1",
        "/actuatorfoo",
        "/actuator-x/health",
        "/api/actuator/health",
        "/Actuator/health",
    ],
)
async def test_requests_outside_the_base_path_reach_the_app_with_the_identical_scope(
    path: str,
) -> None:
    app = RecordingApp()
    actuator = light_actuator()
    scope = http_scope("GET", path, query=b"a=1")
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    await actuator.wrap(app)(scope, receive, send)
    assert app.scopes == [scope]
    assert app.scopes[0] is scope
    assert scope == http_scope("GET", path, query=b"a=1")  # not modified either
    assert sent[1]["body"] == f"app saw {path}".encode()
    await actuator.shutdown()


@pytest.mark.parametrize(
    ("root_path", "path", "served_by"),
    [
        ("/api", "/api/actuator/health", "actuator"),  # path includes root_path (ASGI spec)
        ("/api", "/actuator/health", "actuator"),  # path without it (older servers)
        ("/api/", "/api/actuator/health", "actuator"),
        ("/api", "/api/orders", "app"),
        ("/act", "/actuator/health", "actuator"),  # "/act" is not a prefix of "/actuator"
        ("/act", "/act/actuator/health", "actuator"),
        ("/api", "/apiactuator/health", "app"),
    ],
)
async def test_root_path_is_honoured(root_path: str, path: str, served_by: str) -> None:
    app = RecordingApp()
    actuator = light_actuator()
    answer = await request(actuator.wrap(app), "GET", path, root_path=root_path)
    await actuator.shutdown()
    if served_by == "actuator":
        assert answer.json() == {"status": "UP", "groups": ["liveness", "readiness", "startup"]}
        assert app.http_calls == []
    else:
        assert answer.body == f"app saw {path}".encode()


async def websocket_exchange(app: Any, path: str, text: str) -> list[Any]:
    """One websocket conversation with ``app``, as a server drives it."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "subprotocols": [],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": text},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_websocket_routes_work_even_under_the_base_path() -> None:
    actuator = light_actuator()
    app = Starlette(routes=[WebSocketRoute("/ws", echo), WebSocketRoute("/actuator/ws", echo)])
    app.add_middleware(ActuatorMiddleware, actuator=actuator)
    lifespan = Lifespan(app)
    await lifespan.startup()
    for path in ("/ws", "/actuator/ws"):
        sent = await websocket_exchange(app, path, "hi")
        assert sent[0]["type"] == "websocket.accept"
        assert sent[1] == {"type": "websocket.send", "text": "echo hi"}
    await lifespan.shutdown()


async def test_a_raw_websocket_scope_reaches_the_app_untouched() -> None:
    app = RecordingApp()
    actuator = light_actuator()
    scope = {
        "type": "websocket",
        "path": "/actuator/health",
        "raw_path": b"/actuator/health",
        "query_string": b"",
        "headers": [],
        "root_path": "",
        "subprotocols": [],
    }
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "ping"}]
    sent: list[Any] = []

    async def receive() -> Any:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await actuator.wrap(app)(scope, receive, send)
    assert app.scopes == [scope]
    assert sent == [
        {"type": "websocket.accept"},
        {"type": "websocket.send", "text": "echo ping"},
        {"type": "websocket.close", "code": 1000},
    ]
    assert not actuator.started  # a websocket is not proof the server skipped the lifespan


@pytest.mark.parametrize(
    "path",
    [
        "/actuator",
        "/actuator/",
        "/actuator/health",
        "/actuator/health/liveness",
        "/actuator/info",
        "/actuator/flags",
        "/actuator/nope",
    ],
)
async def test_head_works_wherever_get_does(path: str) -> None:
    actuator = light_actuator({"exposure": {"include": ["*"]}})
    actuator.add_endpoint(Flags())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        got = await client.get(path)
        head = await client.head(path)
    assert head.status_code == got.status_code
    assert head.content == b""
    for name in ("content-type", "cache-control"):
        assert head.headers[name] == got.headers[name]
    # info carries live figures (uptime, memory), so its length may differ by a digit.
    if path.endswith("/info"):
        assert abs(int(head.headers["content-length"]) - len(got.content)) < 16
    else:
        assert head.headers["content-length"] == got.headers["content-length"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/actuator/health", "GET, HEAD, OPTIONS"),
        ("DELETE", "/actuator/health/liveness", "GET, HEAD, OPTIONS"),
        ("PUT", "/actuator/flags", "GET, HEAD, POST, OPTIONS"),
        ("PATCH", "/actuator", "GET, HEAD, OPTIONS"),
        ("TRACE", "/actuator/health", "GET, HEAD, OPTIONS"),
        ("DELETE", "/actuator/flags", "GET, HEAD, POST, OPTIONS"),
    ],
)
async def test_a_wrong_method_is_405_with_allow(method: str, path: str, allow: str) -> None:
    actuator = light_actuator({"exposure": {"include": ["*"]}})
    actuator.add_endpoint(Flags())
    app = RecordingApp()
    async with client_for(actuator.wrap(app), actuator) as client:
        answer = await client.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.json()["status"] == 405
    assert answer.json()["error"] == "Method Not Allowed"
    assert app.http_calls == []


async def test_an_unknown_endpoint_is_a_json_404() -> None:
    actuator = light_actuator()
    app = RecordingApp()
    async with client_for(actuator.wrap(app), actuator) as client:
        answer = await client.get("/actuator/nope/deeper")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "status": 404,
        "error": "Not Found",
        "message": "No endpoint named 'nope'",
        "path": "/actuator/nope/deeper",
    }
    assert app.http_calls == []


async def test_a_custom_base_path() -> None:
    actuator = light_actuator({"base_path": "/manage/"})
    app = RecordingApp()
    async with client_for(actuator.wrap(app), actuator) as client:
        assert (await client.get("/manage/health")).json()["status"] == "UP"
        assert (await client.get("/actuator/health")).text == "app saw /actuator/health"


async def test_endpoints_at_the_root_leave_every_other_path_to_the_app() -> None:
    actuator = light_actuator({"base_path": "/", "exposure": {"include": ["health", "flags"]}})
    actuator.add_endpoint(Flags())
    app = RecordingApp()
    async with client_for(actuator.wrap(app), actuator) as client:
        assert (await client.get("/health")).json()["status"] == "UP"
        assert (await client.get("/flags")).json() == {"checkout": False}
        for path in ("/", "/orders", "/info", "/healthz"):
            assert (await client.get(path)).text == f"app saw {path}"


@pytest.mark.parametrize(
    ("exposure", "exposed"),
    [
        ({}, {"health", "ping"}),
        ({"include": ["health", "info"]}, {"health", "info"}),
        ({"include": ["*"]}, {"*"}),
        ({"include": ["*"], "exclude": ["info"]}, {"*", "-info"}),
        ({"include": ["health"], "exclude": ["*"]}, set()),
    ],
)
async def test_exposure_decides_which_endpoints_exist(
    exposure: dict[str, Any], exposed: set[str]
) -> None:
    actuator = light_actuator({"exposure": exposure})
    actuator.add_endpoint(Flags())
    if "*" in exposed:  # every registered endpoint with something to show, less those named "-"
        exposed = {
            name for name, endpoint in actuator.endpoints.items() if endpoint.available()
        } - {name[1:] for name in exposed if name[0] == "-"}
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        for name in ("health", "info", "flags"):
            answer = await client.get(f"/actuator/{name}")
            if name in exposed:
                assert answer.status_code == 200, name
            else:
                assert answer.status_code == 404, name
                assert answer.json()["message"] == f"No endpoint named {name!r}"
        links = (await client.get("/actuator")).json()["_links"]
    assert {rel for rel, link in links.items() if not link["templated"]} - {"self"} == exposed


@pytest.mark.parametrize(
    ("access", "get", "post"),
    [
        ({}, 200, 403),
        ({"endpoints": {"flags": "unrestricted"}}, 200, 204),
        ({"default": "unrestricted"}, 200, 204),
        ({"endpoints": {"flags": "none"}}, 403, 403),
        ({"default": "none", "endpoints": {"flags": "read_only"}}, 200, 403),
    ],
)
async def test_access_levels_guard_operations(access: dict[str, Any], get: int, post: int) -> None:
    actuator = light_actuator({"exposure": {"include": ["flags"]}, "access": access})
    flags = Flags()
    actuator.add_endpoint(flags)
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        read = await client.get("/actuator/flags")
        write = await client.post("/actuator/flags", json={"checkout": True})
    assert (read.status_code, write.status_code) == (get, post)
    assert flags.flags == {"checkout": post == 204}
    if post == 403:
        assert "access level" in write.json()["message"]
        assert "ACTUATOR_ACCESS__ENDPOINTS" in write.json()["message"]


async def test_the_standalone_actuator_answers_404_outside_the_base_path() -> None:
    actuator = light_actuator()
    async with client_for(actuator, actuator) as client:
        assert (await client.get("/actuator/health")).status_code == 200
        answer = await client.get("/elsewhere")
        head = await client.head("/elsewhere")
    assert answer.status_code == 404
    assert answer.json()["path"] == "/elsewhere"
    assert head.content == b""


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/actuator", "GET, HEAD, OPTIONS"),
        ("/actuator/health", "GET, HEAD, OPTIONS"),
        ("/actuator/health/liveness", "GET, HEAD, OPTIONS"),
        ("/actuator/flags", "GET, HEAD, POST, OPTIONS"),
    ],
)
async def test_options_answers_200_with_allow_as_spring_mvc_does(path: str, allow: str) -> None:
    actuator = light_actuator({"exposure": {"include": ["*"]}, "security": {"anonymous": ["*"]}})
    actuator.add_endpoint(Flags())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.options(path)
    assert (answer.status_code, answer.content) == (200, b"")
    assert answer.headers["allow"] == allow


async def test_options_on_an_unknown_endpoint_is_404() -> None:
    actuator = light_actuator()
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.options("/actuator/nope")
    assert answer.status_code == 404


async def test_options_needs_the_role_its_get_needs() -> None:
    actuator = light_actuator(
        {"exposure": {"include": ["*"]}, "security": {"anonymous": ["health"]}}
    )
    actuator.add_endpoint(Flags())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.options("/actuator/flags")
    assert answer.status_code == 401
