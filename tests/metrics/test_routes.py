"""The ``uri`` label is the route template, never the raw path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from actuator import Actuator, ActuatorMiddleware
from actuator.metrics.routes import RouteTemplates
from tests.metrics.support import client, counts_by, only_series


async def text(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def fastapi_app(static: Path) -> FastAPI:
    inner = APIRouter(prefix="/inner")

    @inner.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"thing": thing_id}

    items = APIRouter()

    @items.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @items.post("/items")
    async def create() -> dict[str, str]:
        return {}

    items.include_router(inner, prefix="/nested")
    sub = FastAPI()

    @sub.get("/reports/{report_id}")
    async def report(report_id: str) -> str:
        return report_id

    app = FastAPI()
    app.include_router(items, prefix="/v1")
    app.mount("/legacy", Starlette(routes=[Route("/orders/{order_id:int}", text)]))
    app.mount(
        "/tenants/{tenant}",
        Starlette(routes=[Mount("/admin", routes=[Route("/users/{user}", text)])]),
    )
    app.mount("/sub", sub)
    app.mount("/static", StaticFiles(directory=static))

    @app.get("/slash/{name}/")
    async def slash(name: str) -> str:
        return name

    @app.get("/")
    async def root() -> str:
        return "root"

    return app


Mounting = Callable[[ASGIApp, Actuator], ASGIApp]


def add_middleware(app: ASGIApp, actuator: Actuator) -> ASGIApp:
    assert isinstance(app, Starlette)
    app.add_middleware(ActuatorMiddleware, actuator=actuator)
    return app


def wrap(app: ASGIApp, actuator: Actuator) -> ASGIApp:
    return actuator.wrap(app)


@pytest.fixture(params=[add_middleware, wrap], ids=["add_middleware", "wrap"])
def mounting(request: pytest.FixtureRequest) -> Mounting:
    mount: Mounting = request.param
    return mount


@pytest.fixture
def static(tmp_path: Path) -> Path:
    (tmp_path / "app.js").write_text("console.log(1)")
    return tmp_path


@pytest.mark.parametrize("root_path", ["", "/api"])
async def test_uri_is_the_route_template_across_routers_mounts_and_root_path(
    mounting: Mounting, static: Path, root_path: str
) -> None:
    actuator = Actuator()
    app = mounting(fastapi_app(static), actuator)
    requests = {
        "/v1/items/1": "/v1/items/{item_id}",
        "/v1/items/2": "/v1/items/{item_id}",
        "/v1/nested/inner/things/7": "/v1/nested/inner/things/{thing_id}",
        "/legacy/orders/42": "/legacy/orders/{order_id}",
        "/tenants/acme/admin/users/bob": "/tenants/{tenant}/admin/users/{user}",
        "/tenants/zeta/admin/users/eve": "/tenants/{tenant}/admin/users/{user}",
        "/sub/reports/q3": "/sub/reports/{report_id}",
        "/static/app.js": "/static/{path}",
        "/slash/x/": "/slash/{name}/",
        "/": "/",
        "/openapi.json": "/openapi.json",
    }
    async with client(app, root_path=root_path) as http:
        for path in requests:
            response = await http.get(root_path + path)
            assert response.status_code == 200, path
    expected: dict[str, float] = {}
    for uri in requests.values():
        expected[uri] = expected.get(uri, 0) + 1
    assert counts_by(actuator) == expected


async def test_unmatched_requests_get_fixed_uris(mounting: Mounting, static: Path) -> None:
    actuator = Actuator()
    app = mounting(fastapi_app(static), actuator)
    async with client(app) as http:
        assert (await http.get("/no/such/page")).status_code == 404
        assert (await http.get("/legacy/unknown/9")).status_code == 404
        assert (await http.get("/static/missing.js")).status_code == 404
        # redirect_slashes: the redirect must not leak the raw path
        assert (await http.get("/slash/secret-token")).status_code == 307
        assert (await http.get("/tenants/acme/admin/users/bob/")).status_code == 307
    assert counts_by(actuator) == {"NOT_FOUND": 2, "/static/{path}": 1, "REDIRECTION": 2}
    assert counts_by(actuator, "status") == {"404": 3, "307": 2}


async def test_wrong_method_keeps_the_template_and_status_405(static: Path) -> None:
    actuator = Actuator()
    app = actuator.wrap(fastapi_app(static))
    async with client(app) as http:
        assert (await http.delete("/v1/items/3")).status_code == 405
    labels = only_series(actuator)
    assert (labels["uri"], labels["status"], labels["outcome"]) == (
        "/v1/items/{item_id}",
        "405",
        "CLIENT_ERROR",
    )


async def test_host_routes_resolve_to_the_template_inside() -> None:
    actuator = Actuator()
    app = actuator.wrap(
        Starlette(routes=[Host("api.example.com", app=Starlette(routes=[Route("/h/{h}", text)]))])
    )
    async with client(app) as http:
        assert (await http.get("http://api.example.com/h/1")).status_code == 200
    assert counts_by(actuator) == {"/h/{h}": 1}


async def test_a_raw_asgi_app_without_routes_counts_as_unknown() -> None:
    actuator = Actuator()
    app = actuator.wrap(PlainTextResponse("bare"))
    async with client(app) as http:
        assert (await http.get("/anything/123")).text == "bare"
    assert counts_by(actuator) == {"UNKNOWN": 1}


def test_unresolvable_mount_prefixes_put_parameter_names_back() -> None:
    templates = RouteTemplates()
    route = Route("/x/{x}", text)
    scope = {
        "route": route,
        "root_path": "/outer/acme",
        "router": None,
        "path_params": {"tenant": "acme", "x": "1"},
    }
    assert templates.template(scope, "", 200) == "/outer/{tenant}/x/{x}"
