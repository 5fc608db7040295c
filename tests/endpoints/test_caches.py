from __future__ import annotations

import functools
from typing import Any

import cachetools
import pytest

from actuator import Actuator
from tests.support.management import make_actuator, serve


@functools.lru_cache(maxsize=128)
def square(n: int) -> int:
    return n * n


@pytest.fixture
def actuator() -> Actuator:
    square.cache_clear()
    for n in (1, 2, 2, 3, 3, 3):
        square(n)
    actuator = make_actuator()
    actuator.add_cache("squares", square)
    ttl: cachetools.TTLCache[str, int] = cachetools.TTLCache(maxsize=10, ttl=60)
    ttl["a"] = 1
    actuator.add_cache("sessions", ttl, manager="auth")
    actuator.add_cache("plain", {"x": 1, "y": 2})
    return actuator


async def test_caches_are_listed_by_manager_with_target_and_sizes(actuator: Actuator) -> None:
    async with serve(actuator) as http:
        body = (await http.get("/actuator/caches")).json()
    managers = body["cacheManagers"]
    assert managers["app"]["caches"]["squares"] == {
        "target": "functools.lru_cache(tests.endpoints.test_caches.square)",
        "size": 3,
        "maxSize": 128,
        "hits": 3,
        "misses": 3,
    }
    assert managers["auth"]["caches"]["sessions"] == {
        "target": "cachetools.TTLCache",
        "size": 1,
        "maxSize": 10,
    }
    assert managers["app"]["caches"]["plain"] == {"target": "builtins.dict", "size": 2}


async def test_one_cache_by_name_and_manager(actuator: Actuator) -> None:
    actuator.add_cache("squares", {}, manager="other")
    async with serve(actuator) as http:
        ambiguous = await http.get("/actuator/caches/squares")
        chosen = await http.get("/actuator/caches/squares", params={"cacheManager": "app"})
        missing = await http.get("/actuator/caches/nope")
        empty = await http.get("/actuator/caches", params={"cacheManager": ""})
    assert ambiguous.status_code == 400
    assert ambiguous.json()["parameter"] == "cacheManager"
    assert chosen.json()["name"] == "squares"
    assert chosen.json()["cacheManager"] == "app"
    assert chosen.json()["size"] == 3
    assert missing.status_code == 404
    assert missing.json()["message"] == "No cache named 'nope'"
    assert empty.status_code == 400


async def test_delete_clears_one_cache_or_all_and_is_audited(
    actuator: Actuator, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(actuator) as http:
        one = await http.delete("/actuator/caches/squares")
        after_one = (await http.get("/actuator/caches")).json()["cacheManagers"]
        everything = await http.delete("/actuator/caches")
        after_all = (await http.get("/actuator/caches")).json()["cacheManagers"]
        events = await http.get("/actuator/auditevents", params={"type": "caches.clear"})
    assert one.status_code == 204
    assert one.content == b""
    assert after_one["app"]["caches"]["squares"]["size"] == 0
    assert after_one["auth"]["caches"]["sessions"]["size"] == 1
    assert everything.status_code == 204
    assert {c["size"] for m in after_all.values() for c in m["caches"].values()} == {0}
    audited = events.json()["events"]
    assert audited[0]["data"] == {"caches": ["app/squares"]}
    assert sorted(audited[1]["data"]["caches"]) == ["app/plain", "app/squares", "auth/sessions"]
    assert "caches.clear by 10.0.0.7:51234" in caplog.text


@pytest.mark.parametrize(
    ("name", "cache", "error"),
    [
        ("", {}, ValueError),
        ("a/b", {}, ValueError),
        ("numbers", 42, TypeError),
        ("numbers", object(), TypeError),
    ],
)
def test_registering_a_bad_cache_names_the_problem(
    name: str, cache: Any, error: type[Exception]
) -> None:
    actuator = make_actuator()
    with pytest.raises(error):
        actuator.add_cache(name, cache)


def test_a_cache_name_is_unique_within_its_manager() -> None:
    actuator = make_actuator()
    actuator.add_cache("c", {})
    with pytest.raises(ValueError, match="already registered"):
        actuator.add_cache("c", {})
    actuator.add_cache("c", {}, manager="other")
    actuator.caches.remove("c")
    with pytest.raises(KeyError):
        actuator.caches.remove("c")
