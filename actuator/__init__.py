"""asgi-actuator: Spring Boot Actuator for any ASGI application."""

from __future__ import annotations

from actuator.__about__ import __version__
from actuator.aggregator import StatusAggregator
from actuator.availability import Availability, Lifecycle, LivenessState, ReadinessState
from actuator.contributor import InfoContributor
from actuator.core import Actuator
from actuator.endpoints.base import (
    BadRequest,
    Endpoint,
    EndpointError,
    EndpointResponse,
    NotFound,
    OperationRequest,
)
from actuator.groups import HealthGroup
from actuator.health import CompositeHealth, Health
from actuator.http_mapper import HttpCodeStatusMapper
from actuator.indicator import HealthIndicator
from actuator.indicators import (
    DiskSpaceIndicator,
    EventLoopLagIndicator,
    HttpIndicator,
    TcpIndicator,
)
from actuator.metrics import ActuatorMetrics
from actuator.middleware import ActuatorMiddleware
from actuator.security import SecurityContext
from actuator.settings import ActuatorSettings
from actuator.status import Status

__all__ = [
    "Actuator",
    "ActuatorMetrics",
    "ActuatorMiddleware",
    "ActuatorSettings",
    "Availability",
    "BadRequest",
    "CompositeHealth",
    "DiskSpaceIndicator",
    "Endpoint",
    "EndpointError",
    "EndpointResponse",
    "EventLoopLagIndicator",
    "Health",
    "HealthGroup",
    "HealthIndicator",
    "HttpCodeStatusMapper",
    "HttpIndicator",
    "InfoContributor",
    "Lifecycle",
    "LivenessState",
    "NotFound",
    "OperationRequest",
    "ReadinessState",
    "SecurityContext",
    "Status",
    "StatusAggregator",
    "TcpIndicator",
    "__version__",
]
