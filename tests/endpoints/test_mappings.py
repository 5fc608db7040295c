from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Host, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from actuator import Actuator, ActuatorMiddleware
from tests.support.management import OPEN, client, make_actuator, serve


async def list_orders(request: Request) -> PlainTextResponse:
    return PlainTextResponse("[]")


async def feed(websocket: WebSocket) -> None:
    await websocket.close()


class Orders(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("order")

    async def delete(self, request: Request) -> Response:
        return Response(status_code=204)


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("raw")(scope, receive, send)


def by_path(routes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {route["path"]: route for route in routes}


def app_routes(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The app's routes, each kept whole as ``details.route`` of its Spring entry."""
    (context,) = body["contexts"].values()
    handlers = context["mappings"]["dispatcherHandlers"]["webHandler"]
    return [entry["details"]["route"] for entry in handlers if "route" in entry["details"]]


async def test_fastapi_routes_across_routers_and_mounts(tmp_path: Path) -> None:
    api = APIRouter(prefix="/api")

    @api.get("/orders/{order_id}", name="get_order")
    async def get_order(order_id: int) -> dict[str, int]:
        return {"id": order_id}

    @api.post("/orders")
    async def create_order() -> dict[str, int]:
        return {"id": 1}

    admin = Starlette(routes=[Route("/users", list_orders, name="users")])
    app = FastAPI()
    app.include_router(api)
    app.mount("/admin", admin)
    app.mount("/static", StaticFiles(directory=tmp_path), name="static")
    app.add_middleware(CORSMiddleware, allow_origins=["*"])
    actuator = make_actuator()
    app.add_middleware(ActuatorMiddleware, actuator=actuator)
    async with serve(actuator, app) as http:
        answer = await http.get("/actuator/mappings")
    assert answer.status_code == 200
    routes = by_path(app_routes(answer.json()))
    assert routes["/api/orders/{order_id}"] == {
        "kind": "http",
        "path": "/api/orders/{order_id}",
        "methods": ["GET"],
        "name": "get_order",
        "handler": f"{__name__}.test_fastapi_routes_across_routers_and_mounts.<locals>.get_order",
    }
    assert routes["/api/orders"]["methods"] == ["POST"]
    assert routes["/admin/users"]["handler"] == f"{__name__}.list_orders"
    assert routes["/static"] == {
        "kind": "mount",
        "path": "/static",
        "name": "static",
        "handler": "starlette.staticfiles.StaticFiles",
    }
    assert "/openapi.json" in routes


async def test_starlette_routes_websockets_endpoint_classes_and_hosts() -> None:
    sub = Starlette(routes=[Route("/status", list_orders)])
    app = Starlette(
        routes=[
            Route("/orders", list_orders, methods=["GET", "POST"]),
            Route("/orders/{order_id:int}", Orders),
            WebSocketRoute("/feed", feed, name="feed"),
            Mount("/v1", routes=[Route("/ping", list_orders, name="v1-ping")]),
            Host("admin.example.com", sub, name="admin"),
            Mount("/raw", raw_app),
        ]
    )
    actuator = make_actuator()
    async with serve(actuator, actuator.wrap(CORSMiddleware(app, allow_origins=["*"]))) as http:
        routes = app_routes((await http.get("/actuator/mappings")).json())
    found = by_path([r for r in routes if "host" not in r])
    assert found["/orders"]["methods"] == ["GET", "HEAD", "POST"]
    assert found["/orders/{order_id:int}"]["methods"] == ["DELETE", "GET", "HEAD"]
    assert found["/orders/{order_id:int}"]["handler"] == f"{__name__}.Orders"
    assert found["/feed"] == {
        "kind": "websocket",
        "path": "/feed",
        "name": "feed",
        "handler": f"{__name__}.feed",
    }
    assert found["/v1/ping"]["name"] == "v1-ping"
    assert found["/raw"]["kind"] == "mount"
    assert found["/raw"]["handler"] == f"{__name__}.raw_app"
    hosted = [r for r in routes if r.get("host")]
    assert hosted == [
        {
            "kind": "http",
            "path": "/status",
            "methods": ["GET", "HEAD"],
            "name": "list_orders",
            "handler": f"{__name__}.list_orders",
            "host": "admin.example.com",
        }
    ]


async def test_a_bare_asgi_app_shows_as_one_mount_at_the_root() -> None:
    actuator = make_actuator()
    async with serve(actuator, actuator.wrap(raw_app)) as http:
        routes = app_routes((await http.get("/actuator/mappings")).json())
    assert routes == [
        {"kind": "mount", "path": "/", "name": None, "handler": f"{__name__}.raw_app"}
    ]


async def test_a_standalone_actuator_has_no_app_routes() -> None:
    actuator = make_actuator()
    try:
        async with client(actuator) as http:
            routes = app_routes((await http.get("/actuator/mappings")).json())
    finally:
        await actuator.shutdown()
    assert routes == []


async def test_spring_reactive_shape_with_every_request_mapping_condition() -> None:
    app = Starlette(
        routes=[
            Route("/orders", list_orders, methods=["GET", "POST"]),
            WebSocketRoute("/feed", feed, name="feed"),
            Host("admin.example.com", Starlette(routes=[Route("/status", list_orders)])),
            Mount("/raw", raw_app),
        ]
    )
    actuator = make_actuator()
    async with serve(actuator, actuator.wrap(app)) as http:
        body = (await http.get("/actuator/mappings")).json()
    context = body["contexts"]["orders"]  # the app's name
    assert context["parentId"] is None
    handlers = context["mappings"]["dispatcherHandlers"]["webHandler"]
    for entry in handlers:
        conditions = entry["details"]["requestMappingConditions"]
        assert set(conditions) == {
            "patterns",
            "methods",
            "consumes",
            "produces",
            "params",
            "headers",
        }
        assert all(isinstance(value, list) for value in conditions.values())
        assert entry["predicate"].startswith("{")
        assert entry["handler"]
    by_pattern = {tuple(e["details"]["requestMappingConditions"]["patterns"]): e for e in handlers}
    orders = by_pattern[("/orders",)]
    assert orders["predicate"] == "{[GET, HEAD, POST] [/orders]}"
    assert orders["handler"] == f"{__name__}.list_orders"
    assert by_pattern[("/feed",)]["details"]["requestMappingConditions"]["headers"] == [
        {"name": "Upgrade", "value": "websocket", "negated": False}
    ]
    assert by_pattern[("/status",)]["details"]["requestMappingConditions"]["headers"] == [
        {"name": "Host", "value": "admin.example.com", "negated": False}
    ]
    assert by_pattern[("/raw/**",)]["details"]["requestMappingConditions"]["methods"] == []
    health = by_pattern[("/actuator/health",)]
    assert health["handler"] == "Actuator web endpoint 'health'"
    assert health["details"]["requestMappingConditions"]["methods"] == ["GET", "HEAD"]
    assert {p["mediaType"] for p in health["details"]["requestMappingConditions"]["produces"]} >= {
        "application/vnd.spring-boot.actuator.v3+json",
        "application/json",
    }
    assert ("/actuator/health/{*path}",) in by_pattern
    assert by_pattern[("/actuator",)]["handler"] == "Actuator root web endpoint"


async def test_an_app_without_a_name_is_spring_s_application_context() -> None:
    actuator = Actuator(settings=OPEN)
    async with serve(actuator, actuator.wrap(raw_app)) as http:
        body = (await http.get("/actuator/mappings")).json()
    assert list(body["contexts"]) == ["application"]
