"""Metrics: HTTP server instrumentation, health and runtime gauges, multiprocess support.

The endpoints that serve them are ``/actuator/prometheus`` and ``/actuator/metrics``
(``actuator.endpoints.prometheus``, ``actuator.endpoints.metrics``).
"""

from __future__ import annotations

from actuator.metrics.http import HttpServerMetrics
from actuator.metrics.registry import ActuatorMetrics

__all__ = ["ActuatorMetrics", "HttpServerMetrics"]
