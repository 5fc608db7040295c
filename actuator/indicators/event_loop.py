"""The event-loop lag indicator: notices when something blocks the app's event loop."""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
import threading
import time
import traceback

from actuator.health import Health

logger = logging.getLogger("actuator.health")


class EventLoopLagIndicator:
    """A heartbeat on the app's event loop that measures how late it wakes up.

    Every ``interval`` seconds a callback is scheduled; the delay beyond the
    interval is the loop's *lag*: time the loop spent running something that
    did not yield (CPU-bound work, a blocking call). A watchdog thread also
    notices a loop that is blocked right now, and logs the stack of the code
    that blocks it, once per stall.

    DOWN when the worst lag of the last ``recent`` seconds, or the current
    stall, exceeds ``threshold``. Details: ``lagSeconds`` (last beat),
    ``maxLagSeconds`` (worst in the last ``window`` seconds), ``stallSeconds``
    (how long the loop has been blocked now, 0 if it is not),
    ``thresholdSeconds``.

    Registered as ``eventLoop`` unless ``health.event_loop.enabled`` is off;
    add it to the ``liveness`` group only if a blocked loop should restart the pod::

        actuator.add_indicator("loop", EventLoopLagIndicator(threshold=2.0),
                               groups=["liveness"])

    Parameters:
        threshold: lag in seconds that means DOWN. Default 1.0.
        interval: heartbeat period in seconds. Default 0.1.
        recent: seconds of history that decide the status. Default 10.
        window: seconds of history for ``maxLagSeconds``. Default 60.
        watchdog: run the watchdog thread that logs the blocking stack. Default True.
    """

    def __init__(
        self,
        *,
        threshold: float = 1.0,
        interval: float = 0.1,
        recent: float = 10.0,
        window: float = 60.0,
        watchdog: bool = True,
    ) -> None:
        for name, value in (("threshold", threshold), ("interval", interval),
                            ("recent", recent), ("window", window)):
            if isinstance(value, bool) or not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        self.threshold = threshold
        self.interval = interval
        self.recent = recent
        self.window = max(window, recent)
        self.watchdog = watchdog
        self._samples: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=int(self.window / interval) + 2
        )
        self._last_lag = 0.0
        self._last_beat: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread_id: int | None = None

    @property
    def lag(self) -> float:
        """The lag measured at the last heartbeat, in seconds."""
        return self._last_lag

    def stall(self) -> float:
        """How long the loop has gone without a heartbeat beyond the interval (0 if none)."""
        if self._last_beat is None:
            return 0.0
        return max(0.0, time.monotonic() - self._last_beat - self.interval)

    async def start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self._loop_thread_id = threading.get_ident()
        self._last_beat = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._beat(), name="actuator-loop-lag")
        if self.watchdog:
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="actuator-loop-watchdog",
                                            daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=1.0)

    def health(self) -> Health:
        if self._task is None or self._task.done():
            return Health.unknown(reason="heartbeat not running (the app has not started)")
        now = time.monotonic()
        stall = self.stall()
        recent = max((lag for at, lag in self._samples if now - at <= self.recent), default=0.0)
        worst = max((lag for at, lag in self._samples if now - at <= self.window), default=0.0)
        details = {
            "lagSeconds": round(self._last_lag, 6),
            "maxLagSeconds": round(max(worst, stall), 6),
            "stallSeconds": round(stall, 6),
            "thresholdSeconds": self.threshold,
        }
        if max(recent, stall) > self.threshold:
            return Health.down(**details)
        return Health.up(**details)

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.interval
        while True:
            expected = loop.time() + interval
            self._last_beat = time.monotonic()
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - expected)
            self._last_lag = lag
            self._samples.append((time.monotonic(), lag))

    def _watch(self) -> None:
        reported_beat: float | None = None
        while not self._stop.wait(self.interval):
            stall = self.stall()
            if stall <= self.threshold or self._last_beat == reported_beat:
                continue
            reported_beat = self._last_beat
            frame = sys._current_frames().get(self._loop_thread_id or 0)
            where = "".join(traceback.format_stack(frame)) if frame is not None else "(unknown)\n"
            logger.warning("Event loop blocked for %.2fs (threshold %gs); it is running:\n%s",
                           stall, self.threshold, where.rstrip())
