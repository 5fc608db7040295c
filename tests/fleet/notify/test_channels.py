"""Each channel against a real local server: uvicorn for webhooks, aiosmtpd for email."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from actuator.fleet.notify.channels import DeliveryError, RedactingFilter, build_senders
from actuator.fleet.notify.config import NotifyConfig
from actuator.fleet.notify.message import build
from actuator.fleet.notify.tracker import Decision
from tests.fleet.notify.support import smtp_server, webhook_server
from tests.support.server import free_port

SUBJECT = {
    "kind": "instance",
    "id": "orders-1",
    "service": "orders",
    "group": "65f0075f5db0e676",
    "version": "1.4.2",
    "url": "http://orders-1:8080/actuator",
    "facts": {"environment": "prod"},
    "componentsDown": ["db"],
}


def document() -> dict[str, Any]:
    return build("down", Decision("change", "DOWN", "UP", 1_800_000_000.0), SUBJECT, created=1.8e9)


def senders(channels: dict[str, Any], environ: dict[str, str], client: Any = None) -> Any:
    config = NotifyConfig.model_validate({"channels": channels})
    return build_senders(config, environ, client)


async def test_the_webhook_posts_the_document_with_its_headers() -> None:
    with webhook_server() as (receiver, url):
        async with httpx.AsyncClient() as client:
            channel = {
                "type": "webhook",
                "url": url + "/in",
                "headers": {"X-Env": "prod"},
                "headers_env": {"Authorization": "TOKEN"},
            }
            sender = senders({"ops": channel}, {"TOKEN": "Bearer abc123"}, client)["ops"]
            sent = document()
            assert await sender.send(sent, 2.0) == "HTTP 200"
    [request] = receiver.received
    assert request.body == sent
    assert request.headers["x-env"] == "prod"
    assert request.headers["authorization"] == "Bearer abc123"
    assert request.headers["user-agent"] == "asgi-actuator-fleet-notify"


async def test_slack_gets_the_summary_as_text() -> None:
    with webhook_server() as (receiver, url):
        async with httpx.AsyncClient() as client:
            sender = senders(
                {"chat": {"type": "slack", "url_env": "SLACK"}}, {"SLACK": url}, client
            )
            await sender["chat"].send(document(), 2.0)
    assert receiver.bodies() == [{"text": "orders-1 (orders) is DOWN (was UP): db"}]


async def test_a_refused_connection_is_a_retryable_error_without_the_url() -> None:
    secret_url = f"http://127.0.0.1:{free_port()}/services/T0/B0/verysecrettoken"
    async with httpx.AsyncClient() as client:
        sender = senders({"chat": {"type": "slack", "url_env": "S"}}, {"S": secret_url}, client)
        with pytest.raises(DeliveryError) as caught:
            await sender["chat"].send(document(), 2.0)
    assert caught.value.retry
    assert caught.value.args[0].startswith("ConnectError")
    assert "verysecrettoken" not in str(caught.value)


async def test_email_goes_through_a_plain_smtp_server() -> None:
    with smtp_server() as server:
        channel = {
            "type": "email",
            "host": "127.0.0.1",
            "port": server.port,
            "security": "none",
            "sender": "fleet@example.com",
            "to": ["ops@example.com", "sre@example.com"],
        }
        sent = document()
        result = await senders({"mail": channel}, {})["mail"].send(sent, 5.0)
    assert result == "accepted for 2 recipient(s)"
    [mail] = server.mailbox.messages
    assert mail["Subject"] == "[fleet] orders-1 (orders) is DOWN (was UP): db"
    assert mail["X-Fleet-Notification-Id"] == sent["id"]
    body = mail.get_payload()
    assert "Status:   DOWN (before: UP)" in body
    assert "Actuator: http://orders-1:8080/actuator" in body
    assert server.mailbox.envelopes == [
        ("fleet@example.com", ["ops@example.com", "sre@example.com"])
    ]


async def test_email_logs_in_over_starttls(tmp_path: Path) -> None:
    with smtp_server(tmp_path=tmp_path, login=("fleet", "s3cret-pw")) as server:
        channel = {
            "type": "email",
            "host": "127.0.0.1",
            "port": server.port,
            "security": "starttls",
            "ca_file": server.ca_file,
            "username": "fleet",
            "password_env": "SMTP_PASSWORD",
            "sender": "fleet@example.com",
            "to": ["ops@example.com"],
        }
        good = senders({"mail": channel}, {"SMTP_PASSWORD": "s3cret-pw"})["mail"]
        await good.send(document(), 5.0)
        bad = senders({"mail": channel}, {"SMTP_PASSWORD": "wrong-pw-123"})["mail"]
        with pytest.raises(DeliveryError) as caught:
            await bad.send(document(), 5.0)
    assert len(server.mailbox.messages) == 1
    assert caught.value.args[0].startswith("SMTPAuthenticationError")
    assert not caught.value.retry
    assert "wrong-pw-123" not in str(caught.value)


async def test_email_speaks_tls_from_the_first_byte(tmp_path: Path) -> None:
    with smtp_server(tmp_path=tmp_path, implicit_tls=True) as server:
        channel = {
            "type": "email",
            "host": "127.0.0.1",
            "port": server.port,
            "security": "tls",
            "ca_file": server.ca_file,
            "sender": "fleet@example.com",
            "to": ["ops@example.com"],
        }
        await senders({"mail": channel}, {})["mail"].send(document(), 5.0)
    assert len(server.mailbox.messages) == 1


async def test_email_to_a_server_that_is_not_there_is_retryable() -> None:
    channel = {
        "type": "email",
        "host": "127.0.0.1",
        "port": free_port(),
        "security": "none",
        "sender": "fleet@example.com",
        "to": ["ops@example.com"],
    }
    with pytest.raises(DeliveryError) as caught:
        await senders({"mail": channel}, {})["mail"].send(document(), 2.0)
    assert caught.value.retry


def test_the_redacting_filter_masks_secrets_in_library_log_records(
    caplog: pytest.LogCaptureFixture,
) -> None:
    library = logging.getLogger("tests.library")
    guard = RedactingFilter(["https://hooks.example/T0/B0/abcdef"])
    library.addFilter(guard)
    try:
        with caplog.at_level(logging.INFO, logger="tests.library"):
            library.info("HTTP Request: %s %s", "POST", "https://hooks.example/T0/B0/abcdef")
    finally:
        library.removeFilter(guard)
    assert caplog.messages == ["HTTP Request: POST ******"]
