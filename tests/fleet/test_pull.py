"""Pull mode: the console polls targets; hung or dead ones never delay the others."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from actuator.fleet.app import FleetConsole
from actuator.fleet.model import IngestResult, InstanceUpdate
from actuator.fleet.pull import Poller, PullConfig, TargetSet, resolve_addresses, target_id
from tests.fleet.support import READ, console_config, running
from tests.support.dnsmasq import Dnsmasq
from tests.support.server import UvicornProcess, free_port


class Targets:
    """Fake actuators on one real local HTTP/1.1 server, by the first path segment:
    ``/upN/...`` and ``/downN/...`` answer, ``/hungN/...`` never does; ``dead`` is a port
    where nothing listens. ``calls`` counts requests per target, ``tokens`` the
    ``authorization`` headers seen."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.tokens: list[str | None] = []
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[Any]] = set()
        self.dead = free_port()

    async def __aenter__(self) -> Targets:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in self.handlers:  # the hung ones would sleep for an hour
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()

    def url(self, name: str) -> str:
        if name.startswith("dead"):
            return f"http://127.0.0.1:{self.dead}/{name}/actuator"
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/{name}/actuator"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                path = head.split(" ", 2)[1]
                name = path.split("/")[1]
                self.calls[name] = self.calls.get(name, 0) + 1
                token = [
                    h.split(":", 1)[1].strip()
                    for h in head.split("\r\n")
                    if h.lower().startswith("authorization:")
                ]
                self.tokens.append(token[0] if token else None)
                if name.startswith("hung"):
                    await asyncio.sleep(3600)
                status, body = self._answer(name, path)
                data = json.dumps(body).encode()
                writer.write(
                    f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self.handlers.discard(task)

    @staticmethod
    def _answer(name: str, path: str) -> tuple[str, Any]:
        if path.endswith("/info"):
            return "200 OK", {"app": {"name": "legacy", "version": "0.9"}, "facts": {"team": "old"}}
        if name.startswith("down"):
            return "503 Service Unavailable", {
                "status": "DOWN",
                "components": {"db": {"status": "DOWN"}, "disk": {"status": "UP"}},
            }
        return "200 OK", {"status": "UP"}


class Collected:
    def __init__(self) -> None:
        self.updates: list[InstanceUpdate] = []

    async def __call__(self, batch: Sequence[InstanceUpdate]) -> IngestResult:
        self.updates.extend(batch)
        return IngestResult(accepted=len(batch))

    def ids(self) -> set[str]:
        return {u.id for u in self.updates}


async def run_for(poller: Poller, seconds: float) -> None:
    task = asyncio.create_task(poller.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_hung_and_dead_targets_never_delay_the_healthy_ones() -> None:
    async with Targets() as targets:
        healthy = [targets.url(f"up{i}") for i in range(20)]
        failing = [targets.url(f"hung{i}") for i in range(5)]
        failing += [targets.url(f"dead{i}") for i in range(5)]

        def poller(urls: list[str], collected: Collected) -> Poller:
            config = PullConfig(
                interval=0.5,
                timeout=0.2,
                concurrency=4,
                max_backoff=5,
                sets=[TargetSet(name="legacy", urls=urls)],
            )
            return Poller(config, collected)

        # The same healthy targets polled alone, at the same time in the same loop, are
        # the yardstick: whatever the machine's load, it slows both pollers alike.
        alone, beside = Collected(), Collected()
        control, mixed = poller(healthy, alone), poller(healthy + failing, beside)
        await asyncio.gather(run_for(control, 3.2), run_for(mixed, 3.2))

    for url in healthy:
        iid = target_id(url)
        polls = sum(u.id == iid for u in beside.updates)
        yardstick = sum(u.id == iid for u in alone.updates)
        assert yardstick >= 2, f"{iid} polled {yardstick} times even alone"
        assert polls >= yardstick - 1, (
            f"{iid}: {polls} polls beside failing targets, {yardstick} alone"
        )
    failing_ids = {target_id(url) for url in failing}
    assert not failing_ids & beside.ids()
    # Failing targets are backed off (exponentially, with jitter); healthy ones never.
    for url, target in mixed.targets.items():
        if url in healthy:
            assert target.backoff.failures == 0
        else:
            assert target.backoff.failures >= 2, url


async def test_registers_from_info_then_sends_status_with_components_not_up() -> None:
    collected = Collected()
    async with Targets() as targets:
        url = targets.url("down1")
        config = PullConfig(interval=0.3, timeout=1, sets=[TargetSet(name="legacy", urls=[url])])
        await run_for(Poller(config, collected), 1.5)

    first, *rest = collected.updates
    assert (first.type, first.id, first.service, first.version) == (
        "register",
        target_id(url),
        "legacy",
        "0.9",
    )
    assert first.id.endswith(".down1.actuator")
    assert (first.status, first.components, first.facts) == ("DOWN", ["db"], {"team": "old"})
    assert first.url == url
    assert rest
    assert all(u.type == "status" and u.status == "DOWN" for u in rest)


async def test_a_targets_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "targets.txt"
    path.write_text("# legacy fleet\nhttp://up1:8080/actuator\nnot a url\n")
    poller = Poller(PullConfig(sets=[TargetSet(name="f", file=path)]), Collected())

    await poller.resolve()
    assert set(poller.targets) == {"http://up1:8080/actuator"}

    path.write_text("http://up2:8080/actuator\nhttp://up3:8080/actuator/\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    await poller.resolve()
    assert set(poller.targets) == {"http://up2:8080/actuator", "http://up3:8080/actuator"}


async def test_dns_names_become_targets_and_a_failed_lookup_keeps_the_last_answer() -> None:
    answers: dict[str, Any] = {
        "_actuator._tcp.billing": [("b1.internal", 9001), ("b2.internal", 9002)]
    }

    async def srv(name: str) -> list[tuple[str, int]]:
        found = answers[name]
        if isinstance(found, Exception):
            raise found
        return list(found)

    config = PullConfig(
        sets=[TargetSet(name="dns", dns=["localhost:8080"], srv=["_actuator._tcp.billing"])]
    )
    poller = Poller(config, Collected(), srv=srv)
    await poller.resolve()
    assert "http://b1.internal:9001/actuator" in poller.targets
    assert "http://b2.internal:9002/actuator" in poller.targets
    assert "http://127.0.0.1:8080/actuator" in poller.targets

    answers["_actuator._tcp.billing"] = OSError("SERVFAIL")
    await poller.resolve()
    assert "http://b1.internal:9001/actuator" in poller.targets

    answers["_actuator._tcp.billing"] = [("b2.internal", 9002)]
    await poller.resolve()
    assert "http://b1.internal:9001/actuator" not in poller.targets


async def test_the_system_resolver_gives_every_address() -> None:
    found = await resolve_addresses("localhost:8080")
    assert ("127.0.0.1", 8080) in found


def test_target_ids_are_host_port_and_path() -> None:
    assert target_id("http://10.0.0.7:8080/actuator") == "10.0.0.7:8080"
    assert target_id("https://orders.internal/manage/actuator") == (
        "orders.internal:443.manage.actuator"
    )
    assert target_id("http://[::1]:9000/actuator") == "::1:9000"


def test_bad_target_sets_name_the_setting() -> None:
    with pytest.raises(ValidationError, match="target URLs are http"):
        TargetSet(name="x", urls=["ftp://host/actuator"])
    with pytest.raises(ValidationError, match="dns entries are host:port"):
        TargetSet(name="x", dns=["orders.internal"])


async def test_a_missing_token_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    poller = Poller(
        PullConfig(sets=[TargetSet(name="s", urls=["http://up1:1/a"], token_env="NO_SUCH_TOKEN")]),
        Collected(),
    )
    with pytest.raises(ValueError, match=r"pull.sets.s.token_env: \$NO_SUCH_TOKEN is not set"):
        await poller.resolve()


async def test_the_token_of_a_set_is_sent_as_a_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGACY_TOKEN", "legacy-secret")
    async with Targets() as targets:
        url = targets.url("up1")
        config = PullConfig(
            interval=5, sets=[TargetSet(name="s", urls=[url], token_env="LEGACY_TOKEN")]
        )
        collected = Collected()
        poller = Poller(config, collected)
        await poller.resolve()
        poller.targets[url].due = 0
        poller.schedule()
        for _ in range(200):  # 10 s at most
            if poller.polls:
                break
            await asyncio.sleep(0.05)
        await poller.aclose()
    assert poller.polls == 1
    assert targets.tokens
    assert set(targets.tokens) == {"Bearer legacy-secret"}
    # The read proxy and the actions reach the target with the same credentials.
    client = poller.client_for(url + "/")
    assert client is not None
    assert client.headers["authorization"] == "Bearer legacy-secret"
    assert poller.client_for("http://elsewhere:1/actuator") is None
    await client.aclose()


async def test_the_console_polls_a_real_actuator(tmp_path: Path) -> None:
    from tests.support.server import UvicornProcess

    with UvicornProcess(
        "tests.e2e.apps:app", env={"ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false"}
    ) as app:
        config = console_config(
            f"sqlite:///{tmp_path / 'f.db'}",
            pull={"interval": 0.5, "sets": [{"name": "legacy", "urls": [app.url + "/actuator"]}]},
        )
        console = FleetConsole(config)
        async with running(console) as client:
            iid = target_id(app.url + "/actuator")
            deadline = time.monotonic() + 15
            while True:
                answer = await client.get(f"/fleet/api/instances/{iid}", headers=READ)
                if answer.status_code == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "UP", answer.json()["componentsDown"]
            assert answer.json()["url"] == app.url + "/actuator"


# -- against real servers: mutual TLS, a real DNS server ------------------------


@pytest.fixture(scope="module")
def mtls_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Any]]:
    """An actuator under a real uvicorn that refuses TLS clients without a certificate
    signed by its CA: ``(base URL, directory of PEM files, the CA)``."""
    ca = trustme.CA()
    files = tmp_path_factory.mktemp("mtls")
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.private_key_and_cert_chain_pem.write_to_path(str(files / "server.pem"))
    ca.cert_pem.write_to_path(str(files / "ca.pem"))
    client = ca.issue_cert("fleet-console")
    client.cert_chain_pems[0].write_to_path(str(files / "client.pem"))
    client.private_key_pem.write_to_path(str(files / "client.key"))
    args = [
        *("--ssl-certfile", str(files / "server.pem")),
        *("--ssl-ca-certs", str(files / "ca.pem")),
        *("--ssl-cert-reqs", str(int(ssl.CERT_REQUIRED))),
    ]
    env = {
        "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false",
        "ACTUATOR_EXPOSURE__INCLUDE": "health,info",
        "ACTUATOR_SECURITY__ANONYMOUS": "health,info",  # the client certificate is the gate
    }
    with UvicornProcess("tests.e2e.sba_app:app", args=args, env=env, scheme="https") as running:
        yield running.url + "/actuator", files, ca


async def test_mutual_tls_targets_are_polled_with_the_sets_client_certificate(
    mtls_target: tuple[str, Path, Any],
) -> None:
    url, files, _ = mtls_target
    with_cert = TargetSet(
        name="mtls",
        urls=[url],
        client_cert=files / "client.pem",
        client_key=files / "client.key",
        ca=files / "ca.pem",
    )
    collected = Collected()
    poller = Poller(PullConfig(interval=0.3, timeout=2, sets=[with_cert]), collected)
    await run_for(poller, 1.5)
    assert collected.updates, "the target was never polled"
    first = collected.updates[0]
    assert (first.type, first.status, first.service, first.version) == (
        "register",
        "UP",
        "orders",
        "2.3.1",
    )
    # Without a client certificate the server refuses the handshake: nothing is learned,
    # and the target backs off instead of being reported DOWN.
    without = TargetSet(name="nocert", urls=[url], ca=files / "ca.pem")
    refused = Collected()
    poller = Poller(PullConfig(interval=0.3, timeout=2, sets=[without]), refused)
    await run_for(poller, 1.0)
    assert refused.updates == []
    (target,) = poller.targets.values()
    assert target.failing
    assert target.backoff.failures >= 1


async def test_srv_and_address_records_come_from_a_real_dns_server() -> None:
    with Dnsmasq(
        srv=[("_actuator._tcp.billing.fleet.test", "localhost", 9001)],
        hosts=[("orders.fleet.test", "127.0.0.1", "::1")],
    ) as dns_server:
        config = PullConfig(
            timeout=0.5,
            nameservers=[dns_server.nameserver],
            sets=[
                TargetSet(
                    name="dns",
                    dns=["orders.fleet.test:8080"],
                    srv=["_actuator._tcp.billing.fleet.test"],
                )
            ],
        )
        poller = Poller(config, Collected())
        await poller.resolve()
        assert set(poller.targets) == {
            "http://localhost:9001/actuator",
            "http://127.0.0.1:8080/actuator",
            "http://[::1]:8080/actuator",
        }
    # The server is gone: the lookups fail and the last answers are kept.
    await poller.resolve()
    assert "http://localhost:9001/actuator" in poller.targets
    assert "http://127.0.0.1:8080/actuator" in poller.targets


def test_nameservers_are_checked() -> None:
    with pytest.raises(ValidationError, match="nameservers"):
        PullConfig(nameservers=["not an address"])
    assert PullConfig(nameservers=["127.0.0.1:5353", "::1"]).nameservers == [
        "127.0.0.1:5353",
        "::1",
    ]
