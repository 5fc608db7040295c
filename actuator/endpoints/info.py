"""The info endpoint: every contributor's section, gathered concurrently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from actuator._calls import CallTimeout, GuardedCall, StillRunning, failure_text
from actuator.endpoints.base import Endpoint, OperationRequest

if TYPE_CHECKING:
    from actuator.core import Actuator

logger = logging.getLogger("actuator.info")


class InfoEndpoint(Endpoint):
    """``GET /info``: ``{"app": {...}, "build": {...}, "git": {...}, "python": {...}, ...}``.

    Contributors run concurrently, each under ``info.timeout``. One that fails
    or times out answers ``{"error": "<Type>: <message>"}`` in its own section;
    the others still answer, with status 200. A contributor that returns
    ``None`` or an empty mapping leaves its section out.
    """

    name: ClassVar[str] = "info"
    max_path: ClassVar[int | None] = 0

    def __init__(self, actuator: Actuator) -> None:
        self.actuator = actuator

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        return await gather_info(self.actuator)


async def gather_info(actuator: Actuator) -> dict[str, Any]:
    contributors = actuator.contributors
    timeout = actuator.settings.info.timeout
    executor = actuator.checker.executor
    tasks = [asyncio.ensure_future(_contribute(call, timeout, executor))
             for call in contributors.values()]
    results = await asyncio.gather(*tasks)
    return {name: section for name, section in zip(contributors, results, strict=False) if section}


async def _contribute(
    call: GuardedCall[object], timeout: float, executor: Any
) -> Mapping[str, Any] | None:
    try:
        value = await call(timeout, executor)
    except (CallTimeout, StillRunning) as exc:
        logger.warning("Info %s", exc)
        return {"error": failure_text(exc)}
    except Exception as exc:
        logger.warning("Info contributor %s failed", call.name, exc_info=True)
        return {"error": failure_text(exc)}
    if value is None:
        return None
    if not isinstance(value, Mapping):
        error = TypeError(f"{call.name} returned {type(value).__name__}, expected a mapping")
        logger.warning("Info %s", error)
        return {"error": failure_text(error)}
    return value
