"""The actuator registers itself with Spring Boot Admin, as SBA's own client does.

The server side is ``tests.support.spring_boot_admin.RegistrationServer``, which
mirrors SBA's ``InstancesController`` (see its comments for the Java sources).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from actuator import Actuator, hash_password
from actuator.client import Backoff
from actuator.fleet.sba_client import NotReady, SpringBootAdminRegistrator, listening_addresses
from actuator.settings import SpringBootAdminSettings, credential_settings, load_settings
from tests.support.server import UvicornProcess, free_port, poll
from tests.support.spring_boot_admin import (
    SERVER_ACCEPT,
    RegistrationServer,
    query_index,
    sba_instance_id,
    status_info,
)
from tests.support.threaded import ThreadedUvicorn

PASSWORD = "sba-server-password"
READER_PASSWORD = "sba-reads-the-actuator"


def settings(**values: Any) -> SpringBootAdminSettings:
    return SpringBootAdminSettings.model_validate({"period": 0.1, "timeout": 2, **values})


@pytest.fixture
def sba_server() -> Iterator[tuple[RegistrationServer, ThreadedUvicorn]]:
    server = RegistrationServer(username="app", password=PASSWORD)
    with ThreadedUvicorn(server.app) as running:
        yield server, running


def test_an_app_under_uvicorn_registers_re_registers_and_deregisters_on_shutdown(
    sba_server: tuple[RegistrationServer, ThreadedUvicorn],
) -> None:
    """The whole protocol against a real uvicorn app: POST every period with the same id,
    URLs SBA can read with the credentials from the metadata, DELETE on SIGTERM."""
    server, running = sba_server
    env = {
        "ACTUATOR_EXPOSURE__INCLUDE": "*",
        "ACTUATOR_SECURITY__USERS": json.dumps({"sba": hash_password(READER_PASSWORD)}),
        "ACTUATOR_SECURITY__ROLES__READ": "sba",
        "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false",
        "ACTUATOR_SPRING_BOOT_ADMIN__URL": running.url,
        "ACTUATOR_SPRING_BOOT_ADMIN__USERNAME": "app",
        "ACTUATOR_SPRING_BOOT_ADMIN__PASSWORD": PASSWORD,
        "ACTUATOR_SPRING_BOOT_ADMIN__PERIOD": "0.2",
        "ACTUATOR_SPRING_BOOT_ADMIN__METADATA": json.dumps(
            {"user.name": "sba", "user.password": READER_PASSWORD, "team": "orders"}
        ),
    }
    with UvicornProcess("tests.e2e.sba_app:app", env=env) as app:
        registration = poll(lambda: next(iter(server.registered.values()), None))
        base = app.url.rstrip("/")
        assert registration["name"] == "orders"
        assert registration["serviceUrl"] == f"{base}/"
        assert registration["managementUrl"] == f"{base}/actuator"
        assert registration["healthUrl"] == f"{base}/actuator/health"
        metadata = registration["metadata"]
        assert metadata["team"] == "orders"
        assert metadata["startup"].startswith(time.strftime("%Y-"))
        # Registered again every period, with the same id (SBA hashes the health URL).
        poll(lambda: server.count("POST") >= 4 or None, timeout=10)
        assert list(server.registered) == [sba_instance_id(f"{base}/actuator/health")]
        assert all(r[2] == server.credentials for r in server.requests)

        # What SBA then does with the registration: BasicAuthHttpHeaderProvider reads
        # user.name / user.password from the metadata, StatusUpdater reads the health URL,
        # QueryIndexEndpointStrategy the management URL.
        auth = (metadata["user.name"], metadata["user.password"])
        with httpx.Client(auth=auth, headers={"accept": SERVER_ACCEPT}, timeout=10) as sba:
            assert status_info(sba.get(registration["healthUrl"]))[0] == "UP"
            endpoints = query_index(sba, registration["managementUrl"], registration["serviceUrl"])
            assert endpoints is not None
            assert {"health", "info", "metrics"} <= set(endpoints)
        app.signal(signal.SIGTERM)
        app.wait(timeout=15)
    assert server.count("DELETE") == 1
    assert server.registered == {}
    assert PASSWORD not in app.output
    assert READER_PASSWORD not in app.output


async def test_backs_off_while_the_server_is_down_then_registers_when_it_is_back() -> None:
    port = free_port()
    server = RegistrationServer()
    backoff = Backoff(base=0.05, cap=0.2, rng=random.Random(3))
    registrator = SpringBootAdminRegistrator(
        settings(url=f"http://127.0.0.1:{port}", service_url="http://127.0.0.1:9/"),
        backoff=backoff,
    )
    await registrator.start()
    try:
        await asyncio.sleep(0.6)
        assert registrator.registered_id is None
        failures = backoff.failures
        # Back-off, not a retry every period (0.1 s): capped delays averaging 0.1 s at most.
        assert 2 <= failures <= 20
        with ThreadedUvicorn(server.app, port=port):
            for _ in range(250):
                if registrator.registered_id is not None:
                    break
                await asyncio.sleep(0.02)
            assert registrator.registered_id == sba_instance_id(
                "http://127.0.0.1:9/actuator/health"
            )
            assert backoff.failures == 0
            await registrator.stop()
            assert server.registered == {}
    finally:
        await registrator.stop()


async def test_a_refused_password_is_logged_without_the_password(
    sba_server: tuple[RegistrationServer, ThreadedUvicorn], caplog: pytest.LogCaptureFixture
) -> None:
    server, running = sba_server
    registrator = SpringBootAdminRegistrator(
        settings(url=running.url, username="app", password="wrong-secret", service_url="http://a/")
    )
    caplog.set_level(logging.DEBUG, logger="actuator.spring_boot_admin")
    await registrator.start()
    try:
        assert not await registrator.register()
        assert not await registrator.register()
    finally:
        await registrator.stop()
    assert server.registered == {}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # the first failure; the next ones at debug level
    assert "answered 401" in warnings[0].getMessage()
    assert "wrong-secret" not in caplog.text


async def test_register_once_stops_at_the_first_server_that_accepts() -> None:
    first, second = RegistrationServer(), RegistrationServer()
    with ThreadedUvicorn(first.app) as a, ThreadedUvicorn(second.app) as b:
        dead = f"http://127.0.0.1:{free_port()}"
        once = SpringBootAdminRegistrator(
            settings(url=[dead, a.url, b.url], service_url="http://x/")
        )
        every = SpringBootAdminRegistrator(
            settings(url=[a.url, b.url], service_url="http://y/", register_once=False)
        )
        for registrator in (once, every):
            await registrator.start()
            await registrator.stop()  # cancels its loop; the test drives the rounds
            registrator._client = httpx.AsyncClient()
            try:
                assert await registrator.register()
            finally:
                await registrator._client.aclose()
        assert [r["serviceUrl"] for r in first.registered.values()] == ["http://x/", "http://y/"]
        assert [r["serviceUrl"] for r in second.registered.values()] == ["http://y/"]


async def test_the_default_urls_come_from_the_listening_socket_and_the_base_path() -> None:
    async def name() -> str:
        return "billing"

    bound = SpringBootAdminRegistrator(
        settings(url="http://sba"),
        base_path="/manage",
        name=name,
        listening=lambda: [("127.0.0.1", 8000)],
    )
    assert await bound.application() == {
        "name": "billing",
        "serviceUrl": "http://127.0.0.1:8000/",
        "managementUrl": "http://127.0.0.1:8000/manage",
        "healthUrl": "http://127.0.0.1:8000/manage/health",
        "metadata": {"startup": bound.started.isoformat(timespec="milliseconds")},
    }
    everywhere = SpringBootAdminRegistrator(
        settings(url="http://sba", prefer_ip=False),
        listening=lambda: [("0.0.0.0", 8000), ("0.0.0.0", 9090)],
        management_port=lambda: 9090,
    )
    app = await everywhere.application()
    host = socket.gethostname()
    assert app["serviceUrl"] == f"http://{host}:8000/"
    assert app["managementUrl"] == f"http://{host}:9090/actuator"
    assert app["name"] == "spring-boot-application"  # SBA's default name
    given = SpringBootAdminRegistrator(
        settings(
            url="http://sba",
            service_url="http://svc/",
            health_url="http://svc/hc",
            metadata={"zone": "a"},
            name="named",
        ),
        listening=list,
    )
    app = await given.application()
    assert (app["managementUrl"], app["healthUrl"]) == ("http://svc/actuator", "http://svc/hc")
    assert app["metadata"]["zone"] == "a"
    lost = SpringBootAdminRegistrator(settings(url="http://sba"), listening=list)
    with pytest.raises(NotReady, match=r"spring_boot_admin\.service_url"):
        await lost.application()


def test_listening_addresses_finds_this_process_listening_sockets() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert ("127.0.0.1", port) in listening_addresses()
    assert ("127.0.0.1", port) not in listening_addresses()


def test_settings_keep_credentials_secret_and_refuse_bad_urls() -> None:
    secret = settings(url="http://sba", username="u", password=SecretStr("p4ss-word"))
    assert "p4ss-word" not in repr(secret)
    assert {
        "spring_boot_admin.username",
        "spring_boot_admin.password",
        "spring_boot_admin.metadata",
    } <= set(credential_settings())
    assert settings(url="http://a, http://b/").url == ["http://a", "http://b"]
    with pytest.raises(ValueError, match=r"without credentials") as refused:
        load_settings({"spring_boot_admin": {"url": "http://user:hunter2@sba"}})
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ValueError, match=r"http:// or https://"):
        settings(url="http://sba", service_url="svc:8080")
    with pytest.raises(ValueError, match=r"spring_boot_admin\.url must be set"):
        SpringBootAdminRegistrator(SpringBootAdminSettings())


def test_an_actuator_with_a_url_registers_with_its_lifespan() -> None:
    actuator = Actuator(settings={"spring_boot_admin": {"url": "http://sba:8080"}})
    assert actuator.spring_boot_admin is not None
    assert Actuator().spring_boot_admin is None
