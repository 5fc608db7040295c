"""Real servers for the notification tests: a webhook receiver (uvicorn) and SMTP (aiosmtpd)."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.support.server import free_port
from tests.support.threaded import ThreadedUvicorn


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """An ASGI app that records every POST and answers as told.

    ``fail``: the next that many requests get ``fail_status``; between ``hold()``
    and ``release()`` requests wait (or until the client gives up).
    """

    fail: int = 0
    fail_status: int = 503
    received: list[Received] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            event = await receive()
            chunks.append(event.get("body", b""))
            if not event.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.received.append(Received(scope["path"], headers, json.loads(b"".join(chunks))))
        self.arrived.set()
        if not self.gate.is_set():
            await asyncio.to_thread(self.gate.wait, 60)
        status = 200
        if self.fail:
            self.fail -= 1
            status = self.fail_status
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def bodies(self) -> list[Any]:
        return [r.body for r in self.received]


@contextmanager
def webhook_server() -> Iterator[tuple[Receiver, str]]:
    """A real uvicorn serving a ``Receiver``; yields it and its base URL."""
    receiver = Receiver()
    with ThreadedUvicorn(receiver) as server:
        yield receiver, server.url
        receiver.release()


class Mailbox:
    """aiosmtpd's handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(message_from_bytes(content))
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class MailServer:
    mailbox: Mailbox
    port: int
    ca_file: str | None = None


@contextmanager
def smtp_server(
    *, tmp_path: Any = None, login: tuple[str, str] | None = None, implicit_tls: bool = False
) -> Iterator[MailServer]:
    """A real SMTP server on a free port; with ``login`` it offers STARTTLS (a trustme
    certificate; its CA written under ``tmp_path``) and requires that login over TLS;
    with ``implicit_tls`` it speaks TLS from the first byte (port 465 style)."""
    mailbox = Mailbox()
    port = free_port()
    options: dict[str, Any] = {}
    ca_file = None
    if login is not None or implicit_tls:
        authority = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(context)
        ca_file = str(tmp_path / "smtp-ca.pem")
        authority.cert_pem.write_to_path(ca_file)
    if implicit_tls:
        options = {"ssl_context": context}
    if login is not None:

        def check(
            server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (data.login.decode(), data.password.decode()) == login
            )
            return AuthResult(success=ok, handled=False)

        options = {
            "tls_context": context,
            "require_starttls": True,
            "authenticator": check,
            "auth_require_tls": True,
        }
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield MailServer(mailbox, port, ca_file)
    finally:
        controller.stop()


ADMIN_TOKEN = "admin-token-0123456789abcdefghij"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def notify_config(
    database: str,
    channels: dict[str, Any],
    rules: dict[str, Any],
    **notifications: Any,
) -> Any:
    """A console configuration with notifications; ``ops`` reads, ``admin`` has the full role."""
    from actuator import hash_token
    from tests.fleet.support import CONSOLE_SETTINGS, READ_TOKEN, console_config

    settings = {
        **CONSOLE_SETTINGS,
        "security": {
            "tokens": {"ops": hash_token(READ_TOKEN), "admin": hash_token(ADMIN_TOKEN)},
            "roles": {"read": ["ops"], "full": ["admin"]},
        },
    }
    return console_config(
        database,
        settings=settings,
        notifications={
            "timeout": 2,
            "backoff": 1,
            "max_backoff": 8,
            "channels": channels,
            "rules": rules,
            **notifications,
        },
    )
