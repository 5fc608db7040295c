"""What differs between SQLite and PostgreSQL: connecting, placeholders, JSON, schema.

The store writes its SQL once with ``?`` placeholders and these hooks; each
dialect turns it into what its driver takes. Both drivers are DB-API
(``sqlite3`` from the standard library, ``psycopg`` 3), run on worker threads
by the store.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

Row = tuple[Any, ...]


class Dialect:
    name = "sql"

    def __init__(self, url: str) -> None:
        self.url = url

    # -- connections ----------------------------------------------------------

    def connect(self) -> Any:
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self, conn: Any) -> Iterator[None]:
        raise NotImplementedError
        yield  # pragma: no cover

    # -- statements -----------------------------------------------------------

    def sql(self, text: str) -> str:
        return text

    def run(self, conn: Any, text: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = conn.execute(self.sql(text), params)
        rows = cursor.fetchall() if cursor.description is not None else []
        return [tuple(row) for row in rows]

    def run_many(self, conn: Any, text: str, params: Sequence[Sequence[Any]]) -> None:
        if params:
            conn.cursor().executemany(self.sql(text), params)

    # -- SQL fragments --------------------------------------------------------

    def json_param(self) -> str:
        """A placeholder for a JSON document (text in SQLite, jsonb in PostgreSQL)."""
        return "?"

    def fact_equals(self, column: str, key: str, value: str) -> tuple[str, list[Any]]:
        """A condition: the JSON object in ``column`` has ``key`` equal to ``value``."""
        raise NotImplementedError

    facts_table = False
    """Whether instance facts are also kept in ``fleet_facts`` rows, for indexed filters."""

    def instance_fact(
        self, prefix: str, key: str, value: str, *, dense: bool = False
    ) -> tuple[str, list[Any]]:
        """A condition on the instance row ``prefix`` (``""`` or ``"i."``): fact ``key`` is
        ``value``. ``dense``: most instances match, so the condition is checked on each
        row read in the order of the sort's index rather than used to find the rows."""
        return self.fact_equals(f"{prefix}facts", key, value)

    def like(self) -> str:
        raise NotImplementedError

    def lock_rows(self) -> str:
        """What ends a ``SELECT`` of instance rows the batch will change: ``FOR UPDATE``
        where several consoles may write at once, so the status a change is counted
        from is the one it replaces."""
        return ""

    def lock_groups(self, conn: Any, group_ids: Sequence[str]) -> None:
        """Keep other consoles' batches away from these groups' rollups until commit."""

    def schema(self) -> list[list[str]]:
        """The migrations: ``schema()[n]`` takes the database from version n to n + 1."""
        raise NotImplementedError

    def lock_schema(self, conn: Any) -> None:
        """Keep other console processes out while migrating."""

    def describe(self) -> str:
        """The URL without a password, for logs and errors."""
        return self.url


class SQLite(Dialect):
    """One file in WAL mode: readers never wait for the writer.

    ``synchronous=NORMAL``: a committed batch survives the console process
    being killed (it is in the WAL file); a power loss may lose the last
    batches before a checkpoint, as SQLite documents.
    """

    name = "sqlite"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)

    def connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextlib.contextmanager
    def transaction(self, conn: Any) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def fact_equals(self, column: str, key: str, value: str) -> tuple[str, list[Any]]:
        return f"json_extract({column}, ?) = ?", [f'$."{key}"', value]

    # SQLite cannot index inside JSON: facts are also rows of fleet_facts on a
    # (key, value) index, written on registration only.
    facts_table = True

    def instance_fact(
        self, prefix: str, key: str, value: str, *, dense: bool = False
    ) -> tuple[str, list[Any]]:
        if dense:  # one primary-key lookup per row read
            facts = "SELECT 1 FROM fleet_facts WHERE instance_id = {}id AND key = ? AND value = ?"
            return f"EXISTS ({facts.format(prefix or 'fleet_instances.')})", [key, value]
        facts = "SELECT instance_id FROM fleet_facts WHERE key = ? AND value = ?"
        return f"{prefix}id IN ({facts})", [key, value]

    def like(self) -> str:
        return "LIKE"  # case-insensitive for ASCII in SQLite

    def schema(self) -> list[list[str]]:
        serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
        return [
            _schema_v1(json="TEXT", serial=serial, gin=False),
            _schema_notifications(serial),
            _schema_registrations(),
            [*_SQLITE_FACTS, *_schema_group_stats()],
            _schema_actions(),
            _schema_group_facts(
                "INSERT INTO fleet_group_facts (key, value, group_id, status, n) "
                "SELECT f.key, f.value, i.group_id, i.status, count(*) "
                "FROM fleet_instances i JOIN fleet_facts f ON f.instance_id = i.id "
                "GROUP BY f.key, f.value, i.group_id, i.status",
                table_options=" WITHOUT ROWID",
            ),
        ]


class PostgreSQL(Dialect):
    """PostgreSQL through psycopg 3 (``postgresql://user:password@host:port/db``)."""

    name = "postgresql"

    def connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            # psycopg's message names host and port, never the password.
            raise ConnectionError(f"cannot connect to {self.describe()}: {exc}") from None

    @contextlib.contextmanager
    def transaction(self, conn: Any) -> Iterator[None]:
        with conn.transaction():
            yield

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def json_param(self) -> str:
        return "CAST(? AS jsonb)"

    def fact_equals(self, column: str, key: str, value: str) -> tuple[str, list[Any]]:
        # Containment uses the GIN index on the column.
        return f"{column} @> CAST(? AS jsonb)", [json.dumps({key: value})]

    def like(self) -> str:
        return "ILIKE"

    def schema(self) -> list[list[str]]:
        # v2 was meant for SQLite's facts table (they came later, with the group stats);
        # PostgreSQL filters facts through its GIN index.
        serial = "BIGSERIAL PRIMARY KEY"
        return [
            _schema_v1(json="JSONB", serial=serial, gin=True),
            [],
            _schema_notifications(serial),
            _schema_registrations(),
            _schema_group_stats(),
            _schema_actions(),
            _schema_group_facts(
                "INSERT INTO fleet_group_facts (key, value, group_id, status, n) "
                "SELECT f.key, f.value, i.group_id, i.status, count(*) "
                "FROM fleet_instances i, jsonb_each_text(i.facts) AS f "
                "GROUP BY f.key, f.value, i.group_id, i.status"
            ),
        ]

    def lock_schema(self, conn: Any) -> None:
        self.run(conn, "SELECT pg_advisory_xact_lock(7242001)")

    def lock_rows(self) -> str:
        return " FOR UPDATE"

    def lock_groups(self, conn: Any, group_ids: Sequence[str]) -> None:
        # Transaction-scoped advisory locks (a group may have no row yet), taken
        # in id order like the instance rows, so two batches never deadlock.
        if group_ids:
            self.run(
                conn,
                "SELECT count(pg_advisory_xact_lock(hashtextextended(g, 7242)))"
                " FROM (SELECT g FROM unnest(CAST(? AS text[])) AS g ORDER BY g) AS ordered",
                (sorted(group_ids),),
            )

    def describe(self) -> str:
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))


def _schema_v1(*, json: str, serial: str, gin: bool) -> list[str]:
    statements = [
        f"""CREATE TABLE fleet_instances (
            id TEXT PRIMARY KEY,
            service TEXT NOT NULL,
            group_id TEXT NOT NULL,
            status TEXT NOT NULL,
            rank INTEGER NOT NULL,
            previous_status TEXT,
            status_since DOUBLE PRECISION NOT NULL,
            last_seen DOUBLE PRECISION NOT NULL,
            registered DOUBLE PRECISION NOT NULL,
            version TEXT,
            url TEXT,
            components TEXT NOT NULL,
            facts {json} NOT NULL,
            build TEXT NOT NULL,
            git TEXT NOT NULL)""",
        "CREATE INDEX fleet_instances_group ON fleet_instances (group_id, status, version)",
        "CREATE INDEX fleet_instances_status ON fleet_instances (status, id)",
        "CREATE INDEX fleet_instances_rank ON fleet_instances (rank, id)",
        "CREATE INDEX fleet_instances_service ON fleet_instances (service, id)",
        "CREATE INDEX fleet_instances_seen ON fleet_instances (last_seen)",
        f"""CREATE TABLE fleet_groups (
            id TEXT PRIMARY KEY,
            service TEXT NOT NULL,
            name TEXT NOT NULL,
            keys {json} NOT NULL,
            status TEXT NOT NULL,
            rank INTEGER NOT NULL,
            previous_status TEXT,
            status_since DOUBLE PRECISION NOT NULL,
            total INTEGER NOT NULL,
            up INTEGER NOT NULL,
            down INTEGER NOT NULL,
            disconnected INTEGER NOT NULL,
            percent_up DOUBLE PRECISION NOT NULL,
            counts TEXT NOT NULL,
            versions TEXT NOT NULL)""",
        "CREATE INDEX fleet_groups_rank ON fleet_groups (rank, name)",
        "CREATE INDEX fleet_groups_name ON fleet_groups (name)",
        "CREATE INDEX fleet_groups_service ON fleet_groups (service, name)",
        f"""CREATE TABLE fleet_events (
            seq {serial},
            at DOUBLE PRECISION NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            status TEXT NOT NULL,
            previous TEXT,
            components TEXT NOT NULL)""",
        "CREATE INDEX fleet_events_subject ON fleet_events (kind, subject, seq)",
        "CREATE INDEX fleet_events_at ON fleet_events (at)",
    ]
    if gin:
        statements.append(
            "CREATE INDEX fleet_instances_facts ON fleet_instances USING gin (facts jsonb_path_ops)"
        )
    return statements


def _schema_actions() -> list[str]:
    """The action journal (actuator.fleet.journal): one row per action, one per target."""
    return [
        """CREATE TABLE fleet_actions (
            id TEXT PRIMARY KEY,
            created DOUBLE PRECISION NOT NULL,
            finished DOUBLE PRECISION,
            heartbeat DOUBLE PRECISION NOT NULL,
            state TEXT NOT NULL,
            action TEXT NOT NULL,
            principal TEXT,
            identity TEXT NOT NULL,
            client TEXT,
            request TEXT NOT NULL,
            stages TEXT NOT NULL,
            targets INTEGER NOT NULL,
            reason TEXT)""",
        "CREATE INDEX fleet_actions_created ON fleet_actions (created, id)",
        "CREATE INDEX fleet_actions_state ON fleet_actions (state, heartbeat)",
        """CREATE TABLE fleet_action_results (
            action_id TEXT NOT NULL,
            instance_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            stage INTEGER NOT NULL,
            result TEXT NOT NULL,
            detail TEXT,
            at DOUBLE PRECISION,
            PRIMARY KEY (action_id, instance_id))""",
        "CREATE INDEX fleet_action_results_position ON fleet_action_results (action_id, position)",
    ]


# SQLite's facts (with the group stats, in its fourth step): one row per instance
# fact, filled from the instances already stored.
_SQLITE_FACTS = [
    """CREATE TABLE fleet_facts (
        instance_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (instance_id, key)) WITHOUT ROWID""",
    "CREATE INDEX fleet_facts_value ON fleet_facts (key, value, instance_id)",
    "INSERT INTO fleet_facts (instance_id, key, value) "
    "SELECT i.id, f.key, f.value FROM fleet_instances i, json_each(i.facts) f",
]


def _schema_group_stats() -> list[str]:
    """Instances per group, status and version, kept by the batches that change them,
    so a group's rollup and the fleet's counts read a few rows instead of every instance."""
    return [
        """CREATE TABLE fleet_group_stats (
            group_id TEXT NOT NULL,
            status TEXT NOT NULL,
            version TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (group_id, status, version))""",
        "INSERT INTO fleet_group_stats (group_id, status, version, n) "
        "SELECT group_id, status, coalesce(version, ''), count(*) FROM fleet_instances "
        "GROUP BY group_id, status, coalesce(version, '')",
    ]


def _schema_group_facts(fill: str, table_options: str = "") -> list[str]:
    """Instances per fact value, group and status, kept by the batches that change them
    (as ``fleet_group_stats``), filled from the instances already stored (``fill``).

    A filter on a fact that is not a grouping key finds its groups here instead of in
    every instance, and an instance filter on one fact counts its matches here (a
    few rows per group) instead of visiting each matching instance. The index on
    ``rank DESC, id`` serves the default order of instances, worst first, so a
    filter most instances pass reads only the first rows of it.
    """
    return [
        f"""CREATE TABLE fleet_group_facts (
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            group_id TEXT NOT NULL,
            status TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (key, value, group_id, status)){table_options}""",
        fill,
        "CREATE INDEX fleet_instances_worst ON fleet_instances (rank DESC, id)",
    ]


def _schema_registrations() -> list[str]:
    """Registrations through Spring Boot Admin's protocol (``actuator.fleet.sba_server``),
    kept so a console restart still polls them. ``metadata`` holds the credentials the
    instances are read with: this table is never served."""
    return [
        """CREATE TABLE fleet_registrations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            health_url TEXT NOT NULL,
            management_url TEXT,
            service_url TEXT,
            metadata TEXT NOT NULL,
            registered DOUBLE PRECISION NOT NULL,
            updated DOUBLE PRECISION NOT NULL)"""
    ]


def _schema_notifications(serial: str) -> list[str]:
    """Notifications (actuator.fleet.notify): the cursor over fleet_events, what each
    rule knows of each subject, the delivery log, and the mutes made through the API."""
    return [
        """CREATE TABLE fleet_notify_cursor (
            name TEXT PRIMARY KEY,
            seq BIGINT NOT NULL,
            gaps TEXT NOT NULL)""",
        """CREATE TABLE fleet_notify_state (
            rule TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            data TEXT NOT NULL,
            due DOUBLE PRECISION,
            PRIMARY KEY (rule, kind, subject))""",
        "CREATE INDEX fleet_notify_state_subject ON fleet_notify_state (subject)",
        "CREATE INDEX fleet_notify_state_due ON fleet_notify_state (due)",
        f"""CREATE TABLE fleet_deliveries (
            id {serial},
            created DOUBLE PRECISION NOT NULL,
            notification TEXT NOT NULL,
            rule TEXT NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject_kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            status TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt DOUBLE PRECISION,
            last_attempt DOUBLE PRECISION,
            result TEXT,
            payload TEXT NOT NULL)""",
        "CREATE INDEX fleet_deliveries_due ON fleet_deliveries (state, next_attempt)",
        "CREATE INDEX fleet_deliveries_channel ON fleet_deliveries (channel, id)",
        """CREATE TABLE fleet_mutes (
            id TEXT PRIMARY KEY,
            created DOUBLE PRECISION NOT NULL,
            starts DOUBLE PRECISION NOT NULL,
            ends DOUBLE PRECISION NOT NULL,
            author TEXT,
            spec TEXT NOT NULL)""",
        "CREATE INDEX fleet_mutes_ends ON fleet_mutes (ends)",
    ]


def sqlite_path(url: str) -> str:
    """The file of ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a plain path."""
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        if not rest.startswith("/"):
            raise ValueError(f"database: expected sqlite:///path, got {url!r}")
        rest = rest[1:]
        return unquote(rest) or ":memory:"
    return url


def dialect_for(url: str) -> Dialect:
    """The dialect of a database URL; ``ValueError`` naming ``database`` for others."""
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return PostgreSQL(url)
    if scheme in ("", "sqlite"):
        if not url:
            raise ValueError("database: empty URL")
        return SQLite(url)
    raise ValueError(
        f"database: unsupported URL scheme {scheme!r} (use sqlite:///path or postgresql://...)"
    )
