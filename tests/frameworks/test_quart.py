"""Quart: its route templates reach the metrics through the request_started signal."""

from __future__ import annotations

from typing import cast

import pytest
from quart import Quart, websocket
from starlette.types import ASGIApp

from actuator.frameworks.quart import routes
from tests.metrics.support import client, counts_by
from tests.support.management import make_actuator

pytestmark = pytest.mark.usefixtures("no_event_loop_heartbeat")


def quart_app() -> Quart:
    app = Quart("orders")

    @app.route("/orders/<int:order_id>", methods=["GET", "PUT"])
    async def order(order_id: int) -> str:
        return str(order_id)

    @app.websocket("/feed")
    async def feed() -> None:
        await websocket.accept()

    return app


async def test_wrapping_quarts_own_asgi_app_keeps_the_route_templates() -> None:
    app = quart_app()
    actuator = make_actuator()
    app.asgi_app = actuator.wrap(app.asgi_app)  # type: ignore[assignment]
    async with client(cast("ASGIApp", app)) as http:
        assert (await http.get("/orders/7")).text == "7"
        assert (await http.get("/actuator/health")).status_code == 200
    assert counts_by(actuator) == {"/orders/<int:order_id>": 1}
    await actuator.shutdown()


def test_routes_list_every_rule_with_its_methods_and_view() -> None:
    found = {route.path: route for route in routes(quart_app())}
    assert found["/orders/<int:order_id>"].methods == ["GET", "HEAD", "OPTIONS", "PUT"]
    assert found["/orders/<int:order_id>"].name == "order"
    assert (found["/feed"].kind, found["/feed"].methods) == ("websocket", [])
    assert found["/static/<path:filename>"].kind == "http"
