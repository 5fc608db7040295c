"""One small app per framework, each with the same two routes: ``/items/{item_id}`` at the top
and ``/v1/things/{name}`` under a router prefix (a Mount, an APIRouter, a Litestar Router, a
Quart Blueprint, a Django ``include``). Each counts the requests its views serve."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

from litestar.params import FromPath
from starlette.types import ASGIApp

served: Counter[str] = Counter()
"""Requests each framework's views have served (the pause tests check they were not called)."""


@dataclass(frozen=True)
class Case:
    name: str
    templates: tuple[str, str]  # the uri of /items/1 and of /v1/things/x
    mappings: tuple[str, str]  # their paths as /actuator/mappings lists them

    def app(self) -> ASGIApp:
        app: ASGIApp = globals()[f"{self.name}_app"]()
        return app


def starlette_app() -> ASGIApp:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    async def item(request: Request) -> JSONResponse:
        served["starlette"] += 1
        return JSONResponse({"item": request.path_params["item_id"]})

    async def thing(request: Request) -> JSONResponse:
        served["starlette"] += 1
        return JSONResponse({"thing": request.path_params["name"]})

    return Starlette(
        routes=[
            Route("/items/{item_id:int}", item),
            Mount("/v1", routes=[Route("/things/{name}", thing)]),
        ]
    )


def fastapi_app() -> ASGIApp:
    from fastapi import APIRouter, FastAPI

    app = FastAPI()
    v1 = APIRouter(prefix="/v1")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        served["fastapi"] += 1
        return {"item": item_id}

    @v1.get("/things/{name}")
    async def thing(name: str) -> dict[str, str]:
        served["fastapi"] += 1
        return {"thing": name}

    app.include_router(v1)
    return app


def litestar_app() -> ASGIApp:
    from litestar import Litestar, Router, get

    @get("/items/{item_id:int}")
    async def item(item_id: FromPath[int]) -> dict[str, int]:
        served["litestar"] += 1
        return {"item": item_id}

    @get("/things/{name:str}")
    async def thing(name: FromPath[str]) -> dict[str, str]:
        served["litestar"] += 1
        return {"thing": name}

    app = Litestar(route_handlers=[item, Router(path="/v1", route_handlers=[thing])])
    return cast("ASGIApp", app)  # Litestar types its scope more narrowly than Starlette


def quart_app() -> ASGIApp:
    from quart import Blueprint, Quart

    app = Quart("things")
    v1 = Blueprint("v1", __name__, url_prefix="/v1")

    @app.get("/items/<int:item_id>")
    async def item(item_id: int) -> dict[str, int]:
        served["quart"] += 1
        return {"item": item_id}

    @v1.get("/things/<name>")
    async def thing(name: str) -> dict[str, str]:
        served["quart"] += 1
        return {"thing": name}

    app.register_blueprint(v1)
    return cast("ASGIApp", app)  # Quart types its scope more narrowly than Starlette


# Django: one settings object per process, so this module is its URLconf for every test.
async def django_item(request: Any, item_id: int) -> Any:
    from django.http import JsonResponse

    served["django"] += 1
    return JsonResponse({"item": item_id})


async def django_thing(request: Any, name: str) -> Any:
    from django.http import JsonResponse

    served["django"] += 1
    return JsonResponse({"thing": name})


def django_urlpatterns() -> list[Any]:
    from django.urls import include, path
    from django.views.decorators.http import require_GET

    return [
        path("items/<int:item_id>", require_GET(django_item), name="item"),
        path("v1/", include([path("things/<name>", django_thing, name="thing")])),
    ]


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":  # read by Django (ROOT_URLCONF) once settings are configured
        return django_urlpatterns()
    raise AttributeError(name)


def configure_django(**overrides: Any) -> None:
    """Django's settings for the tests, once per process."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["*"],
            MIDDLEWARE=["actuator.frameworks.django.RouteTemplateMiddleware"],
            SECRET_KEY="tests only",
            **overrides,
        )
        django.setup()


def django_app() -> ASGIApp:
    configure_django()
    from django.core.asgi import get_asgi_application

    app: ASGIApp = get_asgi_application()
    return app


CASES = [
    Case(
        "starlette",
        ("/items/{item_id}", "/v1/things/{name}"),
        ("/items/{item_id:int}", "/v1/things/{name}"),
    ),
    Case(
        "fastapi",
        ("/items/{item_id}", "/v1/things/{name}"),
        ("/items/{item_id}", "/v1/things/{name}"),
    ),
    Case(
        "litestar",
        ("/items/{item_id}", "/v1/things/{name}"),
        ("/items/{item_id:int}", "/v1/things/{name:str}"),
    ),
    Case(
        "quart",
        ("/items/<int:item_id>", "/v1/things/<name>"),
        ("/items/<int:item_id>", "/v1/things/<name>"),
    ),
    Case(
        "django",
        ("/items/<int:item_id>", "/v1/things/<name>"),
        ("/items/<int:item_id>", "/v1/things/<name>"),
    ),
]
