"""The fleet over NATS: instances publish, consoles consume into PostgreSQL, all real servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import nats
import pytest
import trustme
from prometheus_client import CollectorRegistry

from actuator import Actuator, hash_token
from actuator._calls import cancel_and_wait
from actuator.client import Backoff
from actuator.fleet.app import FleetConsole
from actuator.fleet.config import NatsIngestConfig
from actuator.fleet.model import IngestResult, InstanceUpdate
from actuator.fleet.nats_client import close_client, event_subject, load_nats, subject_token
from actuator.fleet.nats_ingest import NatsIngest
from actuator.fleet.pusher import FleetPusher
from actuator.settings import ActuatorSettings, FleetSettings
from tests.fleet.fleetrun import serve_console
from tests.fleet.support import READ, READ_TOKEN, console_config, register, running
from tests.support.asgi import Lifespan, RecordingApp
from tests.support.nats import NatsServer
from tests.support.postgres import PostgresServer
from tests.support.server import UvicornProcess, poll

_databases = iter(range(1, 10_000))


def fleet_settings(**values: Any) -> FleetSettings:
    return FleetSettings.model_validate(values)


def actuator_settings(**values: Any) -> ActuatorSettings:
    return ActuatorSettings.model_validate(values)


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


@pytest.fixture
def database(postgres: PostgresServer) -> str:
    return postgres.create_database(f"fleet_nats_{next(_databases)}")


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except (AssertionError, KeyError, IndexError):
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


def nats_config(server: NatsServer, **overrides: Any) -> dict[str, Any]:
    return {"url": server.url, "batch_wait": 0.05, **overrides}


def console_with_nats(database: str, server: NatsServer, **nats_overrides: Any) -> FleetConsole:
    return FleetConsole(
        console_config(database, nats=nats_config(server, **nats_overrides), sweep_interval=3600)
    )


@contextlib.asynccontextmanager
async def consuming(
    consumer: NatsIngest, server: NatsServer
) -> AsyncIterator[tuple[asyncio.Task[None], Any]]:
    """``consumer`` running and subscribed, and a client of ``server`` to publish with;
    afterwards both stopped (``stop()`` first: nats-py may swallow the cancellation)."""
    task = asyncio.create_task(consumer.run())
    nc = await nats.connect(server.url)
    try:
        await asyncio.wait_for(consumer.subscribed.wait(), 15)
        yield task, nc
    finally:
        consumer.stop()
        await cancel_and_wait(task, 10)
        await nc.close()


async def listening(console: FleetConsole) -> None:
    assert console.nats is not None
    await asyncio.wait_for(console.nats.subscribed.wait(), 15)


class State:
    def __init__(self) -> None:
        self.status: tuple[str, list[str]] = ("UP", [])

    async def __call__(self) -> tuple[str, list[str]]:
        return self.status


async def registration() -> dict[str, Any]:
    return {
        "service": "orders",
        "version": "1.4.2",
        "facts": {"environment": "prod", "application": "shop"},
        "build": {},
        "git": {},
    }


def pusher(
    server: NatsServer, state: State, instance: str = "orders-1", **nats: Any
) -> FleetPusher:
    settings = fleet_settings(
        nats={"url": server.url, **nats}, heartbeat=1, check_interval=0.1, timeout=2
    )
    return FleetPusher(
        settings,
        status=state,
        registration=registration,
        instance_id=instance,
        backoff=Backoff(base=0.05, cap=0.2),
    )


async def instance(client: Any, iid: str) -> dict[str, Any]:
    answer = await client.get(f"/fleet/api/instances/{iid}", headers=READ)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def total(client: Any) -> int:
    answer = await client.get("/fleet/api/counts", headers=READ)
    return int(answer.json()["instances"]["total"])


def events(console: FleetConsole, outcome: str) -> float:
    value = console.actuator.metrics.registry.get_sample_value(
        "fleet_nats_events_total", {"outcome": outcome}
    )
    return value or 0.0


# -- publishing and querying ----------------------------------------------------


async def test_an_instance_publishes_through_jetstream_and_the_console_answers_for_it(
    nats_server: NatsServer, database: str
):
    console = console_with_nats(database, nats_server)
    async with running(console) as client:
        await listening(console)
        state = State()
        push = pusher(nats_server, state)
        await push.start()
        try:

            async def registered() -> dict[str, Any]:
                found = await instance(client, "orders-1")
                assert found["status"] == "UP"
                return found

            found = await eventually(registered)
            assert found["service"] == "orders"
            assert found["version"] == "1.4.2"
            assert found["facts"] == {"environment": "prod", "application": "shop"}

            state.status = ("DOWN", ["db"])
            push.poke()

            async def down() -> None:
                found = await instance(client, "orders-1")
                assert found["status"] == "DOWN"
                assert found["componentsDown"] == ["db"]

            await eventually(down)
        finally:
            await push.stop()

        async def gone() -> None:
            assert await total(client) == 0

        await eventually(gone)  # the goodbye went through NATS too
        assert events(console, "ingested") >= 3
        assert events(console, "malformed") == 0


async def test_the_actuator_middleware_publishes_to_nats_when_configured(
    nats_server: NatsServer, database: str
):
    console = console_with_nats(database, nats_server)
    async with running(console) as client:
        await listening(console)
        actuator = Actuator(
            name="billing",
            version="2.0",
            settings={
                "fleet": {"nats": {"url": nats_server.url}, "instance_id": "billing-1"},
                "health": {"event_loop": {"enabled": False}, "disk_space": {"enabled": False}},
            },
        )
        assert actuator.fleet_pusher is not None
        app = actuator.wrap(RecordingApp())
        lifespan = Lifespan(app)
        await lifespan.startup()
        try:

            async def registered() -> None:
                found = await instance(client, "billing-1")
                assert found["service"] == "billing"
                assert found["version"] == "2.0"

            await eventually(registered)
        finally:
            await lifespan.shutdown()


async def test_core_nats_works_end_to_end_when_both_sides_say_so(
    nats_server: NatsServer, database: str
):
    console = console_with_nats(database, nats_server, jetstream=False)
    async with running(console) as client:
        await listening(console)
        push = pusher(nats_server, State(), jetstream=False)
        await push.start()
        try:
            await eventually(lambda: instance(client, "orders-1"))
        finally:
            await push.stop()


async def test_a_forgotten_instance_is_told_on_its_inbox_and_registers_again(
    nats_server: NatsServer, database: str
):
    console = console_with_nats(database, nats_server)
    async with running(console) as client:
        await listening(console)
        push = pusher(nats_server, State())
        await push.start()
        try:
            await eventually(lambda: instance(client, "orders-1"))
            # The console loses the instance (a new database, say): its heartbeat is unknown.
            await console.store.ingest([InstanceUpdate(type="deregister", id="orders-1")], now=1)
            assert await total(client) == 0
            await eventually(lambda: instance(client, "orders-1"))
        finally:
            await push.stop()


async def test_without_a_stream_the_jetstream_publisher_backs_off_and_says_why(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
):
    push = pusher(nats_server, State())
    await push.start()
    try:

        async def failing() -> None:
            assert push.failing

        await eventually(failing)
    finally:
        await push.stop()
    assert "no JetStream stream takes 'actuator.fleet.orders.orders-1'" in caplog.text


# -- malformed events -------------------------------------------------------------


async def test_malformed_events_are_counted_and_logged_and_never_stop_the_consumer(
    nats_server: NatsServer, database: str, caplog: pytest.LogCaptureFixture
):
    console = console_with_nats(database, nats_server)
    async with running(console) as client:
        await listening(console)
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        try:
            prefix = "actuator.fleet"
            bad = [
                (f"{prefix}.orders.x", b"not json {"),
                (f"{prefix}.orders.x", b'{"type": "explode", "id": "x"}'),
                (f"{prefix}.orders.x", json.dumps(register("y")).encode()),  # not its subject
                (f"{prefix}.billing.y", json.dumps(register("y")).encode()),  # wrong service
                (f"{prefix}.x", json.dumps(register("x")).encode()),  # too few tokens
            ]
            for subject, payload in bad:
                await js.publish(subject, payload)
            good = register("orders-2")
            await js.publish(event_subject(prefix, "orders", "orders-2"), json.dumps(good).encode())

            await eventually(lambda: instance(client, "orders-2"))

            async def counted() -> None:
                assert events(console, "malformed") == len(bad)

            await eventually(counted)
            assert await total(client) == 1
            # Terminated, not redelivered: the stream holds nothing more.
            info = await js.consumer_info("ACTUATOR_FLEET", "fleet-console")
            assert info.num_ack_pending == 0
            assert info.num_pending == 0
        finally:
            await nc.close()
    assert "malformed fleet event on actuator.fleet.orders.x" in caplog.text


# -- restarts and outages -----------------------------------------------------------


async def test_events_published_while_the_console_is_down_are_ingested_when_it_returns(
    nats_server: NatsServer, database: str
):
    first = console_with_nats(database, nats_server)
    async with running(first):
        await listening(first)  # creates the stream and the durable consumer
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        for i in range(300):
            update = register(f"i{i}")
            await js.publish(
                event_subject("actuator.fleet", "orders", f"i{i}"), json.dumps(update).encode()
            )
    finally:
        await nc.close()
    second = console_with_nats(database, nats_server)
    async with running(second) as client:

        async def all_there() -> None:
            assert await total(client) == 300

        await eventually(all_there)


async def test_a_batch_the_database_refused_comes_back_and_nothing_acknowledged_is_lost(
    nats_server: NatsServer,
):
    stored: list[str] = []
    failures = {"left": 2}

    async def flaky(updates: Any) -> IngestResult:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("database unavailable")
        stored.extend(u.id for u in updates)
        return IngestResult(accepted=len(updates))

    config = NatsIngestConfig(url=nats_server.url, batch_wait=0.05, batch=50)
    consumer = NatsIngest(config, flaky, CollectorRegistry(), backoff=Backoff(base=0.05, cap=0.1))
    async with consuming(consumer, nats_server) as (_, nc):
        js = nc.jetstream()
        for i in range(120):
            await js.publish(
                event_subject("actuator.fleet", "orders", f"i{i}"),
                json.dumps(register(f"i{i}")).encode(),
            )

        async def all_stored() -> None:
            assert set(stored) == {f"i{i}" for i in range(120)}

        await eventually(all_stored)
        info = await js.consumer_info("ACTUATOR_FLEET", "fleet-console")
        assert info.num_ack_pending == 0
    assert failures["left"] == 0


async def test_core_nats_keeps_a_refused_batch_and_stores_it_once_the_database_is_back(
    nats_server: NatsServer,
):
    stored: list[str] = []
    failures = {"left": 2}

    async def flaky(updates: Any) -> IngestResult:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("database unavailable")
        stored.extend(u.id for u in updates)
        return IngestResult(accepted=len(updates))

    config = NatsIngestConfig(url=nats_server.url, jetstream=False, batch_wait=0.05)
    consumer = NatsIngest(config, flaky, CollectorRegistry(), backoff=Backoff(base=0.05, cap=0.1))
    async with consuming(consumer, nats_server) as (_, nc):
        for i in range(50):
            await nc.publish(
                event_subject("actuator.fleet", "orders", f"i{i}"),
                json.dumps(register(f"i{i}")).encode(),
            )
        await nc.flush()

        async def all_stored() -> None:
            assert sorted(stored) == sorted(f"i{i}" for i in range(50))

        await eventually(all_stored)


async def test_core_nats_drops_the_oldest_events_past_max_pending_and_counts_them(
    nats_server: NatsServer,
):
    release = asyncio.Event()
    stored: list[str] = []

    async def stuck(updates: Any) -> IngestResult:
        if not release.is_set():
            raise ConnectionError("database unavailable")
        stored.extend(u.id for u in updates)
        return IngestResult(accepted=len(updates))

    registry = CollectorRegistry()
    config = NatsIngestConfig(
        url=nats_server.url, jetstream=False, batch_wait=0.05, batch=5, max_pending=10
    )
    consumer = NatsIngest(config, stuck, registry, backoff=Backoff(base=0.2, cap=0.2))
    async with consuming(consumer, nats_server) as (_, nc):
        for i in range(40):
            await nc.publish(
                event_subject("actuator.fleet", "orders", f"i{i}"),
                json.dumps(register(f"i{i}")).encode(),
            )
        await nc.flush()

        async def dropped() -> None:
            value = registry.get_sample_value("fleet_nats_events_total", {"outcome": "dropped"})
            assert value is not None
            assert value >= 40 - 10 - 5

        await eventually(dropped)
        release.set()

        async def newest_stored() -> None:
            assert "i39" in stored

        await eventually(newest_stored)
        assert len(stored) <= 15


# -- several consoles ---------------------------------------------------------------


@pytest.mark.parametrize("jetstream", [True, False], ids=["jetstream", "core"])
async def test_two_consoles_share_the_stream_and_store_each_event_once(
    nats_server: NatsServer, database: str, jetstream: bool
):
    first = console_with_nats(database, nats_server, jetstream=jetstream, batch=20)
    second = console_with_nats(database, nats_server, jetstream=jetstream, batch=20)
    async with running(first) as client, running(second):
        await listening(first)
        await listening(second)
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            for i in range(400):
                subject = event_subject("actuator.fleet", "orders", f"i{i}")
                payload = json.dumps(register(f"i{i}")).encode()
                if jetstream:
                    await js.publish(subject, payload)
                else:
                    await nc.publish(subject, payload)
                if i % 50 == 0:
                    await asyncio.sleep(0.05)  # spread over several fetches
            await nc.flush()
        finally:
            await nc.close()

        async def all_there() -> None:
            assert await total(client) == 400
            assert events(first, "ingested") + events(second, "ingested") == 400

        await eventually(all_there)
        # Shared, not copied: each console took part of the stream.
        assert events(first, "ingested") > 0
        assert events(second, "ingested") > 0


# -- connection settings --------------------------------------------------------------


async def test_token_authentication_and_a_wrong_token_never_logged(
    database: str, caplog: pytest.LogCaptureFixture
):
    with NatsServer(args=("--auth", "s3cret-token-value")) as server:
        console = FleetConsole(
            console_config(
                database,
                nats={"url": server.url, "token": "s3cret-token-value", "batch_wait": 0.05},
            )
        )
        async with running(console) as client:
            await listening(console)
            good = pusher(server, State(), token="s3cret-token-value")
            bad = pusher(server, State(), instance="orders-2", token="wrong-token-value")
            await good.start()
            await bad.start()
            try:
                await eventually(lambda: instance(client, "orders-1"))

                async def refused() -> None:
                    assert bad.failing

                await eventually(refused)
            finally:
                await good.stop()
                await bad.stop()
    assert "wrong-token-value" not in caplog.text
    assert "s3cret-token-value" not in caplog.text


async def test_user_and_password_authentication(database: str):
    with NatsServer(args=("--user", "fleet", "--pass", "fleet-password")) as server:
        console = FleetConsole(
            console_config(
                database,
                nats={
                    "url": server.url,
                    "user": "fleet",
                    "password": "fleet-password",
                    "batch_wait": 0.05,
                },
            )
        )
        async with running(console) as client:
            await listening(console)
            push = pusher(server, State(), user="fleet", password="fleet-password")
            await push.start()
            try:
                await eventually(lambda: instance(client, "orders-1"))
            finally:
                await push.stop()


async def test_mutual_tls_with_client_certificates(database: str, tmp_path: Any):
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    client_cert = ca.issue_cert("orders.fleet.internal")
    ca_file, server_file, client_file = (
        tmp_path / "ca.pem",
        tmp_path / "server.pem",
        tmp_path / "client.pem",
    )
    ca.cert_pem.write_to_path(str(ca_file))
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(server_file))
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(client_file))
    args = (
        "--tls",
        "--tlscert",
        str(server_file),
        "--tlskey",
        str(server_file),
        "--tlsverify",
        "--tlscacert",
        str(ca_file),
    )
    with NatsServer(args=args) as server:
        url = server.url.replace("nats://", "tls://")
        tls = {"tls_ca": str(ca_file), "tls_cert": str(client_file)}
        console = FleetConsole(
            console_config(database, nats={"url": url, "batch_wait": 0.05, **tls})
        )
        async with running(console) as client:
            await listening(console)
            settings = fleet_settings(
                nats={"url": url, **tls}, heartbeat=1, check_interval=0.1, timeout=2
            )
            push = FleetPusher(
                settings, status=State(), registration=registration, instance_id="orders-1"
            )
            without = FleetPusher(
                fleet_settings(nats={"url": url, "tls_ca": str(ca_file)}, timeout=1),
                status=State(),
                registration=registration,
                instance_id="orders-2",
                backoff=Backoff(base=0.05, cap=0.2),
            )
            await push.start()
            await without.start()
            try:
                await eventually(lambda: instance(client, "orders-1"))

                async def refused() -> None:
                    assert without.failing

                await eventually(refused)
            finally:
                await push.stop()
                await without.stop()


# -- settings and the optional client -------------------------------------------------


def test_nats_settings_refuse_credentials_in_the_url_and_half_configured_auth():
    with pytest.raises(ValueError, match="without credentials"):
        actuator_settings(fleet={"nats": {"url": "nats://fleet:secret@nats:4222"}})
    with pytest.raises(ValueError, match="not both"):
        actuator_settings(fleet={"url": "http://fleet:8090", "nats": {"url": "nats://nats:4222"}})
    with pytest.raises(ValueError, match="token, or user and password, not both"):
        fleet_settings(nats={"url": "nats://n:1", "token": "t", "user": "u", "password": "p"})
    with pytest.raises(ValueError, match="user and password go together"):
        fleet_settings(nats={"url": "nats://n:1", "user": "u"})
    with pytest.raises(ValueError, match="tls_key is set but tls_cert is not"):
        fleet_settings(nats={"url": "nats://n:1", "tls_key": "/k.pem"})
    with pytest.raises(ValueError, match="dot-separated tokens"):
        fleet_settings(nats={"url": "nats://n:1", "subject_prefix": "fleet.>"})
    with pytest.raises(ValueError, match="at least one server"):
        fleet_settings(nats={"url": " , "})
    settings = fleet_settings(nats={"url": "nats://a:4222/, tls://b:4222"})
    assert settings.nats.servers == ["nats://a:4222", "tls://b:4222"]
    assert settings.enabled


def test_nats_credentials_are_never_shown():
    settings = actuator_settings(
        fleet={"nats": {"url": "nats://n:1", "user": "u", "password": "fleet-password"}}
    )
    assert "fleet-password" not in repr(settings)
    assert "fleet-password" not in settings.model_dump_json()
    from actuator.settings import credential_settings

    assert {"fleet.nats.token", "fleet.nats.password", "fleet.nats.tls_key"} <= set(
        credential_settings()
    )


def test_subjects_are_one_token_per_name():
    assert subject_token("orders.v2 *>") == "orders_v2___"
    assert event_subject("actuator.fleet", "svc.a", "host-1:8080") == (
        "actuator.fleet.svc_a.host-1:8080"
    )


def test_a_missing_nats_client_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "nats", None)
    with pytest.raises(ImportError, match=r"asgi-actuator\[nats\]") as caught:
        load_nats("fleet.nats.url")
    assert "fleet.nats.url" in str(caught.value)
    with pytest.raises(ImportError, match=r"asgi-actuator\[nats\]"):
        Actuator(settings={"fleet": {"nats": {"url": "nats://n:4222"}}})


def test_the_middleware_does_not_import_nats_without_a_nats_url():
    import subprocess

    code = (
        "import sys; from actuator import Actuator; "
        "Actuator(settings={'fleet': {'url': 'http://fleet:8090'}}); "
        "print('nats' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


async def test_a_console_without_jetstream_on_the_server_says_how_to_fix_it(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING, "actuator.fleet")
    with NatsServer(jetstream=False) as server:
        consumer = NatsIngest(
            NatsIngestConfig(url=server.url),
            lambda updates: asyncio.sleep(0, IngestResult()),
            CollectorRegistry(),
            backoff=Backoff(base=5, cap=5),
        )
        task = asyncio.create_task(consumer.run())
        try:

            async def said() -> None:
                assert "has no JetStream: start it with -js" in caplog.text

            await eventually(said)
            assert not consumer.subscribed.is_set()
        finally:
            consumer.stop()
            await cancel_and_wait(task, 10)


# -- two real consoles, one killed ------------------------------------------------------

SERVE_CONFIG = """\
sweep_interval = 0.5
disconnect_after = 3600
forget_after = 7200

[jobs]
retry = 0.5

[nats]
url = "{nats}"
batch_wait = 0.05
ack_wait = 2

[settings.security]
tokens = {{ ops = "{read}" }}
roles.read = ["ops"]

[settings.health]
show_details = "always"
"""


def serve(tmp_path: Any, name: str, database: str, server: NatsServer) -> UvicornProcess:
    config = tmp_path / f"{name}.toml"
    config.write_text(SERVE_CONFIG.format(nats=server.url, read=hash_token(READ_TOKEN)))
    return serve_console(config, database)


def role(console: UvicornProcess) -> str | None:
    try:
        answer = httpx.get(f"{console.url}/actuator/health", headers=READ, timeout=2)
    except httpx.HTTPError:
        return None
    jobs = answer.json()["components"]["fleetJobs"]["details"]
    return str(jobs["role"])


async def publish_registrations(server: NatsServer, ids: range) -> None:
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        for i in ids:
            await js.publish(
                event_subject("actuator.fleet", "orders", f"i{i}"),
                json.dumps(register(f"i{i}")).encode(),
            )
    finally:
        await nc.close()


async def test_killing_the_console_that_runs_the_jobs_moves_them_and_loses_nothing(
    nats_server: NatsServer, database: str, tmp_path: Any
):
    first = serve(tmp_path, "first", database, nats_server).start()
    second = serve(tmp_path, "second", database, nats_server).start()
    try:

        def settled() -> tuple[str | None, str | None] | None:
            roles = (role(first), role(second))
            return roles if sorted(map(str, roles)) == ["leader", "standby"] else None

        roles = poll(settled)
        leader, standby = (first, second) if roles[0] == "leader" else (second, first)
        await publish_registrations(nats_server, range(100))

        leader.signal(signal.SIGKILL)
        killed = time.monotonic()
        assert leader.wait(10) == -signal.SIGKILL
        await publish_registrations(nats_server, range(100, 200))
        seen: list[str | None] = []
        while (seen_role := role(standby)) != "leader":
            seen.append(seen_role)
            # The documented bound is jobs.retry (0.5 s here) plus a request's time;
            # generous here, as the shared test machine may be slow: a console that
            # never takes over fails all the same.
            assert time.monotonic() - killed < 15, f"no takeover within 15 s: {seen}"
            await asyncio.sleep(0.05)

        def counted() -> int | None:
            answer = httpx.get(f"{standby.url}/fleet/api/counts", headers=READ, timeout=5)
            n = int(answer.json()["instances"]["total"])
            return n if n == 200 else None

        # The survivor takes the dead one's unacknowledged events after ack_wait.
        assert poll(counted, timeout=30) == 200
    finally:
        first.stop()
        second.stop()


def test_one_console_at_most_reports_running_the_jobs_while_both_live(
    nats_server: NatsServer, database: str, tmp_path: Any
):
    first = serve(tmp_path, "first", database, nats_server).start()
    second = serve(tmp_path, "second", database, nats_server).start()
    try:
        deadline = time.monotonic() + 3
        leaders = []
        while time.monotonic() < deadline:
            roles = [role(first), role(second)]
            leaders.append(roles.count("leader"))
            time.sleep(0.05)
        assert max(leaders) == 1
        assert leaders[-1] == 1
    finally:
        first.stop()
        second.stop()


async def test_a_connection_whose_close_never_finishes_is_given_up_after_the_timeout() -> None:
    class Stuck:
        is_closed = False
        closing = False

        async def close(self) -> None:
            self.closing = True
            await asyncio.Event().wait()  # as nats-py on a transport that never closes

    stuck = Stuck()
    started = time.monotonic()
    await close_client(stuck, timeout=0.2)  # type: ignore[arg-type]
    assert stuck.closing
    assert time.monotonic() - started < 2


async def test_an_idle_stream_keeps_the_consumer_on_one_connection(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
):
    # An empty fetch times out every batch_wait; nats-py raises asyncio's TimeoutError
    # on some of its paths, which once sent the consumer through a reconnect each time.
    stored: list[str] = []

    async def store(updates: Any) -> IngestResult:
        stored.extend(u.id for u in updates)
        return IngestResult(accepted=len(updates))

    config = NatsIngestConfig(url=nats_server.url, batch_wait=0.02, batch=50)
    consumer = NatsIngest(config, store, CollectorRegistry(), backoff=Backoff(base=0.05, cap=0.1))
    async with consuming(consumer, nats_server) as (_, nc):
        connection = consumer._client
        await asyncio.sleep(1.0)  # fifty empty fetches
        assert consumer._client is connection
        assert consumer.subscribed.is_set()
        await nc.jetstream().publish(
            event_subject("actuator.fleet", "orders", "i1"), json.dumps(register("i1")).encode()
        )

        async def stored_once() -> None:
            assert stored == ["i1"]

        await eventually(stored_once)
    assert "fleet NATS ingest from" not in caplog.text


@pytest.mark.parametrize("outcome", ["returns", "raises"])
async def test_stop_ends_the_consumer_even_when_the_cancellation_is_lost(
    nats_server: NatsServer, outcome: str
):
    # nats-py may swallow a cancellation (next_msg raises ConnectionClosedError instead
    # once its connection is closed); a console's stop must still end the consumer.
    entered = asyncio.Event()

    async def swallowing(updates: Any) -> IngestResult:
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if outcome == "raises":
                raise ConnectionError("nats: connection closed") from None
        return IngestResult(accepted=len(updates))

    config = NatsIngestConfig(url=nats_server.url, batch_wait=0.05)
    consumer = NatsIngest(
        config, swallowing, CollectorRegistry(), backoff=Backoff(base=0.01, cap=0.02)
    )
    async with consuming(consumer, nats_server) as (task, nc):
        await nc.jetstream().publish(
            event_subject("actuator.fleet", "orders", "i1"), json.dumps(register("i1")).encode()
        )
        await asyncio.wait_for(entered.wait(), 15)
        consumer.stop()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        assert done == {task}, "the consumer ran on after its stop"
        assert task.cancelled()


async def test_the_next_batch_is_fetched_while_one_is_being_stored(nats_server: NatsServer):
    stored: list[str] = []
    first: list[int] = []
    release = asyncio.Event()

    async def slow(updates: Any) -> IngestResult:
        if not first:
            first.append(len(updates))
            await asyncio.wait_for(release.wait(), 20)
        stored.extend(u.id for u in updates)
        return IngestResult(accepted=len(updates))

    config = NatsIngestConfig(url=nats_server.url, batch_wait=0.05, batch=10)
    consumer = NatsIngest(config, slow, CollectorRegistry())
    async with consuming(consumer, nats_server) as (_, nc):
        js = nc.jetstream()
        ids = [f"i{i:02d}" for i in range(30)]
        for iid in ids:
            await js.publish(
                event_subject("actuator.fleet", "orders", iid), json.dumps(register(iid)).encode()
            )

        async def next_batch_fetched() -> None:
            info = await js.consumer_info("ACTUATOR_FLEET", "fleet-console")
            assert first
            assert info.num_ack_pending > first[0]  # the next batch is out while one is held

        await eventually(next_batch_fetched)
        release.set()

        async def all_stored_in_order() -> None:
            assert stored == ids

        await eventually(all_stored_in_order)


async def test_a_close_that_swallows_its_cancellation_still_ends_at_the_timeout() -> None:
    class Swallows:
        """As nats-py's close() waiting for its reconnection: the first cancel is lost."""

        is_closed = False
        cancels = 0

        async def close(self) -> None:
            while True:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self.cancels += 1
                    if self.cancels > 1:
                        raise

    swallows = Swallows()
    started = time.monotonic()
    await close_client(swallows, timeout=0.2)  # type: ignore[arg-type]
    assert swallows.cancels == 2
    assert time.monotonic() - started < 2
