"""The console calling instances: the client (``Reach``) and the read proxy, against real ones."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actuator.fleet.reach import MAX_ANSWER, Reach, ReachConfig, ReachError
from tests.fleet.fleetrun import (
    ACTUATOR_TOKEN,
    TOKEN_ENV,
    console_process,
    instance_process,
    started,
    wait_statuses,
)
from tests.fleet.support import INGEST, READ, register
from tests.support.server import UvicornProcess


def reach_with(handler: object, **config: object) -> Reach:
    return Reach(
        ReachConfig.model_validate(config),
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )


async def test_a_call_sends_the_token_and_answers_the_instance_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REACH_TOKEN", "s3cret-token")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, json={"status": "DOWN"})

    reach = reach_with(handler, token_env="REACH_TOKEN")
    reply = await reach.call("orders-1", "http://10.0.0.7:8080/actuator/", "GET", "health")
    await reach.aclose()
    assert (reply.status, reply.body) == (503, {"status": "DOWN"})
    # A DOWN health is an answer, not a failure to retry.
    assert len(seen) == 1
    assert str(seen[0].url) == "http://10.0.0.7:8080/actuator/health"
    assert seen[0].headers["authorization"] == "Bearer s3cret-token"
    assert float(seen[0].headers["x-request-timeout"]) <= 5.0


async def test_a_write_sends_its_json_body_and_an_empty_answer_is_none() -> None:
    bodies: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(204)

    reach = reach_with(handler)
    reply = await reach.call(
        "a", "http://a/actuator", "POST", "loggers/ROOT", body={"configuredLevel": "DEBUG"}
    )
    assert (reply.status, reply.body, bodies) == (204, None, [{"configuredLevel": "DEBUG"}])


@pytest.mark.parametrize(
    ("answer", "status", "words"),
    [
        (httpx.Response(401, json={"status": 401}), 502, "refused the console's credentials"),
        (httpx.Response(403, json={"status": 403}), 502, "refused the console's credentials"),
        (httpx.Response(200, text="<html>hi</html>"), 502, "other than JSON"),
        (httpx.Response(200, content=b"x" * (MAX_ANSWER + 1)), 502, "more than"),
    ],
)
async def test_unusable_answers_are_errors_naming_the_instance(
    answer: httpx.Response, status: int, words: str
) -> None:
    reach = reach_with(lambda request: answer)
    with pytest.raises(ReachError) as caught:
        await reach.call("orders-9", "http://x/actuator", "GET", "info")
    assert caught.value.status == status
    assert "orders-9" in caught.value.message
    assert words in caught.value.message


async def test_no_management_url_is_a_409() -> None:
    reach = Reach()
    with pytest.raises(ReachError, match="no management URL") as caught:
        await reach.call("orders-1", None, "GET", "health")
    assert caught.value.status == 409
    await reach.aclose()


async def test_a_refused_connection_is_a_502_and_a_hang_a_504_within_the_deadline() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(ReachError, match=r"'a' is unreachable \(ConnectError\)") as caught:
        await reach_with(refuse).call("a", "http://a/actuator", "GET", "health")
    assert caught.value.status == 502

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    started_at = time.monotonic()
    with pytest.raises(ReachError, match=r"did not answer within 0.3s") as caught:
        await reach_with(hang, timeout=0.3).call("a", "http://a/actuator", "GET", "health")
    assert caught.value.status == 504
    assert time.monotonic() - started_at < 2


def test_a_missing_token_variable_is_named_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ValueError, match=r"reach.token_env: \$NOT_SET_ANYWHERE is not set"):
        Reach(ReachConfig(token_env="NOT_SET_ANYWHERE"))


# -- the read proxy, against a real console and real instances -------------------------------


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_proxy_passes_on_real_instances_answers_and_names_failing_ones(
    tmp_path: Path, hung_port: int, closed_port: int
) -> None:
    with console_process(tmp_path, timeout=1.0) as console:
        instances = [
            instance_process(console.url, "orders-1", facts={"team": "orders"}),
            instance_process(console.url, "orders-2", token="not-the-console-token-0123456789"),
        ]
        with started(instances):
            wait_statuses(console.url, {"orders-1": "UP", "orders-2": "UP"}, READ)
            fakes = [
                {**register("hung"), "url": f"http://127.0.0.1:{hung_port}/actuator"},
                {**register("gone"), "url": f"http://127.0.0.1:{closed_port}/actuator"},
                {**register("nourl"), "url": None},
            ]
            httpx.post(
                console.url + "/fleet/api/ingest", json={"updates": fakes}, headers=INGEST
            ).raise_for_status()
            check_proxy(console)
        assert ACTUATOR_TOKEN not in console.output
    assert TOKEN_ENV in console.env  # the token was there to leak, and did not


def check_proxy(console: UvicornProcess) -> None:
    base = console.url + "/fleet/api/instances"

    def get(path: str, headers: dict[str, str] = READ) -> httpx.Response:
        return httpx.get(base + path, headers=headers, timeout=10)

    health = get("/orders-1/actuator/health")
    assert health.status_code == 200
    assert health.json()["status"] == "UP"
    assert health.headers["content-type"] == "application/json"
    info = get("/orders-1/actuator/info").json()
    assert info["app"]["name"] == "orders"
    assert info["facts"]["team"] == "orders"
    assert get("/orders-1/actuator/loggers").json()["loggers"]["ROOT"]
    assert get("/orders-1/actuator/loggers/ROOT").json()["effectiveLevel"]
    assert get("/orders-1/actuator/pause").json()["paused"] is False
    assert get("/orders-1/actuator/shutdown").json() == {"scheduled": False}
    # The instance's own refusals pass through as its JSON.
    missing = get("/orders-1/actuator/loggers/no.such.logger")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404

    def refused(path: str, status: int, *words: str) -> None:
        answer = get(path)
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert body["status"] == status
        for word in words:
            assert word in body["message"]
        assert ACTUATOR_TOKEN not in answer.text

    refused("/orders-1/actuator/env", 404, "'env' is not proxied", "health")
    refused("/orders-1/actuator/threaddump", 404, "not proxied")
    refused("/nobody/actuator/health", 404, "No instance 'nobody'")
    refused("/orders-2/actuator/info", 502, "'orders-2'", "refused the console's credentials")
    refused("/gone/actuator/health", 502, "'gone' is unreachable")
    refused("/nourl/actuator/health", 409, "'nourl' has no management URL")
    started_at = time.monotonic()
    refused("/hung/actuator/health", 504, "'hung' did not answer within 1s")
    assert time.monotonic() - started_at < 5
    assert get("/orders-1/actuator/health?x=1").status_code == 400
    assert get("/orders-1/actuator/health", headers={}).status_code == 401
    post = httpx.post(base + "/orders-1/actuator/pause", headers=READ, timeout=10)
    assert post.status_code == 405
