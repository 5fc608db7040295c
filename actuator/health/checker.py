"""Running health checks: timeouts, single-flight, caching and background refresh.

This module knows nothing of HTTP or of groups; it turns registered indicators
into ``Health`` results as fast and as safely as it can.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Iterable

from actuator._calls import CallTimeout, GuardedCall, StillRunning, failure_text
from actuator._pool import DaemonThreadPool, PoolStats
from actuator._results import safe_health, safe_traceback
from actuator.health.indicator import IndicatorFunction, to_health
from actuator.health.result import Health

logger = logging.getLogger("actuator.health")


class HealthCheck:
    """One leaf indicator and the state kept between its runs."""

    def __init__(
        self,
        path: str,
        fn: IndicatorFunction,
        *,
        timeout: float,
        ttl: float | None = None,
        interval: float | None = None,
        blocking: bool | None = None,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.ttl = ttl
        self.interval = interval
        self._call: GuardedCall[object] = GuardedCall(
            fn, name=f"indicator {path!r}", blocking=blocking
        )
        self._task: asyncio.Task[Health] | None = None
        self._result: Health | None = None
        self._finished_at = 0.0
        self._failure: str | None = None
        self.last_duration: float | None = None
        self.runs = 0

    @property
    def last_result(self) -> Health | None:
        return self._result

    def cached(self, now: float) -> Health | None:
        """The last result if it is still fresh enough to answer with."""
        result = self._result
        if result is None:
            return None
        age = now - self._finished_at
        if self.ttl is not None and age <= self.ttl:
            return result
        # With background refresh a result is fresh until a refresh is clearly
        # overdue (the refresher stopped or is stuck); then checks run inline again.
        if self.interval is not None and age <= 2 * self.interval + self.timeout:
            return result
        return None

    def run(self, executor: concurrent.futures.Executor) -> asyncio.Task[Health]:
        """The in-flight check, started if none is running (single-flight)."""
        task = self._task
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            task = loop.create_task(self._execute(executor), name=f"actuator-health:{self.path}")
            self._task = task
        return task

    async def _execute(self, executor: concurrent.futures.Executor) -> Health:
        started = time.monotonic()
        self.runs += 1
        try:
            health = to_health(await self._call(self.timeout, executor), self.path)
        except (CallTimeout, StillRunning) as exc:
            # A hung check first times out, then is "still running": one failure, one log line.
            health = Health.down(failure_text(exc))
            self._log_failure("timeout", health, None)
        except Exception as exc:
            health, _ = await safe_health(Health.down(failure_text(exc)), executor)
            self._log_failure(str(health.details["error"]), health, exc)
        else:
            health, problem = await safe_health(health, executor)
            if problem is not None:
                self._log_failure(problem, health, None)
            elif self._failure is not None:
                logger.info("Health indicator %r recovered: %s", self.path, health.status)
                self._failure = None
        finished = time.monotonic()
        self.last_duration = finished - started
        self._result, self._finished_at = health, finished
        return health

    def _log_failure(self, key: str, health: Health, error: BaseException | None) -> None:
        # Log a failure once when it starts or changes, not on every probe.
        text = str(health.details.get("error"))
        if key == self._failure:
            logger.debug("Health indicator %r still failing: %s", self.path, text)
            return
        self._failure = key
        # The traceback's messages go through the sanitizer like the answer does.
        logger.warning(
            "Health indicator %r is DOWN: %s%s",
            self.path,
            text,
            f"\n{safe_traceback(error)}" if error is not None else "",
        )

    async def refresh_forever(self, executor: concurrent.futures.Executor) -> None:
        interval = self.interval or self.timeout
        while True:
            await self.run(executor)
            await asyncio.sleep(interval)


class HealthChecker:
    """Owns the thread pool for sync indicators and runs checks concurrently.

    Parameters:
        max_threads: size of the actuator's own pool for sync indicators and
            contributors, so a slow check never takes threads from the app.
    """

    def __init__(self, *, max_threads: int = 8) -> None:
        self.max_threads = max_threads
        self._executor: DaemonThreadPool | None = None
        self._refreshers: dict[HealthCheck, asyncio.Task[None]] = {}

    @property
    def executor(self) -> concurrent.futures.Executor:
        """The actuator's own pool of daemon threads (a stuck check never blocks process exit)."""
        if self._executor is None:
            self._executor = DaemonThreadPool(self.max_threads, thread_name_prefix="actuator")
        return self._executor

    def pool_stats(self) -> PoolStats:
        """The thread pool's use now (an unstarted pool: no threads yet)."""
        if self._executor is None:
            return PoolStats(threads=0, busy=0, queued=0, max_workers=self.max_threads)
        return self._executor.stats()

    async def collect(
        self, checks: Iterable[HealthCheck], deadline: float
    ) -> dict[HealthCheck, Health]:
        """Results for ``checks``, all in by ``deadline`` seconds from now.

        Fresh cached results answer at once; the rest run concurrently (joining a
        check already in flight). Whatever is not done at the deadline is DOWN.
        """
        now = time.monotonic()
        results: dict[HealthCheck, Health] = {}
        pending: dict[HealthCheck, asyncio.Task[Health]] = {}
        for check in checks:
            cached = check.cached(now)
            if cached is not None:
                results[check] = cached
            elif check not in pending:
                pending[check] = check.run(self.executor)
        if pending:
            await asyncio.wait(set(pending.values()), timeout=deadline)
            for check, task in pending.items():
                if task.done() and not task.cancelled():
                    results[check] = task.result()
                else:
                    results[check] = Health.down(
                        f"TimeoutError: no answer within the health deadline of {deadline:g}s"
                    )
        return results

    def start_refreshing(self, checks: Iterable[HealthCheck]) -> None:
        """Start background refresh for the checks with an ``interval`` (idempotent per check)."""
        loop = asyncio.get_running_loop()
        for check in checks:
            if check.interval is not None and check not in self._refreshers:
                self._refreshers[check] = loop.create_task(
                    check.refresh_forever(self.executor), name=f"actuator-refresh:{check.path}"
                )

    def stop_refreshing(self, checks: Iterable[HealthCheck]) -> None:
        """Stop background refresh for ``checks`` (an indicator was removed)."""
        for check in checks:
            task = self._refreshers.pop(check, None)
            if task is not None:
                task.cancel()

    @property
    def refreshing(self) -> bool:
        return bool(self._refreshers)

    async def stop(self) -> None:
        refreshers = list(self._refreshers.values())
        self._refreshers = {}
        for task in refreshers:
            task.cancel()
        if refreshers:
            await asyncio.gather(*refreshers, return_exceptions=True)
        if self._executor is not None:
            # Threads stuck in a sync indicator cannot be stopped; do not wait for them.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
