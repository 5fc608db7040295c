"""Litestar: the template of a request to a mounted ASGI app, and the routes /mappings lists."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Router, asgi, get, websocket
from litestar.connection import WebSocket
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from actuator.frameworks.litestar import routes
from tests.metrics.support import client, counts_by
from tests.support.management import make_actuator

pytestmark = pytest.mark.usefixtures("no_event_loop_heartbeat")


@asgi("/files", is_mount=True, copy_scope=True)
async def files(scope: Scope, receive: Receive, send: Send) -> None:
    await send(HTTPResponseStartEvent(type="http.response.start", status=200, headers=()))
    await send(HTTPResponseBodyEvent(type="http.response.body", body=b"file", more_body=False))


@get("/")
async def index() -> str:
    return "index"


@websocket("/feed")
async def feed(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()


def litestar_app() -> Litestar:
    return Litestar(route_handlers=[index, feed, Router(path="/v1", route_handlers=[files])])


async def test_a_mounted_asgi_app_counts_as_the_mount_path_and_a_path_parameter() -> None:
    actuator = make_actuator()
    async with client(actuator.wrap(litestar_app())) as http:
        for path in ("/v1/files/a.txt", "/v1/files/deep/b.txt", "/"):
            assert (await http.get(path)).status_code == 200
    assert counts_by(actuator) == {"/v1/files/{path}": 2, "/": 1}
    await actuator.shutdown()


def test_routes_list_each_handler_without_the_added_options_handler() -> None:
    found = {(route.path, route.kind): route for route in routes(litestar_app())}
    assert found["/", "http"].methods == ["GET"]  # Litestar answers HEAD only where declared
    assert found["/feed", "websocket"].methods == []
    assert found["/v1/files", "mount"].handler is files.fn
    assert all("OPTIONS" not in route.methods for route in found.values())
