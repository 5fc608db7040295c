"""Bad requests under the base path: a clear 4xx JSON answer, and the app never sees them."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from actuator import Actuator, Endpoint, OperationRequest
from tests.support.asgi import Answer, RecordingApp, light_actuator, request


class Echo(Endpoint):
    """Answers its JSON body back; writes allowed in these tests."""

    name: ClassVar[str] = "echo"

    async def read(self, request: OperationRequest) -> Any:
        return {"ok": True}

    async def write(self, request: OperationRequest) -> Any:
        return {"body": request.body}


def setup() -> tuple[Actuator, RecordingApp, Any]:
    actuator = light_actuator(
        {"exposure": {"include": ["*"]}, "access": {"endpoints": {"echo": "unrestricted"}}}
    )
    actuator.add_endpoint(Echo())
    app = RecordingApp()
    return actuator, app, actuator.wrap(app)


def assert_error(answer: Answer, status: int, message: str, path: str) -> None:
    body = answer.json()
    assert answer.status == status, body
    assert set(body) >= {"status", "error", "message", "path"}
    assert body["status"] == status
    assert body["path"] == path
    assert message in body["message"]
    assert answer.header("content-type") == "application/json"
    assert b"Traceback" not in answer.body
    assert b'File "' not in answer.body


async def assert_refused(status: int, message: str, method: str, path: str, **given: Any) -> Answer:
    """Send one request; it gets a JSON error and the app never sees it."""
    actuator, app, wrapped = setup()
    answer = await request(wrapped, method, path, **given)
    if method == "HEAD":
        assert (answer.status, answer.body) == (status, b"")
    else:
        assert_error(answer, status, message, path)
    assert app.http_calls == []
    await actuator.shutdown()
    return answer


@pytest.mark.parametrize(
    ("path", "raw_path", "message"),
    [
        ("/actuator/../x", b"/actuator/../x", "'..' path segments"),
        ("/actuator/health/../../x", b"/actuator/health/../../x", "'..' path segments"),
        ("/actuator/./health", b"/actuator/./health", "'.' and '..'"),
        ("/actuator/../x", b"/actuator/%2e%2e/x", "'..' path segments"),
        ("/actuator/health/..", b"/actuator/health/%2E%2E", "'..' path segments"),
        ("/actuator//health", b"/actuator//health", "Empty"),
        ("/actuator/health/readiness", b"/actuator/health%2Freadiness", "Encoded slashes"),
        ("/actuator/health/readiness", b"/actuator/health%2freadiness", "Encoded slashes"),
        ("/actuator/health\\readiness", b"/actuator/health%5Creadiness", "backslashes"),
        ("/actuator/health\\readiness", b"/actuator/health\\readiness", "backslashes"),
        ("/actuator/health/\x00", b"/actuator/health/%00", "NUL byte in path"),
        ("/actuator/he\x00alth", b"/actuator/he\x00alth", "NUL byte in path"),
    ],
)
async def test_unsafe_paths_are_400(path: str, raw_path: bytes, message: str) -> None:
    await assert_refused(400, message, "GET", path, raw_path=raw_path)


async def test_a_path_longer_than_8_kb_is_414() -> None:
    await assert_refused(414, "longer than 8192 bytes", "GET", "/actuator/health/" + "a" * 9000)
    await assert_refused(
        414, "longer than 8192 bytes", "GET", "/actuator/health", query=b"x=" + b"a" * 9000
    )


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/actuator/health", b"verbose=1", "Unexpected query parameter 'verbose' (accepted: none)"),
        ("/actuator", b"x", "Unexpected query parameter 'x'"),
        ("/actuator/health", b"a=%00", "NUL byte in query string"),
        ("/actuator/health", b"a%00=1", "NUL byte in query string"),
        ("/actuator/health", b"a=%zz", "not valid percent-encoded UTF-8"),
        ("/actuator/health", b"a=%f", "not valid percent-encoded UTF-8"),
        ("/actuator/health", b"a=%ff", "not valid percent-encoded UTF-8"),
        ("/actuator/health", b"a=\xc3\x28", "not valid percent-encoded UTF-8"),
    ],
)
async def test_bad_or_unexpected_query_strings_are_400(
    path: str, query: bytes, message: str
) -> None:
    await assert_refused(400, message, "GET", path, query=query)


async def test_an_unexpected_query_parameter_is_named_in_the_body() -> None:
    actuator, _, wrapped = setup()
    answer = await request(wrapped, "GET", "/actuator/health", query=b"showDetails=true")
    assert answer.json()["parameter"] == "showDetails"
    await actuator.shutdown()


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([("content-length", "5")], [b"hello"]),
        ([("transfer-encoding", "chunked")], [b"hel", b"lo"]),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["/actuator", "/actuator/health", "/actuator/echo"])
async def test_a_body_on_get_or_head_is_400(
    method: str, path: str, headers: list[tuple[str, str]], body: list[bytes]
) -> None:
    await assert_refused(400, "must not have a body", method, path, headers=headers, body=body)


async def test_an_oversized_body_is_413_by_length_or_by_counting() -> None:
    actuator, app, wrapped = setup()
    big = b"[" + b"1," * 40000 + b"1]"
    by_length = await request(
        wrapped,
        "POST",
        "/actuator/echo",
        body=[big],
        headers=[("content-type", "application/json"), ("content-length", str(len(big)))],
    )
    assert_error(by_length, 413, "larger than 65536 bytes", "/actuator/echo")
    chunks = [big[i : i + 16384] for i in range(0, len(big), 16384)]
    by_counting = await request(
        wrapped,
        "POST",
        "/actuator/echo",
        body=chunks,
        headers=[("content-type", "application/json"), ("transfer-encoding", "chunked")],
    )
    assert_error(by_counting, 413, "larger than 65536 bytes", "/actuator/echo")
    assert app.http_calls == []
    await actuator.shutdown()


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        (
            [("content-type", "application/json")],
            b'{"a": ',
            400,
            "Malformed JSON body: Expecting value at line 1 column 7",
        ),
        ([("content-type", "application/json")], b'{"a": "\xff"}', 400, "not valid UTF-8"),
        ([("content-type", "text/plain")], b'{"a": 1}', 415, "Content-Type: application/json"),
        ([], b'{"a": 1}', 415, "must be JSON"),
        (
            [("content-type", "application/json"), ("content-length", "abc")],
            b"{}",
            400,
            "Invalid Content-Length",
        ),
    ],
)
async def test_bad_bodies_are_rejected(
    headers: list[tuple[str, str]], body: bytes, status: int, message: str
) -> None:
    actuator, _, wrapped = setup()
    answer = await request(wrapped, "POST", "/actuator/echo", headers=headers, body=[body])
    assert_error(answer, status, message, "/actuator/echo")
    await actuator.shutdown()


async def test_a_good_json_body_reaches_the_operation() -> None:
    actuator, _, wrapped = setup()
    payload = json.dumps({"level": "DEBUG"}).encode()
    answer = await request(
        wrapped,
        "POST",
        "/actuator/echo",
        body=[payload],
        headers=[("content-type", "application/json; charset=utf-8")],
    )
    assert answer.status == 200
    assert answer.json() == {"body": {"level": "DEBUG"}}
    empty = await request(wrapped, "POST", "/actuator/echo")
    assert empty.json() == {"body": None}
    await actuator.shutdown()


@pytest.mark.parametrize("method", ["TRACE", "PUT", "PATCH", "CONNECT", "BREW"])
async def test_unsupported_methods_are_405(method: str) -> None:
    answer = await assert_refused(405, f"Method {method} not allowed", method, "/actuator/echo")
    assert answer.header("allow") == "GET, HEAD, POST, OPTIONS"


async def test_a_client_that_leaves_while_sending_its_body_gets_no_answer() -> None:
    actuator, app, wrapped = setup()
    scope_messages = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return scope_messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    from tests.support.asgi import http_scope

    scope = http_scope("POST", "/actuator/echo", headers=[("content-type", "application/json")])
    await wrapped(scope, receive, send)
    assert sent == []
    assert app.http_calls == []
    await actuator.shutdown()


async def test_a_garbage_host_header_does_not_reach_the_links() -> None:
    actuator, _, wrapped = setup()
    answer = await request(wrapped, "GET", "/actuator", headers=[("host", "evil.example/<script>")])
    assert answer.json()["_links"]["self"]["href"] == "http://testserver:80/actuator"
    await actuator.shutdown()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested deeper than 32 levels"),  # RecursionError once
        (b'{"a": ' * 40 + b"1" + b"}" * 40, "nested deeper than 32 levels"),
        (b'{"n": ' + b"9" * 5000 + b"}", "number too large to read"),  # ValueError once
        (b'{"loggers": {"configuredLevel": ' + b"1" * 4301 + b"}}", "number too large"),
    ],
    ids=["deep-list", "deep-object", "huge-int", "huge-int-nested"],
)
async def test_hostile_json_bodies_are_a_json_400_and_never_reach_the_app(
    body: bytes, message: str
) -> None:
    await assert_refused(
        400,
        message,
        "POST",
        "/actuator/echo",
        headers=[("content-type", "application/json")],
        body=[body],
    )


class Crash(Endpoint):
    """Fails outside the operation: its ``operations()`` raises."""

    name: ClassVar[str] = "crash"

    def operations(self, path: tuple[str, ...]) -> Any:
        raise RuntimeError("password=hunter2 bug")


async def test_an_unexpected_failure_is_a_json_500_that_never_reaches_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = light_actuator({"exposure": {"include": ["*"]}})
    actuator.add_endpoint(Crash())
    app = RecordingApp()
    answer = await request(actuator.wrap(app), "GET", "/actuator/crash")
    assert_error(answer, 500, "The actuator failed on this request", "/actuator/crash")
    assert app.http_calls == []
    assert "hunter2" not in caplog.text
    assert "password=******" in caplog.text
    await actuator.shutdown()
