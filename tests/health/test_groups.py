"""Health groups: built-in and declared, membership, name clashes and per-group policies."""

from __future__ import annotations

from typing import Any

import pytest

from actuator import Actuator, Health, Status
from tests.support.asgi import RecordingApp, client_for, light_actuator

ALWAYS = {"health": {"show_details": "always"}}


async def get(actuator: Actuator, path: str) -> tuple[int, Any]:
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.get(f"/actuator/health{path}")
    return answer.status_code, answer.json()


async def members(actuator: Actuator, group: str) -> set[str]:
    _status, body = await get(actuator, f"/{group}")
    return set(body.get("components", {}))


async def test_builtin_groups_hold_their_availability_state_and_nothing_else() -> None:
    actuator = light_actuator(ALWAYS)
    actuator.add_indicator("db", lambda: True)
    assert await members(actuator, "liveness") == {"livenessState"}
    assert await members(actuator, "readiness") == {"readinessState"}
    assert await members(actuator, "startup") == {"startupState"}


async def test_indicators_join_the_groups_they_name() -> None:
    actuator = light_actuator(ALWAYS)
    actuator.add_indicator("db", lambda: True, groups=["readiness", "startup"])
    assert await members(actuator, "readiness") == {"readinessState", "db"}
    assert await members(actuator, "startup") == {"startupState", "db"}
    assert await members(actuator, "liveness") == {"livenessState"}


async def test_a_down_readiness_dependency_fails_readiness_but_not_liveness() -> None:
    actuator = light_actuator()
    actuator.add_indicator("db", lambda: False, groups=["readiness"])
    assert await get(actuator, "/readiness") == (503, {"status": "DOWN"})
    assert await get(actuator, "/liveness") == (200, {"status": "UP"})


async def test_declared_groups_include_by_name_star_and_tag_and_exclude_wins() -> None:
    actuator = light_actuator(
        {
            "health": {
                "show_details": "always",
                "groups": {
                    "db": {"include": "tag:db"},
                    "core": {
                        "include": ["*"],
                        "exclude": [
                            "tag:slow",
                            "ping",
                            "livenessState",
                            "readinessState",
                            "startupState",
                        ],
                    },
                    "named": {"include": ["cache", "ping"], "exclude": ["ping"]},
                },
            }
        }
    )
    actuator.add_indicator("primary", lambda: True, tags=["db"])
    actuator.add_indicator("replica", lambda: True, tags=["db", "slow"])
    actuator.add_indicator("cache", lambda: True)
    assert await members(actuator, "db") == {"primary", "replica"}
    assert await members(actuator, "core") == {"primary", "cache"}
    assert await members(actuator, "named") == {"cache"}


async def test_add_group_declares_a_group_in_code() -> None:
    actuator = light_actuator(ALWAYS)
    actuator.add_group("payments", include=["tag:psp", "ledger"], exclude=["sandbox"])
    actuator.add_indicator("stripe", lambda: True, tags=["psp"])
    actuator.add_indicator("sandbox", lambda: True, tags=["psp"])
    actuator.add_indicator("ledger", lambda: True)
    actuator.add_indicator("later", lambda: True, groups=["payments"])
    assert await members(actuator, "payments") == {"stripe", "ledger", "later"}
    _status, body = await get(actuator, "")
    assert "payments" in body["groups"]


async def test_an_empty_group_is_unknown_and_answers_200() -> None:
    actuator = light_actuator(ALWAYS)
    actuator.add_group("empty")
    assert await get(actuator, "/empty") == (200, {"status": "UNKNOWN", "components": {}})


def test_naming_an_unknown_group_on_registration_raises() -> None:
    with pytest.raises(ValueError, match=r"unknown group\(s\) \['readyness'\]"):
        light_actuator().add_indicator("db", lambda: True, groups=["readyness"])


def test_groups_must_be_a_list_not_a_string() -> None:
    with pytest.raises(TypeError, match="groups must be a list"):
        light_actuator().add_indicator("db", lambda: True, groups="readiness")


def test_group_and_indicator_names_cannot_clash() -> None:
    actuator = light_actuator()
    actuator.add_indicator("db", lambda: True)
    with pytest.raises(ValueError, match="taken by a health group"):
        actuator.add_indicator("readiness", lambda: True)
    with pytest.raises(ValueError, match="taken by an indicator"):
        actuator.add_group("db")
    with pytest.raises(ValueError, match="already exists"):
        actuator.add_group("liveness")
    with pytest.raises(ValueError, match="already registered"):
        actuator.add_indicator("db", lambda: True)


def test_a_group_from_settings_named_like_a_builtin_indicator_raises_at_construction() -> None:
    with pytest.raises(ValueError, match="'ping' is taken by a health group"):
        light_actuator({"health": {"groups": {"ping": {"include": ["*"]}}}})


@pytest.mark.parametrize("name", ["", "a/b", "-x", "a b", 3])
def test_invalid_group_and_indicator_names_raise(name: object) -> None:
    actuator = light_actuator()
    with pytest.raises(ValueError, match="name"):
        actuator.add_group(name)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        actuator.add_indicator(name, lambda: True)  # type: ignore[arg-type]


def test_a_group_with_a_bad_policy_raises() -> None:
    with pytest.raises(ValueError, match="show_details"):
        light_actuator().add_group("g", show_details="sometimes")
    with pytest.raises(ValueError, match="http_mapping"):
        light_actuator({"health": {"groups": {"g": {"http_mapping": {"DOWN": 700}}}}})


async def test_each_group_has_its_own_status_order_and_http_mapping() -> None:
    degraded = Status("DEGRADED")
    actuator = light_actuator()
    actuator.add_group(
        "lenient",
        include=["search"],
        status_order=["DOWN", "DEGRADED", "UP"],
        http_mapping={"DEGRADED": 200, "DOWN": 207},
    )
    actuator.add_group(
        "strict",
        include=["search"],
        status_order=["DEGRADED", "DOWN", "UP"],
        http_mapping={"DEGRADED": 500},
    )
    actuator.add_indicator("search", lambda: Health(degraded), blocking=False)
    actuator.add_indicator("mirror", lambda: False, groups=["lenient", "strict"], blocking=False)
    assert await get(actuator, "/lenient") == (207, {"status": "DOWN"})
    assert await get(actuator, "/strict") == (500, {"status": "DEGRADED"})


async def test_each_group_has_its_own_show_details_policy() -> None:
    actuator = light_actuator(
        {
            "health": {
                "show_details": "never",
                "groups": {
                    "readiness": {"show_details": "always"},
                    "ops": {"include": ["db"], "show_components": "always"},
                },
            }
        }
    )
    actuator.add_indicator("db", lambda: Health.up(pool=3), groups=["readiness"])
    assert await get(actuator, "") == (
        200,
        {"status": "UP", "groups": ["liveness", "ops", "readiness", "startup"]},
    )
    _status, body = await get(actuator, "/readiness")
    assert body["components"]["db"] == {"status": "UP", "details": {"pool": 3}}
    _status, body = await get(actuator, "/ops")
    assert body == {"status": "UP", "components": {"db": {"status": "UP"}}}


async def test_a_group_can_be_narrowed_to_one_of_its_components() -> None:
    actuator = light_actuator(ALWAYS)
    actuator.add_indicator("db", lambda: Health.up(pool=3), groups=["readiness"])
    actuator.add_indicator("other", lambda: True)
    assert await get(actuator, "/readiness/db") == (200, {"status": "UP", "details": {"pool": 3}})
    status, body = await get(actuator, "/readiness/other")
    assert status == 404
    assert body["message"] == "No health group or component at 'readiness/other'"
