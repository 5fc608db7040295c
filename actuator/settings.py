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
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from actuator.aggregator import DEFAULT_ORDER
from actuator.status import Status

logger = logging.getLogger("actuator")

ShowPolicy = Literal["never", "when_authorized", "always"]
"""When to show health details or components: ``never``, ``when_authorized`` or ``always``.
Until a caller identity is configured, ``when_authorized`` behaves as ``never``."""

ENV_PREFIX = "ACTUATOR_"
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

    include: StrList = Field(default_factory=list)
    exclude: StrList = Field(default_factory=list)
    show_details: ShowPolicy | None = None
    show_components: ShowPolicy | None = None
    status_order: StrList | None = None
    http_mapping: dict[str, int] | None = None

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
    enabled: bool = True
    path: Path = Path(".")
    threshold: int = Field(default=10 * 1024 * 1024, ge=0, description="minimum free bytes")


class EventLoopSettings(_Section):
    enabled: bool = True
    threshold: float = Field(default=1.0, gt=0, description="lag in seconds that means DOWN")
    interval: float = Field(default=0.1, gt=0, description="heartbeat period in seconds")


class PingSettings(_Section):
    enabled: bool = True


class HealthSettings(_Section):
    """How health answers. Defaults keep every answer inside Kubernetes' 1 s probe timeout."""

    timeout: float = Field(default=0.5, gt=0, le=3600)
    deadline: float = Field(default=0.8, gt=0, le=3600)
    show_details: ShowPolicy = "never"
    show_components: ShowPolicy | None = None
    status_order: StrList = Field(default_factory=lambda: list(DEFAULT_ORDER))
    http_mapping: dict[str, int] = Field(default_factory=dict)
    groups: dict[str, GroupSettings] = Field(default_factory=dict)
    max_threads: int = Field(default=8, ge=1, le=256)
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

    include: StrList = Field(default_factory=lambda: ["health"])
    exclude: StrList = Field(default_factory=list)

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

    default: AccessLevel = "read_only"
    endpoints: dict[str, AccessLevel] = Field(default_factory=dict)

    def level(self, endpoint: str) -> AccessLevel:
        return self.endpoints.get(endpoint, self.default)


class AppInfoSettings(_Section):
    """The ``app`` section of info. Unset fields come from ``distribution``'s metadata."""

    name: str | None = None
    version: str | None = None
    description: str | None = None
    distribution: str | None = None


class InfoSettings(_Section):
    timeout: float = Field(default=0.5, gt=0, le=3600)
    app: AppInfoSettings = AppInfoSettings()
    build_file: Path | None = Path("build-info.json")
    build: dict[str, str] = Field(default_factory=dict)
    git: dict[str, str] = Field(default_factory=dict)
    exclude: StrList = Field(default_factory=list)

    _split = field_validator("exclude", mode="before")(_split_list)


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

    enabled: bool = True
    naming: Literal["micrometer", "otel"] = "micrometer"
    max_uri_tags: int = Field(default=100, ge=1, le=100_000)
    exclude: StrList = Field(default_factory=list)
    include_actuator: bool = False
    buckets: FloatList = Field(default_factory=lambda: [
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0])
    health: bool = True
    process: bool = True
    multiprocess: bool = False

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


class ActuatorSettings(BaseSettings):
    """Every setting of an actuator. See the README's configuration table.

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

    base_path: str = "/actuator"
    exposure: ExposureSettings = ExposureSettings()
    access: AccessSettings = AccessSettings()
    health: HealthSettings = HealthSettings()
    info: InfoSettings = InfoSettings()
    metrics: MetricsSettings = MetricsSettings()
    drain_period: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        description="seconds to keep serving, readiness OUT_OF_SERVICE, after SIGTERM",
    )
    max_path_length: int = Field(default=8192, ge=256, le=65536)

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
