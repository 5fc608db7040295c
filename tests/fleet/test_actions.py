"""Actions on many instances: the API, the stages, stopping, the journal (simulated instances).

The instances here are simulated behind an httpx transport, so every way an
instance can fail is quick and certain; tests/fleet/test_actions_e2e.py runs
the same flows against real uvicorn instances.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from actuator import hash_token
from actuator.fleet.actions import ActionRequest, plan
from actuator.fleet.app import FleetConsole
from actuator.fleet.config import ConsoleConfig
from actuator.fleet.reach import Reach, ReachConfig
from tests.fleet.support import (
    CONSOLE_SETTINGS,
    INGEST,
    INGEST_TOKEN,
    READ,
    READ_TOKEN,
    register,
    running,
)

ADMIN_TOKEN = "admin-token-0123456789abcdefghijkl"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class Simulated:
    """One instance's actuator, as far as actions see it."""

    paused: bool = False
    levels: dict[str, str | None] = field(default_factory=dict)
    pid: int = 100
    refuse: bool = False
    dead: bool = False
    stuck: bool = False  # accepts a pause but never reports it
    stays_down: bool = False  # a shutdown that the platform does not restart
    restarting_until: float = 0.0
    calls: list[str] = field(default_factory=list)


class Instances:
    """Simulated instances behind one transport; the host of the URL names the instance."""

    def __init__(self, *names: str) -> None:
        self.by_host = {name: Simulated() for name in names}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        me = self.by_host[request.url.host]
        path = request.url.path.removeprefix("/actuator/")
        me.calls.append(f"{request.method} {path}")
        if me.dead or time.monotonic() < me.restarting_until:
            raise httpx.ConnectError("connection refused")
        if me.refuse:
            return httpx.Response(401, json={"status": 401, "message": "Invalid credentials"})
        if request.method == "POST":
            if path in ("pause", "resume", "flip"):
                if not me.stuck:
                    me.paused = {"pause": True, "resume": False, "flip": not me.paused}[path]
                return httpx.Response(200, json={"paused": me.paused, "changed": True})
            if path.startswith("loggers/"):
                me.levels[path[8:]] = (await _json(request)).get("configuredLevel")
                return httpx.Response(204)
            if path == "shutdown":
                me.restarting_until = time.monotonic() + 0.2
                me.dead = me.stays_down
                me.pid += 1
                return httpx.Response(202, json={"message": "Shutting down, bye..."})
        if path == "pause":
            return httpx.Response(200, json={"paused": me.paused})
        if path == "health":
            status = "OUT_OF_SERVICE" if me.paused else "UP"
            return httpx.Response(503 if me.paused else 200, json={"status": status})
        if path.startswith("loggers/"):
            return httpx.Response(200, json={"configuredLevel": me.levels.get(path[8:])})
        if path == "info":
            return httpx.Response(200, json={"process": {"pid": me.pid, "startTime": me.pid}})
        return httpx.Response(404, json={"status": 404, "message": "No such endpoint"})


async def _json(request: httpx.Request) -> dict[str, Any]:
    import json

    body: dict[str, Any] = json.loads(request.content or b"{}")
    return body


def config(tmp_path: Path, **overrides: Any) -> ConsoleConfig:
    settings = {
        **CONSOLE_SETTINGS,
        "security": {
            "tokens": {"ops": hash_token(READ_TOKEN), "admin": hash_token(ADMIN_TOKEN)},
            "roles": {"read": ["ops"], "full": ["admin"]},
        },
    }
    return ConsoleConfig.model_validate(
        {
            "database": f"sqlite:///{tmp_path / 'fleet.db'}",
            "ingest_tokens": {"gateway": hash_token(INGEST_TOKEN)},
            "settings": settings,
            "actions": {"poll_interval": 0.02, "heartbeat": 0.2, "stale_after": 1},
            **overrides,
        }
    )


@pytest.fixture
def simulated() -> Instances:
    return Instances(*(f"orders-{n}" for n in range(1, 7)), "billing-1")


@pytest.fixture
async def client(tmp_path: Path, simulated: Instances) -> AsyncIterator[httpx.AsyncClient]:
    reach = Reach(ReachConfig(timeout=0.5), transport=httpx.MockTransport(simulated))
    console = FleetConsole(config(tmp_path), reach=reach)
    async with running(console) as http:
        updates = [register(f"orders-{n}", team="orders", ring=str(n % 2)) for n in range(1, 7)]
        updates.append(register("billing-1", service="billing", team="money"))
        answer = await http.post("/fleet/api/ingest", json={"updates": updates}, headers=INGEST)
        assert answer.json()["accepted"] == 7
        yield http


async def act(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/fleet/api/actions", json=body, headers=ADMIN)


async def finished(
    client: httpx.AsyncClient, action_id: str, timeout: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = (
            await client.get(f"/fleet/api/actions/{action_id}", headers=READ)
        ).json()
        if found["state"] != "running":
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.02)


def results(found: dict[str, Any]) -> dict[str, str]:
    return {row["instance"]: row["result"] for row in found["results"]["items"]}


# -- planning -------------------------------------------------------------------------------


def test_stages_are_a_canary_then_batches_of_a_count_or_a_share() -> None:
    ids = [f"i{n}" for n in range(10)]
    assert plan(ids, 1, 3) == [["i0"], ["i1", "i2", "i3"], ["i4", "i5", "i6"], ["i7", "i8", "i9"]]
    assert [len(s) for s in plan(ids, 2, "25%")] == [2, 3, 3, 2]  # 25% of 10, rounded up
    assert plan(ids, 0, "100%") == [ids]
    assert plan(["a"], 3, "10%") == [["a"]]


def test_the_failure_limit_is_a_count_or_a_share_rounded_down() -> None:
    def limit(value: int | str, total: int) -> int:
        request = ActionRequest(action="pause", service=["x"], max_failures=value)
        return request.failure_limit(total)

    assert (limit(0, 10), limit(3, 10), limit("10%", 10), limit("15%", 10), limit("0%", 9)) == (
        0,
        3,
        1,
        1,
        0,
    )


# -- the API --------------------------------------------------------------------------------


async def test_a_dry_run_answers_the_targets_and_stages_and_acts_on_nothing(
    client: httpx.AsyncClient, simulated: Instances
) -> None:
    answer = await act(
        client, action="pause", facts={"team": "orders"}, canary=1, batch=2, dry_run=True
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["dryRun"] is True
    assert body["targets"] == 6
    assert [(s["name"], s["instances"]) for s in body["stages"]] == [
        ("canary", ["orders-1"]),
        ("batch 1", ["orders-2", "orders-3"]),
        ("batch 2", ["orders-4", "orders-5"]),
        ("batch 3", ["orders-6"]),
    ]
    assert body["instances"][0] == {
        "id": "orders-1",
        "service": "orders",
        "group": body["instances"][0]["group"],
        "status": "UP",
        "version": "1.0",
        "url": "http://orders-1:8080/actuator",
    }
    assert all(not s.calls for s in simulated.by_host.values())
    journal = (await client.get("/fleet/api/actions", headers=READ)).json()
    assert journal["total"] == 0


async def test_a_staged_pause_goes_stage_by_stage_and_succeeds(
    client: httpx.AsyncClient, simulated: Instances
) -> None:
    answer = await act(client, action="pause", service="orders", canary=1, batch="50%", reason="db")
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert answer.headers["location"] == started["href"] == f"/fleet/api/actions/{started['id']}"
    assert [(s["name"], s["size"]) for s in started["stages"]] == [
        ("canary", 1),
        ("batch 1", 3),
        ("batch 2", 2),
    ]
    found = await finished(client, started["id"])
    assert found["state"] == "succeeded", found
    assert found["reason"] is None
    assert found["progress"] == {
        "total": 6,
        "pending": 0,
        "running": 0,
        "succeeded": 6,
        "failed": 0,
        "skipped": 0,
        "interrupted": 0,
    }
    assert [s["state"] for s in found["stages"]] == ["succeeded"] * 3
    assert all(simulated.by_host[f"orders-{n}"].paused for n in range(1, 7))
    assert not simulated.by_host["billing-1"].paused
    rows = found["results"]["items"]
    assert {row["detail"] for row in rows} == {"paused"}
    # Each stage finished before the next one started acting.
    ends: dict[int, list[str]] = {}
    for row in rows:
        ends.setdefault(row["stage"], []).append(row["time"])
    assert max(ends[0]) <= min(ends[1])
    assert max(ends[1]) <= min(ends[2])
    assert (found["by"], found["identity"], found["action"]) == ("admin", "bearer token", "pause")
    assert found["request"]["reason"] == "db"


async def test_a_rollout_stops_when_more_than_the_limit_fail_and_says_which(
    client: httpx.AsyncClient, simulated: Instances
) -> None:
    simulated.by_host["orders-3"].refuse = True
    simulated.by_host["orders-4"].dead = True
    answer = await act(client, action="pause", service="orders", canary=1, batch=2, max_failures=1)
    found = await finished(client, answer.json()["id"])
    assert found["state"] == "stopped"
    assert found["failed"] == ["orders-3", "orders-4"]
    assert found["reason"] == (
        "2 of 6 instances failed, more than the limit of 1: orders-3, orders-4"
    )
    by_id = {row["instance"]: row for row in found["results"]["items"]}
    assert "refused the console's credentials (401)" in by_id["orders-3"]["detail"]
    assert "unreachable (ConnectError)" in by_id["orders-4"]["detail"]
    # orders-5 shares the last batch with orders-4: done, or cut short by the stop.
    assert by_id["orders-5"]["result"] in ("succeeded", "interrupted")
    assert by_id["orders-6"]["result"] == "skipped"
    assert not simulated.by_host["orders-6"].calls  # never reached
    assert [s["state"] for s in found["stages"]] == ["succeeded", "failed", "failed", "skipped"]


async def test_a_failing_canary_stops_the_action_whatever_the_limit(
    client: httpx.AsyncClient, simulated: Instances
) -> None:
    simulated.by_host["orders-1"].stuck = True
    answer = await act(
        client,
        action="pause",
        service="orders",
        canary=1,
        max_failures="50%",
        batch_deadline=0.3,
    )
    found = await finished(client, answer.json()["id"])
    assert found["state"] == "stopped"
    assert found["reason"] == "the canary failed: orders-1"
    detail = results(found)
    assert detail["orders-1"] == "failed"
    assert set(detail.values()) == {"failed", "skipped"}
    row = found["results"]["items"][0]
    assert row["detail"] == "not paused within 0.3s (last seen: running)"


async def test_resume_flip_loglevel_and_a_rolling_restart(
    client: httpx.AsyncClient, simulated: Instances
) -> None:
    async def run(**body: Any) -> dict[str, Any]:
        answer = await act(client, **body)
        assert answer.status_code == 202, answer.text
        return await finished(client, answer.json()["id"])

    one = simulated.by_host["orders-1"]
    assert (await run(action="flip", instances=["orders-1"]))["state"] == "succeeded"
    assert one.paused
    found = await run(action="resume", instances=["orders-1", "orders-2"], canary=0)
    assert found["state"] == "succeeded"
    assert {row["detail"] for row in found["results"]["items"]} == {"health UP"}
    assert not one.paused

    found = await run(action="loglevel", logger="orders.db", level="debug", facts={"ring": "1"})
    assert found["state"] == "succeeded"
    assert one.levels == {"orders.db": "DEBUG"}
    assert found["results"]["items"][0]["detail"] == "orders.db at DEBUG"
    assert (await run(action="loglevel", logger="orders.db", level=None, service="orders"))[
        "state"
    ] == "succeeded"
    assert one.levels == {"orders.db": None}

    found = await run(action="shutdown", instances=["orders-1", "orders-2"], batch=1, canary=0)
    assert found["state"] == "succeeded", found
    assert {row["detail"] for row in found["results"]["items"]} == {"restarted, UP"}
    assert (one.pid, simulated.by_host["orders-2"].pid) == (101, 101)
    # A restart that never comes back fails at the deadline, naming what it saw last.
    simulated.by_host["orders-3"].stays_down = True
    found = await run(action="shutdown", instances=["orders-3"], batch_deadline=0.5)
    assert found["state"] == "stopped"
    assert found["results"]["items"][0]["detail"] == (
        "not back UP as a new process within 0.5s "
        "(last seen: Instance 'orders-3' is unreachable (ConnectError))"
    )


async def test_reading_needs_the_read_role_and_acting_the_full_role(
    client: httpx.AsyncClient,
) -> None:
    body = {"action": "pause", "service": "orders"}
    refused = await client.post("/fleet/api/actions", json=body, headers=READ)
    assert refused.status_code == 403
    assert "Role 'full' required" in refused.json()["message"]
    anonymous = await client.post("/fleet/api/actions", json=body)
    assert anonymous.status_code == 401
    assert (await client.get("/fleet/api/actions")).status_code == 401
    assert (await client.get("/fleet/api/actions", headers=READ)).status_code == 200
    assert (
        await client.get("/fleet/api/actions", headers={"authorization": "Bearer " + INGEST_TOKEN})
    ).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"action": "reboot", "service": "orders"}, 422, "Invalid action"),
        ({"action": "pause", "service": "orders", "batch": "0%"}, 422, "Invalid batch"),
        ({"action": "pause", "service": "orders", "batch": "ten"}, 422, "Invalid batch"),
        ({"action": "pause", "service": "orders", "batch": 0}, 422, "Invalid batch"),
        ({"action": "pause", "service": "orders", "max_failures": -1}, 422, "max_failures"),
        ({"action": "pause", "service": "orders", "canary": -1}, 422, "Invalid canary"),
        ({"action": "pause", "service": "orders", "batch_deadline": 0}, 422, "batch_deadline"),
        ({"action": "pause"}, 422, "Invalid selection: name at least one"),
        ({"action": "pause", "service": "nobody"}, 422, "matches no instance"),
        ({"action": "pause", "facts": {"bad key": "x"}}, 422, "Invalid facts"),
        ({"action": "pause", "service": "orders", "color": "red"}, 422, "Invalid color"),
        ({"action": "loglevel", "service": "orders"}, 422, "needs 'level'"),
        ({"action": "loglevel", "service": "orders", "level": "LOUD"}, 422, "Invalid level"),
    ],
)
async def test_bad_requests_are_refused_naming_the_field_and_start_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, words: str
) -> None:
    answer = await act(client, **body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]
    assert "nothing was started" in answer.json()["message"]
    assert (await client.get("/fleet/api/actions", headers=READ)).json()["total"] == 0


async def test_malformed_bodies_and_unknown_ids_are_clear_errors(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    def post(content: bytes, media: str = "application/json") -> Any:
        return client.post(
            "/fleet/api/actions", content=content, headers={**ADMIN, "content-type": media}
        )

    malformed = await post(b'{"action": ')
    assert malformed.status_code == 400
    assert "Malformed JSON" in malformed.json()["message"]
    assert (await post(b"{}", "text/plain")).status_code == 415
    assert (await post(b"{" + b" " * 70_000 + b"}")).status_code == 413
    missing = await client.get("/fleet/api/actions/nope", headers=READ)
    assert missing.status_code == 404
    assert "No action 'nope'" in missing.json()["message"]
    assert (await client.get("/fleet/api/actions?state=done", headers=READ)).status_code == 400
    assert (await client.get("/fleet/api/actions?page=2", headers=READ)).status_code == 400


async def test_the_journal_pages_newest_first_with_progress(client: httpx.AsyncClient) -> None:
    ids = []
    for action in ("pause", "resume"):
        answer = await act(client, action=action, instances=["orders-1"])
        ids.append(answer.json()["id"])
        await finished(client, ids[-1])
    page = (await client.get("/fleet/api/actions?limit=1", headers=READ)).json()
    assert (page["total"], page["limit"], len(page["items"])) == (2, 1, 1)
    newest = page["items"][0]
    assert (newest["id"], newest["action"], newest["state"]) == (ids[1], "resume", "succeeded")
    assert newest["progress"]["succeeded"] == 1
    assert newest["created"].endswith("Z")
    second = (await client.get("/fleet/api/actions?offset=1", headers=READ)).json()
    assert [item["id"] for item in second["items"]] == [ids[0]]
    done = (await client.get("/fleet/api/actions?state=succeeded", headers=READ)).json()
    assert done["total"] == 2
    one = (await client.get(f"/fleet/api/actions/{ids[0]}?limit=1", headers=READ)).json()
    assert one["results"]["total"] == 1
