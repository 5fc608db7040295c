"""The ``overload`` health indicator: UP, or OUT_OF_SERVICE while shedding persists."""

from __future__ import annotations

from actuator.health.result import Health
from actuator.overload.limiter import ConcurrencyLimiter


class OverloadIndicator:
    """UP while the app's requests are served; OUT_OF_SERVICE once refusals have gone on
    for ``out_of_service_after`` seconds without a quiet second, UP again after one.

    Registered as ``overload`` when ``overload.enabled`` is set; part of
    readiness only with ``overload.readiness`` (taking a busy instance out of
    the load balancer pushes its load onto the others, so it is a choice).
    Details: ``mode``, ``limit``, ``inFlight``, ``queued``, ``sheddingSeconds``
    and ``refused`` (counts by reason since start).

    Parameters:
        limiter: the limiter to report on.
        mode: the limit algorithm's name, shown in the details.
        out_of_service_after: seconds of continuous shedding that mean OUT_OF_SERVICE.
    """

    def __init__(
        self, limiter: ConcurrencyLimiter, *, mode: str, out_of_service_after: float
    ) -> None:
        self.limiter = limiter
        self.mode = mode
        self.out_of_service_after = out_of_service_after

    def health(self) -> Health:
        limiter = self.limiter
        shedding = limiter.shedding_for()
        details = {
            "mode": self.mode,
            "limit": limiter.limit,
            "inFlight": limiter.in_flight,
            "queued": limiter.queued,
            "sheddingSeconds": round(shedding, 3),
            "refused": dict(limiter.refused),
        }
        if shedding >= self.out_of_service_after:
            return Health.out_of_service(**details)
        return Health.up(**details)
