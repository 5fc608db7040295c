"""The console accepts Spring Boot Admin's client registration protocol.

The requests are the ones SBA's clients send (``BlockingRegistrationClient``: POST
JSON to ``/instances`` every 10 s, DELETE ``/instances/{id}``); the answers are
judged as SBA's server gives them (``InstancesController``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from actuator import Actuator, hash_password, hash_token
from actuator.fleet.app import FleetConsole
from actuator.fleet.sba_server import (
    RegistrationError,
    SpringBootAdminConfig,
    parse_registration,
    sba_instance_id,
)
from actuator.fleet.store import SqlStore
from tests.fleet.support import INGEST, READ, T0, console_config, running
from tests.support.server import UvicornProcess, poll
from tests.support.spring_boot_admin import sba_instance_id as sba_reference_id
from tests.support.threaded import ThreadedUvicorn

REGISTRAR = "sba-client"
REGISTRAR_PASSWORD = "registers-with-the-console"
READER_PASSWORD = "reads-the-actuator-s3cret"
BASIC = httpx.BasicAuth(REGISTRAR, REGISTRAR_PASSWORD)


def sba_config(database: str, pull: dict[str, Any] | None = None, **sba: Any) -> Any:
    config = console_config(
        database,
        spring_boot_admin={"enabled": True, "principals": [REGISTRAR], **sba},
        pull=pull or {},
    )
    settings = json.loads(json.dumps(config.settings))
    settings["security"]["users"] = {REGISTRAR: hash_password(REGISTRAR_PASSWORD)}
    return config.model_copy(update={"settings": settings})


def body(url: str, **extra: Any) -> dict[str, Any]:
    """What ``DefaultApplicationFactory.createApplication`` sends for an app at ``url``."""
    return {
        "name": "legacy orders",
        "managementUrl": f"{url}/actuator",
        "healthUrl": f"{url}/actuator/health",
        "serviceUrl": f"{url}/",
        "metadata": {
            "user.name": "sba",
            "user.password": READER_PASSWORD,
            "environment": "prod",
            "api.token": "never-shown-either",
            "startup": "2026-11-30T23:00:00.000Z",
        },
        **extra,
    }


@pytest.fixture(scope="module")
def target() -> Iterator[ThreadedUvicorn]:
    """An actuator that needs HTTP basic credentials, as a service registered with SBA."""
    actuator = Actuator(
        name="orders",
        version="3.1",
        settings={
            "exposure": {"include": ["health", "info"]},
            "security": {
                "users": {"sba": hash_password(READER_PASSWORD)},
                "roles": {"read": ["sba"]},
                "anonymous": [],
            },
            "health": {"event_loop": {"enabled": False}, "disk_space": {"enabled": False}},
        },
    )
    with ThreadedUvicorn(actuator.wrap(Starlette())) as server:
        yield server


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except (AssertionError, KeyError):
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


def test_a_registration_is_read_as_sba_reads_it() -> None:
    # HashingInstanceUrlIdGenerator's own test vector.
    assert sba_instance_id("https://example.org/example") == "504149e8a3fa"
    modern = parse_registration(body("http://h:8080"))
    assert modern.id == sba_reference_id("http://h:8080/actuator/health")
    assert modern.credentials() == ("sba", READER_PASSWORD)
    assert modern.facts() == {"environment": "prod", "startup": "2026-11-30T23:00:00.000Z"}
    assert READER_PASSWORD not in repr(modern)
    assert modern.target().service == "legacy-orders"
    legacy = parse_registration({"name": "old", "url": "http://h:8080/admin/"})
    assert (legacy.health_url, legacy.management_url) == (
        "http://h:8080/admin/health",
        "http://h:8080/admin",
    )
    snake = parse_registration(
        {
            "name": "s",
            "health_url": "http://s/h",
            "management_url": "http://s",
            "metadata": {"n": 3},
        }
    )
    assert (snake.health_url, snake.metadata) == ("http://s/h", {"n": "3"})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"healthUrl": "http://h/health"}, "'name' must not be empty."),
        ({"name": "  ", "healthUrl": "http://h/health"}, "'name' must not be empty."),
        ({"name": "a"}, "'healthUrl' must not be empty."),
        ({"name": "a", "healthUrl": "/health"}, "'healthUrl' is not valid: /health"),
        (
            {"name": "a", "healthUrl": "http://h/health", "managementUrl": "h:8080"},
            "'managementUrl' is not valid",
        ),
        ({"name": "a", "healthUrl": "http://h/health", "metadata": []}, "'metadata' must be"),
        ({"name": "a", "healthUrl": "http://h/health", "metadata": {"k": {}}}, "'metadata.k'"),
        ({"name": {"x": 1}, "healthUrl": "http://h/health"}, "'name' must be a string"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_registrations_are_refused_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(RegistrationError, match=message.replace(".", r"\.")):
        parse_registration(data)


def test_a_password_in_a_url_is_refused_without_showing_it() -> None:
    with pytest.raises(RegistrationError) as refused:
        parse_registration({"name": "a", "healthUrl": "http://u:hunter2@h/health"})
    assert "hunter2" not in str(refused.value)


def test_the_config_checks_its_patterns() -> None:
    with pytest.raises(ValueError, match="principals"):
        SpringBootAdminConfig(principals=["("])


async def test_registrations_are_stored_idempotently(store: SqlStore) -> None:
    first = parse_registration(body("http://h:1"))
    assert await store.save_registration(first, T0)
    assert not await store.save_registration(first, T0 + 10)  # SBA's 10 s re-registration
    changed = parse_registration(body("http://h:1", name="renamed"))
    assert await store.save_registration(changed, T0 + 20)
    assert await store.registrations() == [changed]
    assert (await store.registrations())[0].credentials() == ("sba", READER_PASSWORD)
    assert await store.delete_registration(first.id)
    assert not await store.delete_registration(first.id)
    assert await store.registrations() == []


async def test_a_registered_service_is_polled_with_its_metadata_credentials(
    tmp_path: Path, target: ThreadedUvicorn, caplog: pytest.LogCaptureFixture
) -> None:
    config = sba_config(f"sqlite:///{tmp_path / 'fleet.db'}", pull={"interval": 0.2})
    console = FleetConsole(config)
    registration = body(target.url)
    expected_id = sba_reference_id(f"{target.url}/actuator/health")
    async with running(console) as client:
        answer = await client.post("/instances", json=registration, auth=BASIC)
        assert answer.status_code == 201
        assert answer.json() == {"id": expected_id}
        assert answer.headers["location"] == f"http://fleet/instances/{expected_id}"

        async def polled() -> dict[str, Any]:
            found: dict[str, Any] = (
                await client.get(f"/fleet/api/instances/{expected_id}", headers=READ)
            ).json()
            assert found["status"] == "UP"
            assert found["version"] == "3.1"  # read from /info, with the credentials
            return found

        found = await eventually(polled)
        assert found["service"] == "legacy-orders"
        assert found["url"] == f"{target.url}/actuator"
        assert found["facts"]["environment"] == "prod"
        history = len(found["history"])

        # Re-registering (every 10 s in SBA's client) keeps the id and changes nothing.
        again = await client.post("/instances", json=registration, auth=BASIC)
        assert (again.status_code, again.json()) == (201, {"id": expected_id})
        await asyncio.sleep(0.5)
        found = (await client.get(f"/fleet/api/instances/{expected_id}", headers=READ)).json()
        assert (found["status"], len(found["history"])) == ("UP", history)

        # The credentials never leave: not in answers, facts, or the log.
        everything = [
            (await client.get(path, headers=READ)).text
            for path in (f"/fleet/api/instances/{expected_id}", "/fleet/api/instances")
        ]
        for text in [*everything, caplog.text]:
            assert READER_PASSWORD not in text
            assert "never-shown-either" not in text

        gone = await client.delete(f"/instances/{expected_id}", auth=BASIC)
        assert gone.status_code == 204
        assert (
            await client.get(f"/fleet/api/instances/{expected_id}", headers=READ)
        ).status_code == 404
        assert console.poller is not None
        assert expected_id not in console.poller.registered
        missing = await client.delete(f"/instances/{expected_id}", auth=BASIC)
        assert missing.status_code == 404


async def test_registrations_survive_a_console_restart(
    tmp_path: Path, target: ThreadedUvicorn
) -> None:
    config = sba_config(f"sqlite:///{tmp_path / 'fleet.db'}", pull={"interval": 0.2})
    async with running(FleetConsole(config)) as client:
        answer = await client.post("/instances", json=body(target.url), auth=BASIC)
        assert answer.status_code == 201
    registered = answer.json()["id"]
    restarted = FleetConsole(config)
    async with running(restarted) as client:
        assert restarted.poller is not None
        assert list(restarted.poller.registered) == [registered]

        async def polled() -> None:
            found = (await client.get(f"/fleet/api/instances/{registered}", headers=READ)).json()
            assert found["status"] == "UP"
            assert found["version"] == "3.1"

        await eventually(polled)


async def test_who_may_register_is_configured(tmp_path: Path) -> None:
    registration = body("http://h:1")
    config = sba_config(f"sqlite:///{tmp_path / 'fleet.db'}")
    async with running(FleetConsole(config)) as client:
        anonymous = await client.post("/instances", json=registration)
        assert anonymous.status_code == 401
        assert "Basic" in anonymous.headers["www-authenticate"]
        wrong = await client.post("/instances", json=registration, auth=(REGISTRAR, "nope"))
        assert wrong.status_code == 401
        reader = await client.post("/instances", json=registration, headers=READ)
        assert reader.status_code == 403  # a reader is not a registrant
        token = await client.post("/instances", json=registration, headers=INGEST)
        assert token.status_code == 201
        gone = await client.delete(f"/instances/{token.json()['id']}")
        assert gone.status_code == 401
    no_tokens = sba_config(f"sqlite:///{tmp_path / 'b.db'}", ingest_tokens=False)
    async with running(FleetConsole(no_tokens)) as client:
        assert (
            await client.post("/instances", json=registration, headers=INGEST)
        ).status_code == 401
    disabled = console_config(f"sqlite:///{tmp_path / 'c.db'}")
    async with running(FleetConsole(disabled)) as client:
        assert (
            await client.post("/instances", json=registration, headers=INGEST)
        ).status_code == 404


async def test_bad_bodies_get_sba_style_400s(tmp_path: Path) -> None:
    config = sba_config(f"sqlite:///{tmp_path / 'fleet.db'}")
    async with running(FleetConsole(config)) as client:
        missing = await client.post("/instances", json={"name": "a"}, auth=BASIC)
        assert missing.status_code == 400
        assert missing.json() == {
            "status": 400,
            "error": "Bad Request",
            "message": "'healthUrl' must not be empty.",
            "path": "/instances",
        }
        broken = await client.post(
            "/instances",
            content=b"{not json",
            headers={"content-type": "application/json"},
            auth=BASIC,
        )
        assert (broken.status_code, broken.json()["message"]) == (400, "Malformed JSON")
        text = await client.post("/instances", content=b"name=a", auth=BASIC)
        assert text.status_code == 415
        assert await client.get("/fleet/api/counts", headers=READ) is not None
        counts = (await client.get("/fleet/api/counts", headers=READ)).json()
        assert counts["instances"]["total"] == 0


def test_an_actuator_configured_for_sba_appears_in_a_real_console(tmp_path: Path) -> None:
    """The whole path over real HTTP: an app's SBA client (spring_boot_admin settings)
    registers with `actuator fleet serve` with HTTP basic, as SBA's client does; the
    console polls it through its actuator, and forgets it when the app stops."""
    config = tmp_path / "fleet.toml"
    config.write_text(
        f"""
[spring_boot_admin]
enabled = true
principals = ["{REGISTRAR}"]

[pull]
interval = 0.3

[settings.security]
tokens = {{ ops = "{hash_token(READ["authorization"].split()[1])}" }}
users = {{ {REGISTRAR} = "{hash_password(REGISTRAR_PASSWORD)}" }}
roles.read = ["ops"]
"""
    )
    command = [
        *(sys.executable, "-m", "actuator", "fleet", "serve", "--config", str(config)),
        *("--database", f"sqlite:///{tmp_path / 'fleet.db'}", "--host", "127.0.0.1"),
        *("--port", "0"),
    ]
    env = {"ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false"}
    with UvicornProcess("", command=command, env=env) as console:
        app_env = {
            **env,
            "ACTUATOR_EXPOSURE__INCLUDE": "health,info",
            "ACTUATOR_SECURITY__USERS": json.dumps({"sba": hash_password(READER_PASSWORD)}),
            "ACTUATOR_SECURITY__ROLES__READ": "sba",
            "ACTUATOR_SPRING_BOOT_ADMIN__URL": console.url,
            "ACTUATOR_SPRING_BOOT_ADMIN__USERNAME": REGISTRAR,
            "ACTUATOR_SPRING_BOOT_ADMIN__PASSWORD": REGISTRAR_PASSWORD,
            "ACTUATOR_SPRING_BOOT_ADMIN__PERIOD": "0.3",
            "ACTUATOR_SPRING_BOOT_ADMIN__METADATA": json.dumps(
                {"user.name": "sba", "user.password": READER_PASSWORD}
            ),
        }
        with (
            UvicornProcess("tests.e2e.sba_app:app", env=app_env) as app,
            httpx.Client(base_url=console.url, headers=READ, timeout=5) as client,
        ):
            instance_id = sba_reference_id(f"{app.url.rstrip('/')}/actuator/health")

            def shown() -> dict[str, Any] | None:
                found = client.get(f"/fleet/api/instances/{instance_id}")
                if found.status_code != 200 or found.json()["status"] != "UP":
                    return None
                body: dict[str, Any] = found.json()
                return body

            found = poll(shown, timeout=20)
            assert (found["service"], found["version"]) == ("orders", "2.3.1")
            app.signal(signal.SIGTERM)
            app.wait(timeout=15)
            gone = client.get(f"/fleet/api/instances/{instance_id}")
            assert gone.status_code == 404
        assert READER_PASSWORD not in console.output
        assert REGISTRAR_PASSWORD not in console.output
