"""The console's HTTP API, driven through ASGITransport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actuator.fleet.app import FleetConsole
from tests.fleet.support import (
    INGEST,
    INGEST_TOKEN,
    READ,
    READ_TOKEN,
    Clock,
    console_config,
    register,
    running,
    status,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(database_url: str, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    console = FleetConsole(console_config(database_url), clock=clock)
    async with running(console) as client:
        yield client


async def ingest(client: httpx.AsyncClient, *updates: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/fleet/api/ingest", json={"updates": list(updates)}, headers=INGEST)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    answer = await client.get(path, params=params, headers=READ)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def small_fleet(client: httpx.AsyncClient) -> None:
    await ingest(
        client,
        *(register(f"orders-{i}", team="orders") for i in range(4)),
        *(
            register(f"billing-{i}", service="billing", team="money", version="2.0")
            for i in range(3)
        ),
        register("orders-canary", team="orders", version="1.1", env_="x"),
    )
    await ingest(client, status("orders-1", "DOWN", ["db"]), status("billing-2", "INIT"))


async def test_ingest_then_read_an_instance_with_its_history(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    assert await ingest(client, register("a")) == {"accepted": 1, "unknown": [], "changes": 1}
    clock.now += 5
    await ingest(client, status("a", "DOWN", ["db"]))

    instance = await get(client, "/fleet/api/instances/a")
    assert instance["status"] == "DOWN"
    assert instance["componentsDown"] == ["db"]
    assert instance["lastSeen"] == "2027-01-15T08:00:05.000Z"
    assert [(e["status"], e["previousStatus"]) for e in instance["history"]] == [
        ("DOWN", "UP"),
        ("UP", None),
    ]


async def test_instances_filter_sort_and_page(client: httpx.AsyncClient) -> None:
    await small_fleet(client)

    page = await get(client, "/fleet/api/instances", status="DOWN", where="team=orders")
    assert [i["id"] for i in page["items"]] == ["orders-1"]
    assert page["total"] == 1
    page = await get(
        client,
        "/fleet/api/instances",
        service="billing,orders",
        version="2.0",
        sort="id",
        order="desc",
        limit=2,
    )
    assert ([i["id"] for i in page["items"]], page["total"]) == (["billing-2", "billing-1"], 3)
    page = await get(client, "/fleet/api/instances", q="canary")
    assert [i["id"] for i in page["items"]] == ["orders-canary"]
    page = await get(client, "/fleet/api/instances", sort="status", order="desc", limit=1, offset=1)
    assert (page["items"][0]["id"], page["offset"], page["limit"]) == ("billing-2", 1, 1)


async def test_groups_and_one_group_with_its_instances(client: httpx.AsyncClient) -> None:
    await small_fleet(client)

    groups = await get(client, "/fleet/api/groups")
    assert [(g["name"], g["status"], g["instances"]) for g in groups["items"]] == [
        ("orders/prod/shop", "DOWN", 5),
        ("billing/prod/shop", "INIT", 3),
    ]
    orders = groups["items"][0]
    assert orders["versions"] == {"1.0": 4, "1.1": 1}
    assert orders["percentUp"] == 80.0

    found = await get(client, f"/fleet/api/groups/{orders['id']}", status="DOWN")
    assert found["name"] == "orders/prod/shop"
    assert [i["id"] for i in found["members"]["items"]] == ["orders-1"]
    assert [e["status"] for e in found["history"]] == ["DOWN", "UP"]
    money = await get(client, "/fleet/api/groups", where="team=money")
    assert [g["service"] for g in money["items"]] == ["billing"]


async def test_counts_for_the_whole_fleet(client: httpx.AsyncClient) -> None:
    await small_fleet(client)

    assert await get(client, "/fleet/api/counts") == {
        "instances": {"total": 8, "statuses": {"UP": 6, "DOWN": 1, "INIT": 1}},
        "groups": {"total": 2, "statuses": {"DOWN": 1, "INIT": 1}},
    }


async def test_pages_are_capped(client: httpx.AsyncClient) -> None:
    await ingest(client, *(register(f"i{n}") for n in range(12)))

    page = await get(client, "/fleet/api/instances", limit=1_000_000)
    assert page["limit"] == 500
    assert len(page["items"]) == 12


async def test_an_unknown_instance_is_told_to_register(client: httpx.AsyncClient) -> None:
    assert await ingest(client, status("ghost", "UP")) == {
        "accepted": 0,
        "unknown": ["ghost"],
        "changes": 0,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Malformed JSON"),
        (
            b'{"updates": [{"type": "register", "id": "a", "status": "UP"}]}',
            "Invalid updates.1: Value error, a register update needs a service",
        ),
        (
            b'{"updates": [{"type": "status", "id": "a", "status": "fine"}]}',
            "Invalid updates.1.status",
        ),
        (b'{"updates": "all"}', "Invalid updates"),
        (b'{"update": []}', "Invalid updates: Field required"),
        (b"[]", "Invalid body"),
    ],
)
async def test_a_malformed_batch_is_a_400_naming_the_problem_and_stores_nothing(
    client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    good = json.dumps(register("good")).encode()
    body = body.replace(b'[{"type"', b"[" + good + b', {"type"')
    answer = await client.post(
        "/fleet/api/ingest", content=body, headers={**INGEST, "content-type": "application/json"}
    )

    assert answer.status_code == 400
    assert message in answer.json()["message"]
    assert (await get(client, "/fleet/api/instances"))["total"] == 0


async def test_an_oversized_batch_is_a_413(tmp_path: Path) -> None:
    console = FleetConsole(console_config(f"sqlite:///{tmp_path / 'f.db'}", max_body=1000))
    async with running(console) as client:
        body = {"updates": [register(f"instance-{n}") for n in range(20)]}
        answer = await client.post("/fleet/api/ingest", json=body, headers=INGEST)
        assert answer.status_code == 413
        assert answer.json()["message"] == "Request body larger than 1000 bytes"


async def test_ingest_takes_json_only(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/fleet/api/ingest", content=b"updates=1", headers={**INGEST, "content-type": "text/plain"}
    )
    assert answer.status_code == 415


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-token-0123456789abcdef"},
        READ,
        {"authorization": "Basic Zm9vOmJhcg=="},
    ],
)
async def test_ingest_without_an_ingest_token_is_a_401_and_stores_nothing(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await client.post(
        "/fleet/api/ingest", json={"updates": [register("a")]}, headers=headers
    )

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert READ_TOKEN not in answer.text
    assert (await get(client, "/fleet/api/instances"))["total"] == 0


@pytest.mark.parametrize(
    "path",
    ["/fleet/api/counts", "/fleet/api/groups", "/fleet/api/instances", "/fleet/api/instances/a"],
)
async def test_reading_needs_the_read_role(client: httpx.AsyncClient, path: str) -> None:
    anonymous = await client.get(path)
    assert anonymous.status_code == 401
    ingester = await client.get(path, headers=INGEST)
    assert ingester.status_code == 401
    assert INGEST_TOKEN not in ingester.text


async def test_a_reader_without_the_role_is_a_403(tmp_path: Path) -> None:
    config = console_config(f"sqlite:///{tmp_path / 'f.db'}")
    settings = {
        **config.settings,
        "security": {**config.settings["security"], "roles": {"read": ["someone-else"]}},
    }
    console = FleetConsole(config.model_copy(update={"settings": settings}))
    async with running(console) as client:
        answer = await client.get("/fleet/api/counts", headers=READ)
        assert answer.status_code == 403


async def test_anonymous_reading_when_the_security_settings_allow_it(tmp_path: Path) -> None:
    config = console_config(f"sqlite:///{tmp_path / 'f.db'}")
    settings = {**config.settings, "security": {"anonymous": ["health", "fleet"]}}
    console = FleetConsole(config.model_copy(update={"settings": settings}))
    async with running(console) as client:
        assert (await client.get("/fleet/api/counts")).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status_code", "message"),
    [
        ("/fleet/api/instances", {"sort": "password"}, 400, "Parameter 'sort' must be one of"),
        ("/fleet/api/instances", {"limit": "-1"}, 400, "'limit' must be a non-negative"),
        ("/fleet/api/instances", {"limit": "0"}, 400, "'limit' must be at least 1"),
        ("/fleet/api/instances", {"where": "team"}, 400, "'where' takes fact=value"),
        ("/fleet/api/instances", {"status": "D'OWN"}, 400, "is not a status code"),
        ("/fleet/api/instances", {"order": "up"}, 400, "'order' must be asc or desc"),
        ("/fleet/api/instances", {"colour": "red"}, 400, "Unknown parameter 'colour'"),
        ("/fleet/api/groups", {"q": "x"}, 400, "Unknown parameter 'q'"),
        ("/fleet/api/instances/nobody", {}, 404, "No instance 'nobody'"),
        ("/fleet/api/groups/0000", {}, 404, "No service group '0000'"),
        ("/fleet/api/nothing", {}, 404, "No such resource"),
    ],
)
async def test_bad_queries_name_the_problem(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status_code: int, message: str
) -> None:
    answer = await client.get(path, params=params, headers=READ)

    assert answer.status_code == status_code
    assert message in answer.json()["message"]
    assert answer.headers["content-type"] == "application/json"


async def test_the_wrong_method_is_a_405(client: httpx.AsyncClient) -> None:
    answer = await client.delete("/fleet/api/instances", headers=READ)
    assert answer.status_code == 405
    assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD"}


async def test_the_console_health_includes_its_database(client: httpx.AsyncClient) -> None:
    answer = await client.get("/actuator/health")

    assert answer.status_code == 200
    assert answer.json()["components"]["fleetDatabase"]["status"] == "UP"


async def test_the_sweep_marks_silent_instances_disconnected(tmp_path: Path) -> None:
    clock = Clock()
    console = FleetConsole(
        console_config(f"sqlite:///{tmp_path / 'f.db'}", disconnect_after=60, forget_after=600),
        clock=clock,
    )
    async with running(console) as client:
        await ingest(client, register("a"), register("b"))
        clock.now += 50
        await ingest(client, status("a", "UP"))
        clock.now += 20
        await console.sweep()

        page = await get(client, "/fleet/api/instances", status="DISCONNECTED")
        assert [i["id"] for i in page["items"]] == ["b"]
        clock.now += 600
        await console.sweep()
        assert (await get(client, "/fleet/api/counts"))["instances"]["total"] == 0
