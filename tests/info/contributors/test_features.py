from __future__ import annotations

from typing import Any

from actuator import Actuator
from tests.support.management import make_actuator, serve


async def info(actuator: Actuator) -> dict[str, Any]:
    async with serve(actuator) as http:
        answer = await http.get("/actuator/info")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


async def test_by_default_only_ping_is_enabled() -> None:
    actuator = Actuator(settings={"exposure": {"include": ["info", "ping"]}})
    features = (await info(actuator))["features"]
    assert features == {
        "ping": True,
        "loggers": False,
        "setLogLevel": False,
        "pause": False,
        "resume": False,
        "flip": False,
        "shutdown": False,
        "env": False,
        "threaddump": False,
        "mappings": False,
        "overload": False,
    }


async def test_exposed_read_only_endpoints_enable_reading_but_not_changing() -> None:
    actuator = Actuator(settings={"exposure": {"include": ["*"]}})
    features = (await info(actuator))["features"]
    assert features["loggers"] is True
    assert features["setLogLevel"] is False
    assert features["pause"] is False
    assert features["threaddump"] is True


async def test_write_access_per_endpoint_enables_that_operation() -> None:
    actuator = Actuator(
        settings={
            "exposure": {"include": ["*"]},
            "access": {"endpoints": {"pause": "unrestricted", "shutdown": "unrestricted"}},
            "shutdown": {"enabled": True},
        }
    )
    features = (await info(actuator))["features"]
    assert features["pause"] is True
    assert features["resume"] is False
    assert features["shutdown"] is True


async def test_shutdown_stays_off_until_enabled_even_with_full_access() -> None:
    features = (await info(make_actuator()))["features"]
    assert features["shutdown"] is False
    assert features["setLogLevel"] is True


async def test_features_can_be_excluded_from_info() -> None:
    body = await info(make_actuator(info={"exclude": ["features"]}))
    assert "features" not in body


async def test_overload_is_a_feature_when_load_shedding_is_on() -> None:
    actuator = Actuator(settings={"exposure": {"include": ["info"]}, "overload": {"enabled": True}})
    assert (await info(actuator))["features"]["overload"] is True
