"""The apps the health benchmark serves, one scenario per process (BENCH_SCENARIO).

Scenarios:
  twenty       20 indicators of 50 ms each
  hung         one indicator that never returns (actuator timeout 0.5 s)
  singleflight one 100 ms readiness indicator; its run count is readable
  passthrough  no indicators beyond the defaults; requests go to /items/{id}
Each exists for asgi-actuator (``actuator_app``), pyctuator (``pyctuator_app``)
and, for passthrough, the bare app (``bare_app``).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from fastapi import FastAPI

SCENARIO = os.environ.get("BENCH_SCENARIO", "twenty")
RUNS = {"count": 0}
_lock = threading.Lock()


def _count() -> None:
    with _lock:
        RUNS["count"] += 1


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "name": "widget"}

    @app.get("/bench/runs")
    async def runs() -> dict[str, int]:
        return RUNS

    return app


def _actuator_app() -> Any:
    from actuator import Actuator, ActuatorMiddleware, Health

    actuator = Actuator(name="bench", settings={"health": {"max_threads": 8}})
    if SCENARIO == "twenty":
        for n in range(20):

            async def slow() -> Health:
                await asyncio.sleep(0.05)
                return Health.up()

            actuator.add_indicator(f"slow{n}", slow)
    elif SCENARIO == "hung":

        async def hung() -> Health:
            await asyncio.Event().wait()
            return Health.up()

        actuator.add_indicator("hung", hung, timeout=0.5)
    elif SCENARIO == "singleflight":

        async def hundred() -> Health:
            _count()
            await asyncio.sleep(0.1)
            return Health.up()

        actuator.add_indicator("database", hundred, groups=["readiness"])
    app = _app()
    app.add_middleware(ActuatorMiddleware, actuator=actuator)
    return app


def _pyctuator_app() -> Any:
    from pyctuator.health.health_provider import (
        HealthDetails,
        HealthProvider,
        HealthStatus,
        Status,
    )
    from pyctuator.pyctuator import Pyctuator

    class Provider(HealthProvider):
        def __init__(self, name: str, seconds: float | None, count: bool = False) -> None:
            self.name, self.seconds, self.count = name, seconds, count

        def is_supported(self) -> bool:
            return True

        def get_name(self) -> str:
            return self.name

        def get_health(self) -> HealthStatus:
            if self.count:
                _count()
            if self.seconds is None:
                threading.Event().wait()
            else:
                time.sleep(self.seconds)
            return HealthStatus(Status.UP, HealthDetails())

    app = _app()
    pyctuator = Pyctuator(
        app,
        "bench",
        app_url="http://127.0.0.1:1",
        pyctuator_endpoint_url="http://127.0.0.1:1/pyctuator",
        registration_url=None,
    )
    if SCENARIO == "twenty":
        for n in range(20):
            pyctuator.register_health_provider(Provider(f"slow{n}", 0.05))
    elif SCENARIO == "hung":
        pyctuator.register_health_provider(Provider("hung", None))
    elif SCENARIO == "singleflight":
        pyctuator.register_health_provider(Provider("database", 0.1, count=True))
    return app


def _bare_app() -> Any:
    return _app()


def __getattr__(name: str) -> Any:
    # Build only the app a server asks for: importing pyctuator costs the others nothing.
    factories = {
        "actuator_app": _actuator_app,
        "pyctuator_app": _pyctuator_app,
        "bare_app": _bare_app,
    }
    if name in factories:
        app = factories[name]()
        globals()[name] = app
        return app
    raise AttributeError(name)
