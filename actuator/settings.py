"""Settings, from code or from ``ACTUATOR_*`` environment variables.

Values given in code win over the environment, which wins over the defaults.
Nested settings use ``__`` in variable names (``ACTUATOR_HEALTH__TIMEOUT=0.3``);
list settings take JSON or a comma-separated string
(``ACTUATOR_EXPOSURE__INCLUDE=health,info``); mappings take JSON.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from actuator.health.aggregator import DEFAULT_ORDER
from actuator.health.status import Status
from actuator.security.credentials import check_password_hash, check_token_hash

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

logger = logging.getLogger("actuator")

ShowPolicy = Literal["never", "when_authorized", "always"]
"""When to show health details or components: ``never``, ``when_authorized`` or ``always``.
``when_authorized`` shows them to callers with the ``read`` role (``full`` implies it)."""

ENV_PREFIX = "ACTUATOR_"

CREDENTIAL: dict[str, Any] = {"credential": True}
"""``Field(json_schema_extra=CREDENTIAL)`` marks a setting that is a credential (or names
one): the env endpoint masks it always, whatever ``env.show_values`` says. Every new
setting holding a token, hash, password or key must carry it (a test walks them)."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_BASE_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)*\Z")


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


StrList = Annotated[list[str], NoDecode]
FloatList = Annotated[list[float], NoDecode]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_status_codes(codes: list[str]) -> list[str]:
    return [Status(code).code for code in codes]


def _check_mapping(mapping: dict[str, int]) -> dict[str, int]:
    checked = {}
    for code, http_status in mapping.items():
        if not 100 <= http_status <= 599:
            raise ValueError(f"HTTP status for {code} must be 100..599, got {http_status}")
        checked[Status(code).code] = http_status
    return checked


class GroupSettings(_Section):
    """A health group: which indicators it holds and how it answers.

    ``include``/``exclude`` entries are indicator names, ``*`` for all, or
    ``tag:<tag>``; exclude wins. Indicators also join groups with
    ``groups=[...]`` when registered. Unset policies fall back to the health
    settings.
    """

    include: StrList = Field(
        default_factory=list,
        description="indicator names, '*' or 'tag:<tag>' that belong to the group",
    )
    exclude: StrList = Field(
        default_factory=list, description="names or tags left out (wins over include)"
    )
    show_details: ShowPolicy | None = Field(
        default=None, description="overrides health.show_details for this group"
    )
    show_components: ShowPolicy | None = Field(
        default=None, description="overrides health.show_components for this group"
    )
    status_order: StrList | None = Field(
        default=None, description="overrides health.status_order for this group"
    )
    http_mapping: dict[str, int] | None = Field(
        default=None, description="overrides health.http_mapping for this group"
    )

    _split = field_validator("include", "exclude", "status_order", mode="before")(_split_list)

    @field_validator("status_order")
    @classmethod
    def _order(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_status_codes(value)

    @field_validator("http_mapping")
    @classmethod
    def _mapping(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        return None if value is None else _check_mapping(value)


class DiskSpaceSettings(_Section):
    enabled: bool = Field(default=True, description="register the diskSpace indicator")
    path: Path = Field(default=Path("."), description="a path on the file system to watch")
    threshold: ByteSize = Field(
        default=ByteSize(10 * 1024 * 1024),
        ge=0,
        description="minimum free space: bytes or '500MB', '1GiB'",
    )


class EventLoopSettings(_Section):
    enabled: bool = Field(
        default=True, description="register the eventLoop indicator (the heartbeat)"
    )
    threshold: float = Field(
        default=1.0, gt=0, allow_inf_nan=False, description="lag in seconds that means DOWN"
    )
    interval: float = Field(
        default=0.1, gt=0, allow_inf_nan=False, description="heartbeat period in seconds"
    )
    recent: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="seconds a stall keeps the indicator DOWN",
    )
    watchdog: bool = Field(default=True, description="log the blocking stack when the loop stalls")


class PingSettings(_Section):
    enabled: bool = Field(default=True, description="register the ping indicator")


class HealthSettings(_Section):
    """How health answers. Defaults keep every answer inside Kubernetes' 1 s probe timeout."""

    timeout: float = Field(
        default=0.5, gt=0, le=3600, description="seconds per indicator, unless it sets its own"
    )
    deadline: float = Field(
        default=0.8, gt=0, le=3600, description="seconds for a whole health answer"
    )
    show_details: ShowPolicy = Field(
        default="never", description="never, when_authorized (read role) or always"
    )
    show_components: ShowPolicy | None = Field(
        default=None, description="same values; unset follows show_details"
    )
    status_order: StrList = Field(
        default_factory=lambda: list(DEFAULT_ORDER), description="status codes, most severe first"
    )
    http_mapping: dict[str, int] = Field(
        default_factory=dict,
        description="status code -> HTTP status, over DOWN/OUT_OF_SERVICE/INIT: 503",
    )
    groups: dict[str, GroupSettings] = Field(
        default_factory=dict, description="group name -> {include, exclude, show_details, ...}"
    )
    max_threads: int = Field(
        default=8, ge=1, le=256, description="threads for sync indicators and contributors"
    )
    ping: PingSettings = PingSettings()
    disk_space: DiskSpaceSettings = DiskSpaceSettings()
    event_loop: EventLoopSettings = EventLoopSettings()

    _split = field_validator("status_order", mode="before")(_split_list)

    @field_validator("status_order")
    @classmethod
    def _order(cls, value: list[str]) -> list[str]:
        return _check_status_codes(value)

    @field_validator("http_mapping")
    @classmethod
    def _mapping(cls, value: dict[str, int]) -> dict[str, int]:
        return _check_mapping(value)

    @field_validator("groups")
    @classmethod
    def _group_names(cls, value: dict[str, GroupSettings]) -> dict[str, GroupSettings]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"group name {name!r} must be letters, digits, '_', '.', '-'")
        return value


class ExposureSettings(_Section):
    """Which endpoints are served. ``*`` means all; exclude wins over include."""

    include: StrList = Field(
        default_factory=lambda: ["health", "ping"], description="endpoints served ('*': all)"
    )
    exclude: StrList = Field(
        default_factory=list, description="endpoints not served (wins over include)"
    )

    _split = field_validator("include", "exclude", mode="before")(_split_list)

    def exposes(self, endpoint: str) -> bool:
        if endpoint in self.exclude or "*" in self.exclude:
            return False
        return "*" in self.include or endpoint in self.include


AccessLevel = Literal["none", "read_only", "unrestricted"]
"""What an exposed endpoint allows: nothing, its read operations, or every operation."""


class AccessSettings(_Section):
    """Which operations of exposed endpoints may run, as Spring Boot's ``access`` model.

    ``read_only`` (the default) allows GET/HEAD only, so nothing that changes
    state runs unless a setting says so; ``unrestricted`` also allows POST and
    DELETE; ``none`` refuses everything. ``endpoints`` sets it per endpoint::

        ACTUATOR_ACCESS__ENDPOINTS='{"loggers": "unrestricted"}'
    """

    default: AccessLevel = Field(
        default="read_only", description="none, read_only or unrestricted, for every endpoint"
    )
    endpoints: dict[str, AccessLevel] = Field(
        default_factory=dict, description="endpoint -> access level, over the default"
    )

    def level(self, endpoint: str) -> AccessLevel:
        return self.endpoints.get(endpoint, self.default)

    def allows(self, endpoint: str, operation: str) -> bool:
        """Whether ``operation`` (``read``, ``write``, ``delete``) may run on ``endpoint``."""
        level = self.level(endpoint)
        return level == "unrestricted" or (level == "read_only" and operation == "read")


RequiredRole = Literal["anonymous", "read", "full"]
"""Who may run an operation: anyone, callers with the ``read`` role, or with ``full``."""
ClientCertificates = Literal["none", "optional", "required"]
_IDENTITY = re.compile(r"[^\x00-\x1f\x7f:]+\Z")
_REALM = re.compile(r'[^\x00-\x1f\x7f"\\]+\Z')


class RoleSettings(_Section):
    """Who gets which role: regular expressions matched against the WHOLE identity.

    ``full`` implies ``read``. Patterns are anchored at both ends, so
    ``sre\\..*`` grants ``sre.alice`` but not ``evil-sre.alice``::

        ACTUATOR_SECURITY__ROLES__FULL='["sre\\\\..*"]'   # JSON: patterns may hold commas
    """

    full: StrList = Field(
        default_factory=list, description="identity patterns granted every operation"
    )
    read: StrList = Field(
        default_factory=list, description="identity patterns granted read operations"
    )

    _split = field_validator("full", "read", mode="before")(_split_list)

    @field_validator("full", "read")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return value


class SecuritySettings(_Section):
    """Who may call the actuator. See docs/security.md for how it combines.

    Anonymous callers may run the read operations of the endpoints listed in
    ``anonymous`` (default: ``health``, whose details stay hidden unless
    ``health.show_details`` says ``always``). Every other read operation
    needs the ``read`` role; every write or delete needs ``full`` unless
    ``write_roles`` says otherwise. Identities come from bearer ``tokens``
    (name -> ``sha256:`` hash), HTTP basic ``users`` (name -> ``scrypt$``
    hash), the subject of a verified TLS client certificate, or an
    authenticator hook (``Actuator.add_authenticator``); ``roles`` grants roles.
    """

    anonymous: StrList = Field(
        default_factory=lambda: ["health"],
        description="endpoints whose reads need no identity ('*': all)",
    )
    tokens: dict[str, str] = Field(
        default_factory=dict,
        description="identity -> sha256: hash of its bearer token",
        json_schema_extra=CREDENTIAL,
    )
    users: dict[str, str] = Field(
        default_factory=dict,
        description="user -> scrypt$ hash of its HTTP basic password",
        json_schema_extra=CREDENTIAL,
    )
    roles: RoleSettings = RoleSettings()
    write_roles: dict[str, RequiredRole] = Field(
        default_factory=dict,
        description="endpoint (or '*') -> role its writes need: full, read, anonymous",
    )
    certificate_identity: Literal["common_name", "subject"] = Field(
        default="common_name", description="identity of a TLS client: common_name or subject"
    )
    realm: str = Field(default="actuator", description="realm named in WWW-Authenticate")
    max_password_checks: int = Field(
        default=2,
        ge=1,
        le=64,
        description="HTTP basic password checks (scrypt, 16 MiB each) run at once; "
        "more wait up to 0.5 s, then 503",
    )
    max_failed_attempts: int = Field(
        default=10,
        ge=0,
        le=100_000,
        description="failed authentications per client address per window before 429 (0: off)",
    )
    failed_attempts_window: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        allow_inf_nan=False,
        description="seconds over which failed authentications are counted",
    )

    _split = field_validator("anonymous", mode="before")(_split_list)

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_credentials(value, "token", check_token_hash)

    @field_validator("users")
    @classmethod
    def _users(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_credentials(value, "user", check_password_hash)

    @field_validator("realm")
    @classmethod
    def _realm(cls, value: str) -> str:
        if not _REALM.match(value):
            raise ValueError("realm must be printable, without quotes or backslashes")
        return value

    def write_role(self, endpoint: str) -> RequiredRole:
        """The role a write or delete operation of ``endpoint`` needs (default ``full``)."""
        return self.write_roles.get(endpoint, self.write_roles.get("*", "full"))

    def anonymous_reads(self, endpoint: str) -> bool:
        return "*" in self.anonymous or endpoint in self.anonymous


def _check_credentials(
    value: dict[str, str], label: str, check: Callable[[str], str]
) -> dict[str, str]:
    """Identity -> hash mappings: names usable as identities, hashes in the expected form."""
    checked = {}
    for name, hashed in value.items():
        if not _IDENTITY.match(name):
            raise ValueError(f"{label} name {name!r} must be non-empty, printable, without ':'")
        try:
            checked[name] = check(hashed)
        except ValueError as exc:
            raise ValueError(f"{label} {name!r}: {exc}") from None
    return checked


class ServerSettings(_Section):
    """A listener of the actuator's own: where, and with which TLS.

    ``client_certs`` asks clients for a certificate signed by ``ssl_ca_certs``:
    ``required`` refuses connections without one (mutual TLS), ``optional``
    lets them in as anonymous or with other credentials.
    """

    host: str = Field(default="127.0.0.1", description="address the management server listens on")
    port: int = Field(default=8081, ge=0, le=65535, description="its port (0: any free port)")
    ssl_certfile: Path | None = Field(default=None, description="PEM certificate: serve HTTPS")
    ssl_keyfile: Path | None = Field(
        default=None,
        description="PEM private key of the certificate",
        json_schema_extra=CREDENTIAL,
    )
    ssl_ca_certs: Path | None = Field(
        default=None, description="CA bundle that client certificates must chain to"
    )
    client_certs: ClientCertificates = Field(
        default="none", description="none, optional or required (mutual TLS)"
    )
    access_log: bool = Field(default=False, description="log every request")

    @model_validator(mode="after")
    def _tls(self) -> ServerSettings:
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("ssl_keyfile is set but ssl_certfile is not")
        if self.client_certs != "none" and (self.ssl_certfile is None or self.ssl_ca_certs is None):
            raise ValueError(
                f"client_certs={self.client_certs!r} needs ssl_certfile "
                f"and ssl_ca_certs (the CA that signs client certificates)"
            )
        if self.ssl_ca_certs is not None and self.client_certs == "none":
            raise ValueError(
                "ssl_ca_certs is set but client_certs is 'none'; "
                "set client_certs to 'required' or 'optional'"
            )
        return self

    def check_files(self, section: str) -> None:
        """Raise ``ValueError`` naming the setting if a configured file is missing."""
        for name in ("ssl_certfile", "ssl_keyfile", "ssl_ca_certs"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{section}.{name}: no such file: {path}")


class ManagementServerSettings(ServerSettings):
    """Serve the actuator on its own port in the app's process (and no longer on the app's).

    ::

        ACTUATOR_MANAGEMENT_SERVER__ENABLED=true ACTUATOR_MANAGEMENT_SERVER__PORT=9090
    """

    enabled: bool = Field(
        default=False, description="serve the actuator on its own port, not the app's"
    )
    thread: bool = Field(
        default=False,
        description="run it on a thread and event loop of its own (liveness then reads the "
        "eventLoop heartbeat)",
    )


class AppInfoSettings(_Section):
    """The ``app`` section of info. Unset fields come from ``distribution``'s metadata."""

    name: str | None = Field(
        default=None, description="app name (code wins; else from distribution)"
    )
    version: str | None = Field(
        default=None, description="app version (code wins; else from distribution)"
    )
    description: str | None = Field(
        default=None, description="one-line description (code wins; else from distribution)"
    )
    distribution: str | None = Field(
        default=None, description="installed distribution whose metadata fills the rest"
    )


class InfoSettings(_Section):
    timeout: float = Field(default=0.5, gt=0, le=3600, description="seconds per contributor")
    app: AppInfoSettings = AppInfoSettings()
    build_file: Path | None = Field(
        default=Path("build-info.json"),
        description="build-info.json written by `actuator build-info` (empty: none)",
    )
    build: dict[str, str] = Field(
        default_factory=dict, description="build values over the file's (name, version, time...)"
    )
    git: dict[str, str] = Field(
        default_factory=dict,
        description="git values over the file's (branch, commit, commit_time...)",
    )
    exclude: StrList = Field(
        default_factory=list,
        description="built-in contributors left out (app, build, git, python, os, process...)",
    )
    facts: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="key/values a fleet tool can filter on (info.facts)"
    )

    _split = field_validator("exclude", mode="before")(_split_list)

    @field_validator("build_file", mode="before")
    @classmethod
    def _no_file(cls, value: Any) -> Any:
        # ACTUATOR_INFO__BUILD_FILE= (empty) switches the file off rather than naming ".".
        return None if isinstance(value, str) and not value.strip() else value


class LoggersSettings(_Section):
    """Logger groups for the loggers endpoint, added to the built-in ``web`` group::

    ACTUATOR_LOGGERS__GROUPS='{"web": ["orders"], "db": ["sqlalchemy", "asyncpg"]}'
    """

    groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="logger group -> member loggers (added to the built-in web group)",
    )

    @field_validator("groups")
    @classmethod
    def _group_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, members in value.items():
            if not _NAME.match(name) or name == "ROOT":
                raise ValueError(
                    f"logger group name {name!r} must be letters, digits, '_', "
                    f"'.', '-' and not ROOT"
                )
            if not all(member.strip() for member in members):
                raise ValueError(f"logger group {name!r} has an empty member name")
        return value


class PauseSettings(_Section):
    """What a pause does to the app's own requests (the actuator keeps answering)."""

    reject_requests: bool = Field(
        default=True, description="answer app requests with 503 while paused"
    )
    paths: StrList = Field(
        default_factory=list, description="only reject under these path prefixes (default: all)"
    )
    retry_after: int = Field(
        default=30, ge=0, le=86400, description="Retry-After seconds on a 503; 0 leaves it out"
    )

    _split = field_validator("paths", mode="before")(_split_list)

    @field_validator("paths")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"pause paths must start with '/', got {path!r}")
        return [path.rstrip("/") or "/" for path in value]


class OverloadSettings(_Section):
    """Load shedding for the app's requests: a limit on requests in flight, 429 beyond it.

    Off by default. ``mode`` picks a ``fixed`` limit or one found from measured
    latency: ``gradient`` (as Netflix concurrency-limits' Gradient2) or
    ``aimd``. The actuator's own requests and the ``exempt`` path prefixes are
    never limited. See docs/overload.md.

    ::

        ACTUATOR_OVERLOAD__ENABLED=true ACTUATOR_OVERLOAD__MODE=gradient
    """

    enabled: bool = Field(default=False, description="limit the app's requests in flight")
    mode: Literal["fixed", "gradient", "aimd"] = Field(
        default="gradient", description="fixed, gradient (latency gradient) or aimd"
    )
    limit: int = Field(default=100, ge=1, le=100_000, description="the fixed mode's limit")
    initial_limit: int = Field(
        default=20, ge=1, le=100_000, description="the adaptive modes' limit before measuring"
    )
    min_limit: int = Field(default=2, ge=1, le=100_000, description="adaptive limit's floor")
    max_limit: int = Field(default=1000, ge=1, le=100_000, description="adaptive limit's ceiling")
    smoothing: float = Field(
        default=0.2, gt=0, le=1, description="weight of each new adaptive estimate (0..1]"
    )
    tolerance: float = Field(
        default=1.5, ge=1, le=10, description="gradient: latency / long-term latency tolerated"
    )
    latency_threshold: float = Field(
        default=0.5, gt=0, le=3600, description="aimd: window latency (s) that backs the limit off"
    )
    window: float = Field(
        default=0.1, gt=0, le=60, description="seconds of samples per adaptive update (at least)"
    )
    queue_size: int = Field(
        default=0, ge=0, le=100_000, description="requests that may wait for a slot (0: refuse)"
    )
    queue_timeout: float = Field(
        default=0.05, gt=0, le=60, description="longest wait in the queue, seconds"
    )
    retry_after: int = Field(
        default=1, ge=0, le=86400, description="Retry-After seconds on a 429 (0 leaves it out)"
    )
    retry_after_jitter: int = Field(
        default=2, ge=0, le=86400, description="random extra Retry-After seconds, 0 up to this"
    )
    exempt: StrList = Field(default_factory=list, description="path prefixes never limited")
    bad_deadline: Literal["reject", "ignore"] = Field(
        default="reject",
        description="a malformed deadline header: reject (400) or ignore",
    )
    out_of_service_after: float = Field(
        default=10.0,
        gt=0,
        le=86400,
        description="seconds of shedding before the overload indicator is OUT_OF_SERVICE",
    )
    readiness: bool = Field(default=False, description="the overload indicator joins readiness")

    _split = field_validator("exempt", mode="before")(_split_list)

    @field_validator("exempt")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"overload exempt paths must start with '/', got {path!r}")
        return [path.rstrip("/") or "/" for path in value]

    @model_validator(mode="after")
    def _bounds(self) -> OverloadSettings:
        if self.min_limit > self.max_limit:
            raise ValueError(
                f"min_limit ({self.min_limit}) must not exceed max_limit ({self.max_limit})"
            )
        return self


class ShutdownSettings(_Section):
    """The shutdown endpoint: off unless ``enabled``, as in Spring Boot."""

    enabled: bool = Field(default=False, description="register the shutdown endpoint")
    drain_period: float | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="seconds of readiness OUT_OF_SERVICE before stopping (default: drain_period)",
    )
    max_jitter: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="random extra delay, up to this many seconds, so a fleet does not stop at once",
    )
    signal_parent: bool = Field(
        default=False,
        description="in a worker of uvicorn --workers N, SIGTERM its supervisor so the whole "
        "server stops (else only this worker stops, and is replaced)",
    )


class EnvSettings(_Section):
    """What the env endpoint reveals. Values are masked unless ``show_values`` allows them."""

    show_values: ShowPolicy = Field(
        default="never", description="never, when_authorized (read role) or always"
    )
    mask_keys: StrList = Field(
        default_factory=list, description="more key fragments whose values are always masked"
    )

    _split = field_validator("mask_keys", mode="before")(_split_list)


HttpExchangeInclude = Literal[
    "time_taken", "principal", "remote_address", "request_headers", "response_headers"
]
"""What each recorded exchange holds beyond timestamp, method, uri and status."""


class HttpExchangesSettings(_Section):
    """Recent requests kept for ``/actuator/httpexchanges`` (recorded only while it is exposed).

    Headers are recorded only when ``include`` names them; credentials in them
    (``Authorization``, cookies, anything the env masking calls secret) are masked.
    """

    capacity: int = Field(
        default=100, ge=1, le=100_000, description="exchanges kept; the oldest go first"
    )
    include: Annotated[list[HttpExchangeInclude], NoDecode] = Field(
        default_factory=lambda: list[HttpExchangeInclude](["time_taken"]),
        description="time_taken, principal, remote_address, request_headers, response_headers",
    )

    _split = field_validator("include", mode="before")(_split_list)


class LogfileSettings(_Section):
    """The file ``/actuator/logfile`` serves: this path, else the first logging FileHandler's."""

    path: Path | None = Field(
        default=None, description="log file to serve (default: the root logger's FileHandler)"
    )

    @field_validator("path", mode="before")
    @classmethod
    def _no_file(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class StartupSettings(_Section):
    """The start-up timeline of ``/actuator/startup``."""

    first_health_check: bool = Field(
        default=True,
        description="run every indicator once after start-up (when startup is exposed) and time it",
    )


class ConfigpropsSettings(_Section):
    """What ``/actuator/configprops`` reveals. Credentials are masked whatever this says."""

    show_values: ShowPolicy = Field(
        default="never", description="never, when_authorized (read role) or always"
    )


class AuditEventsSettings(_Section):
    """The in-memory store behind ``/actuator/auditevents``."""

    capacity: int = Field(
        default=1000, ge=1, le=1_000_000, description="audit events kept; the oldest go first"
    )


class MetricsSettings(_Section):
    """HTTP server metrics and what ``/actuator/prometheus`` and ``/actuator/metrics`` serve.

    ``enabled`` switches the HTTP request instrumentation of the middleware
    (the endpoints are switched by ``exposure``). ``naming`` picks Micrometer's
    names (``http_server_requests_seconds{method,uri,status,outcome,exception}``)
    or OpenTelemetry's (``http_server_request_duration_seconds{http_request_method,
    http_route,http_response_status_code,error_type}``). ``exclude`` lists path
    prefixes that are not recorded (``/static`` covers ``/static/app.js``).
    ``multiprocess`` makes a missing ``PROMETHEUS_MULTIPROC_DIR`` a start-up error.
    """

    enabled: bool = Field(default=True, description="record HTTP server metrics")
    naming: Literal["micrometer", "otel"] = Field(
        default="micrometer", description="micrometer (http_server_requests_seconds) or otel names"
    )
    max_uri_tags: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="distinct uri values before new ones become OVERFLOW",
    )
    exclude: StrList = Field(default_factory=list, description="path prefixes not recorded")
    include_actuator: bool = Field(
        default=False, description="record the actuator's own requests too"
    )
    buckets: FloatList = Field(
        default_factory=lambda: [
            0.005,
            0.01,
            0.025,
            0.05,
            0.075,
            0.1,
            0.25,
            0.5,
            0.75,
            1.0,
            2.5,
            5.0,
            7.5,
            10.0,
        ],
        description="histogram buckets in seconds",
    )
    health: bool = Field(default=True, description="export health as gauges")
    process: bool = Field(
        default=True, description="export process, platform, GC and event-loop metrics"
    )
    multiprocess: bool = Field(
        default=False, description="require PROMETHEUS_MULTIPROC_DIR (several workers)"
    )

    _split = field_validator("exclude", "buckets", mode="before")(_split_list)

    @field_validator("exclude")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"excluded path {path!r} must start with '/'")
        return [path.rstrip("/") or "/" for path in value]

    @field_validator("buckets")
    @classmethod
    def _buckets(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("at least one bucket is needed")
        if not all(math.isfinite(b) and b > 0 for b in value):
            raise ValueError(f"buckets must be finite and > 0 (+Inf is added), got {value}")
        if any(a >= b for a, b in itertools.pairwise(value)):
            raise ValueError(f"buckets must be strictly increasing, got {value}")
        return value


class NatsSettings(_Section):
    """A connection to NATS: where, who, and with which TLS.

    Credentials never go in the URL (it is shown by the ``settings`` endpoint
    and in logs): ``token``, or ``user`` and ``password``, are credentials of
    their own, never shown::

        ACTUATOR_FLEET__NATS__URL=tls://nats-1:4222,tls://nats-2:4222
        ACTUATOR_FLEET__NATS__USER=orders ACTUATOR_FLEET__NATS__PASSWORD=...
    """

    url: str | None = Field(
        default=None,
        description="nats:// or tls:// server URL(s), comma-separated (unset: no NATS)",
    )
    token: SecretStr | None = Field(
        default=None,
        description="authentication token (a credential, never shown)",
        json_schema_extra=CREDENTIAL,
    )
    user: str | None = Field(default=None, description="user name, with password")
    password: SecretStr | None = Field(
        default=None,
        description="the user's password (a credential, never shown)",
        json_schema_extra=CREDENTIAL,
    )
    tls_ca: Path | None = Field(default=None, description="CA bundle verifying the servers")
    tls_cert: Path | None = Field(default=None, description="PEM client certificate (mutual TLS)")
    tls_key: Path | None = Field(
        default=None,
        description="PEM private key of the client certificate",
        json_schema_extra=CREDENTIAL,
    )
    subject_prefix: str = Field(
        default="actuator.fleet",
        description="events go to <prefix>.<service>.<instance>",
    )
    jetstream: bool = Field(
        default=True,
        description="through a JetStream stream, acknowledged once stored (false: core "
        "NATS, at most once); the same on instances and consoles",
    )

    @field_validator("url")
    @classmethod
    def _nats_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        urls = [u.strip() for u in value.split(",") if u.strip()]
        if not urls:
            raise ValueError("must name at least one server")
        for url in urls:
            if not re.fullmatch(r"(nats|tls)://[^/\s@]+/?", url):
                raise ValueError(
                    "must be nats://host:port or tls://host:port (comma-separated), "
                    "without credentials (set token, or user and password)"
                )
        return ",".join(u.rstrip("/") for u in urls)

    @field_validator("subject_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", value):
            raise ValueError(
                f"must be dot-separated tokens of letters, digits, '_' and '-', got {value[:80]!r}"
            )
        return value

    @model_validator(mode="after")
    def _auth(self) -> NatsSettings:
        if self.token is not None and self.user is not None:
            raise ValueError("set token, or user and password, not both")
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password go together")
        if self.tls_key is not None and self.tls_cert is None:
            raise ValueError("tls_key is set but tls_cert is not")
        return self

    @property
    def servers(self) -> list[str]:
        return self.url.split(",") if self.url else []


class FleetSettings(_Section):
    """Push this instance's status to a fleet console (``actuator fleet serve``).

    Unset ``url``: nothing is pushed. The token is a credential: it is never
    shown (``SecretStr``; the env endpoint masks ``*TOKEN*`` variables too)::

        ACTUATOR_FLEET__URL=https://fleet.example.com ACTUATOR_FLEET__TOKEN=...

    Or, instead of ``url``, publish to NATS (``pip install 'asgi-actuator[nats]'``)::

        ACTUATOR_FLEET__NATS__URL=nats://nats:4222 ACTUATOR_FLEET__NATS__TOKEN=...
    """

    url: str | None = Field(
        default=None, description="the fleet console's base URL (unset: do not push)"
    )
    token: SecretStr | None = Field(
        default=None,
        description="the console's ingest token (a credential, never shown)",
        json_schema_extra=CREDENTIAL,
    )
    heartbeat: float = Field(default=30.0, ge=1, le=3600, description="seconds between heartbeats")
    check_interval: float = Field(
        default=5.0,
        ge=0.1,
        le=3600,
        description="seconds between local health checks; a change is pushed at once",
    )
    timeout: float = Field(default=5.0, gt=0, le=60, description="deadline per call, seconds")
    instance_id: str | None = Field(
        default=None, description="stable instance id (default: host, pid and start time)"
    )
    management_url: str | None = Field(
        default=None, description="where the console reaches this actuator (shown in the fleet)"
    )
    nats: NatsSettings = NatsSettings()

    @model_validator(mode="after")
    def _one_way(self) -> FleetSettings:
        if self.url is not None and self.nats.url is not None:
            raise ValueError("set fleet.url (HTTP) or fleet.nats.url (NATS), not both")
        return self

    @property
    def enabled(self) -> bool:
        """Whether the instance reports itself (over HTTP or NATS)."""
        return self.url is not None or self.nats.url is not None

    @field_validator("url", "management_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError(f"must be an http:// or https:// URL, got {value[:80]!r}")
        return value.rstrip("/") if value else value

    @field_validator("instance_id")
    @classmethod
    def _instance_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,200}", value):
            raise ValueError("letters, digits and '_.:@-', at most 200")
        return value


class SpringBootAdminSettings(_Section):
    """Register this actuator with a Spring Boot Admin server, as SBA's own client does.

    Mirrors ``spring.boot.admin.client.*`` (codecentric/spring-boot-admin,
    ``ClientProperties`` and ``InstanceProperties``): every ``period`` seconds
    ``POST {url}/instances`` with ``name``, ``managementUrl``, ``healthUrl``,
    ``serviceUrl`` and ``metadata``; ``DELETE {url}/instances/{id}`` on shutdown.
    Unset ``url``: nothing is registered::

        ACTUATOR_SPRING_BOOT_ADMIN__URL=http://sba:8080 ACTUATOR_SPRING_BOOT_ADMIN__USERNAME=app
        ACTUATOR_SPRING_BOOT_ADMIN__PASSWORD=...

    Unset URLs are derived as SBA's ``DefaultApplicationFactory`` does: the
    service URL from this host and the port the server listens on, the
    management URL from it and ``base_path``, the health URL below that.
    """

    url: StrList = Field(
        default_factory=list,
        description="Spring Boot Admin server URL(s), comma-separated (unset: do not register)",
    )
    api_path: str = Field(default="instances", description="the server's registration path")
    username: str | None = Field(
        default=None,
        description="HTTP basic user at the server (a credential, never shown)",
        json_schema_extra=CREDENTIAL,
    )
    password: SecretStr | None = Field(
        default=None,
        description="its password (a credential, never shown)",
        json_schema_extra=CREDENTIAL,
    )
    period: float = Field(
        default=10.0, ge=0.05, le=3600, description="seconds between registrations (SBA: 10 s)"
    )
    timeout: float = Field(default=5.0, gt=0, le=60, description="deadline per call, seconds")
    max_backoff: float = Field(
        default=60.0, gt=0, le=3600, description="longest back-off while the server is down"
    )
    register_once: bool = Field(
        default=True,
        description="register at the first server that accepts (false: at every one)",
    )
    auto_deregistration: bool = Field(
        default=True, description="deregister on shutdown (SBA turns it on on cloud platforms)"
    )
    name: str | None = Field(
        default=None, description="the instance name shown (default: info.app.name)"
    )
    service_url: str | None = Field(
        default=None, description="the app's URL (default: http://<host>:<listening port>/)"
    )
    management_url: str | None = Field(
        default=None, description="the actuator's URL (default: service URL + base_path)"
    )
    health_url: str | None = Field(
        default=None, description="the health URL (default: management URL + /health)"
    )
    prefer_ip: bool = Field(
        default=False, description="an IP address, not the host name, in the default URLs"
    )
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="metadata sent along (user.name / user.password: SBA's credentials "
        "to read this actuator; never shown)",
        json_schema_extra=CREDENTIAL,
    )

    _split = field_validator("url", mode="before")(_split_list)

    @field_validator("url")
    @classmethod
    def _server_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.match(r"https?://[^/\s@]+(/|\Z)", url):
                raise ValueError(
                    "must be http:// or https:// URLs without credentials (set username and "
                    f"password), got {url.split('@')[-1][:80]!r}"
                )
        return [url.rstrip("/") for url in value]

    @field_validator("service_url", "management_url", "health_url")
    @classmethod
    def _instance_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError(f"must be an http:// or https:// URL, got {value[:80]!r}")
        return value

    @field_validator("api_path")
    @classmethod
    def _api_path(cls, value: str) -> str:
        value = value.strip("/")
        if not re.fullmatch(r"[A-Za-z0-9._~/-]+", value):
            raise ValueError(f"must be a URL path, got {value[:80]!r}")
        return value


class ActuatorSettings(BaseSettings):
    """Every setting of an actuator. See the table in docs/configuration.md.

    ::

        ActuatorSettings(
            base_path="/manage",
            exposure={"include": ["health", "info", "prometheus"]},
            health={"show_details": "always", "timeout": 0.3},
        )
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    base_path: str = Field(
        default="/actuator",
        description="where endpoints live ('/': at the root, no discovery page)",
    )
    exposure: ExposureSettings = ExposureSettings()
    access: AccessSettings = AccessSettings()
    security: SecuritySettings = SecuritySettings()
    management_server: ManagementServerSettings = ManagementServerSettings()
    health: HealthSettings = HealthSettings()
    info: InfoSettings = InfoSettings()
    loggers: LoggersSettings = LoggersSettings()
    pause: PauseSettings = PauseSettings()
    overload: OverloadSettings = OverloadSettings()
    shutdown: ShutdownSettings = ShutdownSettings()
    env: EnvSettings = EnvSettings()
    metrics: MetricsSettings = MetricsSettings()
    httpexchanges: HttpExchangesSettings = HttpExchangesSettings()
    logfile: LogfileSettings = LogfileSettings()
    startup: StartupSettings = StartupSettings()
    configprops: ConfigpropsSettings = ConfigpropsSettings()
    auditevents: AuditEventsSettings = AuditEventsSettings()
    fleet: FleetSettings = FleetSettings()
    spring_boot_admin: SpringBootAdminSettings = SpringBootAdminSettings()
    drain_period: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description="seconds to keep serving, readiness OUT_OF_SERVICE, after SIGTERM",
    )
    max_path_length: int = Field(
        default=8192, ge=256, le=65536, description="longest request target in bytes (longer: 414)"
    )

    @field_validator("base_path")
    @classmethod
    def _base_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            raise ValueError(f"base_path must start with '/', got {value!r}")
        if not _BASE_PATH.match(value):
            raise ValueError(f"base_path may hold only unreserved URL characters, got {value!r}")
        return value


def load_settings(settings: ActuatorSettings | dict[str, Any] | None) -> ActuatorSettings:
    """Settings from an instance, a mapping or the environment, with errors naming the setting."""
    if isinstance(settings, ActuatorSettings):
        return settings
    if settings is not None and not isinstance(settings, dict):
        raise TypeError(
            f"settings must be ActuatorSettings or a dict, got {type(settings).__name__}"
        )
    _warn_unknown_environment()
    try:
        return ActuatorSettings(**(settings or {}))
    except ValidationError as exc:
        raise ValueError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = ["Invalid actuator settings:"]
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        env = ENV_PREFIX + "__".join(str(p) for p in error["loc"] if isinstance(p, str)).upper()
        lines.append(f"  {where} ({env}): {error['msg']}")
    return "\n".join(lines)


def _warn_unknown_environment() -> None:
    known = {ENV_PREFIX + name.upper() for name in ActuatorSettings.model_fields}
    for key in os.environ:
        if key.startswith(ENV_PREFIX) and key.split("__")[0] not in known:
            logger.warning("Unknown actuator setting in the environment: %s", key)


def settings_reference() -> list[tuple[str, str, str, str]]:
    """``(setting, environment variable, default, description)`` for every leaf setting.

    The table in docs/configuration.md and ``actuator settings`` are made from it,
    so the documentation cannot drift from the code.
    """
    rows: list[tuple[str, str, str, str]] = []

    def walk(model: type[BaseModel], path: tuple[str, ...]) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, (*path, name))
                continue
            default = field.get_default(call_default_factory=True)
            shown = "" if default is None else json.dumps(default, default=str)
            rows.append(
                (
                    ".".join((*path, name)),
                    ENV_PREFIX + "__".join((*path, name)).upper(),
                    shown,
                    field.description or "",
                )
            )

    walk(ActuatorSettings, ())
    return rows


def credential_settings(model: type[BaseModel] | None = None) -> list[str]:
    """Dotted names of every setting marked ``CREDENTIAL`` (``security.users``, ...)."""
    found: list[str] = []

    def walk(current: type[BaseModel], path: tuple[str, ...]) -> None:
        for name, field in current.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, (*path, name))
            elif isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get(
                "credential"
            ):
                found.append(".".join((*path, name)))

    walk(model or ActuatorSettings, ())
    return found


def settings_markdown() -> str:
    """The configuration table, in Markdown."""
    lines = ["| Setting | Environment variable | Default | Meaning |", "|---|---|---|---|"]
    for setting, env, default, description in settings_reference():
        cell = f"`{default}`" if default else ""
        lines.append(f"| `{setting}` | `{env}` | {cell} | {description.replace('|', '/')} |")
    return "\n".join(lines)


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A TOML file's tables; ``ValueError`` naming the file when it cannot be read or parsed.

    One reader for every config file the package takes (the sidecar's, the fleet console's).
    """
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the config file: {exc}") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: invalid TOML: {exc}") from None
    return data
