"""HTTP plumbing: content negotiation, JSON, reading bodies and sending answers."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import math
import uuid
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from http import HTTPStatus
from pathlib import PurePath
from typing import Any

from starlette.types import Receive, Send

NO_STORE = (b"cache-control", b"no-store")


class BodyTooLarge(Exception):
    pass


class ClientDisconnected(Exception):
    pass


def _accept_ranges(accept: str) -> list[tuple[str, str, float, int]]:
    """``(type, subtype, q, position)`` for each media range of an Accept header."""
    ranges = []
    for position, item in enumerate(accept.split(",")):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        if media == "*":
            media = "*/*"
        main, _, sub = media.partition("/")
        if not sub:
            continue
        q = 1.0
        for param in parts[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0 or math.isnan(q):
                    q = 0.0
        ranges.append((main, sub, q, position))
    return ranges


def negotiate(accept: str | None, offered: Sequence[str], default: str | None = None) -> str | None:
    """The offered media type the client prefers, or ``None`` if it accepts none.

    ``offered`` is the server's order of preference. The rule, as Spring MVC
    applies it to an endpoint's produced types (``EndpointMediaTypes``: v3,
    then v2, then plain JSON):

    1. The most specific matching range sets a type's quality (RFC 9110);
       the highest quality wins.
    2. At equal quality, a type the client names beats one it reaches only
       through a wildcard, and of the types it names the one it lists first
       wins (Spring sorts the accepted types stably).
    3. Types reached only through a wildcard (``*/*``, ``application/*``)
       go ``default`` first, then in ``offered`` order.

    A missing or empty Accept header gets ``default`` (else ``offered[0]``),
    and so does a wildcard: a client that names no actuator type (curl, a
    browser, a Kubernetes probe) gets plain JSON, as the design says; Spring
    Boot Admin names v3 first and gets it.
    """
    if not offered:
        return None
    fallback = default if default is not None else offered[0]
    if not accept or not accept.strip():
        return fallback
    ranges = _accept_ranges(accept)
    if not ranges:
        return fallback
    best: str | None = None
    best_key: tuple[float, int, int, int] | None = None
    for rank, media in enumerate(offered):
        main, _, sub = media.lower().partition("/")
        match: tuple[int, float, int] | None = None  # (specificity, q, position)
        for r_main, r_sub, q, position in ranges:
            if r_main == main and r_sub == sub:
                spec = 2
            elif r_main == main and r_sub == "*":
                spec = 1
            elif r_main == "*" and r_sub == "*":
                spec = 0
            else:
                continue
            if match is None or spec > match[0]:
                match = (spec, q, position)
        if match is None or match[1] <= 0.0:
            continue
        spec, q, position = match
        # Larger is better: quality, then specificity, then the client's order,
        # then the server's (the default first among wildcard matches).
        server_rank = -1 if spec < 2 and media == fallback else rank
        key = (q, spec, -position, -server_rank)
        if best_key is None or key > best_key:
            best, best_key = media, key
    return best


def _default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (decimal.Decimal, uuid.UUID, PurePath)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def json_bytes(data: Any) -> bytes:
    """Compact UTF-8 JSON; anything unusual becomes a string, NaN and infinity become null."""
    try:
        text = json.dumps(
            data, default=_default, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
    except ValueError:
        text = json.dumps(
            _finite(json.loads(json.dumps(data, default=_default))),
            default=_default,
            ensure_ascii=False,
            separators=(",", ":"),
        )
    return text.encode("utf-8")


def error_body(status: int, message: str, path: str, **extra: Any) -> bytes:
    """The JSON body of an error answer: status, reason phrase, message and path."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    return json_bytes(
        {"status": status, "error": reason, "message": message, "path": path, **extra}
    )


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    media_type: str | None,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    head: bool = False,
) -> None:
    if status in (204, 304):
        # No body, and no Content-Length saying how long it is (RFC 9110).
        raw, body = [NO_STORE], b""
    else:
        raw = [(b"content-length", str(len(body)).encode("latin-1")), NO_STORE]
    if media_type is not None:
        raw.append((b"content-type", media_type.encode("latin-1")))
    raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_stream(
    send: Send,
    status: int,
    chunks: AsyncIterable[bytes],
    media_type: str | None,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    head: bool = False,
) -> None:
    """An answer whose body comes in chunks (a file), never held whole in memory.

    ``headers`` should hold the Content-Length. ``chunks`` is closed
    (``aclose()``, when it has one) however the answer ends, a HEAD included.
    """
    raw = [NO_STORE]
    if media_type is not None:
        raw.append((b"content-type", media_type.encode("latin-1")))
    raw.extend(headers)
    try:
        await send({"type": "http.response.start", "status": status, "headers": raw})
        if not head:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
