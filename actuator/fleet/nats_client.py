"""What instances and consoles share about NATS: connecting, subjects, the reply header.

nats-py (the official client) is imported only here, and only when a NATS URL
is configured: the middleware stays as light as before for everyone else, and
a missing client is a clear error naming the extra to install.

Subjects: ``<prefix>.<service>.<instance>`` (``actuator.fleet.orders.orders-7f9c-1``),
each name made a single subject token (``.``, ``*``, ``>`` and spaces become
``_``), so NATS permissions can confine a service's credentials to its own
subjects (``actuator.fleet.orders.>``). A console that learns of an instance
it does not know answers on the inbox the event names in its ``Actuator-Inbox``
header, and the instance registers again.
"""

from __future__ import annotations

import logging
import re
import ssl
from typing import TYPE_CHECKING, Any

from actuator._calls import within
from actuator.settings import NatsSettings

if TYPE_CHECKING:
    from nats.aio.client import Client

logger = logging.getLogger("actuator.fleet")

INBOX_HEADER = "Actuator-Inbox"
"""The header naming where a console tells an instance that it does not know it."""

_NOT_A_TOKEN = re.compile(r"[.*>\s]")


def load_nats(setting: str) -> Any:
    """The ``nats`` module; ``ImportError`` naming the extra when it is not installed."""
    try:
        import nats
    except ImportError:
        raise ImportError(
            f"{setting} is set but the NATS client (nats-py) is not installed: "
            "pip install 'asgi-actuator[nats]' (or [fleet] for the console)"
        ) from None
    return nats


def subject_token(name: str) -> str:
    """``name`` as one NATS subject token."""
    return _NOT_A_TOKEN.sub("_", name)[:200] or "_"


def event_subject(prefix: str, service: str, instance_id: str) -> str:
    return f"{prefix}.{subject_token(service)}.{subject_token(instance_id)}"


def tls_context(settings: NatsSettings) -> ssl.SSLContext | None:
    """A client TLS context for ``tls://`` servers or configured certificates, else ``None``."""
    wanted = any(url.startswith("tls://") for url in settings.servers)
    if not (wanted or settings.tls_ca or settings.tls_cert):
        return None
    context = ssl.create_default_context(cafile=str(settings.tls_ca) if settings.tls_ca else None)
    if settings.tls_cert is not None:
        context.load_cert_chain(
            str(settings.tls_cert), str(settings.tls_key) if settings.tls_key else None
        )
    return context


def describe(settings: NatsSettings) -> str:
    """The servers, for logs (the URL never holds credentials: the settings refuse them)."""
    return settings.url or "(no NATS URL)"


async def flush(client: Client, timeout: float) -> None:
    """Return once the server has everything this client has written so far.

    nats-py's ``flush()`` (2.16) writes its PING straight to the socket, ahead of
    the commands its flusher task has not written yet: its PONG can come back
    before a SUB or PUB made just before it reached the server (seen in the
    server's trace: PING, PONG, then SUB). The second PING is written after
    them, so its PONG proves they arrived.
    """
    seconds = max(1, round(timeout))
    await client.flush(timeout=seconds)
    await client.flush(timeout=seconds)


CLOSE_TIMEOUT = 5.0
"""Seconds a connection may take to close before it is left to the garbage collector."""


async def close_client(client: Client, timeout: float = CLOSE_TIMEOUT) -> None:
    """Close a connection, giving up after ``timeout`` seconds.

    nats-py's ``close()`` has no deadline of its own and can wait for ever on a
    transport that never finishes closing (nats-io/nats.py#671), and it swallows
    one cancellation while it waits for its reconnection to end, which
    ``asyncio.wait_for`` before Python 3.12 then waits on for ever: a stop must not.
    """
    if client.is_closed:
        return
    try:
        await within(client.close(), timeout)
    except Exception as exc:  # TimeoutError, or the connection's own error
        logger.debug("NATS close did not finish: %s", str(exc) or type(exc).__name__)


async def connect(settings: NatsSettings, *, setting: str, name: str, timeout: float) -> Client:
    """A connection that reconnects by itself, logging each outage once.

    Raises ``TimeoutError`` when no server let it in within ``timeout`` (the
    reason, such as an authorization violation, is logged).
    """
    nats = load_nats(setting)
    target = describe(settings)
    outage = {"down": False}

    client: Client = nats.NATS()

    async def error(exc: Exception) -> None:
        if not outage["down"]:
            logger.warning("NATS %s: %s", target, str(exc) or type(exc).__name__)
        outage["down"] = True

    async def disconnected() -> None:
        if client.is_closed:  # closed on purpose, not an outage
            return
        if not outage["down"]:
            logger.warning("NATS %s: disconnected; reconnecting", target)
        outage["down"] = True

    async def reconnected() -> None:
        logger.info("NATS %s: reconnected", target)
        outage["down"] = False

    options: dict[str, Any] = {
        "servers": settings.servers,
        "name": name,
        "connect_timeout": max(1, round(timeout)),
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 2,
        "error_cb": error,
        "disconnected_cb": disconnected,
        "reconnected_cb": reconnected,
        "tls": tls_context(settings),
    }
    if settings.token is not None:
        options["token"] = settings.token.get_secret_value()
    if settings.user is not None and settings.password is not None:
        options["user"] = settings.user
        options["password"] = settings.password.get_secret_value()
    try:
        await within(client.connect(**options), timeout)
    except BaseException:
        await close_client(client)
        raise
    return client
