"""Making what user code returns safe to answer with: sanitized, serialisable and bounded.

An indicator's details or a contributor's section may hold a secret (an
exception text with a database URL), a cycle, an object whose ``str()``
raises, or megabytes of data. Each result is checked on its own, so one bad
component answers with a reason and the others answer as usual; large results
are checked in the actuator's thread pool, so the event loop (and the
liveness probe waiting on it) never stalls on them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import traceback
from collections.abc import Mapping
from typing import Any

from actuator._http import json_bytes
from actuator.health.result import Health, describe_exception
from actuator.sanitizer import MAX_DEPTH, sanitize, sanitize_text

MAX_DETAILS_BYTES = 64 * 1024
"""The largest health details one component may show, as JSON; larger ones are left out."""
MAX_SECTION_BYTES = 1024 * 1024
"""The largest info section one contributor may show, as JSON; larger ones are an error."""
# Small flat results are checked on the loop: a thread hop would cost more than the check.
_INLINE_ITEMS = 64
_INLINE_TEXT = 4096


class UnsafeResult(Exception):
    """A result that cannot be shown: it cannot be serialised, or it is too large."""

    def __init__(self, message: str, *, too_large: bool) -> None:
        super().__init__(message)
        self.too_large = too_large


def checked(value: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """``value`` sanitized; ``UnsafeResult`` naming the problem if it cannot be shown."""
    try:
        # Far too large is found cheaply, before the sanitizer walks all of it.
        least = _least_json_bytes(value, limit, ())
        if least > limit:
            raise UnsafeResult(f"more than {limit} bytes as JSON (the limit)", too_large=True)
        encoded = json_bytes(sanitize(value))
        # Plain JSON data from here on: answering never calls user code (str()) again.
        shown: dict[str, Any] = json.loads(encoded)
        size = len(encoded)
    except UnsafeResult:
        raise
    except Exception as exc:  # a cycle, deep nesting, or a str() that raises
        raise UnsafeResult(
            f"could not be serialised: {describe_exception(exc)}", too_large=False
        ) from None
    if size > limit:
        raise UnsafeResult(f"{size} bytes as JSON, over the limit of {limit}", too_large=True)
    return shown


async def checked_off_loop(
    value: Mapping[str, Any], limit: int, executor: concurrent.futures.Executor
) -> dict[str, Any]:
    """``checked(value, limit)``, in ``executor`` unless ``value`` is small and flat."""
    if _small(value):
        return checked(value, limit)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, checked, value, limit)


async def safe_health(
    health: Health, executor: concurrent.futures.Executor
) -> tuple[Health, str | None]:
    """``health`` with its details sanitized and bounded, and the problem found, if any.

    Details that cannot be serialised make it DOWN, naming why (the problem is
    returned too, for the log); details over ``MAX_DETAILS_BYTES`` are left
    out (the status stands), naming their size.
    """
    if not health.details:
        return health, None
    try:
        details = await checked_off_loop(health.details, MAX_DETAILS_BYTES, executor)
    except UnsafeResult as exc:
        if exc.too_large:
            return Health(health.status, {"detailsOmitted": f"details of {exc}"}), None
        down = Health.down(f"details {exc}")
        return down, str(down.details["error"])
    return Health(health.status, details), None


def safe_traceback(error: BaseException) -> str:
    """The traceback of ``error`` for a log line, secrets in its messages masked."""
    return sanitize_text("".join(traceback.format_exception(error)).rstrip())


def _least_json_bytes(value: Any, limit: int, parents: tuple[int, ...]) -> int:
    """A lower bound of ``value``'s size as JSON; stops counting once it passes ``limit``."""
    if isinstance(value, str):
        return len(value) + 2
    if not isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return 1
    if id(value) in parents or len(parents) >= MAX_DEPTH:
        return 2  # the sanitizer names the cycle or the depth
    inner = (*parents, id(value))
    total = 2
    if isinstance(value, Mapping):
        for key, item in value.items():
            total += len(str(key)) + 4 + _least_json_bytes(item, limit - total, inner)
            if total > limit:
                break
    else:
        for item in value:
            total += 1 + _least_json_bytes(item, limit - total, inner)
            if total > limit:
                break
    return total


def _small(value: Mapping[str, Any]) -> bool:
    if len(value) > _INLINE_ITEMS:
        return False
    for item in value.values():
        if isinstance(item, str):
            if len(item) > _INLINE_TEXT:
                return False
        elif not (item is None or isinstance(item, (bool, int, float))):
            return False
    return True
