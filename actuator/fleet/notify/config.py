"""What ``[notifications]`` in ``fleet.toml`` says: channels, rules, mutes, delivery.

::

    [notifications]
    interval = 5                          # seconds between rounds
    timeout = 10                          # deadline per delivery attempt
    attempts = 6                          # then the delivery is logged as failed

    [notifications.channels.ops]
    type = "webhook"
    url_env = "OPS_WEBHOOK_URL"           # secrets come from the environment
    headers_env = { Authorization = "OPS_WEBHOOK_AUTH" }

    [notifications.rules.orders-prod]
    on = "group"
    channels = ["ops"]
    services = ["orders"]
    where = { environment = "prod" }
    down_percent = 20                     # more than 20% of the group DOWN
    hold = 60                             # the change held a minute
    remind_every = 3600

Every key is checked when the console starts; an error names the key
(``notifications.rules.orders-prod.down_percent``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from actuator.fleet.model import DISCONNECTED, DOWN, FACT_KEY, Name, StatusCode

_ENV = r"^[A-Za-z_][A-Za-z0-9_]*$"
EnvName = Annotated[str, Field(pattern=_ENV, max_length=200)]
Header = Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", max_length=100)]
ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _UrlChannel(_Config):
    url: str | None = Field(default=None, description="the URL, if it is no secret")
    url_env: EnvName | None = Field(default=None, description="the variable holding the URL")

    @model_validator(mode="after")
    def _one_url(self) -> _UrlChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return self


class WebhookChannel(_UrlChannel):
    """A POST of the JSON document described in docs/fleet-notifications.md."""

    type: Literal["webhook"]
    headers: dict[Header, str] = Field(default_factory=dict, description="sent as they are")
    headers_env: dict[Header, EnvName] = Field(
        default_factory=dict, description="header -> the variable holding its value (secrets)"
    )


class SlackChannel(_UrlChannel):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): ``{"text": ...}``."""

    type: Literal["slack"]


class EmailChannel(_Config):
    """Mail through an SMTP server; ``security`` is ``starttls`` unless said otherwise."""

    type: Literal["email"]
    host: str = Field(min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535, description="25, 587 or 465 by security")
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = Field(default=None, max_length=200)
    password_env: EnvName | None = None
    sender: str = Field(min_length=3, max_length=200, pattern=r"^[^\s@]+@[^\s@]+$")
    to: list[Annotated[str, Field(pattern=r"^[^\s@]+@[^\s@]+$", max_length=200)]] = Field(
        min_length=1, max_length=100
    )
    subject_prefix: str = Field(default="[fleet]", max_length=50)
    ca_file: str | None = Field(default=None, description="CA bundle for a private SMTP CA")

    @model_validator(mode="after")
    def _login(self) -> EmailChannel:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together (login is optional)")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"none": 25, "starttls": 587, "tls": 465}[self.security]


Channel = Annotated[WebhookChannel | SlackChannel | EmailChannel, Field(discriminator="type")]


class RuleConfig(_Config):
    """When to notify whom. Filters are ANDed; an empty filter matches everything."""

    on: Literal["instance", "group"] = "instance"
    channels: list[ChannelName] = Field(min_length=1, max_length=20)
    services: list[Name] = Field(default_factory=list, max_length=100)
    where: dict[str, str] = Field(
        default_factory=dict, description="facts (instances) or grouping keys (groups) to match"
    )
    statuses: list[StatusCode] = Field(
        default_factory=lambda: [DOWN, DISCONNECTED],
        min_length=1,
        description="alarm statuses: entering one is notified, leaving it too (recovery)",
    )
    down_percent: float | None = Field(
        default=None, ge=0, lt=100, description="group rules: DOWN when more than this % are"
    )
    recovery: bool = Field(default=True, description="notify when an alarm status ends")
    hold: float = Field(default=0, ge=0, le=86400, description="seconds a change must hold")
    confirm: int = Field(default=1, ge=1, le=1000, description="rounds that must see it")
    flap_changes: int = Field(default=5, ge=0, le=1000, description="0: no flap detection")
    flap_window: float = Field(default=600, gt=0, le=86400, description="seconds")
    remind_every: float = Field(default=0, ge=0, description="seconds; 0: no reminders")

    @model_validator(mode="after")
    def _check(self) -> RuleConfig:
        if self.down_percent is not None and self.on != "group":
            raise ValueError("down_percent is for group rules (on = 'group')")
        for key in self.where:
            if not FACT_KEY.match(key):
                raise ValueError(f"where: {key[:70]!r} is not a fact name")
        if self.flap_changes == 1:
            raise ValueError("flap_changes must be 0 (off) or at least 2")
        return self

    def alarm(self, status: str | None) -> bool:
        return status in self.statuses

    def matches(self, service: str | None, facts: Mapping[str, Any]) -> bool:
        if self.services and service not in self.services:
            return False
        return all(facts.get(key) == value for key, value in self.where.items())


class MuteConfig(_Config):
    """A maintenance window: matching notifications are logged as muted, not sent.

    Every filter given must match (an empty one matches everything); ``ends``
    is required, so no mute outlives its maintenance by accident.
    """

    ends: AwareDatetime
    starts: AwareDatetime | None = None
    rules: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=100)
    services: list[Name] = Field(default_factory=list, max_length=100)
    where: dict[str, Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=32
    )
    subjects: list[Name] = Field(
        default_factory=list, max_length=1000, description="instance ids or group ids"
    )
    reason: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _window(self) -> MuteConfig:
        if self.starts is not None and self.starts >= self.ends:
            raise ValueError("ends must be after starts")
        for key in self.where:
            if not FACT_KEY.match(key):
                raise ValueError(f"where: {key[:70]!r} is not a fact name")
        return self

    def start_time(self, default: float) -> float:
        return self.starts.timestamp() if self.starts else default


class NotifyConfig(_Config):
    """``[notifications]``: see the module docstring. Without rules nothing is evaluated."""

    interval: float = Field(default=5, gt=0, le=3600, description="seconds between rounds")
    batch: int = Field(default=1000, ge=1, le=100_000, description="status changes per round")
    deliveries: int = Field(default=100, ge=1, le=10_000, description="attempts per round")
    concurrency: int = Field(default=10, ge=1, le=1000, description="attempts in flight")
    timeout: float = Field(default=10, gt=0, le=300, description="deadline per attempt, seconds")
    attempts: int = Field(default=6, ge=1, le=100, description="attempts per delivery")
    backoff: float = Field(default=5, ge=0, le=3600, description="first back-off bound, seconds")
    max_backoff: float = Field(default=300, ge=0, le=86400, description="largest bound, seconds")
    keep: int = Field(default=10_000, ge=10, description="delivery log entries kept")
    channels: dict[ChannelName, Channel] = Field(default_factory=dict)
    rules: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)], RuleConfig] = (
        Field(default_factory=dict)
    )
    mutes: list[MuteConfig] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _references(self) -> NotifyConfig:
        for name, rule in self.rules.items():
            for channel in rule.channels:
                if channel not in self.channels:
                    known = ", ".join(sorted(self.channels)) or "none"
                    raise ValueError(
                        f"rules.{name}.channels: no channel {channel!r} (defined: {known})"
                    )
        return self


def secret(environ: Mapping[str, str], variable: str, key: str) -> str:
    """The value of ``variable``; ``ValueError`` naming the configuration ``key`` when unset."""
    value = environ.get(variable)
    if not value:
        raise ValueError(f"{key}: the environment variable {variable} is not set")
    return value
