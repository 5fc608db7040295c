"""The dashboard's action pages: preview, run, progress and journal, all through the
console's actions API (here a recording stand-in for it, so the pages' side is tested
on its own: what they send, as whom, and how they show the answers and refusals)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actuator.fleet.app import FleetConsole
from actuator.fleet.reach import Reach, ReachConfig
from actuator.fleet.web.session import COOKIE
from actuator.security.credentials import hash_password, hash_token
from tests.fleet.support import READ_TOKEN, Clock, console_config, register, running
from tests.fleet.test_actions import Instances
from tests.fleet.web.test_dashboard import (
    FULL_TOKEN,
    PASSWORD,
    csrf_of,
    ingest,
    login,
    settings,
)

ACTION: dict[str, Any] = {
    "id": "a1",
    "action": "pause",
    "state": "running",
    "created": "2027-01-15T08:00:00.000Z",
    "finished": None,
    "by": "admin",
    "identity": "authenticator",
    "client": "127.0.0.1",
    "targets": 2,
    "stages": [
        {"name": "canary", "size": 1, "state": "succeeded"},
        {"name": "batch 1", "size": 1, "state": "running"},
    ],
    "reason": "deploy",
}


class FakeActionsApi:
    """Answers /fleet/api/actions like the actions API, and records what it was sent."""

    def __init__(self, console: FleetConsole) -> None:
        self.console = console
        self.requests: list[dict[str, Any]] = []
        self.refuse: tuple[int, str] | None = None
        self.state = "running"
        self.app = Starlette(
            routes=[
                Route("/fleet/api/actions", self.actions, methods=["GET", "POST"]),
                Route("/fleet/api/actions/{action_id}", self.action, methods=["GET"]),
            ]
        )

    async def identity(self, request: Request) -> str | None:
        context = await self.console.actuator.guard.authenticate(request.scope)
        return context.principal

    async def actions(self, request: Request) -> JSONResponse:
        who = await self.identity(request)
        body = json.loads(await request.body()) if request.method == "POST" else None
        self.requests.append({"method": request.method, "who": who, "body": body})
        if self.refuse:
            status, message = self.refuse
            return JSONResponse({"status": status, "message": message}, status)
        if request.method == "GET":
            return JSONResponse({"items": [ACTION], "total": 1, "offset": 0, "limit": 50})
        assert body is not None
        if body.get("dry_run"):
            return JSONResponse(
                {
                    "dryRun": True,
                    "action": "pause",
                    "targets": 2,
                    "failureLimit": 0,
                    "stages": [
                        {"name": "canary", "size": 1, "instances": ["orders-1"]},
                        {"name": "batch 1", "size": 1, "instances": ["orders-2"]},
                    ],
                    "instances": [
                        {"id": "orders-1", "status": "UP", "version": "1.0"},
                        {"id": "orders-2", "status": "UP", "version": "1.1"},
                    ],
                }
            )
        return JSONResponse({"id": "a1", "state": "running", "action": "pause"}, 202)

    async def action(self, request: Request) -> JSONResponse:
        self.requests.append({"method": "GET", "who": await self.identity(request), "body": None})
        results = [
            {
                "instance": "orders-1",
                "stage": 0,
                "result": "succeeded",
                "detail": "paused",
                "time": "2027-01-15T08:00:01.000Z",
            },
            {"instance": "orders-2", "stage": 1, "result": "running", "detail": None, "time": None},
        ]
        return JSONResponse(
            {
                **ACTION,
                "id": request.path_params["action_id"],
                "state": self.state,
                "progress": {
                    "total": 2,
                    "pending": 0,
                    "running": 1,
                    "succeeded": 1,
                    "failed": 0,
                    "skipped": 0,
                    "interrupted": 0,
                },
                "failed": [],
                "results": {"items": results, "total": 2, "offset": 0, "limit": 50},
            }
        )


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[tuple[FakeActionsApi, httpx.AsyncClient]]:
    config = console_config(f"sqlite:///{tmp_path / 'fleet.db'}", settings=settings())
    console = FleetConsole(config, clock=Clock())
    api = FakeActionsApi(console)
    console.dashboard.api = api.app
    async with running(console) as client:
        await ingest(client, register("orders-1"), register("orders-2", version="1.1"))
        yield api, client


async def group_page(client: httpx.AsyncClient) -> tuple[str, str]:
    overview = await client.get("/fleet/")
    gid = re.search(r'href="/fleet/groups/(\w+)"', overview.text)
    assert gid is not None
    page = await client.get(f"/fleet/groups/{gid.group(1)}")
    return gid.group(1), page.text


async def test_a_reader_sees_no_action_buttons(
    fake: tuple[FakeActionsApi, httpx.AsyncClient],
) -> None:
    _, client = fake
    await login(client, token=READ_TOKEN)
    _, html = await group_page(client)
    assert "Pause…" not in html


async def test_preview_asks_the_api_for_a_dry_run_as_the_user(
    fake: tuple[FakeActionsApi, httpx.AsyncClient],
) -> None:
    api, client = fake
    await login(client, token=FULL_TOKEN)
    gid, html = await group_page(client)
    assert 'value="pause">Pause…</button>' in html
    preview = await client.post(
        "/fleet/actions/preview", data={"csrf": csrf_of(html), "action": "pause", "group": gid}
    )
    assert preview.status_code == 200
    assert api.requests[-1] == {
        "method": "POST",
        "who": "admin",
        "body": {"action": "pause", "group": gid, "dry_run": True},
    }
    assert "<h1>Pause 2 instances?</h1>" in preview.text
    assert "<strong>canary</strong>: 1 instance (orders-1)" in preview.text
    assert "Nothing has been sent yet: this is the plan." in preview.text
    assert '<a href="/fleet/instances/orders-2">orders-2</a>' in preview.text

    run = await client.post(
        "/fleet/actions",
        data={"csrf": csrf_of(preview.text), "action": "pause", "group": gid, "reason": "deploy"},
    )
    assert run.status_code == 303
    assert run.headers["location"] == "/fleet/actions/a1"
    assert api.requests[-1]["body"] == {"action": "pause", "group": gid, "reason": "deploy"}
    assert api.requests[-1]["who"] == "admin"


async def test_progress_refreshes_while_the_action_runs_and_stops_when_done(
    fake: tuple[FakeActionsApi, httpx.AsyncClient],
) -> None:
    api, client = fake
    await login(client, token=FULL_TOKEN)
    page = await client.get("/fleet/actions/a1")
    assert page.status_code == 200
    assert 'data-refresh="1"' in page.text
    assert '<progress id="bar" max="2" value="1">' in page.text
    assert '<span class="result r-succeeded">succeeded</span></td><td>paused</td>' in page.text
    api.state = "succeeded"
    assert 'data-refresh="1"' not in (await client.get("/fleet/actions/a1")).text


async def test_the_journal_lists_actions(fake: tuple[FakeActionsApi, httpx.AsyncClient]) -> None:
    _, client = fake
    await login(client, token=READ_TOKEN)
    page = await client.get("/fleet/actions")
    assert page.status_code == 200
    assert '<a href="/fleet/actions/a1">pause</a>' in page.text


async def test_the_apis_refusal_becomes_a_page_with_its_status(
    fake: tuple[FakeActionsApi, httpx.AsyncClient],
) -> None:
    api, client = fake
    await login(client, token=READ_TOKEN)
    gid, html = await group_page(client)
    api.refuse = (403, "Role 'full' required")
    answer = await client.post(
        "/fleet/actions/preview", data={"csrf": csrf_of(html), "action": "pause", "group": gid}
    )
    assert answer.status_code == 403
    assert "Could not preview the action: Role &#39;full&#39; required" in answer.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "shutdown", "group": "g"}, "Field &#39;action&#39; must be one of"),
        ({"action": "pause"}, "Choose the instances"),
    ],
)
async def test_a_bad_action_form_is_refused_before_the_api(
    fake: tuple[FakeActionsApi, httpx.AsyncClient], fields: dict[str, str], message: str
) -> None:
    api, client = fake
    await login(client, token=FULL_TOKEN)
    _, html = await group_page(client)
    answer = await client.post("/fleet/actions/preview", data={"csrf": csrf_of(html), **fields})
    assert answer.status_code == 400
    assert message in answer.text
    assert api.requests == []


async def test_an_action_without_the_csrf_token_is_refused(
    fake: tuple[FakeActionsApi, httpx.AsyncClient],
) -> None:
    api, client = fake
    await login(client, token=FULL_TOKEN)
    gid, _ = await group_page(client)
    answer = await client.post("/fleet/actions", data={"action": "pause", "group": gid})
    assert answer.status_code == 403
    assert api.requests == []
    assert COOKIE in client.cookies


async def test_the_pages_preview_run_and_follow_an_action_through_the_real_api(
    tmp_path: Path,
) -> None:
    """The pages against the console's own actions API, the instances simulated."""
    instances = Instances("orders-1", "orders-2")
    reach = Reach(ReachConfig(timeout=0.5), transport=httpx.MockTransport(instances))
    config = console_config(
        f"sqlite:///{tmp_path / 'fleet.db'}",
        settings=settings(),
        actions={"poll_interval": 0.02, "heartbeat": 0.2, "stale_after": 1},
    )
    async with running(FleetConsole(config, clock=Clock(), reach=reach)) as client:
        await ingest(client, register("orders-1"), register("orders-2", version="1.1"))
        await login(client, token=FULL_TOKEN)
        gid, html = await group_page(client)
        fields = {"action": "pause", "group": gid}
        preview = await client.post(
            "/fleet/actions/preview", data={"csrf": csrf_of(html), **fields}
        )
        assert "<h1>Pause 2 instances?</h1>" in preview.text
        assert '<a href="/fleet/instances/orders-2">orders-2</a>' in preview.text
        assert not any(i.calls for i in instances.by_host.values())
        run = await client.post(
            "/fleet/actions", data={"csrf": csrf_of(preview.text), **fields, "reason": "deploy"}
        )
        assert run.status_code == 303
        page = await client.get(run.headers["location"])
        for _ in range(200):
            if 'r-succeeded">succeeded</span></h1>' in page.text:
                break
            await asyncio.sleep(0.02)
            page = await client.get(run.headers["location"])
        assert '<h1>Pause 2 instances: <span class="result r-succeeded">' in page.text
        assert '<progress id="bar" max="2" value="2">' in page.text
        assert "<td>paused</td>" in page.text
        assert all(i.paused for i in instances.by_host.values())
        journal = await client.get("/fleet/actions")
        assert re.search(r'succeeded</span></td><td>admin</td><td class="num">2</td>', journal.text)


@pytest.mark.parametrize(
    ("credentials", "by", "identity"),
    [
        ({"token": FULL_TOKEN}, "admin", "dashboard session: bearer token"),
        ({"user": "bob", "password": PASSWORD}, "bob", "dashboard session: basic"),
    ],
)
async def test_the_journal_names_the_dashboard_user_and_how_they_logged_in(
    tmp_path: Path, credentials: dict[str, str], by: str, identity: str
) -> None:
    """An action run from the dashboard is journalled as the user who logged in (token
    name or user), how they proved it and from where; never their secret or cookie."""
    instances = Instances("orders-1")
    reach = Reach(ReachConfig(timeout=0.5), transport=httpx.MockTransport(instances))
    security = settings(
        users={"bob": hash_password(PASSWORD, n=2**4)},
        roles={"read": ["ops"], "full": ["admin", "bob"]},
    )
    config = console_config(
        f"sqlite:///{tmp_path / 'fleet.db'}", settings=security, actions={"poll_interval": 0.02}
    )
    console = FleetConsole(config, clock=Clock(), reach=reach)
    async with running(console, client=("10.1.2.3", 50123)) as client:
        await ingest(client, register("orders-1"))
        assert (await login(client, **credentials)).status_code == 303
        html = (await client.get("/fleet/instances/orders-1")).text
        fields = {"action": "pause", "instance": "orders-1", "reason": "maintenance"}
        run = await client.post("/fleet/actions", data={"csrf": csrf_of(html), **fields})
        assert run.status_code == 303
        page = await client.get(run.headers["location"])
        journal = await client.get(
            "/fleet/api/actions", headers={"authorization": f"Bearer {READ_TOKEN}"}
        )
        journal_page = await client.get("/fleet/actions")
    [entry] = journal.json()["items"]
    assert (entry["by"], entry["identity"], entry["client"]) == (by, identity, "10.1.2.3")
    assert f"<dd>{by} ({identity}, from 10.1.2.3)</dd>" in page.text
    assert f"<td>{by}</td>" in journal_page.text
    cookie = client.cookies.get(COOKIE)
    assert cookie is not None
    for text in (journal.text, page.text, journal_page.text):
        for secret in (FULL_TOKEN, PASSWORD, cookie, hash_token(FULL_TOKEN)):
            assert secret not in text


async def test_an_api_caller_with_a_session_and_a_token_is_journalled_as_the_session(
    tmp_path: Path,
) -> None:
    """The session's hook runs before the header is read, so the journal says what
    really identified the caller: the session (its user), not the header's scheme."""
    instances = Instances("orders-1")
    reach = Reach(ReachConfig(timeout=0.5), transport=httpx.MockTransport(instances))
    config = console_config(f"sqlite:///{tmp_path / 'fleet.db'}", settings=settings())
    async with running(FleetConsole(config, clock=Clock(), reach=reach)) as client:
        await ingest(client, register("orders-1"))
        await login(client, token=FULL_TOKEN)
        html = (await client.get("/fleet/")).text
        answer = await client.post(
            "/fleet/api/actions",
            json={"action": "pause", "instances": ["orders-1"]},
            headers={"x-csrf-token": csrf_of(html), "authorization": "Bearer ignored-here"},
        )
        assert answer.status_code == 202, answer.text
        found = (await client.get(answer.json()["href"])).json()
    assert (found["by"], found["identity"]) == ("admin", "dashboard session: bearer token")
