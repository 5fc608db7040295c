"""Small apps that end-to-end tests serve with a real uvicorn."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from actuator import Actuator


async def hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


actuator = Actuator(name="e2e", version="0.0.1")
app = actuator.wrap(Starlette(routes=[Route("/hello", hello)]))
