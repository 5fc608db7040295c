"""The fleet push over NATS: each update one JSON event on ``<prefix>.<service>.<instance>``.

``FleetPusher`` uses this transport when ``fleet.nats.url`` is set; its loop,
deadlines and back-off are the HTTP push's. With ``fleet.nats.jetstream``
(the default) each event is published through JetStream and counts as sent
once the stream has stored it (the stream's acknowledgement), so an event
survives consoles that are down or restarting; with core NATS it counts as
sent once the server has it (a flush), and reaches only consoles listening
at that moment.

The instance listens on an inbox of its own, named in each event's
``Actuator-Inbox`` header: a console that does not know the instance (a new
database) says so there, and the pusher registers again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actuator.fleet.nats_client import (
    INBOX_HEADER,
    close_client,
    connect,
    describe,
    event_subject,
    flush,
    load_nats,
)
from actuator.settings import FleetSettings

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

logger = logging.getLogger("actuator.fleet")


class NatsTransport:
    """Publishes updates to NATS (see the module docstring).

    Parameters:
        settings: the ``fleet`` settings (``nats.url`` set).
        instance_id: this instance's id.
        wake: called (from the event loop) when a console says it does not know us.
    """

    def __init__(
        self, settings: FleetSettings, instance_id: str, wake: Callable[[], None] | None = None
    ) -> None:
        load_nats("fleet.nats.url")  # fail at start-up, naming the extra, when it is missing
        self.settings = settings
        self.nats = settings.nats
        self.instance_id = instance_id
        self.target = describe(self.nats)
        self._wake = wake
        self._client: Client | None = None
        self._inbox = ""
        self._subject = event_subject(self.nats.subject_prefix, "unnamed", instance_id)
        self._forgotten = False

    async def start(self) -> None:
        """Nothing yet: the connection is made by the first send, under its deadline."""

    async def _connected(self) -> Client:
        if self._client is not None and not self._client.is_closed:
            return self._client
        client = await connect(
            self.nats,
            setting="fleet.nats.url",
            name=f"actuator {self.instance_id}",
            timeout=self.settings.timeout,
        )
        try:
            inbox = client.new_inbox()
            await client.subscribe(inbox, cb=self._notice)
        except BaseException:
            await close_client(client)
            raise
        self._client, self._inbox = client, inbox
        return client

    async def send(self, updates: list[dict[str, Any]]) -> None:
        client = await self._connected()
        headers = {INBOX_HEADER: self._inbox}
        for update in updates:
            if update.get("type") == "register":
                self._subject = event_subject(
                    self.nats.subject_prefix, str(update.get("service") or "unnamed"), update["id"]
                )
            payload = json.dumps(update, separators=(",", ":")).encode()
            if self.nats.jetstream:
                await self._jetstream_publish(client, payload, headers)
            else:
                await client.publish(self._subject, payload, headers=headers)
        if not self.nats.jetstream:
            await flush(client, self.settings.timeout)

    async def _jetstream_publish(
        self, client: Client, payload: bytes, headers: dict[str, str]
    ) -> None:
        nats = load_nats("fleet.nats.url")
        try:
            await client.jetstream().publish(
                self._subject, payload, timeout=self.settings.timeout, headers=headers
            )
        except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError):
            raise ConnectionError(
                f"no JetStream stream takes {self._subject!r}: start a console with "
                "JetStream (it creates the stream), or set fleet.nats.jetstream=false "
                "on instances and consoles alike"
            ) from None

    async def _notice(self, msg: Msg) -> None:
        try:
            notice = json.loads(msg.data)
        except ValueError:
            return
        if isinstance(notice, dict) and notice.get("unknown") == self.instance_id:
            logger.info("the fleet console does not know this instance; registering again")
            self._forgotten = True
            if self._wake is not None:
                self._wake()

    def forgotten(self) -> bool:
        forgotten, self._forgotten = self._forgotten, False
        return forgotten

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            try:
                await flush(client, self.settings.timeout)
            except Exception as exc:
                logger.debug("NATS flush on close failed: %s", exc)
            await close_client(client)
