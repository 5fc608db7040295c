from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from actuator import Actuator
from actuator.management.log_levels import OFF, TRACE, level_name, parse_level
from tests.support.management import ANYONE, BAD_BODIES, CLIENT, make_actuator, serve


@pytest.fixture
def name() -> Iterator[str]:
    """A fresh logger name; its level and the root's are restored afterwards."""
    root_level = logging.getLogger().level
    logger_name = f"mgmt.{uuid.uuid4().hex[:8]}"
    yield logger_name
    logging.getLogger().setLevel(root_level)
    for known in list(logging.Logger.manager.loggerDict):
        if known.startswith(logger_name):
            logging.getLogger(known).setLevel(logging.NOTSET)


async def test_lists_levels_loggers_and_groups_in_spring_shape(name: str) -> None:
    logging.getLogger(f"{name}.child")
    actuator = make_actuator()
    async with serve(actuator) as http:
        body = (await http.get("/actuator/loggers")).json()
    assert body["levels"] == ["OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
    assert next(iter(body["loggers"])) == "ROOT"
    # The parent exists only as a placeholder: listed, and not created by listing it.
    assert body["loggers"][name] == {"configuredLevel": None, "effectiveLevel": "WARN"}
    assert not isinstance(logging.Logger.manager.loggerDict[name], logging.Logger)
    assert body["loggers"][f"{name}.child"]["configuredLevel"] is None
    assert body["groups"]["web"]["members"][:3] == ["uvicorn", "uvicorn.error", "uvicorn.access"]


async def test_post_configured_level_sets_it_and_answers_204(name: str) -> None:
    logging.getLogger(name)
    actuator = make_actuator()
    async with serve(actuator) as http:
        posted = await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "DEBUG"})
        shown = (await http.get(f"/actuator/loggers/{name}")).json()
    assert posted.status_code == 204
    assert posted.content == b""
    assert shown == {"configuredLevel": "DEBUG", "effectiveLevel": "DEBUG"}
    assert logging.getLogger(name).level == logging.DEBUG


@pytest.mark.parametrize(
    ("level", "value", "shown"),
    [
        ("debug", logging.DEBUG, "DEBUG"),
        ("info", logging.INFO, "INFO"),
        ("warn", logging.WARNING, "WARN"),
        ("critical", logging.CRITICAL, "FATAL"),
        ("TRACE", TRACE, "TRACE"),
        ("Fatal", logging.CRITICAL, "FATAL"),
    ],
)
async def test_coarse_and_spring_level_names_map_onto_python_levels(
    name: str, level: str, value: int, shown: str
) -> None:
    logging.getLogger(name)
    actuator = make_actuator()
    async with serve(actuator) as http:
        posted = await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": level})
        body = (await http.get(f"/actuator/loggers/{name}")).json()
    assert posted.status_code == 204
    assert logging.getLogger(name).level == value
    assert body["configuredLevel"] == shown


async def test_trace_is_registered_as_a_level_name(name: str) -> None:
    logging.getLogger(name)
    actuator = make_actuator()
    async with serve(actuator) as http:
        await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "TRACE"})
    assert logging.getLevelName(TRACE) == "TRACE"
    assert logging.getLogger(name).isEnabledFor(TRACE)


async def test_off_silences_that_logger_only(name: str) -> None:
    silenced, other = logging.getLogger(name), logging.getLogger(f"{name}x")
    actuator = make_actuator()
    async with serve(actuator) as http:
        posted = await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "OFF"})
    assert posted.status_code == 204
    assert not silenced.isEnabledFor(logging.CRITICAL)
    assert other.isEnabledFor(logging.CRITICAL)
    assert logging.root.manager.disable == logging.NOTSET
    assert silenced.level == OFF


@pytest.mark.parametrize("body", [b"{}", b"null", b"", b'{"configuredLevel": null}'])
async def test_empty_or_null_body_clears_the_level(name: str, body: bytes) -> None:
    logging.getLogger(name)
    actuator = make_actuator()
    async with serve(actuator) as http:
        await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "ERROR"})
        cleared = await http.post(
            f"/actuator/loggers/{name}", content=body, headers={"content-type": "application/json"}
        )
        shown = (await http.get(f"/actuator/loggers/{name}")).json()
    assert cleared.status_code == 204
    assert shown == {"configuredLevel": None, "effectiveLevel": "WARN"}
    assert logging.getLogger(name).level == logging.NOTSET


async def test_clearing_restores_the_level_the_logger_had_before(name: str) -> None:
    logging.getLogger(name).setLevel(logging.INFO)  # as uvicorn configures uvicorn.error
    actuator = make_actuator()
    async with serve(actuator) as http:
        await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "DEBUG"})
        await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "TRACE"})
        await http.post(f"/actuator/loggers/{name}", json={})
    assert logging.getLogger(name).level == logging.INFO


async def test_root_logger_is_named_root(name: str) -> None:
    before = logging.getLogger().level
    actuator = make_actuator()
    async with serve(actuator) as http:
        await http.post("/actuator/loggers/ROOT", json={"configuredLevel": "ERROR"})
        set_to = logging.getLogger().level
        shown = (await http.get("/actuator/loggers/ROOT")).json()
        await http.post("/actuator/loggers/ROOT", json={})
    assert set_to == logging.ERROR
    assert shown == {"configuredLevel": "ERROR", "effectiveLevel": "ERROR"}
    assert logging.getLogger().level == before


async def test_unknown_logger_is_404_and_is_not_created(name: str) -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        got = await http.get(f"/actuator/loggers/{name}")
        posted = await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "DEBUG"})
    assert got.status_code == posted.status_code == 404
    assert name in posted.json()["message"]
    assert name not in logging.Logger.manager.loggerDict


async def test_bad_level_is_400_listing_the_valid_ones(name: str) -> None:
    logging.getLogger(name).setLevel(logging.INFO)
    actuator = make_actuator()
    async with serve(actuator) as http:
        answer = await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "LOUD"})
    assert answer.status_code == 400
    body = answer.json()
    assert "'LOUD'" in body["message"]
    assert "TRACE" in body["message"]
    assert body["field"] == "configuredLevel"
    assert body["validLevels"] == ["OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
    assert logging.getLogger(name).level == logging.INFO


@pytest.mark.parametrize(
    ("body", "content_type", "status", "named"),
    [
        (b'{"configuredLevel": 10}', "application/json", 400, "configuredLevel"),
        (b'{"level": "DEBUG"}', "application/json", 400, "level"),
        (b'{"configuredLevel": "DEBUG", "extra": 1}', "application/json", 400, "extra"),
        *BAD_BODIES,
    ],
)
async def test_rejected_bodies_change_nothing(
    name: str, body: bytes, content_type: str, status: int, named: str
) -> None:
    logging.getLogger(name).setLevel(logging.INFO)
    actuator = make_actuator()
    async with serve(actuator) as http:
        answer = await http.post(
            f"/actuator/loggers/{name}", content=body, headers={"content-type": content_type}
        )
    assert answer.status_code == status
    assert named in answer.json()["message"]
    assert logging.getLogger(name).level == logging.INFO


async def test_setting_levels_is_forbidden_unless_access_allows_it(name: str) -> None:
    logging.getLogger(name)
    actuator = Actuator(settings={"security": ANYONE, "exposure": {"include": ["loggers"]}})
    async with serve(actuator) as http:
        read = await http.get("/actuator/loggers")
        written = await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "DEBUG"})
    assert read.status_code == 200
    assert written.status_code == 403
    assert logging.getLogger(name).level == logging.NOTSET


async def test_a_group_sets_every_member(name: str) -> None:
    first, second, third = f"{name}.a", f"{name}.b", f"{name}.c"
    actuator = make_actuator(loggers={"groups": {"app": [first, second]}})
    actuator.add_logger_group("app", [third])
    async with serve(actuator) as http:
        posted = await http.post("/actuator/loggers/app", json={"configuredLevel": "warn"})
        group = (await http.get("/actuator/loggers/app")).json()
        listed = (await http.get("/actuator/loggers")).json()["groups"]["app"]
        await http.post("/actuator/loggers/app", json={"configuredLevel": None})
        cleared = (await http.get("/actuator/loggers/app")).json()
    assert posted.status_code == 204
    assert group == {"configuredLevel": "WARN", "members": [first, second, third]}
    assert listed == group
    assert cleared["configuredLevel"] is None
    assert all(logging.getLogger(n).level == logging.NOTSET for n in (first, second, third))


async def test_level_changes_are_audited_with_who_and_what(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger(name)
    actuator = make_actuator()
    with caplog.at_level(logging.WARNING, logger="actuator.audit"):
        async with serve(actuator) as http:
            await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "LOUD"})
            await http.post(f"/actuator/loggers/{name}", json={"configuredLevel": "DEBUG"})
    records = [r for r in caplog.records if r.name == "actuator.audit"]
    assert len(records) == 1  # the rejected request left no trace
    audit = records[0].audit  # type: ignore[attr-defined]
    assert audit["who"] == f"{CLIENT[0]}:{CLIENT[1]}"
    assert audit["action"] == "set log level"
    assert audit["logger"] == name
    assert audit["configuredLevel"] == "DEBUG"
    assert audit["when"]


def test_python_api_sets_levels_and_creates_loggers(name: str) -> None:
    actuator = Actuator()
    actuator.set_log_level(name, "debug")
    assert logging.getLogger(name).level == logging.DEBUG
    actuator.set_log_level(name, logging.ERROR)
    assert logging.getLogger(name).level == logging.ERROR
    actuator.set_log_level(name, None)
    assert logging.getLogger(name).level == logging.NOTSET
    with pytest.raises(ValueError, match="valid levels"):
        actuator.set_log_level(name, "LOUD")


def test_python_levels_between_names_show_as_the_next_name_up() -> None:
    assert level_name(25) == "WARN"
    assert level_name(0) == "TRACE"
    assert level_name(logging.CRITICAL + 1) == "OFF"
    assert parse_level("Warning") == logging.WARNING


def test_invalid_logger_groups_fail_at_construction() -> None:
    with pytest.raises(ValueError, match=r"loggers\.groups"):
        Actuator(settings={"loggers": {"groups": {"ROOT": ["a"]}}})
    with pytest.raises(TypeError, match="not a string"):
        Actuator().add_logger_group("db", "sqlalchemy")
