"""The dashboard's notifications page: the delivery log and the mutes, through the
console's own API as the logged-in user (a real console, a real webhook server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from actuator.fleet.app import FleetConsole
from tests.fleet.notify.support import Receiver, webhook_server
from tests.fleet.support import READ_TOKEN, Clock, console_config, register, running
from tests.fleet.web.test_dashboard import FULL_TOKEN, csrf_of, ingest, login, settings


@pytest.fixture
def hook() -> Iterator[tuple[Receiver, str]]:
    with webhook_server() as served:
        yield served


@pytest.fixture
async def console(
    tmp_path: Path, hook: tuple[Receiver, str]
) -> AsyncIterator[tuple[FleetConsole, httpx.AsyncClient]]:
    _, url = hook
    config = console_config(
        f"sqlite:///{tmp_path / 'fleet.db'}",
        settings=settings(),
        notifications={
            "channels": {"ops": {"type": "webhook", "url": url + "/hook"}},
            "rules": {"down": {"channels": ["ops"]}},
        },
    )
    clock = Clock()
    fleet = FleetConsole(config, clock=clock)
    async with running(fleet) as client:
        await fleet.notify()
        await ingest(client, register("orders-1", "DOWN"))
        clock.now += 1
        await fleet.notify()
        yield fleet, client


async def test_a_reader_sees_the_delivery_log_and_no_mute_form(
    console: tuple[FleetConsole, httpx.AsyncClient],
) -> None:
    _, client = console
    await login(client, token=READ_TOKEN)
    page = await client.get("/fleet/notifications")
    assert page.status_code == 200
    assert '<a href="/fleet/notifications">Notifications</a>' in page.text
    assert '<a href="/fleet/instances/orders-1" title="orders-1 (orders) is DOWN">' in page.text
    assert "<td>HTTP 200</td>" in page.text
    assert "No mute." in page.text
    assert 'action="/fleet/mutes"' not in page.text
    muted = await client.get("/fleet/notifications", params={"state": "muted"})
    assert "Nothing sent yet." in muted.text


async def test_an_operator_mutes_from_the_page_and_ends_the_mute(
    console: tuple[FleetConsole, httpx.AsyncClient],
) -> None:
    fleet, client = console
    await login(client, token=FULL_TOKEN)
    page = await client.get("/fleet/notifications")
    added = await client.post(
        "/fleet/mutes",
        data={
            "csrf": csrf_of(page.text),
            "minutes": "30",
            "services": "orders, billing",
            "where": "environment=prod",
            "reason": "upgrade",
        },
    )
    assert added.status_code == 303
    [mute] = (await fleet.notifier.mutes(offset=0, limit=10)).items
    assert (mute["services"], mute["where"], mute["author"]) == (
        ["orders", "billing"],
        {"environment": "prod"},
        "admin",
    )
    assert mute["ends"] == "2027-01-15T08:30:01.000Z"  # 30 minutes after the console's clock
    page = await client.get("/fleet/notifications")
    assert "services orders, billing; environment=prod" in page.text
    ended = await client.post(f"/fleet/mutes/{mute['id']}/end", data={"csrf": csrf_of(page.text)})
    assert ended.status_code == 303
    assert (await fleet.notifier.mutes(offset=0, limit=10)).total == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"minutes": "0"}, "Field &#39;minutes&#39; must be a whole number"),
        ({"minutes": "10", "where": "prod"}, "Field &#39;where&#39; takes fact=value"),
    ],
)
async def test_a_bad_mute_form_is_an_error_page(
    console: tuple[FleetConsole, httpx.AsyncClient], fields: dict[str, str], message: str
) -> None:
    fleet, client = console
    await login(client, token=FULL_TOKEN)
    page = await client.get("/fleet/notifications")
    answer = await client.post("/fleet/mutes", data={"csrf": csrf_of(page.text), **fields})
    assert answer.status_code == 400
    assert message in answer.text
    assert (await fleet.notifier.mutes(offset=0, limit=10)).total == 0


async def test_a_reader_cannot_mute_even_with_a_valid_form(
    console: tuple[FleetConsole, httpx.AsyncClient],
) -> None:
    fleet, client = console
    await login(client, token=READ_TOKEN)
    page = await client.get("/fleet/notifications")
    answer = await client.post("/fleet/mutes", data={"csrf": csrf_of(page.text), "minutes": "5"})
    assert answer.status_code == 403
    assert (await fleet.notifier.mutes(offset=0, limit=10)).total == 0
