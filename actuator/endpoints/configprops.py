"""The configprops endpoint: the actuator's settings and the app's settings models, masked.

Each section of ``ActuatorSettings`` is a bean with prefix ``actuator.<section>``
(top-level settings: prefix ``actuator``); each pydantic model the app
registers (``actuator.add_config_properties(settings, prefix="orders")``) is a
bean too. Values are masked as ``/env`` masks them, under
``configprops.show_values`` (default ``never``: every value ``******``). Whatever
that says, these are always masked: keys that look secret (``password``,
``token``, ``key``...), the actuator's credential hashes (``security.tokens``,
``security.users``) and pydantic ``SecretStr``/``SecretBytes`` values.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from actuator.endpoints.base import Endpoint, NotFound, OperationRequest
from actuator.health.groups import shows
from actuator.sanitizer import MASK
from actuator.settings import ShowPolicy

Masker = Callable[[str, str, Any], Any]
"""``masker(source, key, value) -> value``: ``Environment.sanitize`` with ``show`` applied."""

ACTUATOR_PREFIX = "actuator"
CREDENTIALS = ("actuator.security.tokens", "actuator.security.users")
_PREFIX = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")


@dataclass(frozen=True)
class ConfigBean:
    """One settings model shown as a bean: where its values come from and how they are named."""

    prefix: str
    model: BaseModel | Callable[[], BaseModel]
    env_prefix: str | None = None
    """The environment variable prefix its values are read from (for ``inputs``), if any."""
    section: str | None = None
    """For an ``ActuatorSettings`` section: its field name (``None``: the whole model)."""
    scalars_only: bool = False

    @property
    def name(self) -> str:
        cls = type(self.current())
        return f"{self.prefix}-{cls.__module__}.{cls.__qualname__}"

    def current(self) -> BaseModel:
        model = self.model if isinstance(self.model, BaseModel) else self.model()
        if self.section is not None:
            model = getattr(model, self.section)
        if not isinstance(model, BaseModel):
            raise TypeError(f"configuration properties {self.prefix!r} are not a pydantic model")
        return model


class ConfigProperties:
    """The beans ``/actuator/configprops`` shows; the actuator's own sections come first."""

    def __init__(self, settings: BaseModel, env_prefix: str) -> None:
        self._beans: dict[str, ConfigBean] = {}
        self._lock = threading.Lock()
        sections = [
            name
            for name, field in type(settings).model_fields.items()
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ]
        self._beans[ACTUATOR_PREFIX] = ConfigBean(
            ACTUATOR_PREFIX, settings, env_prefix, scalars_only=True
        )
        for section in sections:
            prefix = f"{ACTUATOR_PREFIX}.{section}"
            self._beans[prefix] = ConfigBean(
                prefix, settings, f"{env_prefix}{section.upper()}__", section=section
            )

    def add(self, model: BaseModel | Callable[[], BaseModel], prefix: str | None = None) -> None:
        """Show a pydantic model (a ``BaseSettings`` instance, or a callable returning one,
        called per request). ``prefix`` defaults to its ``env_prefix`` in lower case."""
        if not (isinstance(model, BaseModel) or callable(model)):
            raise TypeError(
                f"configuration properties must be a pydantic model or a callable "
                f"returning one, got {type(model).__name__}"
            )
        env_prefix: str | None = None
        if isinstance(model, BaseModel):
            configured = model.model_config.get("env_prefix")
            env_prefix = configured if isinstance(configured, str) and configured else None
        if prefix is None:
            if not env_prefix:
                raise ValueError("prefix is required for a model without an env_prefix")
            prefix = env_prefix.strip("_").lower().replace("__", ".")
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise ValueError(
                f"prefix must be lower-case letters, digits, '.', '_' or '-', got {prefix!r}"
            )
        with self._lock:
            if prefix in self._beans:
                raise ValueError(
                    f"configuration properties with prefix {prefix!r} are already registered"
                )
            self._beans[prefix] = ConfigBean(prefix, model, env_prefix)

    def beans(self, prefix: str | None = None) -> list[ConfigBean]:
        with self._lock:
            beans = list(self._beans.values())
        if prefix is None:
            return beans
        return [b for b in beans if b.prefix == prefix or b.prefix.startswith(prefix + ".")]

    def describe(self, masker: Masker, prefix: str | None = None) -> dict[str, Any]:
        beans = {}
        for bean in self.beans(prefix):
            model = bean.current()
            values = model.model_dump(mode="json")
            if bean.scalars_only:
                values = {
                    k: v for k, v in values.items() if not isinstance(getattr(model, k), BaseModel)
                }
            properties = _mask(values, bean.prefix, masker)
            beans[bean.name] = {
                "prefix": bean.prefix,
                "properties": properties,
                "inputs": _inputs(model, properties, bean.env_prefix),
            }
        return {"contexts": {"application": {"beans": beans}}}


def _mask(value: Any, key: str, masker: Masker) -> Any:
    if isinstance(value, Mapping):
        return {k: _mask(v, f"{key}.{k}", masker) for k, v in value.items()}
    if any(key == c or key.startswith(c + ".") for c in CREDENTIALS):
        return MASK
    if isinstance(value, str) and value and set(value) == {"*"}:
        return MASK  # a SecretStr as pydantic dumps it
    return masker("configprops", key, value)


def _inputs(
    model: BaseModel,
    properties: Mapping[str, Any],
    env_prefix: str | None,
) -> dict[str, Any]:
    """Where each value set from outside came from: code or an environment variable.

    Mirrors ``properties``; a value left at its default has no input (``{}``).
    """
    inputs: dict[str, Any] = {}
    for name, shown in properties.items():
        member = getattr(model, name, None)
        if isinstance(member, BaseModel) and isinstance(shown, Mapping):
            nested = f"{env_prefix}{name.upper()}__" if env_prefix else None
            inputs[name] = _inputs(member, shown, nested)
            continue
        variable = f"{env_prefix}{name.upper()}" if env_prefix else None
        if name in model.model_fields_set:
            origin = (
                f'System Environment Property "{variable}"'
                if variable and variable in os.environ
                else "code"
            )
            inputs[name] = {"value": shown, "origin": origin}
        else:
            inputs[name] = {}
    return inputs


class ConfigPropsEndpoint(Endpoint):
    """``GET /configprops`` and ``GET /configprops/{prefix}``, in Spring Boot's shape.

    ::

        {"contexts": {"application": {"beans": {
            "actuator.health-actuator.settings.HealthSettings": {
                "prefix": "actuator.health",
                "properties": {"timeout": "******", "show_details": "******", ...},
                "inputs": {"timeout": {"value": "******", "origin":
                               "System Environment Property \\"ACTUATOR_HEALTH__TIMEOUT\\""},
                           "show_details": {}, ...}}}}}}

    ``/configprops/{prefix}`` keeps the beans whose prefix is ``prefix`` or
    starts with ``prefix.``; none is a 404.

    Parameters:
        properties: the beans.
        sanitize: ``Environment.sanitize``.
        show_values: the ``configprops.show_values`` policy.
    """

    name: ClassVar[str] = "configprops"
    selector: ClassVar[str | None] = "prefix"

    def __init__(
        self, properties: ConfigProperties, sanitize: Callable[..., Any], show_values: ShowPolicy
    ) -> None:
        self.properties = properties
        self.sanitize = sanitize
        self.show_values = show_values

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        show = shows(self.show_values, request.security.authorized)

        def masker(source: str, key: str, value: Any) -> Any:
            return self.sanitize(source, key, value, show=show)

        prefix = request.path[0] if request.path else None
        if prefix is not None and not self.properties.beans(prefix):
            raise NotFound(f"No configuration properties with prefix {prefix!r}")
        return self.properties.describe(masker, prefix)
