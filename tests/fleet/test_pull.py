"""Pull mode: the console polls targets; hung or dead ones never delay the others."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from pydantic import ValidationError

from actuator.fleet.app import FleetConsole
from actuator.fleet.model import IngestResult, InstanceUpdate
from actuator.fleet.pull import Poller, PullConfig, TargetSet, resolve_addresses, target_id
from tests.fleet.support import READ, console_config, running
from tests.support.dnsmasq import Dnsmasq
from tests.support.server import UvicornProcess


class Targets:
    """Fake actuators by host: ``up``/``down`` answer, ``hung`` never does, ``dead`` refuses."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.calls[host] = self.calls.get(host, 0) + 1
        if host.startswith("hung"):
            await asyncio.sleep(3600)
        if host.startswith("dead"):
            raise httpx.ConnectError("connection refused")
        if request.url.path.endswith("/info"):
            return httpx.Response(
                200, json={"app": {"name": "legacy", "version": "0.9"}, "facts": {"team": "old"}}
            )
        if host.startswith("down"):
            return httpx.Response(
                503,
                json={
                    "status": "DOWN",
                    "components": {"db": {"status": "DOWN"}, "disk": {"status": "UP"}},
                },
            )
        return httpx.Response(200, json={"status": "UP"})


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
    targets = Targets()
    urls = [f"http://up{i}:8080/actuator" for i in range(20)]
    urls += [f"http://hung{i}:8080/actuator" for i in range(5)]
    urls += [f"http://dead{i}:8080/actuator" for i in range(5)]
    config = PullConfig(
        interval=0.5,
        timeout=0.2,
        concurrency=4,
        max_backoff=5,
        sets=[TargetSet(name="legacy", urls=urls)],
    )
    collected = Collected()
    poller = Poller(config, collected, transport=httpx.MockTransport(targets))

    await run_for(poller, 3.2)

    for i in range(20):
        polls = [u for u in collected.updates if u.id == f"up{i}:8080"]
        assert len(polls) >= 4, f"up{i} polled {len(polls)} times"
    assert not any(u.id.startswith(("hung", "dead")) for u in collected.updates)
    # Failing targets are backed off (exponentially, with jitter); healthy ones never.
    for url, target in poller.targets.items():
        if "//up" in url:
            assert target.backoff.failures == 0
        else:
            assert target.backoff.failures >= 2, url


async def test_registers_from_info_then_sends_status_with_components_not_up() -> None:
    collected = Collected()
    config = PullConfig(
        interval=0.3, timeout=1, sets=[TargetSet(name="legacy", urls=["http://down1:9000/manage"])]
    )
    poller = Poller(config, collected, transport=httpx.MockTransport(Targets()))

    await run_for(poller, 1.5)

    first, *rest = collected.updates
    assert (first.type, first.id, first.service, first.version) == (
        "register",
        "down1:9000.manage",
        "legacy",
        "0.9",
    )
    assert (first.status, first.components, first.facts) == ("DOWN", ["db"], {"team": "old"})
    assert first.url == "http://down1:9000/manage"
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
    seen: list[str | None] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"status": "UP"})

    config = PullConfig(
        interval=5, sets=[TargetSet(name="s", urls=["http://up1:1/a"], token_env="LEGACY_TOKEN")]
    )
    poller = Poller(config, Collected(), transport=httpx.MockTransport(handler))
    await poller.resolve()
    poller.targets["http://up1:1/a"].due = 0
    poller.schedule()
    await asyncio.sleep(0.3)
    assert seen
    assert set(seen) == {"Bearer legacy-secret"}


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
    targets = Targets()
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
        poller = Poller(config, Collected(), transport=httpx.MockTransport(targets))
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
