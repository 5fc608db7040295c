"""asgi-actuator: Spring Boot Actuator for any ASGI application."""

from __future__ import annotations

from actuator.__about__ import __version__
from actuator.core import Actuator, ActuatorMiddleware
from actuator.endpoints.base import (
    BadRequest,
    Endpoint,
    EndpointError,
    EndpointResponse,
    NotFound,
    OperationRequest,
)
from actuator.health.aggregator import StatusAggregator
from actuator.health.availability import Availability, Lifecycle, LivenessState, ReadinessState
from actuator.health.groups import HealthGroup
from actuator.health.http_mapper import HttpCodeStatusMapper
from actuator.health.indicator import HealthIndicator
from actuator.health.indicators import (
    CommandIndicator,
    DiskSpaceIndicator,
    EventLoopLagIndicator,
    FileFreshnessIndicator,
    HttpIndicator,
    TcpIndicator,
)
from actuator.health.result import CompositeHealth, Health
from actuator.health.status import Status
from actuator.info.buildinfo import write_build_info
from actuator.info.contributor import InfoContributor
from actuator.management.pause import PauseState
from actuator.management.shutdown import ShutdownPlan
from actuator.metrics import ActuatorMetrics
from actuator.security.credentials import (
    AuthenticationFailed,
    SecurityContext,
    generate_token,
    hash_password,
    hash_token,
)
from actuator.servers.management_server import ManagementServer
from actuator.settings import ActuatorSettings

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
