"""An instance for the fleet's end-to-end tests: an app whose actuator pushes to a console.

Everything comes from the environment (``ACTUATOR_*``, see ``tests.fleet.fleetrun``);
``APP_NAME`` names the service. Served by a real uvicorn in its own process.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from actuator import Actuator


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


actuator = Actuator(name=os.environ.get("APP_NAME", "orders"), version="1.0.0")
app = actuator.wrap(Starlette(routes=[Route("/hello", hello)]))
