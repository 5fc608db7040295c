"""The console's NATS ingest: events from ``<prefix>.>`` into the store, in batches.

Every console shares one stream of events with the others:

- **JetStream** (``nats.jetstream = true``, the default): the console creates
  the stream when it is missing (``<prefix>.>``, work-queue retention: an
  event leaves it once a console acknowledged it, or after ``max_age``) and a
  durable pull consumer all consoles share, so each event goes to one of them.
  It fetches up to ``batch`` events, ingests them in one transaction, and
  acknowledges them only once it is committed; it fetches the next batch while
  one is being stored. A console that dies, or whose
  database is down, leaves its events unacknowledged: they come again (to it
  or another console) after ``ack_wait``, or at once when it gives them back.
  Nothing acknowledged is lost.
- **Core NATS** (``nats.jetstream = false``): a queue-group subscription, so
  each event goes to one listening console. Events published while no console
  listens, or held by a console that dies, are lost (at most once); while the
  database is down a console holds up to ``max_pending`` events and drops the
  oldest past that. Heartbeats repair the state within one heartbeat.

A malformed event (not JSON, not an update, or naming another instance than
its subject) is counted (``fleet_nats_events_total{outcome="malformed"}``),
logged, and dropped: it never stops the consumer. A ``status`` for an
instance the console does not know is answered on the inbox its
``Actuator-Inbox`` header names, and the instance registers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from actuator._calls import cancel_and_wait
from actuator.client import Backoff
from actuator.fleet.config import NatsIngestConfig
from actuator.fleet.model import IngestResult, InstanceUpdate
from actuator.fleet.nats_client import (
    CLOSE_TIMEOUT,
    INBOX_HEADER,
    close_client,
    connect,
    describe,
    event_subject,
    flush,
    load_nats,
    subject_token,
)

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

logger = logging.getLogger("actuator.fleet")

Ingest = Callable[[Sequence[InstanceUpdate]], Awaitable[IngestResult]]


class NatsIngest:
    """Consumes fleet events from NATS into the store (see the module docstring).

    Parameters:
        config: the console's ``[nats]`` section (``url`` set).
        ingest: stores a batch in one transaction (the console's store ingest).
        registry: where the event counter goes (the console's metrics).
        backoff: between failed connections or batches (default: 0.5 s doubling to 60 s).
    """

    def __init__(
        self,
        config: NatsIngestConfig,
        ingest: Ingest,
        registry: CollectorRegistry | None = None,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.nats = load_nats("nats.url")  # at start-up, naming the extra when missing
        self.config = config
        self._ingest = ingest
        self.backoff = backoff or Backoff()
        self.events = Counter(
            "fleet_nats_events",
            "Fleet events taken from NATS, by outcome (ingested, malformed, dropped)",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("ingested", "malformed", "dropped"):
            self.events.labels(outcome)
        self.subscribed = asyncio.Event()
        """Set once the console listens (tests and health wait for it)."""
        self._client: Client | None = None
        self._prefix_tokens = config.subject_prefix.count(".") + 1
        self._last_warning = 0.0
        self._quiet = 0
        self._stopping = False
        self._refused_delay = 0.0

    # -- running ----------------------------------------------------------------

    async def run(self) -> None:
        """Until ``stop()`` and a cancel: connect (with back-off), set up the stream, consume."""
        self._stopping = False
        try:
            while True:
                self._raise_if_stopping()
                try:
                    client = await self._connect()
                    if self.config.jetstream:
                        await self._consume_jetstream(client)
                    else:
                        await self._consume_core(client)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._raise_if_stopping()
                    delay = self.backoff.next()
                    logger.warning(
                        "fleet NATS ingest from %s: %s; retrying in %.1fs",
                        describe(self.config),
                        str(exc) or type(exc).__name__,
                        delay,
                    )
                    self.subscribed.clear()
                    await self._disconnect()
                    await asyncio.sleep(delay)
        finally:
            self.subscribed.clear()
            await self._disconnect()

    def stop(self) -> None:
        """Say the consumer is stopping; then cancel the task running ``run()``.

        Said first because nats-py may swallow the cancellation (``next_msg``
        raises ``ConnectionClosedError`` instead once its connection is closed):
        the loop then stops at its next turn instead of running on for ever while
        ``task.cancel(); await task`` waits.
        """
        self._stopping = True

    def _raise_if_stopping(self) -> None:
        if self._stopping:
            raise asyncio.CancelledError

    async def _connect(self) -> Client:
        if self._client is None or self._client.is_closed:
            self._client = await connect(
                self.config, setting="nats.url", name="actuator fleet console", timeout=10
            )
        return self._client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await close_client(client)

    # -- JetStream --------------------------------------------------------------

    async def _consume_jetstream(self, client: Client) -> None:
        api = self.nats.js.api
        config = self.config
        js = client.jetstream(timeout=10)
        subjects = f"{config.subject_prefix}.>"
        try:
            await js.stream_info(config.stream)
        except self.nats.js.errors.NotFoundError:
            await js.add_stream(
                api.StreamConfig(
                    name=config.stream,
                    subjects=[subjects],
                    retention=api.RetentionPolicy.WORK_QUEUE,
                    storage=api.StorageType.FILE,
                    max_age=config.max_age,
                )
            )
            logger.info("created the JetStream stream %s for %s", config.stream, subjects)
        except (self.nats.errors.NoRespondersError, self.nats.js.errors.ServiceUnavailableError):
            raise ConnectionError(
                "the NATS server has no JetStream: start it with -js, "
                "or set nats.jetstream = false (core NATS, at most once)"
            ) from None
        subscription = await js.pull_subscribe(
            subjects,
            durable=config.consumer,
            stream=config.stream,
            config=api.ConsumerConfig(
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=config.ack_wait,
                # Every console's batches in flight at once (the server's default is 1,000).
                max_ack_pending=max(20_000, 20 * config.batch),
            ),
        )
        self.subscribed.set()
        self.backoff.reset()
        # Fetch the next batch while the last one is being stored: in turn, a console
        # waited on its database most of the time with nothing fetched (the benchmark:
        # one console busy a fifth of a core while the stream held a backlog). Batches
        # are still stored one after the other, in order, each acknowledged once committed.
        storing: asyncio.Task[bool] | None = None
        try:
            while True:
                self._raise_if_stopping()
                try:
                    messages = await subscription.fetch(config.batch, timeout=config.batch_wait)
                except asyncio.TimeoutError:
                    # Nothing came within batch_wait: nats-py raises its own TimeoutError
                    # or, on some paths of fetch, asyncio's (its own is a subclass of it).
                    messages = []
                if storing is not None:
                    stored, storing = await storing, None
                    if not stored:  # refused, and given back: this one too, to keep the order
                        for msg in messages:
                            await msg.nak(delay=self._refused_delay)
                        continue
                if messages:
                    storing = asyncio.create_task(self._handle(client, messages, jetstream=True))
        finally:
            if storing is not None:
                # Unacknowledged, its events come again after ack_wait: nothing is lost.
                await cancel_and_wait(storing, CLOSE_TIMEOUT)

    # -- core NATS --------------------------------------------------------------

    async def _consume_core(self, client: Client) -> None:
        config = self.config
        pending: list[Msg] = []
        full = asyncio.Event()

        async def take(msg: Msg) -> None:
            if len(pending) >= config.max_pending:
                pending.pop(0)
                self.events.labels("dropped").inc()
                self._warn("core NATS: %d events held, the oldest dropped", config.max_pending)
            pending.append(msg)
            if len(pending) >= config.batch:
                full.set()

        subscription = await client.subscribe(
            f"{config.subject_prefix}.>", queue=config.consumer, cb=take
        )
        await flush(client, 10)  # the server has the subscription: listening from now on
        self.subscribed.set()
        self.backoff.reset()
        try:
            while True:
                self._raise_if_stopping()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(full.wait(), config.batch_wait)
                full.clear()
                if not pending:
                    continue
                batch = pending[: config.batch]
                del pending[: config.batch]
                if not await self._handle(client, batch, jetstream=False):
                    pending[:0] = batch  # kept, and tried again after the back-off
                if len(pending) >= config.batch:
                    full.set()
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    # -- one batch --------------------------------------------------------------

    async def _handle(self, client: Client, messages: Sequence[Msg], *, jetstream: bool) -> bool:
        """Ingest a batch; ``False`` (after a back-off) when the store refused it."""
        updates: list[InstanceUpdate] = []
        taken: list[Msg] = []
        inboxes: dict[str, str] = {}
        for msg in messages:
            update = self._parse(msg)
            if update is None:
                self.events.labels("malformed").inc()
                if jetstream:
                    await msg.term()  # never delivered again
                continue
            updates.append(update)
            taken.append(msg)
            inbox = (msg.headers or {}).get(INBOX_HEADER, "")
            if inbox.startswith("_INBOX."):
                inboxes[update.id] = inbox
        try:
            result = await self._ingest(updates)
        except Exception as exc:
            delay = self.backoff.next()
            logger.warning(
                "fleet NATS ingest: storing %d events failed (%s); retrying in %.1fs",
                len(updates),
                str(exc) or type(exc).__name__,
                delay,
            )
            self._refused_delay = delay
            if jetstream:
                for msg in taken:
                    await msg.nak(delay=delay)  # back to the stream, for any console
            await asyncio.sleep(delay)
            return False
        self.backoff.reset()
        if jetstream:
            for msg in taken:
                await msg.ack()  # only now: the batch is committed
        self.events.labels("ingested").inc(len(taken))
        for iid in result.unknown:
            if iid in inboxes:
                await client.publish(inboxes[iid], json.dumps({"unknown": iid}).encode())
        return True

    def _parse(self, msg: Msg) -> InstanceUpdate | None:
        try:
            update = InstanceUpdate.model_validate_json(msg.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "event"
            self._warn(
                "malformed fleet event on %s: %s: %s", msg.subject[:200], where, first["msg"]
            )
            return None
        tokens = msg.subject.split(".")
        if (
            len(tokens) != self._prefix_tokens + 2
            or tokens[-1] != subject_token(update.id)
            or (
                update.type == "register"
                and msg.subject
                != event_subject(self.config.subject_prefix, update.service or "", update.id)
            )
        ):
            self._warn(
                "malformed fleet event on %s: the subject is not <prefix>.<service>.<instance> "
                "of instance %r",
                msg.subject[:200],
                update.id,
            )
            return None
        return update

    def _warn(self, message: str, *args: Any) -> None:
        """Log at most one warning every 10 s, saying how many were left out."""
        now = time.monotonic()
        if now - self._last_warning < 10:
            self._quiet += 1
            return
        if self._quiet:
            message += f" ({self._quiet} more since the last such warning)"
        logger.warning(message, *args)
        self._last_warning, self._quiet = now, 0
