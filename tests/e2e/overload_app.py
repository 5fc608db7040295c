"""An app with a slow endpoint and overload protection, configured by ``ACTUATOR_*``."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from actuator import Actuator


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(float(request.query_params.get("seconds", "0.5")))
    return PlainTextResponse("done")


app = Actuator(name="overloaded").wrap(Starlette(routes=[Route("/slow", slow)]))
