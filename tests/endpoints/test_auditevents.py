from __future__ import annotations

import logging
from typing import Any

import pytest

from actuator.endpoints.auditevents import AuditEventStore
from actuator.management.audit import audit
from tests.support.management import make_actuator, serve


async def test_management_actions_show_as_events_with_principal_type_and_data() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        await http.post("/actuator/pause", json={"reason": "schema migration"})
        await http.post("/actuator/resume")
        events = (await http.get("/actuator/auditevents")).json()["events"]
    assert [(e["type"], e["principal"]) for e in events] == [
        ("pause", "10.0.0.7:51234"),
        ("resume", "10.0.0.7:51234"),
    ]
    assert events[0]["data"]["reason"] == "schema migration"
    assert events[0]["timestamp"].endswith("Z")


async def test_events_filter_by_principal_type_and_after() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        await http.get("/actuator/health")  # starts the actuator: the store listens from here
        audit("pause", "alice", reason="a")
        audit("resume", "bob")
        first = (await http.get("/actuator/auditevents")).json()["events"]
        audit("pause", "bob")
        by_bob = (await http.get("/actuator/auditevents", params={"principal": "bob"})).json()
        pauses = (await http.get("/actuator/auditevents", params={"type": "pause"})).json()
        later = (
            await http.get("/actuator/auditevents", params={"after": first[-1]["timestamp"]})
        ).json()
    assert [e["type"] for e in by_bob["events"]] == ["resume", "pause"]
    assert [e["principal"] for e in pauses["events"]] == ["alice", "bob"]
    assert [(e["type"], e["principal"]) for e in later["events"]] == [("pause", "bob")]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"after": "yesterday"}, "after"),
        ({"after": "2025-05-01T09:00:00"}, "after"),  # no offset: ambiguous
        ({"principal": ""}, "principal"),
        ({"type": " "}, "type"),
        ({"when": "now"}, "when"),
    ],
)
async def test_bad_filters_are_400_naming_the_parameter(
    query: dict[str, str], parameter: str
) -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        answer = await http.get("/actuator/auditevents", params=query)
    assert answer.status_code == 400
    body = answer.json()
    assert body["parameter"] == parameter
    assert repr(parameter) in body["message"]


def test_the_store_keeps_the_latest_capacity_events_and_plain_records() -> None:
    logger = logging.getLogger("tests.audit.store")
    store = AuditEventStore(2, logger)
    store.install()
    try:
        for n in range(4):
            logger.warning("manual change %d", n)
    finally:
        store.uninstall()
    logger.warning("after uninstall")
    events: list[dict[str, Any]] = store.events()
    assert [e["data"] for e in events] == [
        {"message": "manual change 2"},
        {"message": "manual change 3"},
    ]
    assert events[0]["type"] == "WARNING"


def test_the_store_leaves_the_last_resort_handler_to_print_audit_records() -> None:
    store = AuditEventStore(10)
    store.install()
    try:
        assert not logging.getLogger("actuator.audit").handlers
    finally:
        store.uninstall()
