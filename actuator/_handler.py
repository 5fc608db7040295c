"""Serving one actuator request: from ASGI scope to an endpoint operation and back."""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import AsyncIterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from actuator._http import (
    BodyTooLarge,
    ClientDisconnected,
    error_body,
    json_bytes,
    negotiate,
    read_body,
    send_response,
    send_stream,
)
from actuator._results import safe_traceback
from actuator.endpoints.base import (
    JSON,
    JSON_TYPES,
    EndpointError,
    EndpointResponse,
    Operation,
    OperationRequest,
)
from actuator.endpoints.discovery import discovery_links
from actuator.sanitizer import loggable
from actuator.security.auth import AuthError, describe_request
from actuator.security.credentials import SecurityContext

if TYPE_CHECKING:
    from actuator.endpoints.registry import EndpointRegistry
    from actuator.security.auth import Guard
    from actuator.settings import ActuatorSettings

logger = logging.getLogger("actuator.http")
access_log = logging.getLogger("actuator.access")

MAX_BODY = 64 * 1024
MAX_BODY_DEPTH = 32
_METHODS: Mapping[str, Operation] = {
    "GET": "read",
    "HEAD": "read",
    "POST": "write",
    "DELETE": "delete",
}
_ALLOW: Mapping[Operation, tuple[str, ...]] = {
    "read": ("GET", "HEAD"),
    "write": ("POST",),
    "delete": ("DELETE",),
}
_HOST = re.compile(r"[A-Za-z0-9.\-_\[\]:]+\Z")
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_JSON_BODY_TYPES = (
    "application/json",
    "application/vnd.spring-boot.actuator.v3+json",
    "application/vnd.spring-boot.actuator.v2+json",
)


class _Reject(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        self.extra = extra


def allow_header(operations: frozenset[Operation]) -> str:
    """The methods a path answers; OPTIONS everywhere, as Spring MVC answers it."""
    methods = [m for op in ("read", "write", "delete") if op in operations for m in _ALLOW[op]]
    return ", ".join([*methods, "OPTIONS"])


def base_url(scope: Scope, base_path: str) -> str:
    """Absolute URL of the actuator base path as the client addressed it."""
    scheme = scope.get("scheme", "http")
    host = Headers(scope=scope).get("host", "")
    if not host or not _HOST.match(host):
        server = scope.get("server")
        if server and server[1] is not None:
            host = f"{server[0]}:{server[1]}"
        elif server:
            host = str(server[0])
        else:
            host = "localhost"
    return f"{scheme}://{host}{scope.get('root_path', '')}{base_path}"


class ActuatorHandler:
    """Turns a request under the base path into an endpoint call and its answer."""

    def __init__(
        self, endpoints: EndpointRegistry, guard: Guard, settings: ActuatorSettings
    ) -> None:
        self.endpoints = endpoints
        self.guard = guard
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send, subpath: str) -> None:
        path = scope.get("path", "")
        head = scope.get("method") == "HEAD"
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._handle(scope, receive, tracked, subpath, head)
        except _Reject as exc:
            headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers]
            await send_response(
                send,
                exc.status,
                error_body(exc.status, exc.message, path, **exc.extra),
                JSON,
                headers=headers,
                head=head,
            )
        except ClientDisconnected:
            return
        except Exception as exc:
            # Nothing under the base path reaches the app: its error page would be a
            # plain-text 500, and its log a traceback with whatever the request held.
            logger.error("Request failed: %s\n%s", describe_request(scope), safe_traceback(exc))
            if started:
                raise
            await send_response(
                send,
                500,
                error_body(500, "The actuator failed on this request; see the server log", path),
                JSON,
                head=head,
            )

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, subpath: str, head: bool
    ) -> None:
        guard = self.guard
        base_path = self.settings.base_path
        segments = self._segments(scope, subpath)
        method = scope.get("method", "GET")
        operation = _METHODS.get(method)
        query = self._query(scope)
        headers = Headers(scope=scope)

        if not segments:
            if method == "OPTIONS":
                await self._caller(scope)
                await _send_options(send, frozenset({"read"}))
                return
            if operation != "read":
                raise _Reject(
                    405,
                    f"Method {method} not allowed on the discovery page",
                    {"Allow": allow_header(frozenset({"read"}))},
                )
            caller = await self._caller(scope)
            self._reject_unexpected(query, frozenset())
            self._reject_get_body(headers)
            media_type = self._negotiate(headers, JSON_TYPES)
            access = self.settings.access
            links = discovery_links(
                self.endpoints.all_exposed(),
                base_url(scope, base_path),
                lambda endpoint: (
                    access.allows(endpoint, "read") and guard.may(caller, endpoint, "read")
                ),
            )
            await send_response(send, 200, json_bytes({"_links": links}), media_type, head=head)
            return

        name, params = segments[0], tuple(segments[1:])
        endpoint = self.endpoints.exposed(name)
        if endpoint is None:
            raise _Reject(404, f"No endpoint named {name!r}")
        operations = endpoint.operations(params)
        if not operations:
            raise _Reject(404, f"No such path under endpoint {name!r}")
        if method == "OPTIONS":
            # Spring Boot Admin's ProbeEndpointsStrategy and its env and startup
            # views ask with OPTIONS: answer for the caller as its GET would be.
            probe: Operation = "read" if "read" in operations else min(operations)
            self._check_access(name, probe)
            caller = await self._caller(scope)
            try:
                guard.authorize(caller, name, probe, scope)
            except AuthError as exc:
                raise _reject_for(exc) from None
            await _send_options(send, operations)
            return
        if operation is None or operation not in operations:
            raise _Reject(
                405, f"Method {method} not allowed here", {"Allow": allow_header(operations)}
            )
        self._check_access(name, operation)
        anonymous = operation == "read" and self.settings.security.anonymous_reads(name)
        caller = await self._caller(scope, not anonymous or endpoint.needs_identity())
        try:
            guard.authorize(caller, name, operation, scope)
        except AuthError as exc:
            raise _reject_for(exc) from None
        self._reject_unexpected(query, endpoint.query_params)
        if operation == "read":
            self._reject_get_body(headers)
            body = None
        else:
            body = await self._json_body(receive, headers)
        media_type = self._negotiate(headers, endpoint.produces)
        request = OperationRequest(
            operation=operation,
            path=params,
            query=query,
            headers=headers,
            body=body,
            media_type=media_type,
            base_url=base_url(scope, base_path),
            scope=scope,
            security=caller,
        )
        try:
            result = await getattr(endpoint, operation)(request)
        except EndpointError as exc:
            _audit(operation, caller, scope, exc.status)
            raise _Reject(exc.status, exc.message, **exc.extra) from None
        except Exception as exc:
            logger.error(
                "Endpoint %r failed on %s\n%s", name, describe_request(scope), safe_traceback(exc)
            )
            _audit(operation, caller, scope, 500)
            raise _Reject(500, f"Endpoint {name!r} failed; see the server log") from None
        _audit(
            operation, caller, scope, result.status if isinstance(result, EndpointResponse) else 200
        )
        await self._send_result(send, result, media_type, head)

    async def _caller(self, scope: Scope, verify_passwords: bool = True) -> SecurityContext:
        try:
            return await self.guard.authenticate(scope, verify_passwords=verify_passwords)
        except AuthError as exc:
            raise _reject_for(exc) from None

    @staticmethod
    async def _send_result(send: Send, result: Any, media_type: str, head: bool) -> None:
        if not isinstance(result, EndpointResponse):
            await send_response(send, 200, json_bytes(result), media_type, head=head)
            return
        headers = [
            (k.lower().encode("latin-1"), str(v).encode("latin-1"))
            for k, v in result.headers.items()
        ]
        if result.body is None:
            await send_response(send, result.status, b"", None, headers=headers, head=head)
        elif isinstance(result.body, bytes):
            await send_response(
                send,
                result.status,
                result.body,
                result.media_type or "application/octet-stream",
                headers=headers,
                head=head,
            )
        elif isinstance(result.body, AsyncIterable):
            await send_stream(
                send,
                result.status,
                result.body,
                result.media_type or "application/octet-stream",
                headers=headers,
                head=head,
            )
        elif isinstance(result.body, str):
            await send_response(
                send,
                result.status,
                result.body.encode("utf-8"),
                result.media_type or "text/plain; charset=utf-8",
                headers=headers,
                head=head,
            )
        else:
            await send_response(
                send,
                result.status,
                json_bytes(result.body),
                result.media_type or media_type,
                headers=headers,
                head=head,
            )

    def _segments(self, scope: Scope, subpath: str) -> list[str]:
        limit = self.settings.max_path_length
        raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
        raw = raw.split(b"?", 1)[0]  # some clients (httpx's ASGITransport) include the query
        if len(raw) + len(scope.get("query_string", b"")) > limit:
            raise _Reject(414, f"Request target longer than {limit} bytes")
        if "\x00" in subpath or b"%00" in raw:
            raise _Reject(400, "NUL byte in path")
        lowered = raw.lower()
        if b"%2f" in lowered or b"%5c" in lowered or "\\" in subpath:
            raise _Reject(400, "Encoded slashes and backslashes are not allowed in the path")
        if subpath.endswith("/"):
            subpath = subpath[:-1]
        if not subpath:
            return []
        segments = subpath[1:].split("/")
        for segment in segments:
            if segment in ("", ".", ".."):
                raise _Reject(400, "Empty, '.' and '..' path segments are not allowed")
        return segments

    @staticmethod
    def _query(scope: Scope) -> dict[str, tuple[str, ...]]:
        raw = scope.get("query_string", b"")
        if not raw:
            return {}
        if _BAD_PERCENT.search(raw):
            # unquote() would keep "%zz" as it is: say so rather than guess what was meant.
            raise _Reject(400, "Query string is not valid percent-encoded UTF-8")
        try:
            pairs = urllib.parse.parse_qsl(
                raw.decode("ascii"), keep_blank_values=True, errors="strict"
            )
        except (UnicodeDecodeError, ValueError):
            raise _Reject(400, "Query string is not valid percent-encoded UTF-8") from None
        query: dict[str, tuple[str, ...]] = {}
        for key, value in pairs:
            if "\x00" in key or "\x00" in value:
                raise _Reject(400, "NUL byte in query string")
            query[key] = (*query.get(key, ()), value)
        return query

    def _check_access(self, name: str, operation: Operation) -> None:
        access = self.settings.access
        if access.allows(name, operation):
            return
        level = access.level(name)
        what = "any operation" if level == "none" else "write operations"
        raise _Reject(
            403,
            f"Access to {what} on endpoint {name!r} is disabled "
            f"(access level {level!r}; see ACTUATOR_ACCESS__ENDPOINTS)",
        )

    @staticmethod
    def _reject_unexpected(query: Mapping[str, Any], accepted: frozenset[str]) -> None:
        unexpected = sorted(set(query) - accepted)
        if unexpected:
            accepted_text = ", ".join(sorted(accepted)) if accepted else "none"
            raise _Reject(
                400,
                f"Unexpected query parameter {unexpected[0]!r} (accepted: {accepted_text})",
                parameter=unexpected[0],
            )

    @staticmethod
    def _reject_get_body(headers: Headers) -> None:
        length = headers.get("content-length")
        if headers.get("transfer-encoding") or (length not in (None, "0")):
            raise _Reject(400, "A GET or HEAD request must not have a body")

    @staticmethod
    def _negotiate(headers: Headers, produces: tuple[str, ...]) -> str:
        media_type = negotiate(
            headers.get("accept"), produces, default=JSON if JSON in produces else None
        )
        if media_type is None:
            raise _Reject(
                406, f"Cannot answer with any accepted media type; available: {', '.join(produces)}"
            )
        return media_type

    @staticmethod
    async def _json_body(receive: Receive, headers: Headers) -> Any:
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise _Reject(400, "Invalid Content-Length header")
            if int(length) > MAX_BODY:
                raise _Reject(413, f"Request body larger than {MAX_BODY} bytes")
        try:
            raw = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            raise _Reject(413, f"Request body larger than {MAX_BODY} bytes") from None
        if not raw.strip():
            return None
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _JSON_BODY_TYPES:
            raise _Reject(415, "Request body must be JSON (Content-Type: application/json)")
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Reject(400, "Request body is not valid UTF-8") from None
        except json.JSONDecodeError as exc:
            raise _Reject(
                400, f"Malformed JSON body: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        except RecursionError:
            raise _Reject(400, f"JSON body nested deeper than {MAX_BODY_DEPTH} levels") from None
        except ValueError as exc:
            # int() refuses more than sys.get_int_max_str_digits() digits (4300).
            raise _Reject(400, f"JSON body holds a number too large to read: {exc}") from None
        if _deeper_than(body, MAX_BODY_DEPTH):
            raise _Reject(400, f"JSON body nested deeper than {MAX_BODY_DEPTH} levels")
        return body


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists or objects more than ``limit`` deep (no recursion)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, (list, dict))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, (list, dict)) for item in level)


async def _send_options(send: Send, operations: frozenset[Operation]) -> None:
    await send_response(
        send, 200, b"", None, headers=[(b"allow", allow_header(operations).encode("latin-1"))]
    )


def _reject_for(error: AuthError) -> _Reject:
    headers = [*error.headers.items(), *(("WWW-Authenticate", c) for c in error.challenges)]
    return _Reject(error.status, error.message, headers)


def _audit(operation: Operation, caller: SecurityContext, scope: Scope, status: int) -> None:
    """Who ran which write or delete operation, and how it went, on ``actuator.access``.

    The state changes themselves (a pause, a log level) are recorded on
    ``actuator.audit`` by the endpoints that make them, with their details.
    """
    if operation != "read":
        who = loggable(caller.principal or "anonymous")
        roles = sorted(caller.roles)
        access_log.info(
            "%s by %s (roles: %s) -> %d",
            describe_request(scope),
            who,
            ", ".join(roles) or "none",
            status,
            extra={
                "audit": {
                    "action": operation,
                    "request": describe_request(scope),
                    "who": who,
                    "roles": roles,
                    "status": status,
                }
            },
        )


def subpath_of(scope: Scope, base_path: str, endpoints: EndpointRegistry) -> str | None:
    """The path after the base path, or ``None`` when the request is not for the actuator."""
    path: str = scope["path"]
    # Servers differ: some put root_path in front of path (as the ASGI spec now says),
    # some do not. Strip it only as a whole prefix: root_path "/act" is not in "/actuator".
    root_path: str = scope.get("root_path", "").rstrip("/")
    if root_path and (path == root_path or path.startswith(root_path + "/")):
        path = path[len(root_path) :]
    if not path.startswith(base_path):
        return None
    rest = path[len(base_path) :]
    if rest and rest[0] != "/":
        return None
    if not base_path:
        # Endpoints at the root (base_path "/"): the app keeps every other path,
        # and there is no discovery page, as in Spring Boot.
        name = rest[1:].split("/", 1)[0]
        if not name or endpoints.exposed(name) is None:
            return None
    return rest


async def not_found_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The app behind a standalone actuator: a JSON 404 for anything outside the base path."""
    if scope["type"] == "http":
        path = scope.get("path", "")
        await send_response(
            send,
            404,
            error_body(404, "Not found", path),
            "application/json",
            head=scope.get("method") == "HEAD",
        )
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
