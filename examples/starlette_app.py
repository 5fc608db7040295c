"""A Starlette app with the actuator mounted as middleware.

::

    python examples/starlette_app.py [--host 127.0.0.1] [--port 8000]
    curl http://127.0.0.1:8000/actuator/health/readiness

Shows an async indicator object with ``health()``, a group of your own that
selects indicators by tag (``/actuator/health/backends``), and taking the app
out of rotation from code (``POST /maintenance``, then ``DELETE /maintenance``).
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actuator import Actuator, ActuatorMiddleware, Health


class Cache:
    """Stands in for a cache client (Redis, memcached...)."""

    def __init__(self) -> None:
        self.entries: dict[str, str] = {"greeting": "hello"}

    async def health(self) -> Health:
        await asyncio.sleep(0.01)  # a round trip to the cache server
        return Health.up(entries=len(self.entries))


cache = Cache()
actuator = Actuator(
    name="greeter",
    version="0.3.0",
    settings={
        "exposure": {"include": ["health", "info", "prometheus", "mappings"]},
        "security": {"anonymous": ["health", "info", "prometheus", "mappings"]},
        "health": {"show_details": "always", "groups": {"backends": {"include": ["tag:backend"]}}},
    },
)
actuator.add_indicator("cache", cache, groups=["readiness"], tags=["backend"], timeout=0.3)


async def greet(request: Request) -> JSONResponse:
    return JSONResponse({"message": cache.entries["greeting"]})


async def maintenance(request: Request) -> JSONResponse:
    # Readiness turns OUT_OF_SERVICE (503) until DELETE: the app stays alive and
    # serving, but Kubernetes stops sending it new traffic.
    if request.method == "POST":
        actuator.availability.refuse_traffic("maintenance window")
    else:
        actuator.availability.accept_traffic()
    return JSONResponse({"readiness": actuator.availability.readiness.value})


app = Starlette(
    routes=[Route("/", greet), Route("/maintenance", maintenance, methods=["POST", "DELETE"])],
    middleware=[Middleware(ActuatorMiddleware, actuator=actuator)],
)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port)
