"""Secured actuators for access-control tests: known tokens, roles and a write endpoint."""

from __future__ import annotations

from typing import Any

import httpx

from actuator import (
    Actuator,
    Endpoint,
    EndpointResponse,
    OperationRequest,
    generate_token,
    hash_token,
)
from tests.support.asgi import merge

ALICE = generate_token()  # sre.alice: full
MONITORING = generate_token()  # monitoring: read
NOBODY = generate_token()  # a valid token whose identity has no role

FULL_PATTERNS = ["sre\\..*"]
READ_PATTERNS = ["monitoring"]


class Switch(Endpoint):
    """A stand-in for the state-changing management endpoints: read, write and delete."""

    name = "switch"

    def __init__(self) -> None:
        self.on = False
        self.changes: list[tuple[str, str | None]] = []

    async def read(self, request: OperationRequest) -> Any:
        return {
            "on": self.on,
            "principal": request.security.principal,
            "roles": sorted(request.security.roles),
        }

    async def write(self, request: OperationRequest) -> Any:
        self.changes.append(("write", request.security.principal))
        self.on = True
        return {"on": True}

    async def delete(self, request: OperationRequest) -> Any:
        self.changes.append(("delete", request.security.principal))
        self.on = False
        return EndpointResponse(status=204)


def secured_settings(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "exposure": {"include": ["*"]},
        "access": {"endpoints": {"switch": "unrestricted"}},
        "health": {
            "event_loop": {"enabled": False},
            "disk_space": {"enabled": False},
            "show_details": "when_authorized",
        },
        "info": {"build_file": None},
        "security": {
            "tokens": {
                "sre.alice": hash_token(ALICE),
                "monitoring": hash_token(MONITORING),
                "nobody": hash_token(NOBODY),
            },
            "roles": {"full": FULL_PATTERNS, "read": READ_PATTERNS},
        },
    }
    return merge(base, overrides)


def secured_actuator(**overrides: Any) -> tuple[Actuator, Switch]:
    actuator = Actuator(name="secured", version="1.0.0", settings=secured_settings(**overrides))
    switch = Switch()
    actuator.add_endpoint(switch)
    return actuator, switch


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
