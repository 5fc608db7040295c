"""Checking the JSON body of a write operation against a pydantic model."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actuator.endpoints.base import BadRequest

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    """A request body: unknown fields and wrong types are errors, never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ReasonBody(Body):
    """``{"reason": "..."}``, optional: why, for the audit log."""

    reason: str = Field(default="", max_length=1024)


def parse_body(model: type[M], body: Any) -> M:
    """``body`` (``None`` for an empty or ``null`` body) as ``model``, or a 400 naming the field."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest(f"Request body must be a JSON object, got {_json_type(body)}")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields) or "none"
            message = f"Unknown field {field!r} (accepted: {allowed})"
        else:
            message = f"Invalid field {field!r}: {error['msg']}"
        raise BadRequest(message, field=field) from None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
