"""The info contributors by name, and gathering their sections concurrently."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Mapping
from typing import Any

from actuator._calls import CallTimeout, GuardedCall, StillRunning, failure_text
from actuator._results import MAX_SECTION_BYTES, UnsafeResult, checked_off_loop, safe_traceback
from actuator.health.registry import check_indicator_name
from actuator.info.contributor import Contributor, contributor_callable
from actuator.sanitizer import sanitize_text

logger = logging.getLogger("actuator.info")


class InfoContributors:
    """The sections of ``/info``, each guarded by a timeout and gathered concurrently.

    Parameters:
        timeout: seconds each contributor may take (``info.timeout``).
        executor: the thread pool sync contributors run in.
    """

    def __init__(self, timeout: float, executor: Callable[[], concurrent.futures.Executor]) -> None:
        self.timeout = timeout
        self.executor = executor
        self._calls: dict[str, GuardedCall[object]] = {}
        self._sources: dict[str, object] = {}

    def add(self, name: str, contributor: Contributor) -> None:
        check_indicator_name(name)
        if name in self._calls:
            raise ValueError(f"an info contributor named {name!r} is already registered")
        fn = contributor_callable(contributor, name)
        self._calls[name] = GuardedCall(fn, name=f"info contributor {name!r}")
        self._sources[name] = contributor

    def remove(self, name: str) -> object:
        """Remove a section; the contributor as given. ``KeyError`` when none has that name."""
        if self._calls.pop(name, None) is None:
            raise KeyError(f"no info contributor named {name!r}")
        return self._sources.pop(name)

    @property
    def calls(self) -> Mapping[str, GuardedCall[object]]:
        return dict(self._calls)

    async def gather(self) -> dict[str, Any]:
        """Every section, as ``/info`` answers them."""
        calls = self.calls
        executor = self.executor()
        tasks = [
            asyncio.ensure_future(_contribute(name, call, self.timeout, executor))
            for name, call in calls.items()
        ]
        results = await asyncio.gather(*tasks)
        return {name: section for name, section in zip(calls, results, strict=False) if section}


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
        text = failure_text(
            TypeError(f"{call.name} returned {type(value).__name__}, expected a mapping")
        )
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


def _failed(
    name: str, call: GuardedCall[object], text: str, key: str, error: BaseException | None
) -> dict[str, str]:
    # Logged once when a failure starts or changes, not on every request (as health does).
    if key != call.failure:
        call.failure = key
        logger.warning(
            "Info contributor %r failed: %s%s",
            name,
            text,
            f"\n{safe_traceback(error)}" if error is not None else "",
        )
    return {"error": text}
