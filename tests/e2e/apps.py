"""Small apps that end-to-end tests serve with a real uvicorn.

Each module-level app builds its actuator from ``ACTUATOR_*`` variables, so a
test sets the drain period or the show-details policy through the server's
environment. ``E2E_MARKER``, when set, names a file the lifespan app writes
``startup`` and ``shutdown`` lines to, so a test can prove they ran;
``E2E_RELEASE``, when set, names a file whose appearance ends the lifespan
startup (until then the app is starting); ``E2E_SLOW``, a file ``/slow``
writes its process id to when it begins.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from actuator import Actuator
from actuator.management.drain import stop_server


def _mark(event: str) -> None:
    marker = os.environ.get("E2E_MARKER")
    if marker:
        with open(marker, "a", encoding="utf-8") as file:
            file.write(event + "\n")


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def sigterm_handler(request: Request) -> JSONResponse:
    """Who handles SIGTERM now: the drain or the server."""
    handler = signal.getsignal(signal.SIGTERM)
    return JSONResponse({"handler": getattr(handler, "__qualname__", repr(handler))})


async def pid(request: Request) -> JSONResponse:
    return JSONResponse({"pid": os.getpid()})


async def work(request: Request) -> JSONResponse:
    """Holds this worker's event loop for 10 ms, so concurrent requests spread over workers."""
    time.sleep(0.01)  # noqa: ASYNC251
    return JSONResponse({"pid": os.getpid()})


async def slow(request: Request) -> JSONResponse:
    """Answers after ``?seconds=`` (default 1): a request in flight."""
    started = os.environ.get("E2E_SLOW")
    if started:
        with open(started, "a", encoding="utf-8") as file:  # noqa: ASYNC230 (a test app)
            file.write(f"{os.getpid()}\n")
    await asyncio.sleep(float(request.query_params.get("seconds", "1")))
    return JSONResponse({"pid": os.getpid()})


async def stop(request: Request) -> PlainTextResponse:
    stop_server()
    return PlainTextResponse("stopping")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    release = os.environ.get("E2E_RELEASE")
    # A test app: poll for the file the test creates when startup may end.
    while release and not os.path.exists(release):  # noqa: ASYNC110, ASYNC240
        await asyncio.sleep(0.05)
    _mark("startup")
    yield
    _mark("shutdown")


actuator = Actuator(name="e2e", version="0.0.1")
app = actuator.wrap(
    Starlette(
        routes=[
            Route("/hello", hello),
            Route("/pid", pid),
            Route("/work", work),
            Route("/slow", slow),
            Route("/sigterm-handler", sigterm_handler),
            Route("/stop", stop, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
)


@contextlib.asynccontextmanager
async def failing_lifespan(app: Starlette) -> AsyncIterator[None]:
    raise RuntimeError("database unreachable")
    yield  # pragma: no cover


failing_app = Actuator(name="failing").wrap(Starlette(lifespan=failing_lifespan))


async def _hello_asgi(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


async def raising_bare(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app that knows only HTTP and fails on anything else."""
    if scope["type"] != "http":
        raise ValueError(f"unsupported scope type {scope['type']!r}")
    await _hello_asgi(send)


async def returning_bare(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app that knows only HTTP and silently ignores anything else."""
    if scope["type"] == "http":
        await _hello_asgi(send)


raising_bare_app = Actuator(name="raising-bare").wrap(raising_bare)
returning_bare_app = Actuator(name="returning-bare").wrap(returning_bare)
