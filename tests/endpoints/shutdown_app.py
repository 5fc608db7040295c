"""The app the real-uvicorn shutdown test serves; its lifespan shutdown leaves a marker file.

Settings come from ``ACTUATOR_*`` variables; ``SHUTDOWN_MARKER`` names the marker file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from actuator import Actuator


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await asyncio.to_thread(Path(os.environ["SHUTDOWN_MARKER"]).write_text, "lifespan shutdown ran")


actuator = Actuator(name="shutdown-e2e")
app = actuator.wrap(Starlette(routes=[Route("/hello", hello)], lifespan=lifespan))
