"""asgi-actuator: Spring Boot Actuator for any ASGI application."""

from __future__ import annotations

from actuator.__about__ import __version__
from actuator.aggregator import StatusAggregator
from actuator.availability import Availability, Lifecycle, LivenessState, ReadinessState
from actuator.buildinfo import write_build_info
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
    CommandIndicator,
    DiskSpaceIndicator,
    EventLoopLagIndicator,
    FileFreshnessIndicator,
    HttpIndicator,
    TcpIndicator,
)
from actuator.management_server import ManagementServer
from actuator.metrics import ActuatorMetrics
from actuator.middleware import ActuatorMiddleware
from actuator.pause import PauseState
from actuator.security import (
    AuthenticationFailed,
    SecurityContext,
    generate_token,
    hash_password,
    hash_token,
)
from actuator.settings import ActuatorSettings
from actuator.shutdown import ShutdownPlan
from actuator.status import Status

__all__ = [
    "Actuator",
    "ActuatorMetrics",
    "ActuatorMiddleware",
    "ActuatorSettings",
    "AuthenticationFailed",
    "Availability",
    "BadRequest",
    "CommandIndicator",
    "CompositeHealth",
    "DiskSpaceIndicator",
    "Endpoint",
    "EndpointError",
    "EndpointResponse",
    "EventLoopLagIndicator",
    "FileFreshnessIndicator",
    "Health",
    "HealthGroup",
    "HealthIndicator",
    "HttpCodeStatusMapper",
    "HttpIndicator",
    "InfoContributor",
    "Lifecycle",
    "LivenessState",
    "ManagementServer",
    "NotFound",
    "OperationRequest",
    "PauseState",
    "ReadinessState",
    "SecurityContext",
    "ShutdownPlan",
    "Status",
    "StatusAggregator",
    "TcpIndicator",
    "__version__",
    "generate_token",
    "hash_password",
    "hash_token",
    "write_build_info",
]
