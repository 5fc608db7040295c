"""The info endpoint: every contributor's section, gathered concurrently."""

from __future__ import annotations

from typing import Any, ClassVar

from actuator.endpoints.base import Endpoint, OperationRequest
from actuator.info.registry import InfoContributors


class InfoEndpoint(Endpoint):
    """``GET /info``: ``{"app": {...}, "build": {...}, "git": {...}, "python": {...}, ...}``.

    Contributors run concurrently, each under ``info.timeout``. One that fails
    or times out answers ``{"error": "<Type>: <message>"}`` in its own section;
    the others still answer, with status 200. A contributor that returns
    ``None`` or an empty mapping leaves its section out.
    """

    name: ClassVar[str] = "info"
    max_path: ClassVar[int | None] = 0

    def __init__(self, contributors: InfoContributors) -> None:
        self.contributors = contributors

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        return await self.contributors.gather()
