"""The endpoints of one actuator by name, and which of them the exposure settings serve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from actuator.endpoints.base import Endpoint, check_endpoint_name

if TYPE_CHECKING:
    from actuator.settings import ExposureSettings


class EndpointRegistry:
    """Endpoints in the order they were added; ``exposed()`` filters by ``exposure``.

    Parameters:
        exposure: the ``exposure`` settings (``include``/``exclude``).
    """

    def __init__(self, exposure: ExposureSettings) -> None:
        self.exposure = exposure
        self._endpoints: dict[str, Endpoint] = {}

    def add(self, endpoint: Endpoint) -> None:
        if not isinstance(endpoint, Endpoint):
            raise TypeError(f"endpoint must be an Endpoint, got {type(endpoint).__name__}")
        name = check_endpoint_name(endpoint.name)
        if name in self._endpoints:
            raise ValueError(f"an endpoint named {name!r} is already registered")
        self._endpoints[name] = endpoint

    @property
    def all(self) -> Mapping[str, Endpoint]:
        return dict(self._endpoints)

    def exposed(self, name: str) -> Endpoint | None:
        """The endpoint named ``name`` if it is registered and exposed, else ``None``."""
        endpoint = self._endpoints.get(name)
        if endpoint is None or not self.exposure.exposes(name):
            return None
        return endpoint

    def all_exposed(self) -> list[Endpoint]:
        return [e for n, e in self._endpoints.items() if self.exposure.exposes(n)]

    def is_exposed(self, name: str) -> bool:
        return self.exposed(name) is not None
