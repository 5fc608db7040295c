"""Real TLS on the management port: client certificates as identities, mutual TLS."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from actuator import Actuator
from actuator.security.tls import rfc4514_name
from actuator.servers.management_server import ManagementServer
from tests.support.secured import Switch, secured_actuator


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {
        "ssl_certfile": folder / "server.pem",
        "ssl_keyfile": folder / "server.key",
        "ssl_ca_certs": folder / "ca.pem",
    }
    cert.cert_chain_pems[0].write_to_path(str(files["ssl_certfile"]))
    cert.private_key_pem.write_to_path(str(files["ssl_keyfile"]))
    ca.cert_pem.write_to_path(str(files["ssl_ca_certs"]))
    return files


def client_context(ca: trustme.CA, common_name: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if common_name is not None:
        ca.issue_cert(
            f"{common_name}.clients.test", common_name=common_name, organization_name="Acme, Inc."
        ).configure_cert(context)
    return context


async def serve(
    server_files: dict[str, Path], client_certs: str
) -> tuple[Actuator, Switch, ManagementServer]:
    actuator, switch = secured_actuator(
        management_server={
            "enabled": True,
            "port": 0,
            "client_certs": client_certs,
            **{k: str(v) for k, v in server_files.items()},
        }
    )
    server = actuator.management_server
    assert server is not None
    await server.start()
    return actuator, switch, server


@pytest.fixture
async def mtls(server_files: dict[str, Path]) -> AsyncIterator[tuple[Switch, str]]:
    _, switch, server = await serve(server_files, "required")
    try:
        yield switch, f"https://127.0.0.1:{server.port}/actuator"
    finally:
        await server.stop()


async def test_a_full_role_certificate_gets_full_access(ca: trustme.CA, mtls: Any) -> None:
    switch, url = mtls
    async with httpx.AsyncClient(verify=client_context(ca, "sre.alice")) as http:
        read = await http.get(f"{url}/switch")
        write = await http.post(f"{url}/switch")
        info = await http.get(f"{url}/info")
    assert read.json()["principal"] == "sre.alice"
    assert read.json()["roles"] == ["full", "read"]
    assert write.status_code == 200
    assert info.status_code == 200
    assert switch.changes == [("write", "sre.alice")]


async def test_a_read_only_certificate_is_refused_on_writes(ca: trustme.CA, mtls: Any) -> None:
    switch, url = mtls
    async with httpx.AsyncClient(verify=client_context(ca, "monitoring")) as http:
        read = await http.get(f"{url}/info")
        write = await http.post(f"{url}/switch")
        delete = await http.delete(f"{url}/switch")
    assert read.status_code == 200
    assert (write.status_code, delete.status_code) == (403, 403)
    assert switch.changes == []


async def test_a_client_without_a_certificate_cannot_connect(ca: trustme.CA, mtls: Any) -> None:
    _, url = mtls
    async with httpx.AsyncClient(verify=client_context(ca, None)) as http:
        with pytest.raises(httpx.TransportError):
            await http.get(f"{url}/health")


async def test_a_certificate_from_another_ca_cannot_connect(ca: trustme.CA, mtls: Any) -> None:
    _, url = mtls
    context = client_context(ca, None)
    trustme.CA().issue_cert("sre.mallory.test", common_name="sre.mallory").configure_cert(context)
    async with httpx.AsyncClient(verify=context) as http:
        with pytest.raises(httpx.TransportError):
            await http.get(f"{url}/health")


async def test_optional_client_certificates_let_others_in_anonymously(
    ca: trustme.CA, server_files: dict[str, Path]
) -> None:
    _, _, server = await serve(server_files, "optional")
    url = f"https://127.0.0.1:{server.port}/actuator"
    try:
        async with httpx.AsyncClient(verify=client_context(ca, None)) as http:
            health = await http.get(f"{url}/health")
            info = await http.get(f"{url}/info")
        async with httpx.AsyncClient(verify=client_context(ca, "monitoring")) as http:
            identified = await http.get(f"{url}/info")
    finally:
        await server.stop()
    assert (health.status_code, info.status_code, identified.status_code) == (503, 401, 200)


def test_rfc4514_name_escapes_and_orders_most_specific_first() -> None:
    subject = (
        (("countryName", "DE"),),
        (("organizationName", "Acme, Inc."),),
        (("commonName", " sre+alice"),),
    )
    assert rfc4514_name(subject) == "CN=\\ sre\\+alice,O=Acme\\, Inc.,C=DE"


def test_missing_tls_files_are_named_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"management_server\.ssl_certfile: no such file"):
        Actuator(
            settings={
                "management_server": {
                    "enabled": True,
                    "ssl_certfile": str(tmp_path / "missing.pem"),
                }
            }
        )


def test_client_certificates_need_a_ca_file() -> None:
    with pytest.raises(ValueError, match=r"management_server.*needs ssl_certfile and ssl_ca_certs"):
        Actuator(settings={"management_server": {"enabled": True, "client_certs": "required"}})
