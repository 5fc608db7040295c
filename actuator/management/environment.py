"""The environment the app runs in, as the env endpoint shows it, with secrets masked.

Property sources, in order of precedence (the first holding a name wins in
``/env/{name}``): ``systemEnvironment`` (``os.environ``), ``actuatorSettings``
(the actuator's own settings, as dotted names such as ``health.timeout``),
then the app's own sources in the order they were added.

Masking, in order:

1. A setting marked as a credential (``security.tokens``, ``security.users``,
   ``management_server.ssl_keyfile``..., see ``settings.CREDENTIAL``), and the
   ``ACTUATOR_*`` variable that sets it, is ``******`` always.
2. Unless ``env.show_values`` allows it for this caller, every value is ``******``.
3. Even when values are shown, ``actuator.sanitizer`` masks values whose key
   looks like a secret (``DB_PASS``, ``MYSQL_PWD``, ``GITHUB_PAT``... plus
   ``env.mask_keys``) and the secrets inside values (URL passwords, query and
   connection-string secrets, JSON members).
4. Then each sanitizer the app added sees ``(source, key, value)`` and returns
   the value to show, so an app can mask more (it cannot unmask what was masked).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from actuator.health.result import describe_exception
from actuator.sanitizer import MASK, SECRET_FRAGMENTS, is_secret_key, mask_url_passwords, sanitize
from actuator.settings import ENV_PREFIX, ActuatorSettings, credential_settings

logger = logging.getLogger("actuator.env")

__all__ = [
    "ACTUATOR_SETTINGS",
    "MASK",
    "SECRET_FRAGMENTS",
    "SYSTEM_ENVIRONMENT",
    "Environment",
    "Sanitizer",
    "Source",
    "flatten",
    "mask_url_passwords",
]

SYSTEM_ENVIRONMENT = "systemEnvironment"
ACTUATOR_SETTINGS = "actuatorSettings"

Sanitizer = Callable[[str, str, Any], Any]
"""``sanitizer(source, key, value) -> value to show``."""
Source = Mapping[str, Any] | Callable[[], Mapping[str, Any]]


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted names: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


class Environment:
    """The property sources behind ``/actuator/env``; reach it as ``actuator.environment``.

    ::

        actuator.add_env_source("features", {"checkout.v2": True})
        actuator.add_env_source("config", lambda: app_config.as_dict())   # read per request
        actuator.add_sanitizer(lambda source, key, value:
                               MASK if key.startswith("stripe.") else value)

    Parameters:
        settings: the actuator's settings (shown as ``actuatorSettings``; their
            ``env`` section sets the masking policy).
    """

    def __init__(self, settings: ActuatorSettings) -> None:
        self.settings = settings
        self._fragments = tuple(k.lower() for k in settings.env.mask_keys if k)
        credentials = credential_settings()
        self._credential_settings = tuple(credentials)
        self._credential_variables = tuple(
            ENV_PREFIX + name.replace(".", "__").upper() for name in credentials
        )
        self._sources: dict[str, Source] = {}
        self._sanitizers: list[Sanitizer] = []
        self._lock = threading.Lock()

    def add_source(self, name: str, source: Source) -> None:
        """Add a property source: a mapping, or a callable returning one (called per request).
        Nested mappings show as dotted names."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"env source name must be a non-empty string, got {name!r}")
        if not (isinstance(source, Mapping) or callable(source)):
            raise TypeError(
                f"env source {name!r} must be a mapping or a callable returning "
                f"one, got {type(source).__name__}"
            )
        with self._lock:
            if name in self._sources or name in (SYSTEM_ENVIRONMENT, ACTUATOR_SETTINGS):
                raise ValueError(f"an env source named {name!r} already exists")
            self._sources[name] = source

    def add_sanitizer(self, sanitizer: Sanitizer) -> None:
        """Add ``sanitizer(source, key, value) -> value``, run after the built-in masking."""
        if not callable(sanitizer):
            raise TypeError(f"sanitizer must be callable, got {type(sanitizer).__name__}")
        self._sanitizers.append(sanitizer)

    def is_secret_key(self, key: str) -> bool:
        return is_secret_key(key, self._fragments)

    def is_credential(self, source: str, key: str) -> bool:
        """Whether ``key`` of ``source`` is (or sets) a credential setting: masked always."""
        if source == ACTUATOR_SETTINGS:
            return any(
                key == name or key.startswith(name + ".") for name in self._credential_settings
            )
        upper = key.upper()
        return any(
            upper == name or upper.startswith(name + "__") for name in self._credential_variables
        )

    def sanitize(self, source: str, key: str, value: Any, *, show: bool) -> Any:
        """The value to show for ``key`` of ``source``."""
        if not show or self.is_credential(source, key) or self.is_secret_key(key):
            return MASK
        try:
            value = sanitize(value, extra=self._fragments)
        except ValueError:
            return MASK
        for sanitizer in self._sanitizers:
            try:
                value = sanitizer(source, key, value)
            except Exception:
                # A failing sanitizer must not reveal what it was meant to hide.
                logger.exception("env sanitizer %r failed on %s", sanitizer, key)
                return MASK
        return value

    def sources(self) -> list[tuple[str, dict[str, Any] | BaseException]]:
        """Each source's flattened properties, or the exception reading it raised."""
        found: list[tuple[str, dict[str, Any] | BaseException]] = [
            (SYSTEM_ENVIRONMENT, dict(sorted(os.environ.items()))),
            (ACTUATOR_SETTINGS, flatten(self.settings.model_dump(mode="json"))),
        ]
        with self._lock:
            custom = list(self._sources.items())
        for name, source in custom:
            try:
                values = source() if callable(source) else source
                if not isinstance(values, Mapping):
                    raise TypeError(f"returned {type(values).__name__}, expected a mapping")
                found.append((name, flatten(values)))
            except Exception as exc:
                logger.warning("env source %r failed", name, exc_info=True)
                found.append((name, exc))
        return found

    def describe(self, *, show: bool) -> dict[str, Any]:
        """The whole ``/actuator/env`` answer, in Spring Boot's shape."""
        property_sources = []
        for name, properties in self.sources():
            if isinstance(properties, BaseException):
                property_sources.append(
                    {"name": name, "properties": {}, "error": describe_exception(properties)}
                )
                continue
            property_sources.append(
                {
                    "name": name,
                    "properties": {
                        key: {"value": self.sanitize(name, key, value, show=show)}
                        for key, value in properties.items()
                    },
                }
            )
        return {"activeProfiles": [], "propertySources": property_sources}

    def describe_property(self, key: str, *, show: bool) -> dict[str, Any] | None:
        """The ``/actuator/env/{key}`` answer, or ``None`` when no source holds ``key``."""
        holders = [
            (name, self.sanitize(name, key, properties[key], show=show))
            for name, properties in self.sources()
            if isinstance(properties, Mapping) and key in properties
        ]
        if not holders:
            return None
        return {
            "property": {"source": holders[0][0], "value": holders[0][1]},
            "activeProfiles": [],
            "propertySources": [
                {"name": name, "property": {"value": value}} for name, value in holders
            ],
        }
