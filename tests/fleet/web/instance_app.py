"""An app with the actuator, pushing to a fleet console: one instance in the browser tests.

    ACTUATOR_FLEET__URL=http://127.0.0.1:8090 ACTUATOR_FLEET__TOKEN=... \\
        uvicorn tests.fleet.web.instance_app:app

Its ``db`` indicator is UP until ``POST /db/down`` (``POST /db/up`` mends it),
so a test can change the instance's status the way a failing dependency would.
Its version comes from ``APP_VERSION``; the rest of its settings from ``ACTUATOR_*``.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actuator import Actuator, Health

state = {"db": True}
actuator = Actuator(name="orders", version=os.environ.get("APP_VERSION", "1.0.0"))


def db() -> Health:
    return Health.up(pool=5) if state["db"] else Health.down("connection refused")


actuator.add_indicator("db", db, groups=["readiness"])


async def switch(request: Request) -> JSONResponse:
    state["db"] = request.path_params["to"] == "up"
    return JSONResponse(state)


app = actuator.wrap(Starlette(routes=[Route("/db/{to}", switch, methods=["POST"])]))
