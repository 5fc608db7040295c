"""The app the Spring Boot Admin protocol tests register: a Starlette app with the actuator.

Settings come from the server's ``ACTUATOR_*`` environment (credentials, exposure),
as a deployed service's would.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actuator import Actuator


async def list_orders(request: Request) -> JSONResponse:
    return JSONResponse([])


async def get_order(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["order_id"]})


actuator = Actuator(name="orders", version="2.3.1")
app = actuator.wrap(
    Starlette(
        routes=[
            Route("/orders", list_orders, methods=["GET", "POST"]),
            Route("/orders/{order_id:int}", get_order),
        ]
    )
)
