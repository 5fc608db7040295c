"""The ping endpoint: a cheap connectivity check that touches nothing else."""

from __future__ import annotations

import datetime
from typing import ClassVar

from actuator.endpoints.base import Endpoint, OperationRequest


class PingEndpoint(Endpoint):
    """``GET /ping`` -> ``{"pong": true, "timestamp": "2025-05-01T09:30:00.000+00:00"}``.

    Exposed by default, like health: it runs no indicator and reveals nothing.
    """

    name: ClassVar[str] = "ping"
    max_path: ClassVar[int | None] = 0

    async def read(self, request: OperationRequest) -> dict[str, object]:
        now = datetime.datetime.now(datetime.timezone.utc)
        return {"pong": True, "timestamp": now.isoformat(timespec="milliseconds")}
