"""The endpoint contract: operations that take a request and return plain results."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from starlette.datastructures import Headers
from starlette.types import Scope

from actuator.security.credentials import ANONYMOUS, SecurityContext

Operation = Literal["read", "write", "delete"]
"""``read`` answers GET and HEAD, ``write`` answers POST, ``delete`` answers DELETE."""

JSON = "application/json"
ACTUATOR_V3_JSON = "application/vnd.spring-boot.actuator.v3+json"
ACTUATOR_V2_JSON = "application/vnd.spring-boot.actuator.v2+json"
JSON_TYPES: tuple[str, ...] = (ACTUATOR_V3_JSON, ACTUATOR_V2_JSON, JSON)
"""Spring Boot's ``EndpointMediaTypes``: what a wildcard gets is v3, then v2, then plain JSON."""

_ENDPOINT_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")


@dataclass(frozen=True)
class OperationRequest:
    """What an operation receives.

    Attributes:
        operation: ``read``, ``write`` or ``delete``.
        path: the path segments after the endpoint name, decoded.
        query: query parameters, each with all its values.
        body: the parsed JSON body of a write or delete (``None`` when empty).
        media_type: the response media type chosen from the Accept header.
        base_url: absolute URL of the actuator base path, for links.
        security: the caller.
    """

    operation: Operation
    path: tuple[str, ...] = ()
    query: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: Any = None
    media_type: str = JSON
    base_url: str = ""
    scope: Scope = field(default_factory=dict)
    security: SecurityContext = ANONYMOUS

    def query_value(self, name: str) -> str | None:
        """The last value of query parameter ``name``, or ``None``."""
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass(frozen=True)
class EndpointResponse:
    """An explicit answer, for when plain JSON with status 200 is not enough.

    ``body`` may be JSON-able data, ``str`` or ``bytes`` (then give ``media_type``),
    an async iterable of ``bytes`` chunks sent as they come (give ``media_type``
    and a ``Content-Length`` header; an ``aclose()`` it has is always called),
    or ``None`` for no content.
    """

    body: Any = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    media_type: str | None = None


class EndpointError(Exception):
    """Raise from an operation to answer with an error status and a JSON body."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.extra = extra


class BadRequest(EndpointError):
    """400: the request is wrong (a bad parameter or body); say which in the message."""

    status = 400


class NotFound(EndpointError):
    """404: nothing at this path (``raise NotFound(f"No flag named {flag!r}")``)."""

    status = 404


class Conflict(EndpointError):
    """409: the request clashes with the current state."""

    status = 409


class Endpoint:
    """Base class for actuator endpoints.

    Subclass it, set ``name``, and override the operations you support.
    Results are plain data (dicts, lists...) or an ``EndpointResponse``;
    raise ``NotFound``/``BadRequest`` for errors. The same endpoint serves the
    in-process middleware, the management port and the sidecar::

        class FeatureFlags(Endpoint):
            name = "flags"
            selector = "flag"            # discovery shows /actuator/flags/{flag}

            def __init__(self, flags: dict[str, bool]) -> None:
                self.flags = flags

            async def read(self, request: OperationRequest) -> Any:
                if not request.path:
                    return {"flags": self.flags}
                flag = request.path[0]
                if flag not in self.flags:
                    raise NotFound(f"No flag named {flag!r}")
                return {"name": flag, "enabled": self.flags[flag]}

        actuator.add_endpoint(FeatureFlags({"new-checkout": True}))

    Class attributes:
        name: the path segment under the base path (lower case, digits, ``-``).
        selector: if set, discovery adds a templated ``{name}-{selector}`` link.
        query_params: query parameter names the endpoint accepts; any other
            is a 400, so typos do not pass silently.
        produces: media types the endpoint can answer with, preferred first
            (what a wildcard Accept gets); the chosen one is ``request.media_type``.
            A request without an Accept header gets ``application/json`` when
            it is offered. The default offers Spring's v3 and v2 types and
            plain JSON; the v2 shape of your answer is yours to give (health
            renames ``components`` to ``details``).
        max_path: how many path segments the endpoint takes (``None``: any).
    """

    name: ClassVar[str] = ""
    selector: ClassVar[str | None] = None
    query_params: ClassVar[frozenset[str]] = frozenset()
    produces: ClassVar[tuple[str, ...]] = JSON_TYPES
    max_path: ClassVar[int | None] = 1

    def operations(self, path: tuple[str, ...]) -> frozenset[Operation]:
        """The operations available at ``path``. Default: those overridden, at any allowed depth."""
        if self.max_path is not None and len(path) > self.max_path:
            return frozenset()
        found: set[Operation] = set()
        cls = type(self)
        if cls.read is not Endpoint.read:
            found.add("read")
        if cls.write is not Endpoint.write:
            found.add("write")
        if cls.delete is not Endpoint.delete:
            found.add("delete")
        return frozenset(found)

    def needs_identity(self) -> bool:
        """Whether a read's answer may depend on who asks. Default ``True``.

        Where anonymous callers may read and this is ``False``, an HTTP basic
        password sent along is not checked (no scrypt runs for nothing).
        """
        return True

    async def read(self, request: OperationRequest) -> Any:
        raise NotImplementedError

    async def write(self, request: OperationRequest) -> Any:
        raise NotImplementedError

    async def delete(self, request: OperationRequest) -> Any:
        raise NotImplementedError

    def available(self) -> bool:
        """Whether the discovery page lists the endpoint now (default: always).

        Spring Boot lists ``logfile`` only when there is a log file; an endpoint
        with nothing to show may say so here. It is still served when asked.
        """
        return True

    async def startup(self) -> None:
        """Called when the app starts (lifespan startup)."""

    async def shutdown(self) -> None:
        """Called when the app stops (lifespan shutdown)."""


def check_endpoint_name(name: object) -> str:
    if not isinstance(name, str) or not _ENDPOINT_NAME.match(name):
        raise ValueError(
            f"endpoint name must be lower-case letters, digits and '-', starting with a letter; "
            f"got {name!r}"
        )
    return name
