"""The dashboard's pages, login and refusals, driven through ASGITransport (the browser
tests in test_browser.py drive the same pages in Chromium)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from actuator import hash_token
from actuator.fleet.app import FleetConsole
from actuator.fleet.web.session import COOKIE
from actuator.security.credentials import hash_password
from tests.fleet.support import (
    CONSOLE_SETTINGS,
    INGEST,
    READ,
    READ_TOKEN,
    Clock,
    console_config,
    register,
    running,
    status,
)

FULL_TOKEN = "full-token-0123456789abcdefghijkl"
NOBODY_TOKEN = "nobody-token-0123456789abcdefghij"
PASSWORD = "correct horse battery staple"
SECURITY = {
    "tokens": {
        "ops": hash_token(READ_TOKEN),
        "admin": hash_token(FULL_TOKEN),
        "nobody": hash_token(NOBODY_TOKEN),
    },
    "users": {"alice": hash_password(PASSWORD, n=2**4)},
    "roles": {"read": ["ops", "alice"], "full": ["admin"]},
}


def settings(**security: Any) -> dict[str, Any]:
    return {**CONSOLE_SETTINGS, "security": {**SECURITY, **security}}


async def start(
    tmp_path: Path, clock: Clock, **overrides: Any
) -> AsyncIterator[tuple[FleetConsole, httpx.AsyncClient]]:
    config = console_config(f"sqlite:///{tmp_path / 'fleet.db'}", **overrides)
    console = FleetConsole(config, clock=clock)
    async with running(console) as client:
        await ingest(
            client,
            register("orders-1", team="orders", region="eu"),
            register("orders-2", version="1.1", team="orders", region="us"),
            register("orders-3", team="orders", region="eu"),
            register("billing-1", service="billing", team="money"),
            register("search-1", service="search", environment="staging", team="find"),
            status("orders-2", "DOWN", ["db", "cache"]),
        )
        yield console, client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(tmp_path: Path, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async for _, client in start(tmp_path, clock, settings=settings()):
        yield client


async def ingest(client: httpx.AsyncClient, *updates: dict[str, Any]) -> None:
    answer = await client.post("/fleet/api/ingest", json={"updates": list(updates)}, headers=INGEST)
    assert answer.status_code == 200, answer.text


async def login(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    form = await client.get("/fleet/login")
    nonce = re.search(r'name="login" value="([^"]+)"', form.text)
    assert nonce is not None
    return await client.post(
        "/fleet/login", data={"login": nonce.group(1), "next": "/fleet/", **fields}
    )


def groups_shown(html: str) -> list[str]:
    return re.findall(r'<a href="/fleet/groups/\w+">([^<]+)</a>', html)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


# -- login and sessions ---------------------------------------------------------


async def test_an_anonymous_browser_is_sent_to_the_login_page_and_back(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/fleet/groups/abc?page=2")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/fleet/login?next=/fleet/groups/abc?page=2"
    form = await client.get(answer.headers["location"])
    assert form.status_code == 200
    assert '<input type="hidden" name="next" value="/fleet/groups/abc?page=2">' in form.text
    assert '<label for="token">' in form.text
    assert '<label for="user">' in form.text  # users are configured: basic too


async def test_login_with_a_token_sets_a_strict_httponly_session_cookie_without_the_token(
    client: httpx.AsyncClient,
) -> None:
    answer = await login(client, token=READ_TOKEN)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/fleet/"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/fleet" in cookie
    assert "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    assert READ_TOKEN not in cookie
    page = await client.get("/fleet/")
    assert page.status_code == 200
    assert "Signed in as <strong>ops</strong> (read only)" in page.text
    assert READ_TOKEN not in page.text


async def test_the_session_cookie_is_secure_under_tls(tmp_path: Path, clock: Clock) -> None:
    async for _, client in start(tmp_path, clock, settings=settings()):
        client.base_url = httpx.URL("https://fleet")
        answer = await login(client, token=READ_TOKEN)
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(COOKIE))
        assert "Secure" in cookie


async def test_login_with_a_user_and_password(client: httpx.AsyncClient) -> None:
    answer = await login(client, user="alice", password=PASSWORD)
    assert answer.status_code == 303
    assert "Signed in as <strong>alice</strong>" in (await client.get("/fleet/")).text


@pytest.mark.parametrize(
    "fields",
    [
        {"token": "wrong-token-0123456789abcdefghijkl"},
        {"user": "alice", "password": "not-her-password-42"},
        {"user": "mallory", "password": PASSWORD},
    ],
)
async def test_a_wrong_credential_is_refused_and_never_echoed_or_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, fields: dict[str, str]
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await login(client, **fields)
    assert answer.status_code == 401
    assert "Wrong token, user or password." in answer.text
    assert not any(c.startswith(COOKIE) for c in answer.headers.get_list("set-cookie"))
    secret = fields.get("token") or fields["password"]
    assert secret not in answer.text
    assert secret not in caplog.text
    assert (await client.get("/fleet/")).status_code == 303


async def test_an_identity_without_the_read_role_cannot_log_in(client: httpx.AsyncClient) -> None:
    answer = await login(client, token=NOBODY_TOKEN)
    assert answer.status_code == 403
    assert "no read role" in answer.text


async def test_an_empty_or_forged_login_form_is_refused(client: httpx.AsyncClient) -> None:
    assert (await login(client)).status_code == 400
    client.cookies.clear()
    forged = await client.post("/fleet/login", data={"login": "guess", "token": READ_TOKEN})
    assert forged.status_code == 403
    assert "expired" in forged.text
    wrong_type = await client.post("/fleet/login", content=b"{}")
    assert wrong_type.status_code == 415


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/elsewhere"])
async def test_login_never_redirects_off_the_dashboard(
    client: httpx.AsyncClient, target: str
) -> None:
    form = await client.get("/fleet/login")
    nonce = re.search(r'name="login" value="([^"]+)"', form.text)
    assert nonce is not None
    answer = await client.post(
        "/fleet/login", data={"login": nonce.group(1), "token": READ_TOKEN, "next": target}
    )
    assert answer.headers["location"] == "/fleet/"


async def test_logout_needs_the_csrf_token_and_ends_the_session(
    client: httpx.AsyncClient,
) -> None:
    await login(client, token=READ_TOKEN)
    page = await client.get("/fleet/")
    stolen = client.cookies[COOKIE]
    assert (await client.post("/fleet/logout", data={})).status_code == 403
    answer = await client.post("/fleet/logout", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/fleet/login"
    client.cookies.set(COOKIE, stolen, path="/fleet")
    assert (await client.get("/fleet/")).status_code == 303  # revoked, not only deleted


async def test_a_bearer_header_reads_the_pages_and_gets_a_session_for_its_forms(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/fleet/", headers=READ)
    assert answer.status_code == 200
    assert any(c.startswith(COOKIE) for c in answer.headers.get_list("set-cookie"))
    client.cookies.clear()
    refused = await client.get("/fleet/", headers={"authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert "Invalid or malformed credentials" in refused.text


async def test_anonymous_reading_when_the_configuration_allows_it(
    tmp_path: Path, clock: Clock
) -> None:
    async for _, client in start(tmp_path, clock, settings=settings(anonymous=["health", "fleet"])):
        page = await client.get("/fleet/")
        assert page.status_code == 200
        assert "Signed in" not in page.text
        assert "Pause" not in page.text


async def test_the_session_cookie_is_an_identity_for_the_api_with_csrf_for_changes(
    tmp_path: Path, clock: Clock
) -> None:
    async for console, client in start(tmp_path, clock, settings=settings()):
        await login(client, token=READ_TOKEN)
        assert (await client.get("/fleet/api/counts")).status_code == 200
        cookie = client.cookies[COOKIE]
        session = console.dashboard.sessions.read(cookie, clock())
        assert session is not None

        def request(method: str, csrf: str | None, cookie: str = cookie) -> Request:
            headers = [(b"cookie", f"{COOKIE}={cookie}".encode())]
            if csrf is not None:
                headers.append((b"x-csrf-token", csrf.encode()))
            return Request({"type": "http", "method": method, "headers": headers, "path": "/"})

        hook = console.dashboard.authenticator
        assert hook(request("GET", None)) == session.context
        assert hook(request("POST", None)) is None
        assert hook(request("POST", "forged")) is None
        assert hook(request("POST", session.csrf)) == session.context


# -- pages ---------------------------------------------------------------------------


async def test_the_overview_counts_statuses_and_lists_groups_worst_first(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/fleet/", headers=READ)
    html = page.text
    assert "<strong>5</strong> instances in <strong>3</strong> groups" in html
    assert '<span aria-hidden="true">✖</span> DOWN <strong>1</strong>' in html
    assert '<span aria-hidden="true">✔</span> UP <strong>4</strong>' in html
    assert groups_shown(html) == ["orders/prod/shop", "billing/prod/shop", "search/staging/shop"]
    # status as text beside the colour, versions as a bar with a legend
    assert '<span class="status s-down"><span aria-hidden="true">✖</span> DOWN</span>' in html
    assert '<span class="key v0">1.0</span> 2 · <span class="key v1">1.1</span> 1' in html
    assert "content-security-policy" in page.headers
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=DOWN", ["orders/prod/shop"]),
        ("status=up", ["billing/prod/shop", "search/staging/shop"]),
        ("service=billing", ["billing/prod/shop"]),
        ("where=team%3Dfind", ["search/staging/shop"]),
        ("where=environment%3Dprod&sort=name", ["billing/prod/shop", "orders/prod/shop"]),
        ("sort=name&order=desc", ["search/staging/shop", "orders/prod/shop", "billing/prod/shop"]),
        (
            "status=&service=&where=",
            ["orders/prod/shop", "billing/prod/shop", "search/staging/shop"],
        ),
        ("where=team%3Dnobody", []),
    ],
)
async def test_the_overview_filters_and_sorts_on_the_server(
    client: httpx.AsyncClient, query: str, expected: list[str]
) -> None:
    page = await client.get(f"/fleet/?{query}", headers=READ)
    assert page.status_code == 200
    assert groups_shown(page.text) == expected
    if not expected:
        assert "No service group matches these filters." in page.text


async def test_the_overview_pages_on_the_server(tmp_path: Path, clock: Clock) -> None:
    async for _, client in start(tmp_path, clock, settings=settings(), page_size=2):
        first = await client.get("/fleet/?sort=name", headers=READ)
        assert groups_shown(first.text) == ["billing/prod/shop", "orders/prod/shop"]
        assert "Page 1 of 2 (3 in all)" in first.text
        assert 'href="?sort=name&amp;page=2" rel="next"' in first.text
        second = await client.get("/fleet/?sort=name&page=2", headers=READ)
        assert groups_shown(second.text) == ["search/staging/shop"]
        assert 'rel="prev"' in second.text
        assert 'rel="next"' not in second.text


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/fleet/?page=0", 400, "Parameter &#39;page&#39; must be a page number from 1"),
        ("/fleet/?page=abc", 400, "Parameter &#39;page&#39; must be a page number from 1"),
        ("/fleet/?page=9", 404, "No page 9: there is 1"),
        ("/fleet/?status=not-a-status", 400, "is not a status code"),
        ("/fleet/?where=team", 400, "Parameter &#39;where&#39; takes fact=value"),
        ("/fleet/?sort=colour", 400, "Parameter &#39;sort&#39; must be one of"),
        ("/fleet/?order=up", 400, "Parameter &#39;order&#39; must be asc or desc"),
        ("/fleet/?colour=red", 400, "Unknown parameter &#39;colour&#39;"),
        ("/fleet/groups/0000000000000000", 404, "No service group &#39;0000000000000000&#39;"),
        ("/fleet/instances/nope", 404, "No instance &#39;nope&#39;"),
        ("/fleet/instances/orders-1?x=1", 400, "Unknown parameter &#39;x&#39;"),
        ("/fleet/instances/orders-1/live/env", 404, "No live part &#39;env&#39;"),
        ("/fleet/no-such-page", 404, "No such resource"),
    ],
)
async def test_bad_input_gets_an_html_error_page_never_a_traceback(
    client: httpx.AsyncClient, path: str, code: int, message: str
) -> None:
    answer = await client.get(path, headers=READ)
    assert answer.status_code == code
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>" in answer.text
    assert message in answer.text
    assert "Traceback" not in answer.text


async def test_the_api_keeps_answering_json_beside_the_dashboard(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/fleet/api/nothing", headers=READ)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"
    wrong = await client.post("/fleet/api/counts", headers=READ)
    assert wrong.status_code == 405


async def test_the_group_page_shows_instances_versions_and_its_history(
    client: httpx.AsyncClient,
) -> None:
    overview = await client.get("/fleet/?service=orders", headers=READ)
    found = re.search(r'href="/fleet/groups/(\w+)"', overview.text)
    assert found is not None
    page = await client.get(f"/fleet/groups/{found.group(1)}", headers=READ)
    html = page.text
    assert "<h1>orders/prod/shop" in html
    ids = re.findall(r'href="/fleet/instances/([^"]+)"', html)
    assert ids == ["orders-2", "orders-1", "orders-3"]  # worst first, then by id
    assert "<td>db, cache</td>" in html
    assert '<td class="num">66.7%</td>' in html  # versions: 1.0 on two of three
    assert "Status history" in html
    assert 'DOWN</span> <span class="from">first seen</span>' in html
    await ingest(client, status("orders-2", "UP"))
    later = await client.get(f"/fleet/groups/{found.group(1)}", headers=READ)
    assert 'UP</span> <span class="from">from DOWN</span>' in later.text
    filtered = await client.get(f"/fleet/groups/{found.group(1)}?version=1.1", headers=READ)
    assert re.findall(r'href="/fleet/instances/([^"]+)"', filtered.text) == ["orders-2"]


async def test_the_instance_page_shows_facts_history_and_links_to_its_actuator(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/fleet/instances/orders-2", headers=READ)
    html = page.text
    assert "<h1>orders-2" in html
    assert '<th scope="row">region</th><td>us</td>' in html
    assert "<dt>Components not UP</dt><dd>db, cache</dd>" in html
    assert '<a href="/fleet/api/instances/orders-2/actuator/health">health</a>' in html
    assert 'href="http://orders-2:8080/actuator"' in html
    assert 'data-fragment="/fleet/instances/orders-2/live/health"' in html
    assert html.count('class="status s-down"') >= 2  # the badge and the history entry


async def test_the_live_stamp_moves_with_status_changes_not_with_heartbeats(
    client: httpx.AsyncClient,
) -> None:
    async def stamp() -> str:
        answer = await client.get("/fleet/live", headers=READ)
        assert answer.status_code == 200
        value: str = answer.json()["stamp"]
        return value

    before = await stamp()
    await ingest(client, status("orders-1", "UP"))
    assert await stamp() == before
    await ingest(client, status("orders-1", "DOWN"))
    changed = await stamp()
    assert changed != before
    await ingest(client, {"type": "deregister", "id": "orders-3"})
    assert await stamp() != changed


async def test_static_files_ship_in_the_package(client: httpx.AsyncClient) -> None:
    css = await client.get("/fleet/static/dashboard.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    js = await client.get("/fleet/static/dashboard.js")
    assert 'fetch(base + "/live"' in js.text
