"""Custom endpoints through the documented ``Endpoint`` base class."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest

from actuator import (
    BadRequest,
    Endpoint,
    EndpointError,
    EndpointResponse,
    NotFound,
    OperationRequest,
)
from actuator.endpoints import Conflict
from tests.support.asgi import RecordingApp, client_for, light_actuator

SETTINGS = {"exposure": {"include": ["*"]}, "access": {"default": "unrestricted"}}


class Flags(Endpoint):
    """The example of the Endpoint docstring, with write and delete."""

    name: ClassVar[str] = "flags"
    selector: ClassVar[str | None] = "flag"
    query_params: ClassVar[frozenset[str]] = frozenset({"verbose"})

    def __init__(self) -> None:
        self.flags = {"new-checkout": True}
        self.calls: list[OperationRequest] = []

    async def read(self, request: OperationRequest) -> Any:
        self.calls.append(request)
        if not request.path:
            return {"flags": self.flags, "verbose": request.query_value("verbose")}
        flag = request.path[0]
        if flag not in self.flags:
            raise NotFound(f"No flag named {flag!r}")
        return {"name": flag, "enabled": self.flags[flag]}

    async def write(self, request: OperationRequest) -> Any:
        if not request.path:
            raise BadRequest("Name a flag: POST /flags/{flag}")
        if not isinstance(request.body, dict) or "enabled" not in request.body:
            raise BadRequest('Body must be {"enabled": true|false}', field="enabled")
        self.flags[request.path[0]] = bool(request.body["enabled"])
        return EndpointResponse(
            {"name": request.path[0]},
            status=201,
            headers={"Location": f"{request.base_url}/flags/{request.path[0]}"},
        )

    async def delete(self, request: OperationRequest) -> Any:
        if not request.path:
            raise Conflict("Refusing to delete every flag")
        self.flags.pop(request.path[0], None)
        return EndpointResponse(status=204)


class Raw(Endpoint):
    """Answers every kind of EndpointResponse body, chosen by the path."""

    name: ClassVar[str] = "raw"
    produces: ClassVar[tuple[str, ...]] = ("application/json", "text/plain")

    async def read(self, request: OperationRequest) -> Any:
        kind = request.path[0] if request.path else "json"
        if kind == "bytes":
            return EndpointResponse(b"\x00\x01", media_type="application/octet-stream")
        if kind == "text":
            return EndpointResponse("plain text", headers={"X-Kind": "text"})
        if kind == "teapot":
            raise EndpointError("short and stout", status=418, hint="tip me over")
        if kind == "crash":
            raise RuntimeError("secret internal detail")
        if kind == "media":
            return {"chosen": request.media_type}
        return EndpointResponse({"a": 1}, status=202)


class Deep(Endpoint):
    name: ClassVar[str] = "deep"
    max_path: ClassVar[int | None] = None

    async def read(self, request: OperationRequest) -> Any:
        return {"path": list(request.path)}


async def test_read_write_delete_with_path_selectors() -> None:
    actuator = light_actuator(SETTINGS)
    flags = Flags()
    actuator.add_endpoint(flags)
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        assert (await client.get("/actuator/flags")).json() == {
            "flags": {"new-checkout": True},
            "verbose": None,
        }
        assert (await client.get("/actuator/flags?verbose=1&verbose=2")).json()["verbose"] == "2"
        assert (await client.get("/actuator/flags/new-checkout")).json() == {
            "name": "new-checkout",
            "enabled": True,
        }
        created = await client.post("/actuator/flags/dark-mode", json={"enabled": True})
        assert created.status_code == 201
        assert created.headers["location"] == "http://testserver/actuator/flags/dark-mode"
        assert flags.flags["dark-mode"] is True
        deleted = await client.delete("/actuator/flags/dark-mode")
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert "content-length" not in deleted.headers
        assert "dark-mode" not in flags.flags
    request = flags.calls[0]
    assert request.operation == "read"
    assert request.security.authenticated is False
    # httpx sends Accept: */*, which gets Spring's first choice.
    assert request.media_type == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message", "extra"),
    [
        ("GET", "/actuator/flags/nope", None, 404, "No flag named 'nope'", {}),
        ("POST", "/actuator/flags", None, 400, "Name a flag", {}),
        ("POST", "/actuator/flags/x", {"on": 1}, 400, "Body must be", {"field": "enabled"}),
        ("DELETE", "/actuator/flags", None, 409, "Refusing to delete", {}),
        ("GET", "/actuator/raw/teapot", None, 418, "short and stout", {"hint": "tip me over"}),
    ],
)
async def test_endpoint_errors_become_json_errors(
    method: str, path: str, body: Any, status: int, message: str, extra: dict[str, Any]
) -> None:
    actuator = light_actuator(SETTINGS)
    actuator.add_endpoint(Flags())
    actuator.add_endpoint(Raw())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.request(method, path, json=body)
    assert answer.status_code == status
    assert answer.json()["message"].startswith(message)
    assert answer.json()["path"] == path
    for key, value in extra.items():
        assert answer.json()[key] == value


async def test_an_unexpected_exception_is_a_logged_500_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = light_actuator(SETTINGS)
    actuator.add_endpoint(Raw())
    with caplog.at_level(logging.ERROR, logger="actuator.http"):
        async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
            answer = await client.get("/actuator/raw/crash")
    assert answer.status_code == 500
    assert answer.json() == {
        "status": 500,
        "error": "Internal Server Error",
        "message": "Endpoint 'raw' failed; see the server log",
        "path": "/actuator/raw/crash",
    }
    assert "secret" not in answer.text
    first, *traceback = caplog.records[0].getMessage().splitlines()
    assert first == "Endpoint 'raw' failed on GET /actuator/raw/crash from 127.0.0.1:123"
    assert traceback[0] == "Traceback (most recent call last):"  # sanitized, in the message


@pytest.mark.parametrize(
    ("path", "status", "content_type", "body"),
    [
        ("/actuator/raw", 202, "application/json", b'{"a":1}'),
        ("/actuator/raw/bytes", 200, "application/octet-stream", b"\x00\x01"),
        ("/actuator/raw/text", 200, "text/plain; charset=utf-8", b"plain text"),
    ],
)
async def test_endpoint_responses(path: str, status: int, content_type: str, body: bytes) -> None:
    actuator = light_actuator(SETTINGS)
    actuator.add_endpoint(Raw())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.get(path)
    assert (answer.status_code, answer.headers["content-type"], answer.content) == (
        status,
        content_type,
        body,
    )
    assert answer.headers["content-length"] == str(len(body))


async def test_custom_headers_and_the_negotiated_media_type_reach_the_answer() -> None:
    actuator = light_actuator(SETTINGS)
    actuator.add_endpoint(Raw())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        text = await client.get("/actuator/raw/text")
        chosen = await client.get("/actuator/raw/media", headers={"accept": "text/plain"})
    assert text.headers["x-kind"] == "text"
    assert chosen.json() == {"chosen": "text/plain"}


async def test_max_path_limits_the_depth() -> None:
    actuator = light_actuator(SETTINGS)
    actuator.add_endpoint(Flags())
    actuator.add_endpoint(Deep())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        one = await client.get("/actuator/flags/new-checkout")
        two = await client.get("/actuator/flags/new-checkout/extra")
        any_depth = await client.get("/actuator/deep/a/b/c")
    assert one.status_code == 200
    assert two.status_code == 404
    assert two.json()["message"] == "No such path under endpoint 'flags'"
    assert any_depth.json() == {"path": ["a", "b", "c"]}


async def test_query_parameters_outside_query_params_are_refused() -> None:
    actuator = light_actuator(SETTINGS)
    actuator.add_endpoint(Flags())
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.get("/actuator/flags?verbos=1")
    assert answer.status_code == 400
    assert answer.json()["message"] == ("Unexpected query parameter 'verbos' (accepted: verbose)")


async def test_endpoint_startup_and_shutdown_follow_the_app() -> None:
    events: list[str] = []

    class Lifecycle(Endpoint):
        name: ClassVar[str] = "lifecycle"

        async def read(self, request: OperationRequest) -> Any:
            return events

        async def startup(self) -> None:
            events.append("startup")

        async def shutdown(self) -> None:
            events.append("shutdown")
            raise RuntimeError("shutdown hiccup is logged, not raised")

    actuator = light_actuator(SETTINGS)
    actuator.add_endpoint(Lifecycle())
    await actuator.startup()
    await actuator.shutdown()
    assert events == ["startup", "shutdown"]


def test_endpoint_registration_is_checked() -> None:
    actuator = light_actuator()
    actuator.add_endpoint(Flags())
    with pytest.raises(ValueError, match="an endpoint named 'flags' is already registered"):
        actuator.add_endpoint(Flags())
    with pytest.raises(ValueError, match="an endpoint named 'health' is already registered"):
        actuator.add_endpoint(type("H", (Deep,), {"name": "health"})())
    for bad in ("", "Flags", "my_flags", "1flags", "a/b"):
        with pytest.raises(ValueError, match="endpoint name must be"):
            actuator.add_endpoint(type("E", (Deep,), {"name": bad})())
    with pytest.raises(TypeError, match="endpoint must be an Endpoint"):
        actuator.add_endpoint(object())  # type: ignore[arg-type]


def test_an_endpoint_without_operations_is_a_404_everywhere() -> None:
    class Empty(Endpoint):
        name: ClassVar[str] = "empty"

    assert Empty().operations(()) == frozenset()
    assert Flags().operations(()) == frozenset({"read", "write", "delete"})
    assert Flags().operations(("a", "b")) == frozenset()
