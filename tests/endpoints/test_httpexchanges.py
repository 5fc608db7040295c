from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from actuator.endpoints.httpexchanges import HttpExchangeRecorder
from actuator.sanitizer import MASK
from tests.support.management import make_actuator, serve

ISO_DURATION = re.compile(r"PT\d+(\.\d+)?S\Z")


async def exchanges(http: Any) -> list[dict[str, Any]]:
    answer = await http.get("/actuator/httpexchanges")
    assert answer.status_code == 200
    return answer.json()["exchanges"]  # type: ignore[no-any-return]


async def test_app_requests_are_listed_newest_first_with_status_and_time_taken() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        await http.get("/hello?page=2")
        await http.post("/api/orders")
        await http.get("/missing")
        found = await exchanges(http)
    assert [
        (e["request"]["method"], e["request"]["uri"], e["response"]["status"]) for e in found
    ] == [
        ("GET", "http://testserver/missing", 404),
        ("POST", "http://testserver/api/orders", 405),
        ("GET", "http://testserver/hello?page=2", 200),
    ]
    assert all(ISO_DURATION.match(e["timeTaken"]) for e in found)
    assert all(e["timestamp"].endswith("Z") for e in found)
    # Nothing beyond what the default include names.
    assert "headers" not in found[0]["request"]
    assert "principal" not in found[0]
    assert "remoteAddress" not in found[0]["request"]


async def test_the_ring_buffer_keeps_only_the_latest_capacity_exchanges() -> None:
    actuator = make_actuator(httpexchanges={"capacity": 3})
    async with serve(actuator) as http:
        for page in range(10):
            await http.get(f"/hello?page={page}")
        found = await exchanges(http)
    assert [e["request"]["uri"].rsplit("=", 1)[1] for e in found] == ["9", "8", "7"]


async def test_nothing_is_recorded_while_the_endpoint_is_not_exposed() -> None:
    actuator = make_actuator(exposure={"include": ["health", "info"]})
    app = actuator.wrap(Starlette())
    assert not isinstance(app.app, HttpExchangeRecorder)
    async with serve(actuator, app) as http:
        await http.get("/anything")
    assert len(actuator.http_exchanges) == 0


async def test_headers_are_shown_only_when_included_and_credentials_are_masked() -> None:
    actuator = make_actuator(
        httpexchanges={"include": ["request_headers", "response_headers", "remote_address"]}
    )
    async with serve(actuator) as http:
        await http.get(
            "/hello?api_token=t0k3n&page=1",
            headers={
                "Authorization": "Bearer t0k3n",
                "Cookie": "session=abc",
                "X-Api-Key": "k3y",
                "X-Request-Id": "r-1",
                "Referer": "https://u:hunter2@example.com/",
            },
        )
        found = (await exchanges(http))[0]
    headers = found["request"]["headers"]
    assert headers["authorization"] == [MASK]
    assert headers["cookie"] == [MASK]
    assert headers["x-api-key"] == [MASK]
    assert headers["x-request-id"] == ["r-1"]
    assert headers["referer"] == ["https://u:******@example.com/"]
    assert found["request"]["uri"] == f"http://testserver/hello?api_token={MASK}&page=1"
    assert found["request"]["remoteAddress"] == "10.0.0.7"
    assert found["response"]["headers"]["content-type"] == ["text/plain; charset=utf-8"]
    for secret in ("t0k3n", "abc", "k3y", "hunter2"):
        assert secret not in str(found)


class _Header(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
        return AuthCredentials(["authenticated"]), SimpleUser(conn.headers["x-user"])


async def test_the_principal_is_the_user_the_apps_authentication_set() -> None:
    async def whoami(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.user.display_name)

    app = Starlette(
        routes=[Route("/me", whoami)],
        middleware=[Middleware(AuthenticationMiddleware, backend=_Header())],
    )
    actuator = make_actuator(httpexchanges={"include": ["principal"]})
    async with serve(actuator, actuator.wrap(app)) as http:
        await http.get("/me", headers={"x-user": "alice"})
        found = (await exchanges(http))[0]
    assert found["principal"] == {"name": "alice"}


async def test_an_app_that_fails_is_recorded_as_500() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    actuator = make_actuator()
    async with serve(actuator, actuator.wrap(broken)) as http:
        with pytest.raises(RuntimeError):
            await http.get("/boom")
        found = await exchanges(http)
    assert found[0]["response"]["status"] == 500


async def test_a_path_under_httpexchanges_is_404() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        answer = await http.get("/actuator/httpexchanges/1")
    assert answer.status_code == 404
    assert answer.json()["path"] == "/actuator/httpexchanges/1"
