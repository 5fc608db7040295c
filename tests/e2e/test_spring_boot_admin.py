"""Spring Boot Admin reads the actuator unchanged: its requests, in its order, over real HTTP.

A real uvicorn serves ``tests/e2e/sba_app.py``; an ``httpx`` client with HTTP
basic credentials (what SBA sends for the ``user.name``/``user.password``
metadata of a registration, ``web/client/BasicAuthHttpHeaderProvider.java``)
plays the SBA server and UI. ``tests/support/spring_boot_admin.py`` mirrors the
SBA code each step runs and the fields each view reads. The same checks run
on Spring Boot's documented example answers (``SPRING_EXAMPLES``), so they ask
for nothing Spring Boot itself would not give.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from actuator import Actuator, hash_password
from tests.support.asgi import client_for, request
from tests.support.server import UvicornProcess
from tests.support.spring_boot_admin import (
    JSON,
    SERVER_ACCEPT,
    UI_ACCEPT,
    V2,
    V3,
    check_discovery,
    check_env,
    check_env_property,
    check_health,
    check_info,
    check_loggers,
    check_mappings,
    check_metric,
    check_metrics_index,
    check_threaddump,
    info,
    is_legacy,
    media_type,
    probe_endpoints,
    query_index,
    status_info,
)

PASSWORD = "sba-reads-everything"
PROCESS_METERS = ("process.uptime", "process.cpu.usage", "system.cpu.usage", "system.cpu.count")


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornProcess]:
    env = {
        "ACTUATOR_EXPOSURE__INCLUDE": "*",
        "ACTUATOR_SECURITY__USERS": json.dumps({"sba": hash_password(PASSWORD)}),
        "ACTUATOR_SECURITY__ROLES__READ": "sba",
        "ACTUATOR_HEALTH__SHOW_DETAILS": "when_authorized",
        "ACTUATOR_ENV__SHOW_VALUES": "when_authorized",
        "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false",
        "APP_ENV": "staging",
    }
    with UvicornProcess("tests.e2e.sba_app:app", env=env) as running:
        yield running


@pytest.fixture
def sba(server: UvicornProcess) -> Iterator[httpx.Client]:
    """The SBA server's ``InstanceWebClient`` for an instance registered with credentials."""
    with httpx.Client(auth=("sba", PASSWORD), timeout=10) as client:
        yield client


@pytest.fixture
def ui(server: UvicornProcess) -> Iterator[httpx.Client]:
    """The SBA UI's axios client (``services/instance.ts``), through SBA's proxy."""
    with httpx.Client(
        auth=("sba", PASSWORD),
        headers={"Accept": UI_ACCEPT},
        timeout=10,
        base_url=server.url + "/actuator",
    ) as client:
        yield client


def test_query_index_strategy_finds_the_endpoints_from_the_discovery_page(
    server: UvicornProcess, sba: httpx.Client
) -> None:
    """``services/endpoints/QueryIndexEndpointStrategy.java`` (tried first by
    ``ChainingStrategy``): GET the management URL with the server's Accept header; only a
    v2/v3 content type counts, else SBA falls back to probing and Boot 1.x converters."""
    answer = sba.get(server.url + "/actuator", headers={"Accept": SERVER_ACCEPT})
    assert media_type(answer) == V3
    check_discovery(answer.json())
    endpoints = query_index(sba, server.url + "/actuator", server.url + "/")
    assert endpoints is not None
    assert {
        "health",
        "info",
        "metrics",
        "env",
        "mappings",
        "threaddump",
        "loggers",
        "prometheus",
    } <= set(endpoints)
    assert endpoints["health"] == server.url + "/actuator/health"


def test_probe_endpoints_strategy_finds_them_with_options(
    server: UvicornProcess, sba: httpx.Client
) -> None:
    """``services/endpoints/ProbeEndpointsStrategy.java``: OPTIONS on each probed path
    (``AdminServerProperties.probedEndpoints``), a 2xx answer means present."""
    found = probe_endpoints(sba, server.url + "/actuator")
    assert {
        "health",
        "info",
        "metrics",
        "env",
        "mappings",
        "threaddump",
        "loggers",
        "prometheus",
    } <= set(found)
    assert "jolokia" not in found  # not an endpoint here: 404
    answer = sba.options(server.url + "/actuator/env")
    assert answer.status_code == 200
    assert "GET" in answer.headers["allow"]


def test_status_updater_reads_the_health_status(server: UvicornProcess, sba: httpx.Client) -> None:
    """``services/StatusUpdater.java``: GET health; a string ``status`` in a JSON or v2/v3
    body is the instance's status; ``groups`` are cached for the health view."""
    answer = sba.get(server.url + "/actuator/health", headers={"Accept": SERVER_ACCEPT})
    assert not is_legacy(media_type(answer))
    status, details = status_info(answer)
    assert status == "UP"
    assert "ping" in details  # details shown to SBA's identity (read role)
    check_health(answer.json())
    assert "liveness" in answer.json()["groups"]


def test_info_updater_reads_the_version_from_build(
    server: UvicornProcess, sba: httpx.Client
) -> None:
    """``services/InfoUpdater.java`` and the version column of the application list."""
    answer = sba.get(server.url + "/actuator/info", headers={"Accept": SERVER_ACCEPT})
    body = info(answer)
    check_info(body)
    assert body["build"] == {"name": "orders", "version": "2.3.1"}


def test_details_page_finds_the_process_meters_and_the_pid(
    server: UvicornProcess, ui: httpx.Client
) -> None:
    """``views/instances/details/index.vue`` shows the process panel when
    ``process.uptime`` is listed; ``details-process.vue`` reads ``measurements[0].value`` of
    each meter and the PID from ``/env/PID`` (``property.value``)."""
    index = ui.get("/metrics")
    assert media_type(index) == V3
    check_metrics_index(index.json())
    names = index.json()["names"]
    assert set(PROCESS_METERS) <= set(names)
    for name in PROCESS_METERS:
        body = ui.get(f"/metrics/{name}").json()
        check_metric(body)
        assert body["measurements"][0]["value"] >= 0
    assert ui.get("/metrics/process.uptime").json()["baseUnit"] == "seconds"
    assert ui.get("/metrics/system.cpu.count").json()["measurements"][0]["value"] >= 1
    pid = ui.get("/env/PID")
    check_env_property(pid.json())
    assert server.process is not None
    assert pid.json()["property"]["value"] == str(server.process.pid)


def test_metrics_view_lists_dotted_names_with_timer_statistics(
    server: UvicornProcess, ui: httpx.Client
) -> None:
    """``views/instances/metrics/index.vue``: ``names`` fill the select box (only those can
    be asked for, ``services/instance.ts`` ``fetchMetric``); ``metric.vue`` shows each
    statistic, ``availableTags`` fill the tag selects. The UI repeats the first tag."""
    httpx.get(server.url + "/orders")
    names = ui.get("/metrics").json()["names"]
    assert "http.server.requests" in names
    assert not [name for name in names if "_" in name]
    body = ui.get(
        "/metrics/http.server.requests", params=[("tag", "uri:/orders"), ("tag", "uri:/orders")]
    ).json()
    check_metric(body)
    statistics = {m["statistic"] for m in body["measurements"]}
    assert statistics == {"COUNT", "TOTAL_TIME", "MAX"}
    assert {t["tag"] for t in body["availableTags"]} >= {"method", "status", "outcome"}


def test_env_view_reads_profiles_and_sources_and_offers_no_editing(
    server: UvicornProcess, ui: httpx.Client
) -> None:
    """``views/instances/env/index.vue``: profiles and property sources; ``services/
    instance.ts`` ``hasEnvManagerSupport`` shows the editor only if OPTIONS allows POST."""
    body = ui.get("/env").json()
    check_env(body)
    assert body["activeProfiles"] == ["staging"]
    assert body["defaultProfiles"] == ["default"]
    sources = {source["name"]: source for source in body["propertySources"]}
    assert {"systemEnvironment", "systemProperties", "actuatorSettings"} <= set(sources)
    assert sources["systemEnvironment"]["properties"]["APP_ENV"] == {
        "value": "staging",
        "origin": 'System Environment Property "APP_ENV"',
    }
    # Secrets stay masked for SBA as for anyone: the password hashes SBA's identity uses.
    users = sources["systemEnvironment"]["properties"]["ACTUATOR_SECURITY__USERS"]
    assert users["value"] == "******"
    single = ui.get("/env/APP_ENV").json()
    check_env_property(single)
    assert single["propertySources"][0]["property"] == {
        "value": "staging",
        "origin": 'System Environment Property "APP_ENV"',
    }
    allow = ui.options("/env").headers["allow"]
    assert "POST" not in allow


def test_health_view_reads_each_group(server: UvicornProcess, ui: httpx.Client) -> None:
    """``views/instances/details/details-health.vue``: the groups the status updater cached
    (``services/instance.ts`` ``fetchCachedHealthGroups``), each fetched as
    ``/actuator/health/{group}``."""
    groups = ui.get("/health").json()["groups"]
    for group in groups:
        answer = ui.get(f"/health/{group}")
        assert media_type(answer) == V3
        check_health(answer.json())


def test_loggers_view_reads_and_sets_levels(server: UvicornProcess, ui: httpx.Client) -> None:
    """``views/instances/loggers/*.vue``; ``services/instance.ts`` ``configureLogger`` POSTs
    ``{"configuredLevel": level}``: a write, refused to a read-only identity."""
    body = ui.get("/loggers").json()
    check_loggers(body)
    assert "ROOT" in body["loggers"]
    refused = ui.post("/loggers/orders", json={"configuredLevel": "DEBUG"})
    assert refused.status_code == 403


def test_mappings_view_reads_the_dispatcher_handlers(
    server: UvicornProcess, ui: httpx.Client
) -> None:
    """``views/instances/mappings/index.vue`` and ``DispatcherMappings.vue``."""
    body = ui.get("/mappings").json()
    check_mappings(body)
    handlers = body["contexts"]["orders"]["mappings"]["dispatcherHandlers"]["webHandler"]
    patterns = {p for h in handlers for p in h["details"]["requestMappingConditions"]["patterns"]}
    assert {"/orders", "/orders/{order_id:int}", "/actuator/health"} <= patterns


def test_threaddump_view_and_download(server: UvicornProcess, ui: httpx.Client) -> None:
    """``views/instances/threaddump/*.vue`` poll the JSON dump; ``services/instance.ts``
    ``downloadThreaddump`` asks for ``text/plain``."""
    answer = ui.get("/threaddump")
    assert media_type(answer) == V3
    check_threaddump(answer.json())
    states = {thread["threadState"] for thread in answer.json()["threads"]}
    assert states - {"RUNNABLE"}  # uvicorn's idle threads wait
    text = ui.get("/threaddump", headers={"Accept": "text/plain"})
    assert media_type(text) == "text/plain"
    assert "Thread dump of process" in text.text


def test_without_credentials_sba_sees_health_only(server: UvicornProcess) -> None:
    """An instance registered without ``user.name``/``user.password`` metadata: the status
    still comes through (health is anonymous), details and other endpoints do not."""
    with httpx.Client(timeout=10) as anonymous:
        endpoints = query_index(anonymous, server.url + "/actuator", server.url + "/")
        health = anonymous.get(server.url + "/actuator/health", headers={"Accept": SERVER_ACCEPT})
        refused = anonymous.get(server.url + "/actuator/info", headers={"Accept": SERVER_ACCEPT})
    assert endpoints is not None
    assert set(endpoints) == {"health"}
    assert status_info(health) == ("UP", {})
    assert refused.status_code == 401
    assert info(refused) == {}


async def test_a_refused_health_check_is_down_with_the_reason_not_a_status_named_401() -> None:
    """``StatusUpdater.convertStatusInfo``: a numeric ``status`` (Spring's error body) is not
    taken as the instance's status; SBA shows DOWN with ``status``/``error`` details."""
    actuator = Actuator(
        settings={"security": {"anonymous": []}, "health": {"event_loop": {"enabled": False}}}
    )
    answer = await request(
        actuator.wrap(_nothing), "GET", "/actuator/health", headers=[("accept", SERVER_ACCEPT)]
    )
    assert answer.status == 401
    body = answer.json()
    assert body["status"] == 401
    assert body["error"] == "Unauthorized"
    response = httpx.Response(answer.status, headers=answer.headers, content=answer.body)
    status, details = status_info(response)
    assert status == "DOWN"
    assert details["status"] == 401


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the actuator answers")


async def get_once(actuator: Actuator, path: str, headers: dict[str, str]) -> httpx.Response:
    async with client_for(actuator, actuator, base_url="http://test") as client:
        return await client.get(path, headers=headers)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [(SERVER_ACCEPT, V3), (UI_ACCEPT, V3), (V2, V2), (f"{V2}, {JSON}", V2), (JSON, JSON)],
)
async def test_every_accept_header_sba_sends_gets_a_type_it_reads_as_boot_2_or_3(
    accept: str, expected: str
) -> None:
    actuator = Actuator(
        settings={
            "exposure": {"include": ["health", "info"]},
            "security": {"anonymous": ["*"]},
            "health": {"event_loop": {"enabled": False}},
        }
    )
    answer = await get_once(actuator, "/actuator/health", headers={"accept": accept})
    assert answer.headers["content-type"] == expected


# -- the same checks on Spring Boot's answers ------------------------------------------------
# Shortened from the example answers of Spring Boot's actuator REST API documentation
# (https://docs.spring.io/spring-boot/api/rest/actuator/{index,health,info,metrics,env,
# mappings,threaddump}.html): the same fields, fewer entries.

SPRING_PREDICATE = f"{{GET [/actuator/mappings], produces [{V3} || {V2} || {JSON}]}}"

SPRING_EXAMPLES: dict[str, tuple[Any, dict[str, Any]]] = {
    "loggers": (
        check_loggers,
        {
            "levels": ["OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"],
            "loggers": {
                "ROOT": {"configuredLevel": "INFO", "effectiveLevel": "INFO"},
                "com.example": {"configuredLevel": "DEBUG", "effectiveLevel": "DEBUG"},
            },
            "groups": {
                "test": {"configuredLevel": "INFO", "members": ["test.member1"]},
                "web": {"configuredLevel": None, "members": ["org.springframework.web"]},
            },
        },
    ),
    "discovery": (
        check_discovery,
        {
            "_links": {
                "self": {"href": "http://localhost:8080/actuator", "templated": False},
                "health": {"href": "http://localhost:8080/actuator/health", "templated": False},
                "health-path": {
                    "href": "http://localhost:8080/actuator/health/{*path}",
                    "templated": True,
                },
            }
        },
    ),
    "health": (
        check_health,
        {
            "status": "UP",
            "components": {
                "db": {
                    "status": "UP",
                    "details": {"database": "H2", "validationQuery": "isValid()"},
                },
                "diskSpace": {
                    "status": "UP",
                    "details": {
                        "total": 325536292864,
                        "free": 1,
                        "exists": True,
                        "threshold": 10485760,
                        "path": "/tmp/.",
                    },
                },
                "ping": {"status": "UP"},
            },
        },
    ),
    "info": (
        check_info,
        {
            "git": {"branch": "main", "commit": {"id": "df027cf", "time": "2026-01-22T12:44:00Z"}},
            "build": {"artifact": "application", "version": "1.0.3", "group": "com.example"},
        },
    ),
    "metrics": (
        check_metrics_index,
        {"names": ["jvm.buffer.count", "jvm.memory.used", "process.uptime"]},
    ),
    "metric": (
        check_metric,
        {
            "name": "jvm.memory.max",
            "description": "The maximum amount",
            "baseUnit": "bytes",
            "measurements": [{"statistic": "VALUE", "value": 2.4e9}],
            "availableTags": [
                {"tag": "area", "values": ["heap", "nonheap"]},
                {"tag": "id", "values": ["G1 Old Gen"]},
            ],
        },
    ),
    "env": (
        check_env,
        {
            "activeProfiles": [],
            "defaultProfiles": ["default"],
            "propertySources": [
                {"name": "servletContextInitParams", "properties": {}},
                {
                    "name": "systemProperties",
                    "properties": {"java.specification.version": {"value": "17"}},
                },
                {
                    "name": "systemEnvironment",
                    "properties": {
                        "HOME": {
                            "value": "/home/runner",
                            "origin": 'System Environment Property "HOME"',
                        }
                    },
                },
            ],
        },
    ),
    "env-property": (
        check_env_property,
        {
            "property": {"source": "test", "value": "test"},
            "activeProfiles": [],
            "defaultProfiles": ["default"],
            "propertySources": [
                {"name": "servletContextInitParams"},
                {"name": "test", "property": {"value": "test", "origin": '"com.example.Foo"'}},
            ],
        },
    ),
    "mappings": (
        check_mappings,
        {
            "contexts": {
                "application": {
                    "mappings": {
                        "dispatcherServlets": {
                            "dispatcherServlet": [
                                {
                                    "handler": "Actuator web endpoint 'mappings'",
                                    "predicate": SPRING_PREDICATE,
                                    "details": {
                                        "handlerMethod": {
                                            "className": "OperationHandler",
                                            "name": "handle",
                                            "descriptor": "()Ljava/lang/Object;",
                                        },
                                        "requestMappingConditions": {
                                            "consumes": [],
                                            "headers": [],
                                            "methods": ["GET"],
                                            "params": [],
                                            "patterns": ["/actuator/mappings"],
                                            "produces": [{"mediaType": V3, "negated": False}],
                                        },
                                    },
                                }
                            ]
                        },
                        "servletFilters": [],
                        "servlets": [],
                    },
                    "parentId": None,
                }
            }
        },
    ),
    "threaddump": (
        check_threaddump,
        {
            "threads": [
                {
                    "threadName": "Thread-1",
                    "threadId": 1,
                    "blockedTime": -1,
                    "blockedCount": 0,
                    "waitedTime": -1,
                    "waitedCount": 1,
                    "lockOwnerId": -1,
                    "daemon": True,
                    "inNative": False,
                    "suspended": False,
                    "threadState": "TIMED_WAITING",
                    "priority": 5,
                    "stackTrace": [
                        {
                            "classLoaderName": "app",
                            "methodName": "sleep",
                            "fileName": "Thread.java",
                            "lineNumber": 509,
                            "className": "java.lang.Thread",
                            "nativeMethod": False,
                        }
                    ],
                    "lockedMonitors": [],
                    "lockedSynchronizers": [],
                }
            ]
        },
    ),
}


@pytest.mark.parametrize("example", sorted(SPRING_EXAMPLES))
def test_the_checks_accept_spring_boots_documented_answers(example: str) -> None:
    check, body = SPRING_EXAMPLES[example]
    check(body)


async def test_the_v2_health_shape_is_the_one_spring_boot_2_answered() -> None:
    """Spring Boot 2.0/2.1 (``ApiVersion.V2``) called a composite's components ``details``,
    as in ``{"status": "UP", "details": {"diskSpace": {"status": "UP", "details": {...}}}}``."""
    actuator = Actuator(
        settings={
            "security": {"anonymous": ["health"]},
            "health": {"show_details": "always", "event_loop": {"enabled": False}},
        }
    )
    answer = await get_once(actuator, "/actuator/health", headers={"accept": V2})
    body = answer.json()
    check_health(body)
    assert "components" not in body
    assert body["details"]["diskSpace"]["details"]["free"] > 0
