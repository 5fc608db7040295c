"""The discovery page: Spring-style ``_links`` with absolute hrefs."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from actuator import Endpoint, OperationRequest
from tests.support.asgi import RecordingApp, client_for, light_actuator, request

V3 = "application/vnd.spring-boot.actuator.v3+json"


class Flags(Endpoint):
    name: ClassVar[str] = "flags"
    selector: ClassVar[str | None] = "flag"

    async def read(self, request: OperationRequest) -> Any:
        return {}


@pytest.mark.parametrize("path", ["/actuator", "/actuator/"])
async def test_links_to_every_exposed_endpoint(path: str) -> None:
    actuator = light_actuator({"exposure": {"include": ["health", "info", "flags"]}})
    actuator.add_endpoint(Flags())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"  # httpx asks for */*
    assert answer.json() == {
        "_links": {
            "self": {"href": "http://testserver/actuator", "templated": False},
            "health": {"href": "http://testserver/actuator/health", "templated": False},
            "health-path": {"href": "http://testserver/actuator/health/{*path}", "templated": True},
            "info": {"href": "http://testserver/actuator/info", "templated": False},
            "flags": {"href": "http://testserver/actuator/flags", "templated": False},
            "flags-flag": {"href": "http://testserver/actuator/flags/{flag}", "templated": True},
        }
    }


async def test_hrefs_use_the_host_header_scheme_and_root_path() -> None:
    actuator = light_actuator({"base_path": "/manage"})
    answer = await request(
        actuator.wrap(RecordingApp()),
        "GET",
        "/api/manage",
        headers=[("host", "orders.internal:8443")],
        root_path="/api",
    )
    links = answer.json()["_links"]
    assert links["self"]["href"] == "http://orders.internal:8443/api/manage"
    assert links["health"]["href"] == "http://orders.internal:8443/api/manage/health"
    async with client_for(
        actuator.wrap(RecordingApp()), actuator, base_url="https://orders.example"
    ) as client:
        links = (await client.get("/manage")).json()["_links"]
    assert links["self"]["href"] == "https://orders.example/manage"


async def test_v3_media_type_when_asked_for() -> None:
    actuator = light_actuator()
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.get("/actuator", headers={"accept": V3})
        refused = await client.get("/actuator", headers={"accept": "application/health+json"})
    assert answer.headers["content-type"] == V3
    assert "_links" in answer.json()
    assert refused.status_code == 406


async def test_endpoints_whose_access_is_none_are_not_listed() -> None:
    actuator = light_actuator(
        {
            "exposure": {"include": ["*"]},
            "access": {"endpoints": {"mappings": "none", "flags": "none"}},
        }
    )
    actuator.add_endpoint(Flags())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        links = (await client.get("/actuator")).json()["_links"]
        refused = await client.get("/actuator/mappings")
    assert refused.status_code == 403
    assert "mappings" not in links
    assert "flags" not in links
    assert "flags-flag" not in links
    # Every listed link can be read by this caller.
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        for rel, link in links.items():
            if not link["templated"] and rel != "self":
                answer = await client.get(link["href"].removeprefix("http://testserver"))
                assert answer.status_code not in (401, 403, 404), rel
