"""The apps the overload benchmark serves, configured from the environment.

``capacity_app``: one endpoint, ``/work``, with a fixed capacity: it holds a
slot of a pool of ``SLOTS`` (default 2) for ``WORK_MS`` (default 20 ms) of
awaited work (a database call, say) plus about half a millisecond of CPU, so
it serves at most about ``SLOTS / (WORK_MS + 0.5 ms)`` requests per second
however many arrive.

``probe_app``: the metrics benchmark's Starlette service, for measuring
liveness probes while wrk saturates it.

Environment: ``OVERLOAD`` (``off``, ``fixed``, ``gradient``, ``aimd``),
``MANAGEMENT`` (``none``: probes on the app's port; ``loop``: a management
port on the app's event loop; ``thread``: a management port on its own
thread) and ``MANAGEMENT_PORT``.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actuator import Actuator, ActuatorMiddleware
from benchmarks.metrics_apps import _starlette

SLOTS = int(os.environ.get("SLOTS", "2"))
WORK_SECONDS = float(os.environ.get("WORK_MS", "20")) / 1000
CPU_SECONDS = 0.0005
FIXED_LIMIT = 2 * SLOTS


def _settings() -> dict[str, Any]:
    settings: dict[str, Any] = {
        "exposure": {"include": ["health", "prometheus"]},
        "health": {"show_details": "always"},
        "security": {"anonymous": ["*"]},
    }
    mode = os.environ.get("OVERLOAD", "off")
    if mode != "off":
        # The fixed limit is what an operator who measured the capacity would set;
        # the adaptive ones start from the default (100) and find it.
        settings["overload"] = {
            "enabled": True,
            "mode": mode,
            **({"limit": FIXED_LIMIT} if mode == "fixed" else {}),
            "latency_threshold": 3 * WORK_SECONDS,
        }
    management = os.environ.get("MANAGEMENT", "none")
    if management != "none":
        settings["management_server"] = {
            "enabled": True,
            "port": int(os.environ["MANAGEMENT_PORT"]),
            "thread": management == "thread",
        }
    return settings


def capacity_app() -> Starlette:
    pool = asyncio.Semaphore(SLOTS)

    async def work(request: Request) -> JSONResponse:
        async with pool:
            await asyncio.sleep(WORK_SECONDS)
            ends = time.perf_counter() + CPU_SECONDS
            while time.perf_counter() < ends:
                pass
        return JSONResponse({"done": True})

    app = Starlette(routes=[Route("/work", work)])
    app.add_middleware(ActuatorMiddleware, actuator=Actuator(name="capacity", settings=_settings()))
    return app


def probe_app() -> Starlette:
    app = _starlette()
    app.add_middleware(ActuatorMiddleware, actuator=Actuator(name="bench", settings=_settings()))
    return app
