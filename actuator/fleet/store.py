"""The fleet store: one narrow interface, on SQLite (default) or PostgreSQL.

::

    store = open_store("sqlite:///fleet.db", Grouping())
    await store.open()                      # creates or migrates the schema
    await store.ingest(batch.updates, now=time.time())
    page = await store.instances(InstanceQuery(statuses=["DOWN"], facts={"team": "orders"}))
    await store.sweep(now, disconnect_after=300, forget_after=7 * 86400)
    await store.close()

As Chef Automate's applications-service learned: one denormalized row per
instance, written by batched upserts (``ON CONFLICT DO UPDATE``) in one
transaction per batch; group rollups recomputed by aggregate queries on an
index, only for the groups a batch changed (heartbeats change no group);
filters, sort and pages in the database. History gets a row per status
change, never per heartbeat.

Each store keeps two connections on two worker threads: the writer (ingest,
sweep) and the reader (queries), so queries never wait behind a batch (SQLite
in WAL mode; PostgreSQL by its nature).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

from actuator.fleet.dialects import Dialect, Row, dialect_for
from actuator.fleet.model import (
    DISCONNECTED,
    DOWN,
    GROUP_SORTS,
    INSTANCE_SORTS,
    UP,
    Grouping,
    GroupQuery,
    IngestResult,
    InstanceQuery,
    InstanceUpdate,
    Page,
    SweepResult,
    fact_text,
    rank,
    rollup,
    versions_summary,
)
from actuator.fleet.sba_server import Registration

logger = logging.getLogger("actuator.fleet")

T = TypeVar("T")
Key = TypeVar("Key", bound=tuple[str, ...])
_CHUNK = 500  # ids per IN (...) list: well under both engines' parameter limits

_INSTANCE_COLUMNS = (
    "id, service, group_id, status, previous_status, status_since, last_seen, "
    "registered, version, url, components, facts, build, git"
)
_GROUP_COLUMNS = (
    "id, service, name, keys, status, previous_status, status_since, total, up, "
    "down, disconnected, percent_up, counts, versions"
)
_INSTANCE_ORDER = {
    "id": "id",
    "service": "service, id",
    "status": "rank {dir}, id",
    "version": "version {dir}, id",
    "lastSeen": "last_seen {dir}, id",
    "statusSince": "status_since {dir}, id",
}
# Instance sorts an index serves in their order (fleet_instances_rank and _worst, the key,
# fleet_instances_service).
_INDEXED_INSTANCE_SORTS = frozenset({"status", "id", "service"})
_GROUP_ORDER = {
    "name": "name {dir}",
    "status": "rank {dir}, name",
    "percentUp": "percent_up {dir}, name",
    "statusSince": "status_since {dir}, name",
    "instances": "total {dir}, name",
}


class FleetStore(Protocol):
    """What the console needs from storage; ``SqlStore`` implements it for both engines."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    async def ingest(self, updates: Sequence[InstanceUpdate], now: float) -> IngestResult: ...
    async def instances(self, query: InstanceQuery) -> Page: ...
    async def instance(self, instance_id: str) -> dict[str, Any] | None: ...
    async def groups(self, query: GroupQuery) -> Page: ...
    async def group(self, group_id: str) -> dict[str, Any] | None: ...
    async def history(self, kind: str, subject: str, limit: int = 50) -> list[dict[str, Any]]: ...
    async def counts(self) -> dict[str, Any]: ...
    async def save_registration(self, registration: Registration, now: float) -> bool: ...
    async def delete_registration(self, registration_id: str) -> bool: ...
    async def registrations(self) -> list[Registration]: ...
    async def stamp(self) -> str: ...
    async def rollup_counts(self) -> dict[str, Any]: ...
    async def sweep(
        self,
        now: float,
        *,
        disconnect_after: float,
        forget_after: float,
        keep_events: int = 100_000,
        events_max_age: float = 30 * 86400,
    ) -> SweepResult: ...


def open_store(url: str, grouping: Grouping | None = None) -> SqlStore:
    """A store for ``sqlite:///path``, a file path, or ``postgresql://...`` (not opened yet)."""
    return SqlStore(dialect_for(url), grouping or Grouping())


class _Worker:
    """One connection used from one thread, so neither driver is shared across threads."""

    def __init__(self, dialect: Dialect, name: str) -> None:
        self.dialect = dialect
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fleet-{name}")
        self.conn: Any = None

    async def call(self, work: Callable[[Any], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._run, work)

    def _run(self, work: Callable[[Any], T]) -> T:
        if self.conn is None:
            self.conn = self.dialect.connect()
        return work(self.conn)

    def close(self) -> None:
        def _close() -> None:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

        self.executor.submit(_close).result()
        self.executor.shutdown(wait=True)


@dataclass
class _Known:
    """What a batch needs of an instance it updates: enough to tell what changed."""

    status: str
    group_id: str
    version: str | None
    components: str
    facts: str


@dataclass
class _Writes:
    """One round of a batch, by the statement each kind of update needs."""

    registers: list[tuple[Any, ...]] = field(default_factory=list)
    facts: dict[str, dict[str, str]] = field(default_factory=dict)
    changes: list[tuple[Any, ...]] = field(default_factory=list)
    components: list[tuple[Any, ...]] = field(default_factory=list)
    beats: list[str] = field(default_factory=list)
    gone: list[tuple[Any, ...]] = field(default_factory=list)


class _Counts:
    """The instance counts a transaction changes: per group, status and version (the
    rows of ``fleet_group_stats``), and per fact, value, group and status (the rows of
    ``fleet_group_facts``)."""

    def __init__(self) -> None:
        self.stats: dict[tuple[str, str, str], int] = {}
        self.facts: dict[tuple[str, str, str, str], int] = {}

    def add(self, instance: _Known, n: int) -> None:
        key = (instance.group_id, instance.status, instance.version or "")
        self.stats[key] = self.stats.get(key, 0) + n
        for fact, value in json.loads(instance.facts or "{}").items():
            row = (fact, value, instance.group_id, instance.status)
            self.facts[row] = self.facts.get(row, 0) + n


def _facts_text(facts: Any) -> str:
    # psycopg decodes jsonb; SQLite gives the text the store wrote (sorted keys).
    return facts if isinstance(facts, str) else json.dumps(facts, sort_keys=True)


class SqlStore:
    """``FleetStore`` on SQLite or PostgreSQL (see the module docstring)."""

    def __init__(self, dialect: Dialect, grouping: Grouping) -> None:
        self.dialect = dialect
        self.grouping = grouping
        self._writer = _Worker(dialect, "writer")
        self._reader = _Worker(dialect, "reader")

    def describe(self) -> str:
        return self.dialect.describe()

    # -- lifecycle ------------------------------------------------------------

    async def open(self) -> None:
        """Connect and bring the schema to the current version (in place, in one transaction)."""
        await self._writer.call(self._migrate)

    async def close(self) -> None:
        await asyncio.to_thread(self._writer.close)
        await asyncio.to_thread(self._reader.close)

    async def ping(self) -> None:
        await self._reader.call(lambda conn: self.dialect.run(conn, "SELECT 1"))

    def _migrate(self, conn: Any) -> None:
        d = self.dialect
        migrations = d.schema()
        with d.transaction(conn):
            d.lock_schema(conn)
            d.run(
                conn,
                "CREATE TABLE IF NOT EXISTS fleet_schema "
                "(version INTEGER NOT NULL, applied DOUBLE PRECISION NOT NULL)",
            )
            rows = d.run(conn, "SELECT max(version) FROM fleet_schema")
            current = rows[0][0] or 0
            if current > len(migrations):
                raise RuntimeError(
                    f"the fleet database {d.describe()} has schema version "
                    f"{current}, newer than this console knows "
                    f"({len(migrations)}): upgrade asgi-actuator"
                )
            for version in range(current, len(migrations)):
                for statement in migrations[version]:
                    d.run(conn, statement)
                d.run(
                    conn,
                    "INSERT INTO fleet_schema (version, applied) VALUES (?, ?)",
                    (version + 1, datetime.now(timezone.utc).timestamp()),
                )
                logger.info(
                    "fleet database %s migrated to schema version %d", d.describe(), version + 1
                )

    async def on_writer(self, work: Callable[[Any], T]) -> T:
        """``work(connection)`` on the writer's thread: for the console's other tables
        (notifications), in the same database, one writer at a time."""
        return await self._writer.call(work)

    async def on_reader(self, work: Callable[[Any], T]) -> T:
        """``work(connection)`` on the reader's thread, for queries."""
        return await self._reader.call(work)

    async def schema_version(self) -> int:
        rows = await self._reader.call(
            lambda conn: self.dialect.run(conn, "SELECT max(version) FROM fleet_schema")
        )
        return int(rows[0][0] or 0)

    # -- ingest ---------------------------------------------------------------

    async def ingest(self, updates: Sequence[InstanceUpdate], now: float) -> IngestResult:
        """Apply a batch in one transaction: all of it is stored, or (on error) none of it."""
        if not updates:
            return IngestResult()
        return await self._writer.call(lambda conn: self._ingest(conn, updates, now))

    def _ingest(self, conn: Any, updates: Sequence[InstanceUpdate], now: float) -> IngestResult:
        d = self.dialect
        result = IngestResult()
        with d.transaction(conn):
            known = self._known(conn, {u.id for u in updates})
            counts = _Counts()
            new_groups: dict[str, dict[str, str | None]] = {}
            events: list[tuple[Any, ...]] = []
            # The k-th update of each id goes in round k, so repeated ids in one
            # batch apply in order while each round is a few executemany calls.
            rounds: list[list[InstanceUpdate]] = []
            seen: dict[str, int] = {}
            for update in updates:
                k = seen.get(update.id, 0)
                seen[update.id] = k + 1
                if k == len(rounds):
                    rounds.append([])
                rounds[k].append(update)
            for batch in rounds:
                writes = _Writes()
                for u in batch:
                    before = known.get(u.id)
                    if u.type == "deregister":
                        if before is not None:
                            writes.gone.append((u.id,))
                            counts.add(before, -1)
                            del known[u.id]
                        result.accepted += 1
                        continue
                    status = u.status or ""
                    previous = before.status if before else None
                    components = json.dumps(u.components) if u.components else "[]"
                    if u.type == "register":
                        facts = {k: fact_text(v) for k, v in u.facts.items()}
                        values = self.grouping.values(u.service or "", facts)
                        group_id = self.grouping.group_id(values)
                        new_groups.setdefault(group_id, values)
                        facts_json = json.dumps(facts, sort_keys=True)
                        writes.registers.append(
                            (
                                u.id,
                                u.service,
                                group_id,
                                status,
                                rank(status),
                                previous,
                                now,
                                now,
                                now,
                                u.version,
                                u.url,
                                components,
                                facts_json,
                                json.dumps(u.build, sort_keys=True),
                                json.dumps(u.git, sort_keys=True),
                            )
                        )
                        if before is None or before.facts != facts_json:
                            writes.facts[u.id] = facts
                        if before is not None:
                            counts.add(before, -1)
                        known[u.id] = _Known(status, group_id, u.version, components, facts_json)
                        counts.add(known[u.id], +1)
                    elif before is None:
                        result.unknown.append(u.id)
                        continue
                    elif before.status != status:
                        writes.changes.append((status, rank(status), now, now, components, u.id))
                        counts.add(before, -1)
                        before.status, before.components = status, components
                        counts.add(before, +1)
                    elif before.components != components:
                        writes.components.append((now, components, u.id))
                        before.components = components
                    else:
                        # A heartbeat that changes nothing: only the time it was heard.
                        writes.beats.append(u.id)
                    result.accepted += 1
                    if previous != status:
                        events.append((now, "instance", u.id, status, previous, components))
                self._write_round(conn, writes, now)
            d.run_many(
                conn,
                "INSERT INTO fleet_events (at, kind, subject, status, previous, "
                "components) VALUES (?, ?, ?, ?, ?, ?)",
                events,
            )
            result.changes = len(events)
            touched = self._count_changes(conn, counts) | set(new_groups)
            self._regroup(conn, touched, new_groups, now)
        return result

    def _known(self, conn: Any, ids: set[str]) -> dict[str, _Known]:
        known = {}
        ordered = sorted(ids)
        lock = self.dialect.lock_rows()
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for iid, status, group_id, version, components, facts in self.dialect.run(
                conn,
                f"SELECT id, status, group_id, version, components, facts FROM fleet_instances "
                f"WHERE id IN ({marks}) ORDER BY id{lock}",
                chunk,
            ):
                known[iid] = _Known(status, group_id, version, components, _facts_text(facts))
        return known

    def _write_round(self, conn: Any, writes: _Writes, now: float) -> None:
        d = self.dialect
        j = d.json_param()
        # A re-registration keeps status_since (and the previous status) when
        # the status did not change; the CASEs read the row's old values.
        d.run_many(
            conn,
            f"""
            INSERT INTO fleet_instances (id, service, group_id, status, rank, previous_status,
                status_since, last_seen, registered, version, url, components, facts, build, git)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {j}, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                service = excluded.service, group_id = excluded.group_id,
                previous_status = CASE WHEN fleet_instances.status = excluded.status
                    THEN fleet_instances.previous_status ELSE fleet_instances.status END,
                status_since = CASE WHEN fleet_instances.status = excluded.status
                    THEN fleet_instances.status_since ELSE excluded.status_since END,
                status = excluded.status, rank = excluded.rank,
                last_seen = excluded.last_seen, registered = excluded.registered,
                version = excluded.version, url = excluded.url,
                components = excluded.components, facts = excluded.facts,
                build = excluded.build, git = excluded.git""",
            writes.registers,
        )
        d.run_many(
            conn,
            "UPDATE fleet_instances SET previous_status = status, status = ?, "
            "rank = ?, status_since = ?, last_seen = ?, components = ? WHERE id = ?",
            writes.changes,
        )
        d.run_many(
            conn,
            "UPDATE fleet_instances SET last_seen = ?, components = ? WHERE id = ?",
            writes.components,
        )
        for start in range(0, len(writes.beats), _CHUNK):
            chunk = writes.beats[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            d.run(
                conn,
                f"UPDATE fleet_instances SET last_seen = ? WHERE id IN ({marks})",
                [now, *chunk],
            )
        d.run_many(conn, "DELETE FROM fleet_instances WHERE id = ?", writes.gone)
        if d.facts_table:
            ids = [(iid,) for iid in writes.facts] + writes.gone
            d.run_many(conn, "DELETE FROM fleet_facts WHERE instance_id = ?", ids)
            d.run_many(
                conn,
                "INSERT INTO fleet_facts (instance_id, key, value) VALUES (?, ?, ?)",
                [(iid, k, v) for iid, facts in writes.facts.items() for k, v in facts.items()],
            )

    def _count_changes(self, conn: Any, counts: _Counts) -> set[str]:
        """Apply instance count changes per (fact, value, group, status) and per (group,
        status, version); the groups they touch."""
        self._add_counts(
            conn, "fleet_group_facts", ("key", "value", "group_id", "status"), counts.facts
        )
        changed = self._add_counts(
            conn, "fleet_group_stats", ("group_id", "status", "version"), counts.stats
        )
        return {key[0] for key in changed}

    def _add_counts(
        self,
        conn: Any,
        table: str,
        columns: tuple[str, ...],
        deltas: Mapping[Key, int],
    ) -> list[Key]:
        """Add ``deltas`` to the ``n`` of ``table``'s rows keyed by ``columns``, dropping rows
        that reach 0; the keys changed. Rows are written in key order, so two consoles'
        batches never wait for each other in a cycle."""
        changed = sorted((key, n) for key, n in deltas.items() if n)
        names = ", ".join(columns)
        marks = ", ".join("?" * (len(columns) + 1))
        d = self.dialect
        d.run_many(
            conn,
            f"INSERT INTO {table} ({names}, n) VALUES ({marks}) ON CONFLICT ({names}) "
            f"DO UPDATE SET n = {table}.n + excluded.n",
            [(*key, n) for key, n in changed],
        )
        matches = " AND ".join(f"{column} = ?" for column in columns)
        d.run_many(
            conn,
            f"DELETE FROM {table} WHERE {matches} AND n = 0",
            [key for key, n in changed if n < 0],
        )
        return [key for key, _ in changed]

    def _regroup(
        self,
        conn: Any,
        group_ids: set[str],
        new_groups: Mapping[str, Mapping[str, str | None]],
        now: float,
    ) -> None:
        """Recompute the rollups of ``group_ids`` from their rows of ``fleet_group_stats``."""
        if not group_ids:
            return
        d = self.dialect
        ordered = sorted(group_ids)
        d.lock_groups(conn, ordered)
        stats: dict[str, dict[str, int]] = {g: {} for g in ordered}
        versions: dict[str, list[tuple[str | None, int]]] = {g: [] for g in ordered}
        existing: dict[str, tuple[str, str]] = {}
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for gid, status, version, count in d.run(
                conn,
                f"SELECT group_id, status, version, n FROM fleet_group_stats "
                f"WHERE group_id IN ({marks})",
                chunk,
            ):
                stats[gid][status] = stats[gid].get(status, 0) + count
                versions[gid].append((version, count))
            for gid, status, service in d.run(
                conn, f"SELECT id, status, service FROM fleet_groups WHERE id IN ({marks})", chunk
            ):
                existing[gid] = (status, service)
        upserts, deletes, events = [], [], []
        for gid in ordered:
            counts = stats[gid]
            total = sum(counts.values())
            if total == 0:
                deletes.append((gid,))
                continue
            values = new_groups.get(gid)
            service = values["service"] if values else existing[gid][1]
            status = rollup(counts, self.grouping.threshold(gid, service or ""))
            before = existing.get(gid)
            if before is None or before[0] != status:
                events.append((now, "group", gid, status, before[0] if before else None, "[]"))
            keys = dict(values) if values else {}
            name = "/".join(str(v) if v is not None else "-" for v in keys.values())
            upserts.append(
                (
                    gid,
                    service,
                    name,
                    json.dumps(keys),
                    status,
                    rank(status),
                    before[0] if before else None,
                    now,
                    total,
                    counts.get(UP, 0),
                    counts.get(DOWN, 0),
                    counts.get(DISCONNECTED, 0),
                    round(100.0 * counts.get(UP, 0) / total, 2),
                    json.dumps(counts, sort_keys=True),
                    json.dumps(versions_summary(versions[gid]), sort_keys=True),
                )
            )
        j = d.json_param()
        d.run_many(
            conn,
            f"""
            INSERT INTO fleet_groups (id, service, name, keys, status, rank, previous_status,
                status_since, total, up, down, disconnected, percent_up, counts, versions)
            VALUES (?, ?, ?, {j}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                previous_status = CASE WHEN fleet_groups.status = excluded.status
                    THEN fleet_groups.previous_status ELSE fleet_groups.status END,
                status_since = CASE WHEN fleet_groups.status = excluded.status
                    THEN fleet_groups.status_since ELSE excluded.status_since END,
                status = excluded.status, rank = excluded.rank, total = excluded.total,
                up = excluded.up, down = excluded.down, disconnected = excluded.disconnected,
                percent_up = excluded.percent_up, counts = excluded.counts,
                versions = excluded.versions""",
            upserts,
        )
        d.run_many(conn, "DELETE FROM fleet_groups WHERE id = ?", deletes)
        d.run_many(
            conn,
            "INSERT INTO fleet_events (at, kind, subject, status, previous, "
            "components) VALUES (?, ?, ?, ?, ?, ?)",
            events,
        )

    # -- sweep ----------------------------------------------------------------

    async def sweep(
        self,
        now: float,
        *,
        disconnect_after: float,
        forget_after: float,
        keep_events: int = 100_000,
        events_max_age: float = 30 * 86400,
    ) -> SweepResult:
        """Mark instances silent for ``disconnect_after`` seconds DISCONNECTED, remove
        those silent for ``forget_after``, and trim history to ``keep_events`` events
        no older than ``events_max_age`` seconds."""
        return await self._writer.call(
            lambda conn: self._sweep(
                conn, now, disconnect_after, forget_after, keep_events, events_max_age
            )
        )

    def _sweep(
        self,
        conn: Any,
        now: float,
        disconnect_after: float,
        forget_after: float,
        keep_events: int,
        events_max_age: float,
    ) -> SweepResult:
        d = self.dialect
        result = SweepResult()
        with d.transaction(conn):
            counts = _Counts()
            forgotten = d.run(
                conn,
                "DELETE FROM fleet_instances WHERE last_seen < ? "
                "RETURNING id, group_id, status, version, facts",
                (now - forget_after,),
            )
            for _, group_id, status, version, facts in forgotten:
                counts.add(_Known(status, group_id, version, "", _facts_text(facts)), -1)
            if d.facts_table:
                d.run_many(
                    conn,
                    "DELETE FROM fleet_facts WHERE instance_id = ?",
                    [(row[0],) for row in forgotten],
                )
            silent = d.run(
                conn,
                f"""
                UPDATE fleet_instances SET previous_status = status, status = '{DISCONNECTED}',
                    rank = {rank(DISCONNECTED)}, status_since = ?
                WHERE last_seen < ? AND status <> '{DISCONNECTED}'
                RETURNING id, group_id, previous_status, components, version, facts""",
                (now, now - disconnect_after),
            )
            for _, group_id, previous, _, version, facts in silent:
                text = _facts_text(facts)
                counts.add(_Known(previous, group_id, version, "", text), -1)
                counts.add(_Known(DISCONNECTED, group_id, version, "", text), +1)
            d.run_many(
                conn,
                "INSERT INTO fleet_events (at, kind, subject, status, previous, "
                "components) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (now, "instance", iid, DISCONNECTED, previous, components)
                    for iid, _, previous, components, _, _ in silent
                ],
            )
            self._regroup(conn, self._count_changes(conn, counts), {}, now)
            dropped = d.run(
                conn, "DELETE FROM fleet_events WHERE at < ? RETURNING seq", (now - events_max_age,)
            )
            newest = d.run(conn, "SELECT max(seq) FROM fleet_events")[0][0]
            if newest is not None:
                dropped += d.run(
                    conn,
                    "DELETE FROM fleet_events WHERE seq <= ? RETURNING seq",
                    (newest - keep_events,),
                )
            result.disconnected = len(silent)
            result.forgotten = len(forgotten)
            result.events_dropped = len(dropped)
        return result

    # -- Spring Boot Admin registrations --------------------------------------

    async def save_registration(self, registration: Registration, now: float) -> bool:
        """Store a registration; whether it is new or changed (the same data again, as SBA
        clients send every 10 s, changes nothing)."""
        return await self._writer.call(
            lambda conn: self._save_registration(conn, registration, now)
        )

    def _save_registration(self, conn: Any, registration: Registration, now: float) -> bool:
        d = self.dialect
        row = registration.row()
        with d.transaction(conn):
            found = d.run(
                conn,
                f"SELECT {_REGISTRATION_COLUMNS} FROM fleet_registrations WHERE id = ?",
                (registration.id,),
            )
            if found and tuple(found[0]) == row:
                return False
            d.run(
                conn,
                f"""INSERT INTO fleet_registrations ({_REGISTRATION_COLUMNS}, registered, updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                    health_url = excluded.health_url, management_url = excluded.management_url,
                    service_url = excluded.service_url, metadata = excluded.metadata,
                    updated = excluded.updated""",
                (*row, now, now),
            )
        return True

    async def delete_registration(self, registration_id: str) -> bool:
        """Forget a registration; whether there was one."""

        def work(conn: Any) -> bool:
            with self.dialect.transaction(conn):
                gone = self.dialect.run(
                    conn,
                    "DELETE FROM fleet_registrations WHERE id = ? RETURNING id",
                    (registration_id,),
                )
            return bool(gone)

        return await self._writer.call(work)

    async def registrations(self) -> list[Registration]:
        rows = await self._reader.call(
            lambda conn: self.dialect.run(
                conn, f"SELECT {_REGISTRATION_COLUMNS} FROM fleet_registrations ORDER BY id"
            )
        )
        return [Registration.from_row(row) for row in rows]

    # -- queries --------------------------------------------------------------

    async def instances(self, query: InstanceQuery) -> Page:
        if query.sort not in INSTANCE_SORTS:
            raise ValueError(f"sort must be one of {', '.join(INSTANCE_SORTS)}")
        order = _INSTANCE_ORDER[query.sort].format(dir="DESC" if query.descending else "ASC")
        if query.sort == "id" and query.descending:
            order = "id DESC"

        def work(conn: Any) -> Page:
            d = self.dialect
            total = self._fact_total(conn, query)
            # A filter that most instances pass (a region, an environment): read the
            # sort's index in order and check each row, until the page is full. Finding
            # every match first and sorting them costs as many rows as there are matches.
            dense = (
                total is not None
                and query.sort in _INDEXED_INSTANCE_SORTS
                and total * total > (query.offset + query.limit) * self._fleet_size(conn)
            )
            # Otherwise the rarest fact finds the rows and the others are checked on them.
            lead = None if dense else self._rarest_fact(conn, query.facts)
            where, params = self._instance_filter(query, lead)
            if total is None:
                found = d.run(conn, f"SELECT count(*) FROM fleet_instances WHERE {where}", params)
                total = found[0][0]
            rows = d.run(
                conn,
                f"SELECT {_INSTANCE_COLUMNS} FROM fleet_instances WHERE {where} "
                f"ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            )
            return Page(
                [_instance_json(row) for row in rows], int(total), query.offset, query.limit
            )

        return await self._reader.call(work)

    def _fact_total(self, conn: Any, query: InstanceQuery) -> int | None:
        """How many instances a filter on one fact (and status, service, group) matches,
        summed from ``fleet_group_facts``; ``None`` for other filters."""
        if len(query.facts) != 1 or query.versions or query.ids or query.text:
            return None
        [(key, value)] = query.facts.items()
        clauses, params = ["key = ?", "value = ?"], [key, value]
        if query.statuses:
            clauses.append(f"status IN ({', '.join('?' * len(query.statuses))})")
            params += list(query.statuses)
        if query.group:
            clauses.append("group_id = ?")
            params.append(query.group)
        if query.services:
            # Every group has one service (the first grouping key): its instances'.
            marks = ", ".join("?" * len(query.services))
            clauses.append(f"group_id IN (SELECT id FROM fleet_groups WHERE service IN ({marks}))")
            params += list(query.services)
        where = " AND ".join(clauses)
        found = self.dialect.run(
            conn, f"SELECT coalesce(sum(n), 0) FROM fleet_group_facts WHERE {where}", params
        )
        return int(found[0][0])

    def _rarest_fact(self, conn: Any, facts: Mapping[str, str]) -> str | None:
        """The key of the fact fewest instances have (from ``fleet_group_facts``)."""
        if len(facts) < 2:
            return next(iter(facts), None)
        sizes = dict.fromkeys(facts, 0)
        either = " OR ".join(["(key = ? AND value = ?)"] * len(facts))
        for key, value, n in self.dialect.run(
            conn,
            f"SELECT key, value, sum(n) FROM fleet_group_facts WHERE {either} GROUP BY key, value",
            [item for pair in facts.items() for item in pair],
        ):
            if facts.get(key) == value:
                sizes[key] = int(n)
        return min(sizes, key=lambda key: sizes[key])

    def _fleet_size(self, conn: Any) -> int:
        return int(self.dialect.run(conn, "SELECT coalesce(sum(total), 0) FROM fleet_groups")[0][0])

    def _instance_filter(
        self, query: InstanceQuery, lead: str | None = None
    ) -> tuple[str, list[Any]]:
        """The WHERE clause of ``query``: the fact ``lead`` finds rows, the other facts are
        checked on each row (``None``: every fact checked per row)."""
        d = self.dialect
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in (
            ("status", query.statuses),
            ("service", query.services),
            ("version", query.versions),
            ("id", query.ids),
        ):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += list(values)
        if query.group:
            clauses.append("group_id = ?")
            params.append(query.group)
        for key, value in query.facts.items():
            clause, extra = d.instance_fact("", key, value, dense=key != lead)
            clauses.append(clause)
            params += extra
        if query.text:
            pattern = (
                "%" + query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            clauses.append(f"(id {d.like()} ? ESCAPE '\\' OR service {d.like()} ? ESCAPE '\\')")
            params += [pattern, pattern]
        return " AND ".join(clauses) or "1 = 1", params

    async def groups(self, query: GroupQuery) -> Page:
        if query.sort not in GROUP_SORTS:
            raise ValueError(f"sort must be one of {', '.join(GROUP_SORTS)}")
        d = self.dialect
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in (("status", query.statuses), ("service", query.services)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += list(values)
        for key, value in query.facts.items():
            if key in self.grouping.keys[1:]:
                clause, extra = d.fact_equals("keys", key, value)
            else:
                # The groups with at least one such instance: a few rows per group,
                # never the instances themselves.
                clause = (
                    "id IN (SELECT group_id FROM fleet_group_facts WHERE key = ? AND value = ?)"
                )
                extra = [key, value]
            clauses.append(clause)
            params += extra
        where = " AND ".join(clauses) or "1 = 1"
        descending = query.descending
        if query.sort == "status":
            descending = not descending  # worst first by default
        order = _GROUP_ORDER[query.sort].format(dir="DESC" if descending else "ASC")
        return await self._page(
            "fleet_groups",
            _GROUP_COLUMNS,
            where,
            params,
            order,
            query.offset,
            query.limit,
            _group_json,
        )

    async def _page(
        self,
        table: str,
        columns: str,
        where: str,
        params: list[Any],
        order: str,
        offset: int,
        limit: int,
        convert: Callable[[Row], dict[str, Any]],
    ) -> Page:
        def work(conn: Any) -> Page:
            d = self.dialect
            total = d.run(conn, f"SELECT count(*) FROM {table} WHERE {where}", params)[0][0]
            rows = d.run(
                conn,
                f"SELECT {columns} FROM {table} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
            return Page([convert(row) for row in rows], int(total), offset, limit)

        return await self._reader.call(work)

    async def instance(self, instance_id: str) -> dict[str, Any] | None:
        rows = await self._reader.call(
            lambda conn: self.dialect.run(
                conn,
                f"SELECT {_INSTANCE_COLUMNS} FROM fleet_instances WHERE id = ?",
                (instance_id,),
            )
        )
        return _instance_json(rows[0]) if rows else None

    async def group(self, group_id: str) -> dict[str, Any] | None:
        rows = await self._reader.call(
            lambda conn: self.dialect.run(
                conn, f"SELECT {_GROUP_COLUMNS} FROM fleet_groups WHERE id = ?", (group_id,)
            )
        )
        return _group_json(rows[0]) if rows else None

    async def history(self, kind: str, subject: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest status changes of an instance or group, newest first."""
        rows = await self._reader.call(
            lambda conn: self.dialect.run(
                conn,
                "SELECT at, status, previous, components FROM fleet_events "
                "WHERE kind = ? AND subject = ? ORDER BY seq DESC LIMIT ?",
                (kind, subject, limit),
            )
        )
        return [
            {
                "at": _iso(at),
                "status": status,
                "previousStatus": previous,
                "componentsDown": json.loads(components),
            }
            for at, status, previous, components in rows
        ]

    async def counts(self) -> dict[str, Any]:
        """Instances and groups per status, and their totals, for the whole fleet."""

        def work(conn: Any) -> dict[str, Any]:
            d = self.dialect
            out: dict[str, Any] = {}
            # Both from the rollups (a row per group, status and version; a row
            # per group), never a scan of the instances.
            for name, text in (
                (
                    "instances",
                    "SELECT status, sum(n) FROM fleet_group_stats GROUP BY status "
                    "HAVING sum(n) > 0",
                ),
                ("groups", "SELECT status, count(*) FROM fleet_groups GROUP BY status"),
            ):
                per = {status: int(n) for status, n in d.run(conn, text)}
                out[name] = {"total": sum(per.values()), "statuses": per}
            return out

        return await self._reader.call(work)

    async def rollup_counts(self) -> dict[str, Any]:
        """What ``counts()`` answers, summed from the groups' rollups instead of the instances.

        Every instance is in exactly one group, and a group's per-status counts
        are rewritten in the same transaction as any change of its members, so
        the sums are the instance counts; reading one row per group (1,000 at
        100,000 instances) instead of every instance is what keeps the
        dashboard's overview fast.
        """

        def work(conn: Any) -> dict[str, Any]:
            instances: dict[str, int] = {}
            groups: dict[str, int] = {}
            for status, counts in self.dialect.run(conn, "SELECT status, counts FROM fleet_groups"):
                groups[status] = groups.get(status, 0) + 1
                for code, n in _json(counts).items():
                    instances[code] = instances.get(code, 0) + int(n)
            return {
                "instances": {"total": sum(instances.values()), "statuses": instances},
                "groups": {"total": sum(groups.values()), "statuses": groups},
            }

        return await self._reader.call(work)

    async def stamp(self) -> str:
        """Changes when any status, group or membership changes; cheap enough to poll.

        The newest history event (its primary key) moves with every status
        change; the groups' count and instance total with registrations and
        deregistrations, which record no event when the status is the same.
        """

        def work(conn: Any) -> str:
            d = self.dialect
            newest = d.run(conn, "SELECT max(seq) FROM fleet_events")[0][0]
            groups, members = d.run(conn, "SELECT count(*), sum(total) FROM fleet_groups")[0]
            return f"{newest or 0}-{groups}-{members or 0}"

        return await self._reader.call(work)


_REGISTRATION_COLUMNS = "id, name, health_url, management_url, service_url, metadata"


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(value: Any) -> Any:
    # psycopg decodes jsonb itself; SQLite gives the text.
    return json.loads(value) if isinstance(value, str) else value


def _instance_json(row: Row) -> dict[str, Any]:
    (
        iid,
        service,
        group_id,
        status,
        previous,
        since,
        seen,
        registered,
        version,
        url,
        components,
        facts,
        build,
        git,
    ) = row
    return {
        "id": iid,
        "service": service,
        "group": group_id,
        "status": status,
        "previousStatus": previous,
        "statusSince": _iso(since),
        "lastSeen": _iso(seen),
        "registered": _iso(registered),
        "version": version,
        "url": url,
        "componentsDown": _json(components),
        "facts": _json(facts),
        "build": _json(build),
        "git": _json(git),
    }


def _group_json(row: Row) -> dict[str, Any]:
    (
        gid,
        service,
        name,
        keys,
        status,
        previous,
        since,
        total,
        up,
        down,
        disconnected,
        percent_up,
        counts,
        versions,
    ) = row
    return {
        "id": gid,
        "name": name,
        "service": service,
        "keys": _json(keys),
        "status": status,
        "previousStatus": previous,
        "statusSince": _iso(since),
        "instances": int(total),
        "up": int(up),
        "down": int(down),
        "disconnected": int(disconnected),
        "percentUp": float(percent_up),
        "counts": _json(counts),
        "versions": _json(versions),
    }
