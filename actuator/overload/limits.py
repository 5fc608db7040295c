"""Concurrency limit algorithms: a fixed limit, and two that find the limit from latency.

Pure and clock-free: each ``on_sample(now, rtt, in_flight)`` call reports one
finished request (the time it finished, its latency, and how many requests
were in flight when it started), and ``limit`` is the number of requests
allowed in flight. The callers pass ``now``, so tests drive them with
simulated latencies and no event loop.

The adaptive ones update once per *window*: at least ``window`` seconds and
``MIN_SAMPLES`` samples, stretched up to ``MAX_WINDOW`` (1 s) to collect them
(a window still short of samples then is dropped: too little traffic to
judge, and no reason to move the limit). The window's mean latency and the
most requests it saw in flight feed the update, as in Netflix
concurrency-limits' ``WindowedLimit``.
"""

from __future__ import annotations

import math
import statistics
from typing import Protocol

MIN_SAMPLES = 10
"""Samples a window needs before it moves an adaptive limit."""

MAX_WINDOW = 1.0
"""Seconds a window may stretch to collect ``MIN_SAMPLES``; with fewer it is dropped."""


class Limit(Protocol):
    """A concurrency limit: how many requests may be in flight now."""

    @property
    def limit(self) -> int: ...

    def on_sample(self, now: float, rtt: float, in_flight: int) -> None:
        """One request finished at ``now`` after ``rtt`` seconds, ``in_flight`` running with it."""


class FixedLimit:
    """The same limit whatever the latency.

    Parameters:
        limit: requests allowed in flight (>= 1).
    """

    def __init__(self, limit: int) -> None:
        self._limit = _positive_int("limit", limit)

    @property
    def limit(self) -> int:
        return self._limit

    def on_sample(self, now: float, rtt: float, in_flight: int) -> None:
        return None


class _WindowedLimit:
    """Collects samples into windows; subclasses turn each full window into a new limit."""

    def __init__(self, *, initial: int, min_limit: int, max_limit: int, window: float) -> None:
        self.min_limit = _positive_int("min_limit", min_limit)
        self.max_limit = _positive_int("max_limit", max_limit)
        if self.min_limit > self.max_limit:
            raise ValueError(f"min_limit ({min_limit}) must not exceed max_limit ({max_limit})")
        initial = _positive_int("initial", initial)
        self.estimate = float(min(max(initial, self.min_limit), self.max_limit))
        if not (isinstance(window, (int, float)) and window > 0):
            raise ValueError(f"window must be > 0 seconds, got {window!r}")
        self.window = float(window)
        self._longest = max(MAX_WINDOW, self.window)
        self._started: float | None = None
        self._count = 0
        self._rtt_sum = 0.0
        self._max_in_flight = 0

    @property
    def limit(self) -> int:
        return max(self.min_limit, int(self.estimate))

    def on_sample(self, now: float, rtt: float, in_flight: int) -> None:
        if self._started is None:
            self._started = now
        self._count += 1
        self._rtt_sum += rtt
        self._max_in_flight = max(self._max_in_flight, in_flight)
        elapsed = now - self._started
        if elapsed < self.window:
            return
        if self._count >= MIN_SAMPLES:
            if self._rtt_sum > 0:
                self._update(self._rtt_sum / self._count, self._max_in_flight)
        elif elapsed < self._longest:
            return  # a quiet spell: wait for enough samples, up to the longest window
        self._started, self._count, self._rtt_sum, self._max_in_flight = None, 0, 0.0, 0

    def _update(self, rtt: float, max_in_flight: int) -> None:
        raise NotImplementedError

    def _clamp(self, value: float) -> float:
        return min(max(value, float(self.min_limit)), float(self.max_limit))


class GradientLimit(_WindowedLimit):
    """The limit follows the gradient of short-term against long-term latency (Gradient2).

    As Netflix concurrency-limits' ``Gradient2Limit``: each window's mean
    latency (the *short* RTT) is compared with an exponential average of the
    past windows (the *long* RTT)::

        gradient  = clamp(tolerance * long / short, 0.5, 1.0)
        new_limit = limit * gradient + min(queue_size, sqrt(limit))
        limit     = limit * (1 - smoothing) + new_limit * smoothing

    While latency stays within ``tolerance`` of its long-term level the
    gradient is 1 and the limit grows by ``queue_size * smoothing`` per
    window (less for limits under 16: the headroom is ``sqrt(limit)`` as in
    Envoy); when latency rises above it the limit shrinks, by at most half of
    ``smoothing`` per window, so one slow outlier cannot collapse it. Unlike
    Gradient2, no headroom is added while shrinking: with it, the limit would
    settle where ``limit * gradient + headroom = limit``, that is latency at
    ``tolerance / (1 - headroom / limit)`` of the no-load latency (3x for a
    limit of 4); without it the limit settles where latency is ``tolerance``,
    whatever the capacity.

    Two departures from Gradient2, both from Envoy's adaptive concurrency
    filter, because Gradient2 has no notion of the no-load latency: started
    under overload, its long RTT learns the queued latency and the limit
    never comes down; under sustained overload its long RTT climbs towards
    the queued latency and the limit with it.

    - **Measured no-load latency.** At start and every ``probe_interval``
      seconds the limit drops to ``min_limit`` until ``MIN_SAMPLES`` requests
      that ran at that concurrency have finished; their median latency
      becomes the long RTT (Envoy's minRTT window; it refuses more for that
      moment, the price of knowing where latency starts).
    - A window whose latency is beyond ``tolerance`` does not feed the long
      RTT (a no-load latency that really rose is found by the next probe).
    The limit does not grow while fewer than half of it are in use (the app,
    not the limit, is what bounds the load then). When the long RTT is more
    than twice the short one (latency back to normal after a long overload)
    it is pulled down 5% per window instead of waiting for the average.

    Parameters:
        initial: the limit before any measurement. Default 20.
        min_limit, max_limit: bounds. Default 2 and 1000.
        smoothing: weight of each new estimate, (0, 1]. Default 0.2.
        tolerance: latency / long-term latency accepted before shrinking (>= 1). Default 1.5.
        window: seconds per update (with at least ``MIN_SAMPLES`` samples). Default 0.1.
        long_window: windows the long RTT averages over. Default 600 (a minute of 0.1 s).
        queue_size: most growth per window before smoothing. Default 4.
        probe_interval: seconds between measurements of the no-load latency. Default 60.
    """

    def __init__(
        self,
        *,
        initial: int = 20,
        min_limit: int = 2,
        max_limit: int = 1000,
        smoothing: float = 0.2,
        tolerance: float = 1.5,
        window: float = 0.1,
        long_window: int = 600,
        queue_size: float = 4.0,
        probe_interval: float = 60.0,
    ) -> None:
        super().__init__(initial=initial, min_limit=min_limit, max_limit=max_limit, window=window)
        if not (isinstance(smoothing, (int, float)) and 0 < smoothing <= 1):
            raise ValueError(f"smoothing must be in (0, 1], got {smoothing!r}")
        if not (isinstance(tolerance, (int, float)) and tolerance >= 1):
            raise ValueError(f"tolerance must be >= 1, got {tolerance!r}")
        self.smoothing = float(smoothing)
        self.tolerance = float(tolerance)
        self.queue_size = float(queue_size)
        if not (isinstance(probe_interval, (int, float)) and probe_interval > 0):
            raise ValueError(f"probe_interval must be > 0 seconds, got {probe_interval!r}")
        self.long_rtt = ExponentialAverage(_positive_int("long_window", long_window))
        self.short_rtt = 0.0
        self.probe_interval = float(probe_interval)
        self.probing = True
        self._probe_rtts: list[float] = []
        self._next_probe = 0.0

    @property
    def limit(self) -> int:
        return self.min_limit if self.probing else super().limit

    def on_sample(self, now: float, rtt: float, in_flight: int) -> None:
        if not self.probing:
            if now >= self._next_probe:
                self.probing, self._probe_rtts = True, []
            else:
                super().on_sample(now, rtt, in_flight)
                return
        # Only requests that ran at the probe's concurrency tell the no-load latency.
        if in_flight <= self.min_limit:
            self._probe_rtts.append(rtt)
        if len(self._probe_rtts) >= MIN_SAMPLES:
            self.long_rtt.reset(statistics.median(self._probe_rtts))
            self.probing = False
            self._next_probe = now + self.probe_interval

    def _update(self, rtt: float, max_in_flight: int) -> None:
        self.short_rtt = rtt
        long_rtt = self.long_rtt.value
        if rtt <= self.tolerance * long_rtt:
            long_rtt = self.long_rtt.add(rtt)
        if long_rtt / rtt > 2.0:
            long_rtt = self.long_rtt.scale(0.95)
        if max_in_flight < self.estimate / 2:
            return
        gradient = max(0.5, min(1.0, self.tolerance * long_rtt / rtt))
        # Headroom only while latency is within tolerance (see the class docstring).
        headroom = min(self.queue_size, math.sqrt(self.estimate)) if gradient >= 1.0 else 0.0
        proposed = self.estimate * gradient + headroom
        self.estimate = self._clamp(
            self.estimate * (1 - self.smoothing) + proposed * self.smoothing
        )


class AimdLimit(_WindowedLimit):
    """Additive increase, multiplicative decrease on a latency threshold.

    As concurrency-limits' ``AIMDLimit``, per window: when the window's mean
    latency exceeds ``latency_threshold`` the limit is multiplied by
    ``backoff`` (0.9); otherwise, if at least half of it was in use, it grows
    by one. Simple and predictable, but the threshold must be chosen for the
    app (a latency it should never exceed), where the gradient needs none.

    Parameters:
        initial: the limit before any measurement. Default 20.
        min_limit, max_limit: bounds. Default 2 and 1000.
        latency_threshold: seconds of mean latency that count as overload. Default 0.5.
        window: seconds per update. Default 0.1.
        backoff: factor applied on overload, (0, 1). Default 0.9.
    """

    def __init__(
        self,
        *,
        initial: int = 20,
        min_limit: int = 2,
        max_limit: int = 1000,
        latency_threshold: float = 0.5,
        window: float = 0.1,
        backoff: float = 0.9,
    ) -> None:
        super().__init__(initial=initial, min_limit=min_limit, max_limit=max_limit, window=window)
        if not (isinstance(latency_threshold, (int, float)) and latency_threshold > 0):
            raise ValueError(f"latency_threshold must be > 0 seconds, got {latency_threshold!r}")
        if not (isinstance(backoff, (int, float)) and 0 < backoff < 1):
            raise ValueError(f"backoff must be in (0, 1), got {backoff!r}")
        self.latency_threshold = float(latency_threshold)
        self.backoff = float(backoff)

    def _update(self, rtt: float, max_in_flight: int) -> None:
        if rtt > self.latency_threshold:
            self.estimate = self._clamp(self.estimate * self.backoff)
        elif max_in_flight * 2 >= self.estimate:
            self.estimate = self._clamp(self.estimate + 1)


class ExponentialAverage:
    """An exponential moving average over about ``window`` values, a plain mean until then.

    The plain mean for the first values (as concurrency-limits' warm-up) keeps
    the first sample from weighing as much as a whole window.
    """

    def __init__(self, window: int) -> None:
        self.factor = 2.0 / (window + 1)
        self.warmup = min(window, 10)
        self.count = 0
        self.value = 0.0

    def add(self, sample: float) -> float:
        if self.count < self.warmup:
            self.count += 1
            self.value += (sample - self.value) / self.count
        else:
            self.value = self.value * (1 - self.factor) + sample * self.factor
        return self.value

    def reset(self, value: float) -> None:
        """Start again from ``value``, as if warmed up on it."""
        self.value = value
        self.count = self.warmup

    def scale(self, factor: float) -> float:
        self.value *= factor
        return self.value


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value
