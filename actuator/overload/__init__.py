"""Overload protection: a concurrency limit for the app's requests, 429 beyond it.

``OverloadMiddleware`` (the ASGI layer) asks a ``ConcurrencyLimiter`` (slots
and a short queue), which follows a limit algorithm from ``limits``. The
actuator builds them from the ``overload`` settings; see docs/overload.md.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from actuator.overload.deadline import BadDeadline, request_deadline
from actuator.overload.limiter import ConcurrencyLimiter
from actuator.overload.limits import AimdLimit, FixedLimit, GradientLimit, Limit
from actuator.overload.middleware import OverloadMiddleware
from actuator.settings import OverloadSettings

__all__ = [
    "AimdLimit",
    "BadDeadline",
    "ConcurrencyLimiter",
    "FixedLimit",
    "GradientLimit",
    "Limit",
    "OverloadMiddleware",
    "build_limiter",
    "protect",
    "request_deadline",
]


def build_limiter(settings: OverloadSettings) -> ConcurrencyLimiter:
    """The limiter the ``overload`` settings describe."""
    algorithm: Limit
    if settings.mode == "fixed":
        algorithm = FixedLimit(settings.limit)
    elif settings.mode == "aimd":
        algorithm = AimdLimit(
            initial=settings.initial_limit,
            min_limit=settings.min_limit,
            max_limit=settings.max_limit,
            latency_threshold=settings.latency_threshold,
            window=settings.window,
        )
    else:
        algorithm = GradientLimit(
            initial=settings.initial_limit,
            min_limit=settings.min_limit,
            max_limit=settings.max_limit,
            smoothing=settings.smoothing,
            tolerance=settings.tolerance,
            window=settings.window,
        )
    return ConcurrencyLimiter(
        algorithm, queue_size=settings.queue_size, queue_timeout=settings.queue_timeout
    )


def protect(
    app: ASGIApp, limiter: ConcurrencyLimiter, settings: OverloadSettings
) -> OverloadMiddleware:
    """``app`` behind the load-shedding layer the settings describe."""
    return OverloadMiddleware(
        app,
        limiter=limiter,
        exempt=settings.exempt,
        retry_after=settings.retry_after,
        retry_after_jitter=settings.retry_after_jitter,
        bad_deadline=settings.bad_deadline,
    )
