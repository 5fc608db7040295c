"""The info endpoint: every contributor's section, gathered concurrently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from actuator._calls import CallTimeout, GuardedCall, StillRunning, failure_text
from actuator._results import MAX_SECTION_BYTES, UnsafeResult, checked_off_loop, safe_traceback
from actuator.endpoints.base import Endpoint, OperationRequest
from actuator.sanitizer import sanitize_text

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
    tasks = [asyncio.ensure_future(_contribute(name, call, timeout, executor))
             for name, call in contributors.items()]
    results = await asyncio.gather(*tasks)
    return {name: section for name, section in zip(contributors, results, strict=False) if section}


async def _contribute(
    name: str, call: GuardedCall[object], timeout: float, executor: Any
) -> Mapping[str, Any] | None:
    raised: BaseException | None = None
    try:
        value = await call(timeout, executor)
    except (CallTimeout, StillRunning) as exc:
        return _failed(name, call, failure_text(exc), "timeout", None)
    except Exception as exc:
        value, raised = None, exc
    if raised is not None:
        text = failure_text(raised)
        return _failed(name, call, sanitize_text(text), text, raised)
    if value is not None and not isinstance(value, Mapping):
        text = failure_text(TypeError(
            f"{call.name} returned {type(value).__name__}, expected a mapping"))
        return _failed(name, call, text, text, None)
    if value:
        try:
            value = await checked_off_loop(value, MAX_SECTION_BYTES, executor)
        except UnsafeResult as exc:
            text = f"section {exc}"
            return _failed(name, call, text, text, None)
    if call.failure is not None:
        call.failure = None
        logger.info("Info contributor %r recovered", name)
    return value


def _failed(name: str, call: GuardedCall[object], text: str, key: str,
            error: BaseException | None) -> dict[str, str]:
    # Logged once when a failure starts or changes, not on every request (as health does).
    if key != call.failure:
        call.failure = key
        logger.warning("Info contributor %r failed: %s%s", name, text,
                       f"\n{safe_traceback(error)}" if error is not None else "")
    return {"error": text}
