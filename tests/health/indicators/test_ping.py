from __future__ import annotations

from actuator import Actuator, Health, Status
from actuator.health.indicators import ping
from tests.support.asgi import get_once


async def test_ping_is_always_up_without_details() -> None:
    assert await ping() == Health(Status.UP, {})


async def test_ping_is_registered_and_answers_through_the_endpoint() -> None:
    actuator = Actuator(settings={"health": {"show_details": "always"}})
    response = await get_once(actuator, "/actuator/health/ping")
    assert response.status_code == 200
    assert response.json() == {"status": "UP"}


async def test_ping_can_be_switched_off() -> None:
    actuator = Actuator(settings={"health": {"ping": {"enabled": False}}})
    assert "ping" not in {r.name for r in actuator.registrations}
