"""Endpoints: the base class for your own, and the built-in ones."""

from __future__ import annotations

from actuator.endpoints.base import (
    ACTUATOR_V2_JSON,
    ACTUATOR_V3_JSON,
    JSON,
    BadRequest,
    Conflict,
    Endpoint,
    EndpointError,
    EndpointResponse,
    NotFound,
    Operation,
    OperationRequest,
)

__all__ = [
    "ACTUATOR_V2_JSON",
    "ACTUATOR_V3_JSON",
    "JSON",
    "BadRequest",
    "Conflict",
    "Endpoint",
    "EndpointError",
    "EndpointResponse",
    "NotFound",
    "Operation",
    "OperationRequest",
]
