"""The console accepts Spring Boot Admin's client registration protocol.

Services already configured for Spring Boot Admin (Spring Boot apps with
``spring-boot-admin-starter-client``, pyctuator, an actuator with
``spring_boot_admin.url``) can point that URL at the console instead, and
appear in the fleet, polled through their actuator by the console's pull
mode. The protocol, as codecentric/spring-boot-admin's server defines it
(paths below ``spring-boot-admin-server/src/main/java/de/codecentric/boot/admin/server/``):

- ``web/InstancesController.register``: ``POST /instances`` (consumes
  ``application/json``) answers ``201 Created`` with ``{"id": ...}`` and a
  ``Location`` of ``/instances/{id}``; ``unregister``: ``DELETE
  /instances/{id}`` answers 204, or 404 for an id it does not hold.
- ``utils/jackson/RegistrationDeserializer``: ``name``; either the 1.x ``url``
  (health at ``url/health``) or ``healthUrl``/``health_url``,
  ``managementUrl``/``management_url``, ``serviceUrl``/``service_url``;
  ``metadata`` values as text.
- ``domain/values/Registration``: ``name`` and ``healthUrl`` must not be empty,
  each URL given must be absolute; otherwise 400.
- ``services/HashingInstanceUrlIdGenerator``: the id is the first 12 hex digits
  of the SHA-1 of the health URL, so re-registering (SBA clients do it every
  10 s, ``ClientProperties.period``) keeps the id and changes nothing.
- ``web/client/BasicAuthHttpHeaderProvider``: the instance's actuator is read
  with HTTP basic credentials from the metadata keys ``user.name`` (or
  ``user-name``, ``username``) and ``user.password`` (``user-password``,
  ``userpassword``). They are kept in the console's database to poll with, and
  never leave it: not in answers, facts, logs or errors. Other metadata whose
  key SBA sanitises (``AdminServerProperties.metadataKeysToSanitize``:
  ``.*password$``, ``.*secret$``, ``.*key$``, ``.*token$``, ``.*credentials.*``,
  ``.*vcap_services$``) is kept out of the facts too.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from actuator.fleet.model import FACT_KEY
from actuator.fleet.pull import Registered

USERNAME_KEYS = ("user.name", "user-name", "username")
PASSWORD_KEYS = ("user.password", "user-password", "userpassword")
_SANITIZED = re.compile(
    r".*password$|.*secret$|.*key$|.*token$|.*credentials.*|.*vcap_services$", re.IGNORECASE
)
_MAX_URL = 2000
_MAX_METADATA = 64


class SpringBootAdminConfig(BaseModel):
    """``[spring_boot_admin]`` in ``fleet.toml``: who may register.

    ::

        [spring_boot_admin]
        enabled = true
        principals = ["sba-clients"]   # users/tokens of [settings.security] (patterns)
        ingest_tokens = true           # the console's ingest tokens may register too

    SBA clients send HTTP basic credentials (``spring.boot.admin.client.username``
    and ``password``): give them a user in the console's ``[settings.security]
    users`` and name it in ``principals``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="accept POST /instances and DELETE")
    principals: list[str] = Field(
        default_factory=list,
        description="patterns of the console's security identities allowed to register",
    )
    ingest_tokens: bool = Field(
        default=True, description="the console's ingest tokens (Bearer) may register"
    )
    anonymous: bool = Field(
        default=False, description="anyone may register (SBA's server default; not ours)"
    )

    def model_post_init(self, context: Any, /) -> None:
        for pattern in self.principals:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"spring_boot_admin.principals: {pattern!r}: {exc}") from None


class RegistrationError(ValueError):
    """The body is not a registration SBA's server would accept; the message says why."""


def sba_instance_id(health_url: str) -> str:
    """``HashingInstanceUrlIdGenerator``: the first 12 hex digits of the SHA-1 of the URL."""
    return hashlib.sha1(health_url.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]


@dataclass(frozen=True)
class Registration:
    """One accepted registration. ``metadata`` holds the credentials: never show it."""

    id: str
    name: str
    health_url: str
    management_url: str | None
    service_url: str | None
    metadata: dict[str, str] = field(repr=False)

    def credentials(self) -> tuple[str, str] | None:
        """``BasicAuthHttpHeaderProvider``: user and password from the metadata, if both."""
        user = next((self.metadata[k] for k in USERNAME_KEYS if self.metadata.get(k)), None)
        password = next((self.metadata[k] for k in PASSWORD_KEYS if self.metadata.get(k)), None)
        return (user, password) if user and password else None

    def facts(self) -> dict[str, str]:
        """The metadata that may be shown: no credentials, nothing SBA would sanitise."""
        return {
            key: value[:200]
            for key, value in self.metadata.items()
            if FACT_KEY.match(key)
            and key not in USERNAME_KEYS
            and key not in PASSWORD_KEYS
            and not _SANITIZED.fullmatch(key)
        }

    def target(self) -> Registered:
        """What the poller needs to read this instance's actuator."""
        service = re.sub(r"[^A-Za-z0-9_.:@-]", "-", self.name)[:200]
        return Registered(
            id=self.id,
            service=service,
            health_url=self.health_url,
            management_url=self.management_url,
            facts=self.facts(),
            auth=self.credentials(),
        )

    def row(self) -> tuple[str, str, str, str | None, str | None, str]:
        return (
            self.id,
            self.name,
            self.health_url,
            self.management_url,
            self.service_url,
            json.dumps(self.metadata, sort_keys=True),
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Registration:
        return cls(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))


def parse_registration(data: Any) -> Registration:
    """A ``Registration`` from a decoded JSON body, read as ``RegistrationDeserializer``
    reads it and checked as ``Registration``'s constructor checks it."""
    if not isinstance(data, dict):
        raise RegistrationError("The registration must be a JSON object")

    def text(*keys: str) -> str | None:
        for key in keys:
            value = data.get(key)
            if value is not None:
                if isinstance(value, (dict, list)):
                    raise RegistrationError(f"'{key}' must be a string")
                return str(value)
        return None

    name = text("name")
    if data.get("url") is not None:
        management = text("url")
        health = None if management is None else management.rstrip("/") + "/health"
        service = None
    else:
        health = text("healthUrl", "health_url")
        management = text("managementUrl", "management_url")
        service = text("serviceUrl", "service_url")
    if not name or not name.strip():
        raise RegistrationError("'name' must not be empty.")
    if not health:
        raise RegistrationError("'healthUrl' must not be empty.")
    for key, url in (("healthUrl", health), ("managementUrl", management), ("serviceUrl", service)):
        if url and not _pollable(url):
            raise RegistrationError(f"'{key}' is not valid: {_shown(url)}")
    metadata = data.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise RegistrationError("'metadata' must be an object of strings")
    if len(metadata) > _MAX_METADATA:
        raise RegistrationError(f"'metadata' has more than {_MAX_METADATA} entries")
    values = {}
    for key, value in metadata.items():
        if isinstance(value, (dict, list)) or len(str(key)) > 200 or len(str(value)) > 2000:
            raise RegistrationError(f"'metadata.{str(key)[:60]}' must be a short string")
        values[str(key)] = "" if value is None else _json_text(value)
    return Registration(
        id=sba_instance_id(health),
        name=name[:200],
        health_url=health,
        management_url=management.rstrip("/") if management else None,
        service_url=service or None,
        metadata=values,
    )


def _pollable(url: str) -> bool:
    # SBA takes any absolute URI; the console must also be able to poll it.
    if len(url) > _MAX_URL:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.password


def _shown(url: str) -> str:
    # An invalid URL is named in the error, never with a password it may hold.
    return url.split("@")[-1][:200]


def _json_text(value: Any) -> str:
    # Jackson's asText(): booleans as true/false, numbers as written.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
