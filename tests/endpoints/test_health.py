"""The health endpoint over HTTP: paths, show policies, media types and status codes."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import httpx
import pytest

from actuator import Actuator, Health, Status
from tests.support.asgi import RecordingApp, client_for, light_actuator, request

V3 = "application/vnd.spring-boot.actuator.v3+json"
V2 = "application/vnd.spring-boot.actuator.v2+json"
HEALTH_JSON = "application/health+json"


async def get(actuator: Actuator, path: str, **headers: str) -> httpx.Response:
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        return await client.get(f"/actuator/health{path}", headers=headers)


def with_broker(settings: dict[str, Any] | None = None) -> Actuator:
    actuator = light_actuator(settings, name="orders", version="1.4.2")
    actuator.add_indicator("db", lambda: Health.up(pool_size=10), groups=["readiness"])
    actuator.add_indicator(
        "broker",
        {
            "us1": lambda: Health.up(lag=0),
            "eu1": {"a": lambda: True, "b": lambda: Health.down("no leader")},
        },
    )
    return actuator


async def test_root_hides_components_by_default_and_lists_groups() -> None:
    answer = await get(with_broker(), "")
    assert answer.status_code == 503
    assert answer.json() == {"status": "DOWN", "groups": ["liveness", "readiness", "startup"]}


async def test_show_components_always_shows_components_without_details() -> None:
    answer = await get(with_broker({"health": {"show_components": "always"}}), "")
    assert answer.json()["components"]["db"] == {"status": "UP"}
    assert answer.json()["components"]["broker"] == {
        "status": "DOWN",
        "components": {
            "us1": {"status": "UP"},
            "eu1": {
                "status": "DOWN",
                "components": {"a": {"status": "UP"}, "b": {"status": "DOWN"}},
            },
        },
    }


async def test_show_details_always_shows_components_and_details() -> None:
    body = (await get(with_broker({"health": {"show_details": "always"}}), "")).json()
    assert set(body["components"]) == {
        "livenessState",
        "readinessState",
        "startupState",
        "ping",
        "db",
        "broker",
    }
    assert body["components"]["db"] == {"status": "UP", "details": {"pool_size": 10}}
    assert body["components"]["broker"]["components"]["eu1"]["components"]["b"] == {
        "status": "DOWN",
        "details": {"error": "no leader"},
    }
    assert body["components"]["ping"] == {"status": "UP"}  # no details: no key


async def test_details_can_be_shown_while_components_stay_hidden() -> None:
    actuator = with_broker({"health": {"show_details": "always", "show_components": "never"}})
    assert (await get(actuator, "")).json() == {
        "status": "DOWN",
        "groups": ["liveness", "readiness", "startup"],
    }


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/db", 200, {"status": "UP", "details": {"pool_size": 10}}),
        ("/broker/us1", 200, {"status": "UP", "details": {"lag": 0}}),
        (
            "/broker/eu1",
            503,
            {
                "status": "DOWN",
                "components": {
                    "a": {"status": "UP"},
                    "b": {"status": "DOWN", "details": {"error": "no leader"}},
                },
            },
        ),
        ("/broker/eu1/b", 503, {"status": "DOWN", "details": {"error": "no leader"}}),
        ("/readiness/db", 200, {"status": "UP", "details": {"pool_size": 10}}),
    ],
)
async def test_component_paths_narrow_to_one_component(
    path: str, status: int, body: dict[str, Any]
) -> None:
    answer = await get(with_broker({"health": {"show_details": "always"}}), path)
    assert (answer.status_code, answer.json()) == (status, body)


@pytest.mark.parametrize(
    "path",
    ["/nope", "/broker/nope", "/broker/us1/deeper", "/db/x", "/readiness/broker", "/liveness/nope"],
)
async def test_unknown_components_are_a_json_404(path: str) -> None:
    answer = await get(with_broker({"health": {"show_details": "always"}}), path)
    assert answer.status_code == 404
    assert answer.json() == {
        "status": 404,
        "error": "Not Found",
        "path": f"/actuator/health{path}",
        "message": f"No health group or component at {path[1:]!r}",
    }
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("policy", ["never", "when_authorized"])
async def test_component_paths_do_not_exist_while_components_are_hidden(policy: str) -> None:
    actuator = with_broker({"health": {"show_details": policy}})
    assert (await get(actuator, "/db")).status_code == 404
    assert (await get(actuator, "/broker/us1")).status_code == 404
    assert (await get(actuator, "/readiness")).json() == {"status": "UP"}


async def test_when_authorized_behaves_as_never_for_an_anonymous_caller() -> None:
    answer = await get(
        with_broker(
            {"health": {"show_details": "when_authorized", "show_components": "when_authorized"}}
        ),
        "",
    )
    assert "components" not in answer.json()


@pytest.mark.parametrize(
    ("status", "http"),
    [
        (Status.UP, 200),
        (Status.UNKNOWN, 200),
        (Status.DOWN, 503),
        (Status.OUT_OF_SERVICE, 503),
        (Status.INIT, 503),
    ],
)
async def test_http_status_follows_the_health_status(status: Status, http: int) -> None:
    actuator = light_actuator({"health": {"show_components": "always"}})
    actuator.add_group("probe", include=["x"])
    actuator.add_indicator("x", lambda: status, blocking=False)
    answer = await get(actuator, "/probe")
    assert (answer.status_code, answer.json()["status"]) == (http, status.code)


async def test_an_indicator_status_description_is_shown() -> None:
    actuator = light_actuator({"health": {"show_components": "always"}})
    actuator.add_indicator("x", lambda: Status("DOWN", "disk full"), blocking=False)
    assert (await get(actuator, "/x")).json() == {"status": "DOWN", "description": "disk full"}


@pytest.mark.parametrize("path", ["", "/db", "/readiness", "/nope"])
async def test_every_health_answer_says_no_store(path: str) -> None:
    answer = await get(with_broker({"health": {"show_details": "always"}}), path)
    assert answer.headers["cache-control"] == "no-store"


async def test_head_answers_like_get_without_a_body() -> None:
    actuator = with_broker()
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        got = await client.get("/actuator/health")
        head = await client.head("/actuator/health")
    assert head.status_code == got.status_code == 503
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["content-type"] == got.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/json", "application/json"),
        (V3, V3),
        (V2, V2),
        (f"application/json;q=0.5, {V3}", V3),
        (f"{V2};q=0.9, application/json", "application/json"),
        (f"application/json, {V3}", "application/json"),
        (f"{V2}, {V3}", V2),
        (f"*/*;q=0.1, {V2}", V2),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "application/json"),
        (HEALTH_JSON, HEALTH_JSON),
    ],
)
async def test_content_negotiation_follows_q_values_then_the_clients_order_then_v3_v2_json(
    accept: str, media_type: str
) -> None:
    answer = await get(with_broker(), "", accept=accept)
    assert answer.headers["content-type"] == media_type


async def test_a_request_without_accept_header_gets_plain_json() -> None:
    actuator = with_broker()
    answer = await request(actuator.wrap(RecordingApp()), "GET", "/actuator/health")
    assert answer.header("content-type") == "application/json"


async def test_v2_media_type_names_components_details_as_spring_boot_2_did() -> None:
    actuator = with_broker({"health": {"show_details": "always"}})
    answer = await get(actuator, "", accept=V2)
    body = answer.json()
    assert "components" not in body
    assert body["details"]["db"] == {"status": "UP", "details": {"pool_size": 10}}
    assert body["details"]["broker"]["details"]["eu1"]["details"]["b"]["status"] == "DOWN"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json;q=0"])
async def test_nothing_acceptable_is_406(accept: str) -> None:
    answer = await get(with_broker(), "", accept=accept)
    assert answer.status_code == 406
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["message"] == (
        f"Cannot answer with any accepted media type; available: {V3}, {V2}, "
        f"application/json, {HEALTH_JSON}"
    )


async def test_ietf_health_json_shape() -> None:
    actuator = with_broker({"health": {"show_details": "always"}})
    answer = await get(actuator, "", accept=HEALTH_JSON)
    body = answer.json()
    assert answer.status_code == 503
    assert {k: v for k, v in body.items() if k != "checks"} == {
        "status": "fail",
        "version": "1",
        "releaseId": "1.4.2",
        "serviceId": "orders",
    }
    checks = body["checks"]
    assert set(checks) == {
        "livenessState",
        "readinessState",
        "startupState",
        "ping",
        "db",
        "broker/us1",
        "broker/eu1/a",
        "broker/eu1/b",
    }
    assert checks["db"][0]["status"] == "pass"
    assert checks["db"][0]["details"] == {"pool_size": 10}
    assert re.match(r"\d{4}-\d\d-\d\dT", checks["db"][0]["time"])
    assert checks["broker/eu1/b"][0]["status"] == "fail"
    assert checks["broker/eu1/b"][0]["output"] == "no leader"


async def test_ietf_shape_hides_checks_with_components() -> None:
    answer = await get(with_broker(), "/readiness", accept=HEALTH_JSON)
    assert answer.json() == {
        "status": "pass",
        "version": "1",
        "releaseId": "1.4.2",
        "serviceId": "orders",
    }


async def test_ietf_status_follows_the_groups_own_http_mapping() -> None:
    actuator = light_actuator({"health": {"show_components": "always"}})
    actuator.add_group("soft", include=["flaky"], http_mapping={"DOWN": 200})
    actuator.add_indicator("flaky", lambda: False, blocking=False)
    answer = await get(actuator, "/soft", accept=HEALTH_JSON)
    assert answer.status_code == 200
    assert answer.json()["status"] == "warn"  # DOWN is tolerated here: not a failure
    assert answer.json()["checks"]["flaky"][0]["status"] == "warn"
    assert (await get(actuator, "", accept=HEALTH_JSON)).json()["status"] == "fail"


async def test_ietf_unknown_is_warn() -> None:
    actuator = light_actuator({"health": {"show_components": "always"}})
    actuator.add_group("g", include=["u"])
    actuator.add_indicator("u", lambda: Status.UNKNOWN, blocking=False)
    assert (await get(actuator, "/g", accept=HEALTH_JSON)).json()["status"] == "warn"


async def test_an_unhealthy_answer_is_never_500() -> None:
    actuator = light_actuator({"health": {"show_details": "always"}})

    @actuator.indicator("explodes")
    async def explodes() -> Health:
        raise RuntimeError("kaboom")

    actuator.add_indicator("junk", lambda: object(), blocking=False)  # type: ignore[arg-type,return-value]
    answer = await get(actuator, "")
    assert answer.status_code == 503
    assert answer.json()["components"]["explodes"]["details"]["error"] == "RuntimeError: kaboom"
    assert answer.json()["components"]["junk"]["status"] == "DOWN"


async def test_details_that_are_not_json_are_still_served() -> None:
    import datetime
    import decimal
    import pathlib

    actuator = light_actuator({"health": {"show_details": "always"}})
    actuator.add_indicator(
        "odd",
        lambda: Health.up(
            when=datetime.date(2024, 1, 2),
            ratio=float("nan"),
            amount=decimal.Decimal("1.5"),
            path=pathlib.PurePosixPath("/data"),
            tags={"a"},
            raw=b"bytes",
            other=object,
        ),
        blocking=False,
    )
    details = (await get(actuator, "/odd")).json()["details"]
    assert details["when"] == "2024-01-02"
    assert details["ratio"] is None
    assert details["amount"] == "1.5"
    assert details["path"] == "/data"
    assert details["tags"] == ["a"]
    assert details["raw"] == "bytes"
    assert details["other"] == "<class 'object'>"


async def test_actuator_health_from_code_ignores_show_policies() -> None:
    actuator = with_broker()
    broker = await actuator.health("broker", "eu1", "b")
    assert broker == Health.down("no leader")
    with pytest.raises(KeyError, match="broker/nope"):
        await actuator.health("broker", "nope")


# -- hostile results: secrets, cycles, huge details -------------------------------------


class WhereSerialised:
    """A detail value that records which thread turned it into text."""

    threads: list[str] = []

    def __str__(self) -> str:
        WhereSerialised.threads.append(threading.current_thread().name)
        return "seen"


async def test_exception_text_in_details_is_sanitized_for_every_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = light_actuator({"health": {"show_details": "always"}})

    @actuator.indicator("db")
    async def db() -> Health:
        raise ConnectionError(
            "cannot reach postgres://orders:S3cretPW@db:5432/orders (host=db password=S3cretPW)"
        )

    actuator.add_indicator(
        "cache", lambda: Health.up(url="redis://:S3cretPW@cache/0", config={"password": "S3cretPW"})
    )
    with caplog.at_level(logging.WARNING, logger="actuator.health"):
        answer = await get(actuator, "")
        ietf = await get(actuator, "", accept=HEALTH_JSON)
    assert answer.status_code == 503
    assert "S3cretPW" not in answer.text
    assert "S3cretPW" not in ietf.text
    error = answer.json()["components"]["db"]["details"]["error"]
    # An unquoted value runs to the next space, ';' or '&': a ')' may be part of a password.
    assert error == (
        "ConnectionError: cannot reach postgres://orders:******@db:5432/orders "
        "(host=db password=******"
    )
    assert answer.json()["components"]["cache"]["details"] == {
        "url": "redis://:******@cache/0",
        "config": {"password": "******"},
    }
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "cannot reach postgres://orders:******@db" in logged
    assert "S3cretPW" not in logged


async def test_circular_details_make_that_component_down_and_the_rest_answer() -> None:
    actuator = light_actuator({"health": {"show_details": "always"}})
    circular: dict[str, Any] = {"name": "loop"}
    circular["self"] = circular
    actuator.add_indicator("circular", lambda: Health.up(state=circular))
    actuator.add_indicator("db", lambda: Health.up(pool=10))
    answer = await get(actuator, "")
    assert answer.status_code == 503
    body = answer.json()
    assert body["components"]["db"] == {"status": "UP", "details": {"pool": 10}}
    assert body["components"]["circular"]["status"] == "DOWN"
    assert "circular reference" in body["components"]["circular"]["details"]["error"]


async def test_huge_details_are_left_out_and_checked_off_the_event_loop() -> None:
    actuator = light_actuator({"health": {"show_details": "always"}})
    WhereSerialised.threads.clear()
    huge = {f"count{i}": i for i in range(100_000)}
    actuator.add_indicator("huge", lambda: Health.up(**huge))
    many = {f"part{i}": WhereSerialised() for i in range(100)}
    actuator.add_indicator("many", lambda: Health.up(**many))
    answer = await get(actuator, "")
    assert answer.status_code == 200
    details = answer.json()["components"]["huge"]["details"]
    assert list(details) == ["detailsOmitted"]
    assert "more than 65536 bytes as JSON" in details["detailsOmitted"]
    assert answer.json()["components"]["many"]["details"]["part0"] == "seen"
    assert len(WhereSerialised.threads) == 100
    assert all(name.startswith("actuator") for name in WhereSerialised.threads)
