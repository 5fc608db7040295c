"""The console's configuration: a ``fleet.toml`` file, every key optional.

::

    database = "sqlite:///fleet.db"     # or postgresql://user@host/db
    disconnect_after = 300              # seconds of silence before DISCONNECTED
    forget_after = 604800               # seconds of silence before an instance is removed

    [ingest_tokens]                     # who may push updates: name -> sha256 token hash
    gateway = "sha256:9f86d08..."       # `actuator hash-token --generate`

    [grouping]
    keys = ["service", "environment", "application"]
    down_threshold = 20                 # DOWN only when more than 20% are DOWN

    [[pull.sets]]                       # instances the console polls (see actuator.fleet.pull)
    name = "legacy"
    urls = ["http://10.0.0.7:8080/actuator"]

    [spring_boot_admin]                 # accept Spring Boot Admin clients' registrations
    enabled = true                      # (see actuator.fleet.sba_server)
    principals = ["sba-clients"]
    [dashboard]                         # the web pages at /fleet/
    session_ttl = 28800                 # seconds a login lasts
    [notifications.rules.down]          # see actuator.fleet.notify
    channels = ["ops"]

    [server]                            # where the console listens (host, port, TLS)
    port = 8090

    [settings]                          # the console's own actuator: who may read
    security.tokens = { ops = "sha256:..." }
    security.roles.read = ["ops"]

Readers need the ``read`` role of the console's own security settings
(``[settings] security...``, or ``ACTUATOR_SECURITY__*`` variables), exactly
as for an actuator's endpoints; adding ``fleet`` to ``security.anonymous``
opens reading to anyone. Ingest needs one of ``ingest_tokens``.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from actuator.fleet.model import FACT_KEY, Grouping
from actuator.fleet.notify.config import NotifyConfig
from actuator.fleet.pull import PullConfig
from actuator.fleet.sba_server import SpringBootAdminConfig
from actuator.security.credentials import check_token_hash
from actuator.settings import NatsSettings, ServerSettings, read_toml


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupingConfig(_Config):
    keys: list[str] = Field(
        default_factory=lambda: ["service", "environment", "application"],
        description="'service' then fact names: instances sharing them form a group",
    )
    down_threshold: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="unset: a group is DOWN if any instance is; else the percentage DOWN above "
        "which it is",
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="service name or group id -> its own down_threshold"
    )

    def build(self) -> Grouping:
        return Grouping(tuple(self.keys), self.down_threshold, dict(self.thresholds))


class HistoryConfig(_Config):
    keep: int = Field(default=100_000, ge=10, description="status changes kept (newest)")
    max_age: float = Field(default=30 * 86400, gt=0, description="seconds a change is kept")


class NatsIngestConfig(NatsSettings):
    """Ingest from NATS (``[nats]``): the connection settings of the instances' side, and
    how this console consumes."""

    stream: str = Field(
        default="ACTUATOR_FLEET",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="the JetStream stream (created when missing)",
    )
    consumer: str = Field(
        default="fleet-console",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="the durable consumer (JetStream) or queue group (core NATS) the "
        "consoles share",
    )
    batch: int = Field(default=1000, ge=1, le=5000, description="events per database batch")
    batch_wait: float = Field(
        default=0.1, gt=0, le=10, description="seconds to wait to fill a batch"
    )
    ack_wait: float = Field(
        default=30, ge=1, le=3600, description="seconds before an unacknowledged event is resent"
    )
    max_age: float = Field(
        default=86400, gt=0, description="seconds the stream keeps an event no console took"
    )
    max_pending: int = Field(
        default=100_000,
        ge=1,
        description="core NATS: events held while the database is down; older ones are dropped",
    )


class JobsConfig(_Config):
    retry: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="seconds between a standby console's tries to take the jobs lock "
        "(how soon it takes over from a console that died)",
    )


class DashboardConfig(_Config):
    session_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="signs the dashboard's session cookies (at least 32 characters); unset: a "
        "random key per start (sessions end when the console restarts). Consoles behind one "
        "address share one key",
    )
    session_ttl: float = Field(
        default=8 * 3600, gt=0, le=30 * 86400, description="seconds a login lasts"
    )
    poll_interval: float = Field(
        default=5,
        ge=0.2,
        le=600,
        description="seconds between the pages' checks for changes (live updates)",
    )


class ConsoleServer(ServerSettings):
    port: int = Field(default=8090, ge=0, le=65535, description="its port (0: any free port)")


class ConsoleConfig(_Config):
    """Everything ``actuator fleet serve`` reads from its TOML file (see the module docstring)."""

    database: str = Field(
        default="sqlite:///fleet.db", description="sqlite:///path (default) or postgresql://..."
    )
    disconnect_after: float = Field(default=300, gt=0, le=30 * 86400)
    forget_after: float = Field(default=7 * 86400, gt=0)
    sweep_interval: float = Field(default=10, gt=0, le=3600)
    page_size: int = Field(default=50, ge=1, le=10_000)
    max_page_size: int = Field(default=500, ge=1, le=10_000)
    max_body: ByteSize = Field(default=ByteSize(8 * 1024 * 1024), gt=0)
    ingest_tokens: dict[str, str] = Field(default_factory=dict)
    grouping: GroupingConfig = GroupingConfig()
    history: HistoryConfig = HistoryConfig()
    jobs: JobsConfig = JobsConfig()
    server: ConsoleServer = ConsoleServer()
    pull: PullConfig = PullConfig()
    nats: NatsIngestConfig = NatsIngestConfig()
    spring_boot_admin: SpringBootAdminConfig = SpringBootAdminConfig()
    dashboard: DashboardConfig = DashboardConfig()
    notifications: NotifyConfig = NotifyConfig()
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ingest_tokens")
    @classmethod
    def _tokens(cls, value: dict[str, str]) -> dict[str, str]:
        checked = {}
        for name, hashed in value.items():
            if not FACT_KEY.match(name):
                raise ValueError(f"token name {name!r}: letters, digits, '_', '.', '-'")
            try:
                checked[name] = check_token_hash(hashed)
            except ValueError as exc:
                raise ValueError(f"ingest_tokens.{name}: {exc}") from None
        return checked

    def model_post_init(self, context: Any, /) -> None:
        if self.forget_after <= self.disconnect_after:
            raise ValueError("forget_after must be longer than disconnect_after")
        if self.page_size > self.max_page_size:
            raise ValueError("page_size must not exceed max_page_size")
        self.grouping.build()  # raises naming grouping.keys / thresholds


def parse_config(data: dict[str, Any], source: str = "config") -> ConsoleConfig:
    """A validated ``ConsoleConfig``; ``ValueError`` naming each bad key otherwise."""
    try:
        return ConsoleConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: invalid configuration:"]
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "(top level)"
            lines.append(f"  {where}: {error['msg']}")
        raise ValueError("\n".join(lines)) from None


def load_config(path: str | os.PathLike[str] | None) -> ConsoleConfig:
    """The file's configuration, or the defaults when ``path`` is ``None``."""
    if path is None:
        return ConsoleConfig()
    return parse_config(read_toml(path), str(path))
