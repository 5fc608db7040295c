"""The load-shedding layer: the app's HTTP requests pass through a ``ConcurrencyLimiter``."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from actuator._http import error_body, json_bytes
from actuator.overload.deadline import BadDeadline, request_deadline
from actuator.overload.limiter import ConcurrencyLimiter, RefusalReason

_MESSAGES: dict[RefusalReason, str] = {
    "limit": "Too many requests in flight; retry later",
    "queue_full": "Too many requests waiting; retry later",
    "queue_timeout": "No capacity freed up in time; retry later",
    "deadline": "The request's deadline cannot be met with the current queue",
}


def _split_refusal(reason: RefusalReason) -> tuple[bytes, bytes]:
    marker = "\u2063path\u2063"
    body = error_body(429, _MESSAGES[reason], marker, reason=reason)
    head, tail = body.split(json_bytes(marker))
    return head, tail


_REFUSALS = {reason: _split_refusal(reason) for reason in _MESSAGES}


class OverloadMiddleware:
    """Pure ASGI layer in front of the app: refuses HTTP requests beyond the limit with 429.

    The actuator middleware puts it between itself and the app when
    ``overload.enabled`` is set, so the actuator's own requests never reach
    it; when off it is not there at all. Websockets and the lifespan pass
    straight through, as do requests under the ``exempt`` path prefixes.

    A refusal is ``429 Too Many Requests`` with ``Retry-After`` (``retry_after``
    plus 0 to ``retry_after_jitter`` random seconds, so refused clients do not
    come back together) and a JSON body naming the reason. A deadline header
    that cannot be read is a 400 naming the header, or ignored
    (``bad_deadline="ignore"``).

    Parameters:
        app: the ASGI app to protect.
        limiter: counts requests in flight and decides.
        exempt: path prefixes never limited.
        retry_after: Retry-After seconds (0: no header). Default 1.
        retry_after_jitter: most random seconds added. Default 2.
        bad_deadline: ``"reject"`` (400) or ``"ignore"``. Default ``"reject"``.
        randint: the source of jitter (``random.randint``; tests pass their own).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: ConcurrencyLimiter,
        exempt: Sequence[str] = (),
        retry_after: int = 1,
        retry_after_jitter: int = 2,
        bad_deadline: str = "reject",
        randint: Callable[[int, int], int] = random.randint,
    ) -> None:
        if bad_deadline not in ("reject", "ignore"):
            raise ValueError(f"bad_deadline must be 'reject' or 'ignore', got {bad_deadline!r}")
        self.app = app
        self.limiter = limiter
        self.exempt = tuple(exempt)
        self.retry_after = retry_after
        self.retry_after_jitter = retry_after_jitter
        self.reject_bad_deadline = bad_deadline == "reject"
        self._randint = randint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and self._is_exempt(scope)):
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        started = limiter.try_admit()
        if started is None:
            try:
                deadline = request_deadline(scope["headers"])
            except BadDeadline as exc:
                if self.reject_bad_deadline:
                    await self._answer(scope, send, 400, str(exc), None)
                    return
                deadline = None
            admitted = await limiter.admit(deadline)
            if isinstance(admitted, str):
                await self._answer(scope, send, 429, _MESSAGES[admitted], admitted)
                return
            started = admitted
        elif self.reject_bad_deadline:
            # Bad input is refused whether or not the server is busy.
            try:
                request_deadline(scope["headers"])
            except BadDeadline as exc:
                limiter.release(None)
                await self._answer(scope, send, 400, str(exc), None)
                return
        try:
            await self.app(scope, receive, send)
        finally:
            limiter.release(started)

    def _is_exempt(self, scope: Scope) -> bool:
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "").rstrip("/")
        if root_path and path.startswith(root_path + "/"):
            path = path[len(root_path) :]
        return any(
            path == prefix or path.startswith(prefix + "/") or prefix == "/"
            for prefix in self.exempt
        )

    async def _answer(
        self, scope: Scope, send: Send, status: int, message: str, reason: RefusalReason | None
    ) -> None:
        if reason is None:
            body = error_body(status, message, scope["path"])
        else:
            # Refusals come by the thousand when overloaded: only the path is encoded.
            head, tail = _REFUSALS[reason]
            body = head + json_bytes(scope["path"]) + tail
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if status == 429 and self.retry_after > 0:
            seconds = self.retry_after + self._randint(0, self.retry_after_jitter)
            headers.append((b"retry-after", str(seconds).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body}
        )
