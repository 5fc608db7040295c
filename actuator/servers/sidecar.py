"""The sidecar: a standalone actuator, configured by a TOML file, beside any process.

``actuator serve --config actuator.toml`` reads a file like this one, builds
an ``Actuator`` with the declared indicators and info, and serves it with
uvicorn (the ``Actuator`` is itself an ASGI app)::

    [server]                    # where the sidecar listens (ServerSettings)
    host = "0.0.0.0"
    port = 8081

    [settings]                  # any ActuatorSettings, as in ACTUATOR_* variables
    exposure.include = ["health", "info"]
    health.show_details = "when_authorized"

    [info.team]                 # static info sections
    owner = "payments"

    [indicators.web]            # one table per indicator: type + its options
    type = "http"
    url = "http://127.0.0.1:8080/healthz"
    groups = ["readiness"]

``ACTUATOR_*`` environment variables still apply where the file is silent
(handy for secrets such as ``ACTUATOR_SECURITY__TOKENS``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actuator.core import Actuator
from actuator.health.indicator import Indicator
from actuator.settings import ActuatorSettings, ServerSettings, read_toml

# The indicator's own deadline leaves a margin inside the check's timeout, so
# a slow dependency reports its own reason instead of a generic timeout.
_INNER = 0.9


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Check(_Config):
    groups: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    timeout: float | None = Field(
        default=None, gt=0, le=3600, description="seconds (default: settings.health.timeout)"
    )
    ttl: float | None = Field(default=None, gt=0)
    interval: float | None = Field(default=None, gt=0)

    def build(self, timeout: float) -> Indicator:
        raise NotImplementedError


class HttpCheck(_Check):
    """UP when ``url`` answers with a status in ``expected_status`` (default 200-399)."""

    type: Literal["http"]
    url: str
    method: str = "GET"
    expected_status: list[int] | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    def build(self, timeout: float) -> Indicator:
        from actuator.health.indicators.http import HttpIndicator

        expected = range(200, 400) if self.expected_status is None else self.expected_status
        return HttpIndicator(
            self.url,
            method=self.method,
            timeout=timeout * _INNER,
            expected=expected,
            headers=self.headers,
        )


class TcpCheck(_Check):
    """UP when a TCP connection to ``host:port`` opens."""

    type: Literal["tcp"]
    host: str
    port: int = Field(ge=1, le=65535)

    def build(self, timeout: float) -> Indicator:
        from actuator.health.indicators.tcp import TcpIndicator

        return TcpIndicator(self.host, self.port, timeout=timeout * _INNER)


class DiskCheck(_Check):
    """DOWN when the file system holding ``path`` has less than ``threshold`` bytes free."""

    type: Literal["disk"]
    path: Path = Path(".")
    threshold: int = Field(default=10 * 1024 * 1024, ge=0)

    def build(self, timeout: float) -> Indicator:
        from actuator.health.indicators.disk import DiskSpaceIndicator

        return DiskSpaceIndicator(self.path, threshold=self.threshold)


class CommandCheck(_Check):
    """UP when ``command`` (a list: program and arguments, no shell) exits with an expected code."""

    type: Literal["command"]
    command: list[str] = Field(min_length=1)
    expected_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)
    cwd: Path | None = None
    env: dict[str, str] = Field(default_factory=dict)
    show_output: bool = True

    def build(self, timeout: float) -> Indicator:
        from actuator.health.indicators.command import CommandIndicator

        return CommandIndicator(
            self.command,
            timeout=timeout * _INNER,
            expected=frozenset(self.expected_exit_codes),
            cwd=self.cwd,
            env=self.env,
            show_output=self.show_output,
        )


class FileCheck(_Check):
    """UP while ``path`` was modified less than ``max_age`` seconds ago."""

    type: Literal["file"]
    path: Path
    max_age: float = Field(gt=0)

    def build(self, timeout: float) -> Indicator:
        from actuator.health.indicators.file import FileFreshnessIndicator

        return FileFreshnessIndicator(self.path, max_age=self.max_age)


IndicatorConfig = Annotated[
    HttpCheck | TcpCheck | DiskCheck | CommandCheck | FileCheck, Field(discriminator="type")
]


class SidecarConfig(_Config):
    """The whole sidecar file: ``server``, ``settings``, ``info`` and ``indicators`` tables."""

    server: ServerSettings = ServerSettings()
    settings: dict[str, Any] = Field(default_factory=dict)
    info: dict[str, dict[str, Any]] = Field(default_factory=dict)
    indicators: dict[str, IndicatorConfig] = Field(default_factory=dict)


def parse_config(data: Mapping[str, Any], source: str = "config") -> SidecarConfig:
    """A validated ``SidecarConfig``; ``ValueError`` naming every bad key otherwise."""
    try:
        return SidecarConfig.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_describe(exc, source)) from None


def load_config(path: str | os.PathLike[str]) -> SidecarConfig:
    """Read and validate a sidecar TOML file; ``ValueError`` with the file and key otherwise."""
    return parse_config(read_toml(path), str(path))


def build_actuator(config: SidecarConfig, source: str = "config") -> Actuator:
    """The ``Actuator`` a sidecar config describes; ``ValueError`` naming the key otherwise."""
    try:
        settings = ActuatorSettings(**config.settings)
    except ValidationError as exc:
        raise ValueError(_describe(exc, source, prefix="settings.")) from None
    actuator = Actuator(settings=settings)
    for name, section in config.info.items():
        if name in actuator.contributors:
            actuator.remove_contributor(name)  # the file's section replaces a built-in one
        try:
            actuator.add_contributor(name, functools.partial(dict, section))
        except ValueError as exc:
            raise ValueError(f"{source}: info.{name}: {exc}") from None
    for name, check in config.indicators.items():
        timeout = check.timeout or settings.health.timeout
        try:
            actuator.add_indicator(
                name,
                check.build(timeout),
                groups=check.groups,
                tags=check.tags,
                timeout=timeout,
                ttl=check.ttl,
                interval=check.interval,
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{source}: indicators.{name}: {exc}") from None
    return actuator


def serve(
    config: SidecarConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    source: str = "config",
) -> None:
    """Serve the sidecar until SIGINT or SIGTERM (graceful, with ``settings.drain_period``)."""
    import uvicorn

    from actuator.servers.management_server import uvicorn_config

    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    server = ServerSettings.model_validate({**config.server.model_dump(), **overrides})
    server.check_files("server")
    actuator = build_actuator(config, source)
    uvicorn.Server(
        uvicorn_config(
            actuator,
            server,
            lifespan="on",
            log_level=log_level,
            proxy_headers=False,
            server_header=False,
        )
    ).run()


def _describe(exc: ValidationError, source: str, prefix: str = "") -> str:
    lines = [f"{source}: invalid configuration:"]
    for error in exc.errors():
        # Drop the discriminator tag pydantic inserts into indicator locations.
        loc = [
            str(p)
            for i, p in enumerate(error["loc"])
            if not (i == 2 and error["loc"][0] == "indicators" and p in _TYPES)
        ]
        where = prefix + ".".join(loc) if loc else prefix.rstrip(".") or "(top level)"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


_TYPES = frozenset({"http", "tcp", "disk", "command", "file"})
