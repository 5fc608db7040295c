"""The load-shedding layer as users meet it: the actuator middleware with ``overload`` on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from actuator import ActuatorMiddleware
from actuator.overload import ConcurrencyLimiter, FixedLimit, OverloadMiddleware
from tests.support.asgi import client_for, light_actuator


class GatedApp:
    """Answers 200 once ``gate`` opens; counts the requests it is serving."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.serving = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.serving += 1
        try:
            await self.gate.wait()
        finally:
            self.serving -= 1
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"served"})


def overloaded(**overload: object) -> tuple[ActuatorMiddleware, GatedApp]:
    app = GatedApp()
    settings = {"enabled": True, "mode": "fixed", "limit": 1, **overload}
    actuator = light_actuator(
        {
            "overload": settings,
            "exposure": {"include": ["health", "prometheus", "info"]},
            "health": {"show_details": "always"},
        }
    )
    return ActuatorMiddleware(app, actuator=actuator), app


async def saturate(client: httpx.AsyncClient, app: GatedApp) -> asyncio.Task[httpx.Response]:
    held = asyncio.ensure_future(client.get("/work"))
    await eventually(lambda: app.serving > 0)
    return held


async def eventually(check: Callable[[], bool]) -> None:
    for _ in range(5000):
        if check():
            return
        await asyncio.sleep(0.001)
    raise TimeoutError(f"{check} never held")


async def test_a_request_beyond_the_limit_gets_429_with_retry_after_and_a_json_reason() -> None:
    middleware, app = overloaded(retry_after=3, retry_after_jitter=0)
    async with client_for(middleware, middleware.actuator) as client:
        held = await saturate(client, app)
        refused = await client.get("/work")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "3"
        assert refused.headers["content-type"] == "application/json"
        assert refused.json() == {
            "status": 429,
            "error": "Too Many Requests",
            "message": "Too many requests in flight; retry later",
            "path": "/work",
            "reason": "limit",
        }
        app.gate.set()
        assert (await held).status_code == 200
        assert (await client.get("/work")).status_code == 200


async def test_retry_after_is_jittered_within_its_bounds() -> None:
    limiter = ConcurrencyLimiter(FixedLimit(1))
    limiter.try_admit()
    bounds: list[tuple[int, int]] = []

    def randint(low: int, high: int) -> int:
        bounds.append((low, high))
        return high

    layer = OverloadMiddleware(
        GatedApp(), limiter=limiter, retry_after=2, retry_after_jitter=5, randint=randint
    )
    async with client_for(layer) as client:
        refused = await client.get("/x")
    assert refused.headers["retry-after"] == "7"
    assert bounds == [(0, 5)]


async def test_no_retry_after_header_when_it_is_set_to_zero() -> None:
    middleware, app = overloaded(retry_after=0)
    async with client_for(middleware, middleware.actuator) as client:
        held = await saturate(client, app)
        refused = await client.get("/work")
        assert refused.status_code == 429
        assert "retry-after" not in refused.headers
        app.gate.set()
        await held


async def test_the_actuators_own_requests_and_probes_are_never_shed() -> None:
    middleware, app = overloaded()
    async with client_for(middleware, middleware.actuator) as client:
        held = await saturate(client, app)
        for path in (
            "/actuator/health/liveness",
            "/actuator/health/readiness",
            "/actuator/health",
            "/actuator/prometheus",
        ):
            assert (await client.get(path)).status_code == 200, path
        app.gate.set()
        await held


async def test_exempt_paths_pass_even_when_the_limit_is_reached() -> None:
    middleware, app = overloaded(exempt=["/internal"])
    async with client_for(middleware, middleware.actuator) as client:
        held = await saturate(client, app)
        exempt = asyncio.ensure_future(client.get("/internal/job"))
        await eventually(lambda: app.serving == 2)
        assert (await client.get("/internalx")).status_code == 429  # a prefix, not a substring
        app.gate.set()
        assert (await exempt).status_code == 200
        await held


async def test_a_request_may_wait_in_the_queue_for_a_slot() -> None:
    middleware, app = overloaded(queue_size=1, queue_timeout=5)
    async with client_for(middleware, middleware.actuator) as client:
        held = await saturate(client, app)
        queued = asyncio.ensure_future(client.get("/work"))
        await eventually(lambda: middleware.actuator.overload.queued == 1)  # type: ignore[union-attr]
        full = await client.get("/work")
        assert full.json()["reason"] == "queue_full"
        app.gate.set()
        assert (await held).status_code == 200
        assert (await queued).status_code == 200


async def test_a_malformed_deadline_header_is_a_400_naming_it_busy_or_not() -> None:
    middleware, app = overloaded()
    app.gate.set()
    async with client_for(middleware, middleware.actuator) as client:
        answer = await client.get("/work", headers={"grpc-timeout": "soon"})
        assert answer.status_code == 400
        assert "grpc-timeout" in answer.json()["message"]
        assert middleware.actuator.overload.in_flight == 0  # type: ignore[union-attr]
        assert (await client.get("/work", headers={"x-request-timeout": "1.5"})).status_code == 200


async def test_a_malformed_deadline_header_is_ignored_when_so_configured() -> None:
    middleware, app = overloaded(bad_deadline="ignore")
    app.gate.set()
    async with client_for(middleware, middleware.actuator) as client:
        answer = await client.get("/work", headers={"x-request-timeout": "-4"})
        assert answer.status_code == 200


async def test_limiter_metrics_are_served_by_the_prometheus_endpoint() -> None:
    middleware, app = overloaded()
    async with client_for(middleware, middleware.actuator) as client:
        held = await saturate(client, app)
        await client.get("/work")
        text = (await client.get("/actuator/prometheus")).text
        app.gate.set()
        await held
    assert "actuator_overload_limit 1.0" in text
    assert "actuator_overload_in_flight_requests 1.0" in text
    assert "actuator_overload_queued_requests 0.0" in text
    assert 'actuator_overload_refused_requests_total{reason="limit"} 1.0' in text
    assert 'actuator_overload_refused_requests_total{reason="deadline"} 0.0' in text


async def test_the_overload_indicator_is_out_of_service_once_shedding_persists() -> None:
    middleware, app = overloaded(out_of_service_after=0.05, readiness=True)
    async with client_for(middleware, middleware.actuator) as client:
        health = (await client.get("/actuator/health/overload")).json()
        assert health["status"] == "UP"
        assert health["details"]["mode"] == "fixed"
        held = await saturate(client, app)
        await client.get("/work")
        await asyncio.sleep(0.06)
        await client.get("/work")
        readiness = await client.get("/actuator/health/readiness")
        assert readiness.status_code == 503
        assert readiness.json()["components"]["overload"]["status"] == "OUT_OF_SERVICE"
        assert readiness.json()["components"]["overload"]["details"]["refused"]["limit"] == 2
        app.gate.set()
        await held


async def test_the_overload_indicator_stays_out_of_readiness_by_default() -> None:
    middleware, _ = overloaded()
    async with client_for(middleware, middleware.actuator) as client:
        readiness = (await client.get("/actuator/health/readiness")).json()
    assert "overload" not in readiness.get("components", {})


def test_when_off_the_app_is_called_directly_with_no_layer_in_between() -> None:
    app = GatedApp()
    middleware = ActuatorMiddleware(app, actuator=light_actuator())
    assert middleware.app is app
    assert middleware.actuator.overload is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"min_limit": 10, "max_limit": 5}, "min_limit"),
        ({"exempt": ["internal"]}, "exempt paths must start with '/'"),
        ({"mode": "vegas"}, "overload.mode"),
        ({"queue_timeout": 0}, "overload.queue_timeout"),
    ],
)
def test_invalid_overload_settings_name_the_setting(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        light_actuator({"overload": {"enabled": True, **settings}})


async def test_a_malformed_deadline_header_is_a_400_while_busy_too() -> None:
    middleware, app = overloaded()
    async with client_for(middleware, middleware.actuator) as client:
        held = await saturate(client, app)
        answer = await client.get("/work", headers={"grpc-timeout": "soon"})
        assert answer.status_code == 400
        assert "grpc-timeout" in answer.json()["message"]
        app.gate.set()
        assert (await held).status_code == 200


async def test_an_ignored_malformed_deadline_waits_in_the_queue_like_any_request() -> None:
    middleware, app = overloaded(bad_deadline="ignore", queue_size=1, queue_timeout=5)
    async with client_for(middleware, middleware.actuator) as client:
        held = await saturate(client, app)
        queued = asyncio.ensure_future(client.get("/work", headers={"x-request-timeout": "-4"}))
        await eventually(lambda: middleware.actuator.overload.queued == 1)  # type: ignore[union-attr]
        app.gate.set()
        assert (await held).status_code == 200
        assert (await queued).status_code == 200


async def test_exempt_paths_are_matched_below_the_root_path() -> None:
    limiter = ConcurrencyLimiter(FixedLimit(1))
    app = GatedApp()
    layer = OverloadMiddleware(app, limiter=limiter, exempt=["/internal"])
    transport = httpx.ASGITransport(app=layer, root_path="/svc")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        held = asyncio.ensure_future(client.get("/svc/work"))
        await eventually(lambda: app.serving == 1)
        exempt = asyncio.ensure_future(client.get("/svc/internal/job"))
        await eventually(lambda: app.serving == 2)
        app.gate.set()
        assert (await exempt).status_code == 200
        assert (await held).status_code == 200


def test_an_unknown_bad_deadline_policy_names_the_setting() -> None:
    with pytest.raises(ValueError, match="bad_deadline"):
        OverloadMiddleware(GatedApp(), limiter=ConcurrencyLimiter(FixedLimit(1)), bad_deadline="x")
