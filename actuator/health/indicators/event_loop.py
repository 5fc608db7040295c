"""The event-loop lag indicator: notices when something blocks the app's event loop."""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
import threading
import time
import traceback
from dataclasses import dataclass

from actuator._calls import running_call
from actuator.health.indicators._params import seconds
from actuator.health.result import Health

logger = logging.getLogger("actuator.health")


@dataclass(frozen=True)
class LoopLag:
    """Lag figures in seconds: the last beat's, the worst in the window (or the current
    stall), the current stall, and the worst of the recent period that decides the status."""

    lag: float
    max_lag: float
    stall: float
    recent_max: float


class EventLoopLagIndicator:
    """A heartbeat on the app's event loop that measures how late it wakes up.

    Every ``interval`` seconds a timer fires; how much later than asked it
    fires is the loop's *lag*: time the loop spent in code that did not yield
    (CPU-bound work, a blocking call such as ``time.sleep`` or a sync database
    driver). A watchdog thread also notices a loop that is blocked right now
    and logs the stack of the code that blocks it, once per stall.

    DOWN when the worst lag of the last ``recent`` seconds, or the stall going
    on now, exceeds ``threshold``; UP again once ``recent`` seconds pass
    without one. UNKNOWN until ``start()`` (the app's startup) runs the
    heartbeat. Details: ``lagSeconds`` (last beat), ``maxLagSeconds`` (worst
    in the last ``window`` seconds), ``stallSeconds`` (how long the loop has
    been blocked now; 0 if it is not) and ``thresholdSeconds``.

    The actuator registers one as ``eventLoop`` in the root health only (not
    liveness or readiness: lag under load is no reason to restart a pod or to
    pull it out of the load balancer, which would push its load onto the
    others). Add one to a group yourself if you want that::

        actuator.add_indicator("loop", EventLoopLagIndicator(threshold=2.0),
                               groups=["readiness"])

    Parameters:
        threshold: lag in seconds that means DOWN. Default 1.0: from about the
            Kubernetes probe timeout (1 s) a blocked loop fails probes anyway;
            shorter stalls show in the details and the log.
        interval: heartbeat period in seconds. Default 0.1.
        recent: seconds a stall keeps the indicator DOWN. Default 10.
        window: seconds of history for ``maxLagSeconds``. Default 60 (at least ``recent``).
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
        owner = "EventLoopLagIndicator"
        self.threshold = seconds(owner, "threshold", threshold)
        self.interval = seconds(owner, "interval", interval)
        self.recent = seconds(owner, "recent", recent)
        self.window = max(seconds(owner, "window", window), self.recent)
        if not isinstance(watchdog, bool):
            raise TypeError(f"{owner} watchdog must be a bool, got {watchdog!r}")
        self.watchdog = watchdog
        # (monotonic time, lag) per beat. Written on the loop, read by health()
        # from wherever it is called, so guarded by a lock.
        self._samples: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=int(self.window / self.interval) + 2
        )
        self._lock = threading.Lock()
        self._last_lag = 0.0
        self._last_beat: float | None = None
        self._reported_beat: float | None = None  # the stall already logged
        self._task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread_id: int | None = None

    @property
    def lag(self) -> float:
        """The lag measured at the last heartbeat, in seconds."""
        return self._last_lag

    def stall(self) -> float:
        """How long the loop has gone without a heartbeat beyond the interval (0 if none)."""
        last_beat = self._last_beat
        if last_beat is None:
            return 0.0
        return max(0.0, time.monotonic() - last_beat - self.interval)

    async def start(self) -> None:
        """Start the heartbeat on the running loop (and the watchdog). Idempotent."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._loop, self._loop_thread_id = loop, threading.get_ident()
        self._last_beat = time.monotonic()
        self._task = loop.create_task(self._beat(), name="actuator-loop-lag")
        if self.watchdog and (self._thread is None or not self._thread.is_alive()):
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._watch, name="actuator-loop-watchdog", daemon=True
            )
            self._thread.start()

    async def stop(self) -> None:
        """Stop the heartbeat and the watchdog. Health is UNKNOWN again until ``start()``."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=1.0)  # it wakes at once on the stop event

    @property
    def running(self) -> bool:
        """Whether the heartbeat runs on a live loop."""
        task = self._task
        return task is not None and not task.done() and not task.get_loop().is_closed()

    def measure(self) -> LoopLag:
        """The lag figures now; safe from any thread (the metrics collector reads them too)."""
        now = time.monotonic()
        stall = self.stall()
        with self._lock:
            samples = tuple(self._samples)
            last = self._last_lag
        recent = max((lag for at, lag in samples if now - at <= self.recent), default=0.0)
        worst = max((lag for _, lag in samples), default=0.0)
        return LoopLag(
            lag=last, max_lag=max(worst, stall), stall=stall, recent_max=max(recent, stall)
        )

    async def health(self) -> Health:
        # Async so it runs on the loop: cheap, and no thread hop for a few comparisons.
        if not self.running:
            return Health.unknown(reason="heartbeat not running (the app has not started)")
        lag = self.measure()
        details = {
            "lagSeconds": round(lag.lag, 6),
            "maxLagSeconds": round(lag.max_lag, 6),
            "stallSeconds": round(lag.stall, 6),
            "thresholdSeconds": self.threshold,
        }
        if lag.recent_max > self.threshold:
            return Health.down(**details)
        return Health.up(**details)

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.interval
        while True:
            beat = self._last_beat = time.monotonic()
            expected = loop.time() + interval
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - expected)
            now = time.monotonic()
            with self._lock:
                self._last_lag = lag
                self._samples.append((now, lag))
                while self._samples and now - self._samples[0][0] > self.window:
                    self._samples.popleft()
            if lag > self.threshold:
                self._log_after_stall(beat, lag)

    def _claim(self, beat: float) -> bool:
        """True for the first of the watchdog and the heartbeat to report the stall of ``beat``."""
        with self._lock:
            if self._reported_beat == beat:
                return False
            self._reported_beat = beat
            return True

    def _log_after_stall(self, beat: float, lag: float) -> None:
        if self._claim(beat):  # too short for the watchdog to catch in the act
            logger.warning("Event loop was blocked for %.3fs (threshold %gs)", lag, self.threshold)
        else:
            logger.info("Event loop unblocked after %.3fs", lag)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            loop, beat = self._loop, self._last_beat
            if loop is None or loop.is_closed():
                return  # the app's loop ended without stop() (a test client, a crash)
            if not loop.is_running() or beat is None:
                continue  # a stopped loop is not a blocked one
            if self.stall() <= self.threshold or not self._claim(beat):
                continue
            frame = sys._current_frames().get(self._loop_thread_id or 0)
            where = "".join(traceback.format_stack(frame)) if frame is not None else "(unknown)"
            culprit = running_call(self._loop_thread_id or 0)
            logger.warning(
                "Event loop blocked for %.3fs so far (threshold %gs)%s; it is running:\n%s",
                self.stall(),
                self.threshold,
                f" by {culprit}" if culprit else "",
                where.rstrip(),
            )
