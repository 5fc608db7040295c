"""Notifications from the status changes the store records, sent once per console fleet.

::

    notifier = Notifier(config.notifications, store, senders, clock=time.time)
    await notifier.run_once()        # one round; the console calls it every `interval`

One round does bounded work, off the ingest path:

1. **Evaluate** (one transaction on the store's writer): read up to ``batch``
   status changes after the cursor kept in ``fleet_notify_cursor``, feed them
   to each matching rule's ``Tracker`` (kept in ``fleet_notify_state``), tick
   the trackers that are due (damping, flapping, reminders), write a
   ``pending`` delivery per channel for each thing to say (``muted`` when a
   mute covers it), and move the cursor. The cursor row is locked for the
   transaction, so two consoles running a round at once evaluate each change
   once: the second waits and then finds the cursor moved.
2. **Deliver**: claim up to ``deliveries`` due deliveries (a compare-and-set
   from ``pending`` to ``sending`` that counts the attempt and sets a lease,
   committed *before* the attempt), send them at most ``concurrency`` at a
   time, each within ``timeout`` seconds, in waves per channel (a channel
   that fails a wave gets no more attempts this round; its other deliveries
   are put back, their attempt not counted), and record the result: ``sent``;
   ``pending`` again after a back-off drawn with full jitter below
   ``RetryPolicy.backoff_bound`` (``actuator.client``); or ``failed`` after
   ``attempts`` attempts or an answer no retry will change.

The guarantee is **at-least-once**: a console that dies during an attempt
leaves the delivery ``sending``; when its lease (``timeout`` plus a margin)
runs out, a round claims it again and sends it again. The log shows the
second attempt, and the document's ``id`` is the same both times, so a
receiver can drop the duplicate. The other choice, at-most-once, would lose
the alert when the console dies at the wrong moment, which is worse for an
alert than a duplicate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from actuator.client import RetryPolicy
from actuator.fleet.dialects import Dialect
from actuator.fleet.model import Page, rollup
from actuator.fleet.notify import message
from actuator.fleet.notify.channels import DeliveryError, Sender
from actuator.fleet.notify.config import MuteConfig, NotifyConfig, RuleConfig
from actuator.fleet.notify.tracker import Decision, Tracker
from actuator.fleet.store import (
    _GROUP_COLUMNS,
    _INSTANCE_COLUMNS,
    SqlStore,
    _group_json,
    _instance_json,
)

logger = logging.getLogger("actuator.fleet.notify")

CURSOR = "notify"
GAP_WAIT = 60.0
"""Seconds a missing event number is looked for again: on PostgreSQL a change
committed by another console can appear after a later one."""
MAX_GAPS = 1000
LEASE_MARGIN = 30.0
_CHUNK = 500
STATES = ("pending", "sending", "sent", "failed", "muted")
"""A delivery's states: waiting (or backing off), being attempted, and the three final ones."""


@dataclass
class RoundResult:
    """What one round did."""

    changes: int = 0
    notifications: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0


@dataclass(frozen=True)
class Mute:
    """An active or future mute: from the configuration (``id`` None) or the API."""

    id: str | None
    starts: float
    ends: float
    spec: MuteConfig
    created: float | None = None
    author: str | None = None

    def covers(self, rule: str, subject: dict[str, Any], now: float) -> bool:
        spec = self.spec
        if not self.starts <= now < self.ends:
            return False
        if spec.rules and rule not in spec.rules:
            return False
        if spec.services and subject["service"] not in spec.services:
            return False
        ids = {subject["id"], subject.get("group")}
        if spec.subjects and not ids & set(spec.subjects):
            return False
        facts = subject["facts"] if subject["kind"] == "instance" else subject["keys"]
        return all(facts.get(k) == v for k, v in spec.where.items())

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": "config" if self.id is None else "api",
            "starts": message.iso(self.starts),
            "ends": message.iso(self.ends),
            "created": message.iso(self.created) if self.created is not None else None,
            "author": self.author,
            **self.spec.model_dump(mode="json", exclude={"starts", "ends"}),
        }


class Notifier:
    """Evaluates the rules and delivers (see the module docstring).

    Parameters:
        config: ``[notifications]`` of the console's configuration.
        store: the console's store; its tables hold the cursor, state and log.
        senders: channel name -> sender (``channels.build_senders``).
        clock: seconds since the epoch (tests pass their own).
        uniform: the jitter's random draw (tests pass their own).
    """

    def __init__(
        self,
        config: NotifyConfig,
        store: SqlStore,
        senders: Mapping[str, Sender],
        *,
        clock: Callable[[], float] = time.time,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.config = config
        self.store = store
        self.senders = dict(senders)
        self.clock = clock
        self.uniform = uniform
        self.policy = RetryPolicy(
            attempts=config.attempts, backoff=config.backoff, max_backoff=config.max_backoff
        )
        self.config_mutes = [
            Mute(None, m.start_time(0.0), m.ends.timestamp(), m) for m in config.mutes
        ]
        self._by_kind: dict[str, list[tuple[str, RuleConfig]]] = {"instance": [], "group": []}
        for name, rule in config.rules.items():
            self._by_kind[rule.on].append((name, rule))

    @property
    def active(self) -> bool:
        return bool(self.config.rules)

    async def run_once(self) -> RoundResult:
        """One round: evaluate, then deliver. Errors propagate (the caller logs them)."""
        result = RoundResult()
        if self.config.rules:
            await self.store.on_writer(lambda conn: self._evaluate(conn, self.clock(), result))
        await self.deliver(result)
        return result

    # -- evaluation (on the writer's thread, one transaction) --------------------

    def _evaluate(self, conn: Any, now: float, result: RoundResult) -> None:
        d = self.store.dialect
        with d.transaction(conn):
            cursor, gaps = self._cursor(d, conn)
            events = d.run(
                conn,
                "SELECT seq, at, kind, subject, status, previous FROM fleet_events "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (cursor, self.config.batch),
            )
            late: list[Any] = []
            if gaps:
                marks = ", ".join("?" * len(gaps))
                late = d.run(
                    conn,
                    "SELECT seq, at, kind, subject, status, previous FROM fleet_events "
                    f"WHERE seq IN ({marks})",
                    list(gaps),
                )
            for row in late:
                gaps.pop(row[0], None)
            expected = cursor + 1
            for row in events:
                for missing in range(expected, min(row[0], expected + MAX_GAPS)):
                    gaps.setdefault(missing, now)
                expected = row[0] + 1
            gaps = {
                seq: seen for seq, seen in sorted(gaps.items())[-MAX_GAPS:] if now - seen < GAP_WAIT
            }
            changes = [*late, *events]
            result.changes = len(changes)
            self._apply(d, conn, changes, now, result)
            d.run(
                conn,
                "UPDATE fleet_notify_cursor SET seq = ?, gaps = ? WHERE name = ?",
                (events[-1][0] if events else cursor, json.dumps(sorted(gaps.items())), CURSOR),
            )
            self._trim(d, conn, now)

    def _cursor(self, d: Dialect, conn: Any) -> tuple[int, dict[int, float]]:
        # The UPDATE locks the row (PostgreSQL) or the database (SQLite's BEGIN
        # IMMEDIATE) until commit: a second console's round waits, then reads
        # the moved cursor.
        rows = d.run(
            conn,
            "UPDATE fleet_notify_cursor SET seq = seq WHERE name = ? RETURNING seq, gaps",
            (CURSOR,),
        )
        if not rows:
            # First round ever: start from now, not from the whole history.
            newest = d.run(conn, "SELECT max(seq) FROM fleet_events")[0][0] or 0
            d.run(
                conn,
                "INSERT INTO fleet_notify_cursor (name, seq, gaps) VALUES (?, ?, '[]') "
                "ON CONFLICT (name) DO NOTHING",
                (CURSOR, newest),
            )
            rows = d.run(
                conn,
                "UPDATE fleet_notify_cursor SET seq = seq WHERE name = ? RETURNING seq, gaps",
                (CURSOR,),
            )
        return int(rows[0][0]), {int(seq): float(seen) for seq, seen in json.loads(rows[0][1])}

    def _apply(
        self,
        d: Dialect,
        conn: Any,
        changes: list[Any],
        now: float,
        result: RoundResult,
    ) -> None:
        instance_ids = {c[3] for c in changes if c[2] == "instance"}
        instances = self._rows(d, conn, "instance", instance_ids)
        group_ids = {c[3] for c in changes if c[2] == "group"}
        percent_rules = [(n, r) for n, r in self._by_kind["group"] if r.down_percent is not None]
        if percent_rules:
            group_ids |= {row["group"] for row in instances.values()}
        # Trackers: those the changes concern, and those due without a change.
        keys = {(n, "instance", i) for n, _ in self._by_kind["instance"] for i in instance_ids}
        keys |= {(n, "group", g) for n, _ in self._by_kind["group"] for g in group_ids}
        trackers = self._load(d, conn, keys, now)
        groups = self._rows(
            d, conn, "group", group_ids | {k[2] for k in trackers if k[1] == "group"}
        )
        instances.update(
            self._rows(
                d, conn, "instance", {k[2] for k in trackers if k[1] == "instance"} - set(instances)
            )
        )
        rows = {"instance": instances, "group": groups}
        touched: set[tuple[str, str, str]] = set()
        for _, at, kind, subject, status, previous in sorted(changes, key=lambda c: c[0]):
            row = rows[kind].get(subject)
            if row is None:
                continue  # deregistered or forgotten since: nothing left to tell about
            for name, rule in self._by_kind[kind]:
                if rule.down_percent is not None or not self._matches(rule, row):
                    continue
                key = (name, kind, subject)
                tracker = trackers.setdefault(key, Tracker())
                if at >= tracker.since:  # a late change older than what is known: stale
                    tracker.observe(status, at, rule, previous)
                touched.add(key)
        for name, rule in percent_rules:
            for gid in group_ids:
                row = groups.get(gid)
                if row is None or not self._matches(rule, row):
                    continue
                key = (name, "group", gid)
                tracker = trackers.setdefault(key, Tracker())
                tracker.observe(rollup(row["counts"], rule.down_percent), now, rule)
                touched.add(key)
        mutes = self._mutes(d, conn, now)
        saves: list[tuple[Any, ...]] = []
        drops: list[tuple[Any, ...]] = []
        deliveries: list[tuple[Any, ...]] = []
        for key, tracker in trackers.items():
            name, kind, subject = key
            configured = self.config.rules.get(name)
            row = rows[kind].get(subject)
            if configured is None or row is None:
                drops.append(key)
                continue
            for decision in tracker.tick(configured, now):
                deliveries += self._deliveries(name, configured, kind, row, decision, mutes, now)
                result.notifications += 1
            saves.append((name, kind, subject, json.dumps(tracker.dump()), tracker.due(configured)))
        d.run_many(
            conn,
            "INSERT INTO fleet_notify_state (rule, kind, subject, data, due) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (rule, kind, subject) "
            "DO UPDATE SET data = excluded.data, due = excluded.due",
            saves,
        )
        d.run_many(
            conn,
            "DELETE FROM fleet_notify_state WHERE rule = ? AND kind = ? AND subject = ?",
            drops,
        )
        d.run_many(
            conn,
            "INSERT INTO fleet_deliveries (created, notification, rule, channel, kind, "
            "subject_kind, subject, status, state, attempts, next_attempt, result, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            deliveries,
        )

    def _deliveries(
        self,
        name: str,
        rule: RuleConfig,
        kind: str,
        row: dict[str, Any],
        decision: Decision,
        mutes: list[Mute],
        now: float,
    ) -> list[tuple[Any, ...]]:
        subject = (
            message.instance_subject(row) if kind == "instance" else message.group_subject(row)
        )
        flap = f" ({rule.flap_changes} changes within {rule.flap_window:g} s)"
        document = message.build(name, decision, subject, created=now, flap=flap)
        muted = next((m for m in mutes if m.covers(name, subject, now)), None)
        state: str = "pending"
        due: float | None = now
        note: str | None = None
        if muted is not None:
            state, due = "muted", None
            note = f"muted by {muted.id or 'the configuration'}" + (
                f": {muted.spec.reason}" if muted.spec.reason else ""
            )
        payload = json.dumps(document)
        return [
            (
                now,
                document["id"],
                name,
                channel,
                decision.kind,
                kind,
                row["id"],
                decision.status,
                state,
                due,
                note,
                payload,
            )
            for channel in rule.channels
        ]

    @staticmethod
    def _matches(rule: RuleConfig, row: dict[str, Any]) -> bool:
        return rule.matches(row["service"], row["facts"] if "facts" in row else row["keys"])

    def _rows(
        self, d: Dialect, conn: Any, kind: str, ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        table, columns, convert = (
            ("fleet_instances", _INSTANCE_COLUMNS, _instance_json)
            if kind == "instance"
            else ("fleet_groups", _GROUP_COLUMNS, _group_json)
        )
        found: dict[str, dict[str, Any]] = {}
        ordered = sorted(ids)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in d.run(conn, f"SELECT {columns} FROM {table} WHERE id IN ({marks})", chunk):
                item = convert(row)
                found[item["id"]] = item
        return found

    def _load(
        self, d: Dialect, conn: Any, keys: set[tuple[str, str, str]], now: float
    ) -> dict[tuple[str, str, str], Tracker]:
        loaded: dict[tuple[str, str, str], Tracker] = {}
        subjects = sorted({k[2] for k in keys})
        rows: list[Any] = []
        for start in range(0, len(subjects), _CHUNK):
            chunk = subjects[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows += d.run(
                conn,
                "SELECT rule, kind, subject, data FROM fleet_notify_state "
                f"WHERE subject IN ({marks})",
                chunk,
            )
        rows += d.run(
            conn,
            "SELECT rule, kind, subject, data FROM fleet_notify_state "
            "WHERE due <= ? ORDER BY due LIMIT ?",
            (now, self.config.batch),
        )
        for rule, kind, subject, data in rows:
            loaded[(rule, kind, subject)] = Tracker.load(json.loads(data))
        return loaded

    def _mutes(self, d: Dialect, conn: Any, now: float) -> list[Mute]:
        stored = d.run(
            conn,
            "SELECT id, created, starts, ends, author, spec FROM fleet_mutes "
            "WHERE starts <= ? AND ends > ?",
            (now, now),
        )
        return [*self.config_mutes, *(_mute(row) for row in stored)]

    def _trim(self, d: Dialect, conn: Any, now: float) -> None:
        newest = d.run(conn, "SELECT max(id) FROM fleet_deliveries")[0][0]
        if newest is not None:
            d.run(
                conn,
                "DELETE FROM fleet_deliveries "
                "WHERE id <= ? AND state IN ('sent', 'failed', 'muted')",
                (newest - self.config.keep,),
            )
        d.run(conn, "DELETE FROM fleet_mutes WHERE ends <= ?", (now,))

    # -- delivery ------------------------------------------------------------------

    async def deliver(self, result: RoundResult | None = None) -> RoundResult:
        """Claim the due deliveries, attempt each once, and record the results."""
        result = result or RoundResult()
        now = self.clock()
        claimed = await self.store.on_writer(lambda conn: self._claim(conn, now))
        if not claimed:
            return result
        gate = asyncio.Semaphore(self.config.concurrency)
        by_channel: dict[str, list[tuple[int, str, dict[str, Any], int]]] = {}
        for item in claimed:
            by_channel.setdefault(item[1], []).append(item)
        outcomes: list[_Outcome] = []
        released: list[int] = []

        async def attempt(item: tuple[int, str, dict[str, Any], int]) -> _Outcome:
            async with gate:
                return await self._attempt(*item)

        async def channel_waves(items: list[tuple[int, str, dict[str, Any], int]]) -> None:
            # A channel that fails (a timeout, a refused connection, a 5xx) gets no more
            # attempts this round: a dead channel costs one deadline per round, not one
            # per delivery, and the rest wait for its back-off without losing an attempt.
            size = self.config.concurrency
            for start in range(0, len(items), size):
                wave = await asyncio.gather(*(attempt(i) for i in items[start : start + size]))
                outcomes.extend(wave)
                if any(not o.sent and o.retry for o in wave):
                    released.extend(i[0] for i in items[start + size :])
                    return

        await asyncio.gather(*(channel_waves(items) for items in by_channel.values()))
        done = self.clock()
        updates: list[tuple[str, float | None, str, int]] = []
        for outcome in outcomes:
            if outcome.sent:
                result.sent += 1
                updates.append(("sent", None, outcome.result, outcome.delivery_id))
            elif outcome.retry and outcome.attempts < self.config.attempts:
                result.retrying += 1
                wait = self.uniform(0.0, self.policy.backoff_bound(outcome.attempts - 1))
                updates.append(("pending", done + wait, outcome.result, outcome.delivery_id))
            else:
                result.failed += 1
                updates.append(("failed", None, outcome.result, outcome.delivery_id))
        back = done + self.uniform(0.0, self.policy.backoff_bound(0)) if released else done
        result.retrying += len(released)

        def record(conn: Any) -> None:
            d = self.store.dialect
            d.run_many(
                conn,
                "UPDATE fleet_deliveries SET state = ?, next_attempt = ?, result = ? WHERE id = ?",
                updates,
            )
            d.run_many(
                conn,
                "UPDATE fleet_deliveries SET state = 'pending', attempts = attempts - 1, "
                "next_attempt = ? WHERE id = ?",
                [(back, delivery_id) for delivery_id in released],
            )

        await self.store.on_writer(record)
        return result

    def _claim(self, conn: Any, now: float) -> list[tuple[int, str, dict[str, Any], int]]:
        d = self.store.dialect
        claimed = []
        lease = now + self.config.timeout + LEASE_MARGIN
        with d.transaction(conn):
            due = d.run(
                conn,
                "SELECT id, channel, payload, attempts, state FROM fleet_deliveries "
                "WHERE state IN ('pending', 'sending') AND next_attempt <= ? "
                "ORDER BY next_attempt, id LIMIT ?",
                (now, self.config.deliveries),
            )
            for delivery_id, channel, payload, attempts, state in due:
                if state == "sending" and attempts >= self.config.attempts:
                    d.run(
                        conn,
                        "UPDATE fleet_deliveries SET state = 'failed', next_attempt = NULL, "
                        "result = ? WHERE id = ?",
                        (f"the console stopped during attempt {attempts}", delivery_id),
                    )
                    continue
                if channel not in self.senders:
                    d.run(
                        conn,
                        "UPDATE fleet_deliveries SET state = 'failed', next_attempt = NULL, "
                        "result = ? WHERE id = ?",
                        (f"channel {channel!r} is no longer configured", delivery_id),
                    )
                    continue
                # Compare-and-set: another console claiming the same row finds it changed.
                won = d.run(
                    conn,
                    "UPDATE fleet_deliveries SET state = 'sending', attempts = attempts + 1, "
                    "last_attempt = ?, next_attempt = ? "
                    "WHERE id = ? AND state = ? AND attempts = ? RETURNING id",
                    (now, lease, delivery_id, state, attempts),
                )
                if won:
                    claimed.append((delivery_id, channel, json.loads(payload), attempts + 1))
        return claimed

    async def _attempt(
        self, delivery_id: int, channel: str, document: dict[str, Any], attempts: int
    ) -> _Outcome:
        """One attempt within the deadline; never raises."""
        sender = self.senders[channel]
        timeout = self.config.timeout
        try:
            result = await asyncio.wait_for(sender.send(document, timeout), timeout)
        except DeliveryError as exc:
            logger.warning("notification to %s failed (attempt %d): %s", channel, attempts, exc)
            return _Outcome(delivery_id, attempts, False, exc.retry, str(exc))
        except asyncio.TimeoutError:
            logger.warning("notification to %s timed out (attempt %d)", channel, attempts)
            return _Outcome(delivery_id, attempts, False, True, f"no answer within {timeout:g} s")
        except Exception as exc:  # a sender's bug must not stop the other deliveries
            logger.error(
                "notification to %s failed (attempt %d): %s", channel, attempts, type(exc).__name__
            )
            return _Outcome(delivery_id, attempts, False, True, type(exc).__name__)
        return _Outcome(delivery_id, attempts, True, False, result)

    # -- the delivery log and the mutes, for the API ---------------------------------

    async def log(
        self, *, states: list[str], channels: list[str], rules: list[str], offset: int, limit: int
    ) -> Page:
        """A page of the delivery log, newest first."""
        clauses, params = [], []
        for column, values in (("state", states), ("channel", channels), ("rule", rules)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += values
        where = " AND ".join(clauses) or "1 = 1"

        def work(conn: Any) -> Page:
            d = self.store.dialect
            total = d.run(conn, f"SELECT count(*) FROM fleet_deliveries WHERE {where}", params)
            rows = d.run(
                conn,
                f"SELECT {_DELIVERY_COLUMNS} FROM fleet_deliveries WHERE {where} "
                "ORDER BY id DESC LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
            return Page([_delivery_json(row) for row in rows], int(total[0][0]), offset, limit)

        return await self.store.on_reader(work)

    async def mutes(self, *, offset: int, limit: int) -> Page:
        """The mutes that have not ended (configured ones first), by end time."""
        now = self.clock()

        def work(conn: Any) -> list[Any]:
            return self.store.dialect.run(
                conn,
                "SELECT id, created, starts, ends, author, spec FROM fleet_mutes "
                "WHERE ends > ? ORDER BY ends, id",
                (now,),
            )

        stored = [_mute(row) for row in await self.store.on_reader(work)]
        current = [m for m in self.config_mutes if m.ends > now] + stored
        items = [m.json() for m in current[offset : offset + limit]]
        return Page(items, len(current), offset, limit)

    async def add_mute(self, spec: MuteConfig, author: str | None) -> dict[str, Any]:
        now = self.clock()
        if spec.ends.timestamp() <= now:
            raise ValueError("ends: the mute would already be over")
        mute = Mute(
            message.new_id()[:16], spec.start_time(now), spec.ends.timestamp(), spec, now, author
        )
        await self.store.on_writer(
            lambda conn: self.store.dialect.run(
                conn,
                "INSERT INTO fleet_mutes (id, created, starts, ends, author, spec) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (mute.id, now, mute.starts, mute.ends, author, spec.model_dump_json()),
            )
        )
        return mute.json()

    async def remove_mute(self, mute_id: str) -> bool:
        """End a mute made through the API; ``False`` if there is none by that id."""
        rows = await self.store.on_writer(
            lambda conn: self.store.dialect.run(
                conn, "DELETE FROM fleet_mutes WHERE id = ? RETURNING id", (mute_id,)
            )
        )
        return bool(rows)


@dataclass(frozen=True)
class _Outcome:
    delivery_id: int
    attempts: int
    sent: bool
    retry: bool
    result: str


_DELIVERY_COLUMNS = (
    "id, created, notification, rule, channel, kind, subject_kind, subject, status, state, "
    "attempts, next_attempt, last_attempt, result, payload"
)


def _delivery_json(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        delivery_id,
        created,
        notification,
        rule,
        channel,
        kind,
        subject_kind,
        subject,
        status,
        state,
        attempts,
        next_attempt,
        last_attempt,
        result,
        payload,
    ) = row
    document = json.loads(payload)
    return {
        "id": int(delivery_id),
        "notification": notification,
        "created": message.iso(created),
        "rule": rule,
        "channel": channel,
        "kind": kind,
        "subject": {"kind": subject_kind, "id": subject},
        "status": status,
        "summary": document.get("summary"),
        "state": state,
        "attempts": int(attempts),
        "lastAttempt": message.iso(last_attempt) if last_attempt is not None else None,
        "nextAttempt": (
            message.iso(next_attempt) if next_attempt is not None and state == "pending" else None
        ),
        "result": result,
        "document": document,
    }


def _mute(row: tuple[Any, ...]) -> Mute:
    mute_id, created, starts, ends, author, spec = row
    return Mute(
        mute_id,
        float(starts),
        float(ends),
        MuteConfig.model_validate_json(spec),
        float(created),
        author,
    )
