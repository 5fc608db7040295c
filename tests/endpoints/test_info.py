"""The info endpoint with custom contributors: concurrency, failures and timeouts."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest

from actuator import Actuator
from tests.support.asgi import RecordingApp, client_for, light_actuator

BUILTINS = ["app", "build", "git", "python", "os", "process", "features", "facts"]


def bare(settings: dict[str, Any] | None = None) -> Actuator:
    """An actuator exposing info, without the built-in sections."""
    return light_actuator(
        {"exposure": {"include": ["info"]}, "info": {"exclude": BUILTINS, **(settings or {})}}
    )


async def get_info(actuator: Actuator, **headers: str) -> httpx.Response:
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        return await client.get("/actuator/info", headers=headers)


class Team:
    def contribute(self) -> dict[str, str]:
        return {"owner": "payments"}


class Region:
    async def contribute(self) -> dict[str, str]:
        return {"name": "eu-west-1"}


async def test_sync_async_and_object_contributors() -> None:
    actuator = bare()
    actuator.add_contributor("team", Team())
    actuator.add_contributor("region", Region())
    actuator.add_contributor("links", lambda: {"runbook": "https://runbooks/orders"})

    async def flags() -> dict[str, bool]:
        return {"checkout": True}

    actuator.add_contributor("flags", flags)
    answer = await get_info(actuator)
    assert answer.status_code == 200
    assert answer.json() == {
        "team": {"owner": "payments"},
        "region": {"name": "eu-west-1"},
        "links": {"runbook": "https://runbooks/orders"},
        "flags": {"checkout": True},
    }


async def test_contributors_run_concurrently() -> None:
    # Each contributor waits until all three have started: run one after the
    # other, the first would wait alone and answer False (or time out at 5 s).
    actuator = bare({"timeout": 5})
    started: list[str] = []

    async def waits_async(name: str) -> dict[str, bool]:
        started.append(name)
        for _ in range(300):
            if len(started) == 3:
                return {"met": True}
            await asyncio.sleep(0.01)
        return {"met": False}

    def waits_sync() -> dict[str, bool]:
        started.append("three")
        for _ in range(300):
            if len(started) == 3:
                return {"met": True}
            time.sleep(0.01)
        return {"met": False}

    actuator.add_contributor("one", lambda: waits_async("one"))
    actuator.add_contributor("two", lambda: waits_async("two"))
    actuator.add_contributor("three", waits_sync)
    answer = await get_info(actuator)
    assert answer.json() == {"one": {"met": True}, "two": {"met": True}, "three": {"met": True}}


async def test_a_failing_contributor_fills_its_own_slot_and_the_rest_answer_200(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = bare()

    def broken() -> dict[str, Any]:
        raise KeyError("GIT_COMMIT")

    actuator.add_contributor("team", Team())
    actuator.add_contributor("git2", broken)
    with caplog.at_level(logging.WARNING, logger="actuator.info"):
        answer = await get_info(actuator)
    assert answer.status_code == 200
    assert answer.json() == {
        "team": {"owner": "payments"},
        "git2": {"error": "KeyError: 'GIT_COMMIT'"},
    }
    assert "Traceback" not in answer.text
    first, *traceback = caplog.records[0].getMessage().splitlines()
    assert first == "Info contributor 'git2' failed: KeyError: 'GIT_COMMIT'"
    assert traceback[0] == "Traceback (most recent call last):"  # sanitized, in the message


async def test_a_failing_contributor_is_logged_once_and_its_recovery_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = bare({"timeout": 0.05})
    outcomes = iter(["boom", "boom", "late", "late", "junk", "ok"])
    released = asyncio.Event()

    async def flaky() -> Any:
        outcome = next(outcomes)
        if outcome == "boom":
            raise OSError("disk gone")
        if outcome == "late":
            await released.wait()
        return [] if outcome == "junk" else {"ok": True}

    actuator.add_contributor("flaky", flaky)
    with caplog.at_level(logging.INFO, logger="actuator.info"):
        for _ in range(6):
            await actuator.info()
    released.set()
    assert [r.getMessage().splitlines()[0] for r in caplog.records] == [
        "Info contributor 'flaky' failed: OSError: disk gone",
        "Info contributor 'flaky' failed: TimeoutError: info contributor 'flaky' did not "
        "answer within 0.05s",
        "Info contributor 'flaky' failed: TypeError: info contributor 'flaky' returned list, "
        "expected a mapping",
        "Info contributor 'flaky' recovered",
    ]


async def test_a_slow_contributor_times_out_in_its_own_slot() -> None:
    actuator = bare({"timeout": 0.1})
    released = asyncio.Event()

    async def stuck() -> dict[str, Any]:
        await released.wait()
        return {}

    actuator.add_contributor("stuck", stuck)
    actuator.add_contributor("team", Team())
    try:
        started = time.monotonic()
        answer = await get_info(actuator)
        assert time.monotonic() - started < 0.5
    finally:
        released.set()
    assert answer.json() == {
        "stuck": {"error": "TimeoutError: info contributor 'stuck' did not answer within 0.1s"},
        "team": {"owner": "payments"},
    }


async def test_none_or_empty_leaves_the_section_out_and_junk_is_an_error() -> None:
    actuator = bare()
    actuator.add_contributor("nothing", lambda: None)
    actuator.add_contributor("empty", dict)
    actuator.add_contributor("junk", lambda: ["not", "a", "mapping"])  # type: ignore[arg-type,return-value]
    assert (await get_info(actuator)).json() == {
        "junk": {"error": "TypeError: info contributor 'junk' returned list, expected a mapping"}
    }


async def test_info_takes_no_path_and_speaks_v3() -> None:
    actuator = bare()
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        deeper = await client.get("/actuator/info/app")
        v3 = await client.get(
            "/actuator/info", headers={"accept": "application/vnd.spring-boot.actuator.v3+json"}
        )
    assert deeper.status_code == 404
    assert deeper.json()["message"] == "No such path under endpoint 'info'"
    assert v3.headers["content-type"] == "application/vnd.spring-boot.actuator.v3+json"


async def test_builtin_sections_are_present_by_default_and_can_be_excluded() -> None:
    info = await light_actuator(name="orders").info()
    assert set(BUILTINS) - {"build", "git", "facts"} <= set(info)  # those three need data
    assert info["app"]["name"] == "orders"
    assert set(await bare().info()) == set()


def test_contributor_names_are_checked() -> None:
    actuator = bare()
    actuator.add_contributor("team", Team())
    with pytest.raises(ValueError, match="already registered"):
        actuator.add_contributor("team", Team())
    with pytest.raises(ValueError, match="name"):
        actuator.add_contributor("a/b", Team())
    with pytest.raises(TypeError, match="contributor 'x' must be a callable"):
        actuator.add_contributor("x", {"static": "mapping"})  # type: ignore[arg-type]


async def test_remove_contributor() -> None:
    actuator = bare()
    actuator.add_contributor("team", Team())
    actuator.remove_contributor("team")
    assert await actuator.info() == {}
    with pytest.raises(KeyError, match="team"):
        actuator.remove_contributor("team")


async def test_a_circular_or_huge_section_is_an_error_in_its_own_slot() -> None:
    actuator = bare()
    circular: dict[str, Any] = {"name": "loop"}
    circular["self"] = circular
    actuator.add_contributor("circular", lambda: circular)
    actuator.add_contributor("huge", lambda: {"blob": "x" * (50 * 1024 * 1024)})
    actuator.add_contributor("team", Team())
    answer = await get_info(actuator)
    assert answer.status_code == 200
    body = answer.json()
    assert body["team"] == {"owner": "payments"}
    assert "circular reference" in body["circular"]["error"]
    assert body["huge"] == {"error": "section more than 1048576 bytes as JSON (the limit)"}


async def test_sections_and_errors_pass_through_the_sanitizer() -> None:
    actuator = bare()
    actuator.add_contributor(
        "db",
        lambda: {
            "url": "postgres://app:Zm9v/YmFy@db/app",
            "replicas": [{"host": "r1", "password": "pw1"}],
        },
    )

    def broken() -> dict[str, Any]:
        raise ConnectionError("host=db password=Zm9vYmFy")

    actuator.add_contributor("broken", broken)
    answer = await get_info(actuator)
    assert "Zm9v" not in answer.text
    assert "pw1" not in answer.text
    assert answer.json()["db"]["url"] == "postgres://app:******@db/app"
    assert answer.json()["broken"] == {"error": "ConnectionError: host=db password=******"}
