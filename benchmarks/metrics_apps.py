"""The apps the metrics benchmark serves: the same tiny service, bare and instrumented.

Factories for ``uvicorn --factory`` so that each server process builds only
its own app (the peers register their metrics in the global registry).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actuator import Actuator, ActuatorMiddleware

EXPOSED = {"exposure": {"include": ["health", "prometheus"]}}


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"item": request.path_params["item_id"]})


def _starlette() -> Starlette:
    return Starlette(routes=[Route("/items/{item_id}", item)])


def _fastapi() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: str) -> dict[str, Any]:
        return {"item": item_id}

    return app


def _actuator(metrics: bool) -> Actuator:
    return Actuator(name="bench", settings={**EXPOSED, "metrics": {"enabled": metrics}})


def starlette_bare() -> Starlette:
    return _starlette()


def starlette_exporter() -> Starlette:
    from starlette_exporter import PrometheusMiddleware, handle_metrics

    app = _starlette()
    app.add_middleware(PrometheusMiddleware)
    app.add_route("/metrics", handle_metrics)
    return app


def starlette_actuator() -> Starlette:
    app = _starlette()
    app.add_middleware(ActuatorMiddleware, actuator=_actuator(metrics=True))
    return app


def starlette_actuator_off() -> Starlette:
    app = _starlette()
    app.add_middleware(ActuatorMiddleware, actuator=_actuator(metrics=False))
    return app


def fastapi_bare() -> FastAPI:
    return _fastapi()


def fastapi_instrumentator() -> FastAPI:
    from prometheus_fastapi_instrumentator import Instrumentator

    app = _fastapi()
    Instrumentator().instrument(app).expose(app)
    return app


def fastapi_actuator() -> FastAPI:
    app = _fastapi()
    app.add_middleware(ActuatorMiddleware, actuator=_actuator(metrics=True))
    return app


def fastapi_actuator_off() -> FastAPI:
    app = _fastapi()
    app.add_middleware(ActuatorMiddleware, actuator=_actuator(metrics=False))
    return app


# -- many routes: memory over a million requests, and scrapes of thousands of series ----

ROUTES = 150  # more than metrics.max_uri_tags (100): the cap takes the last 50
SERIES_ROUTES = 560  # x 18 sample lines (15 buckets, count, sum, created): 10,080 lines


def _routes(count: int) -> Starlette:
    return Starlette(routes=[Route(f"/r{i}/{{item_id}}", item) for i in range(count)])


def _scraped(routes: int, max_uri_tags: int) -> Starlette:
    app = _routes(routes)
    actuator = Actuator(
        name="bench",
        settings={
            **EXPOSED,
            "security": {"anonymous": ["health", "prometheus"]},
            "metrics": {"max_uri_tags": max_uri_tags},
        },
    )
    app.add_middleware(ActuatorMiddleware, actuator=actuator)
    return app


def starlette_routes_actuator() -> Starlette:
    """``ROUTES`` routes, the default ``max_uri_tags`` (100); anonymous scrapes."""
    return _scraped(ROUTES, 100)


def starlette_series_actuator() -> Starlette:
    """``SERIES_ROUTES`` routes, all recorded; anonymous scrapes."""
    return _scraped(SERIES_ROUTES, SERIES_ROUTES + 10)
