"""A small FastAPI service with the actuator's metrics, served by real uvicorn in e2e tests."""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, FastAPI

from actuator import Actuator, ActuatorMiddleware

actuator = Actuator(
    name="shop",
    version="1.0.0",
    settings={
        "exposure": {"include": ["health", "info", "prometheus", "metrics"]},
    },
)

router = APIRouter(prefix="/api")


@router.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"item": item_id}


@router.get("/work")
async def work() -> dict[str, int]:
    # Holds this worker's event loop, so concurrent requests spread over workers.
    time.sleep(0.01)  # noqa: ASYNC251
    return {"pid": os.getpid()}


app = FastAPI()
app.include_router(router)
app.add_middleware(ActuatorMiddleware, actuator=actuator)
