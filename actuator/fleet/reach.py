"""The console calling an instance's own actuator: the read proxy and the actions.

::

    [reach]                                   # fleet.toml
    timeout = 5                               # deadline per request, retries included
    token_env = "FLEET_ACTUATOR_TOKEN"        # bearer token, from the environment
    # client_cert / client_key / ca: mutual TLS, as for pull target sets

    reach = Reach(config.reach)
    reply = await reach.call("orders-1", "http://10.0.0.7:8080/actuator", "GET", "health")
    reply.status, reply.body                  # the instance's answer, parsed JSON

Every call has a deadline (``timeout``): a hung instance costs one deadline,
never a hang. Failures are a ``ReachError`` naming the instance: 504 when it
did not answer in time, 502 when it could not be reached, refused the
console's credentials or answered something other than JSON, 409 when the
console knows no management URL for it. Credentials never appear in a
message: errors name the instance id and the kind of failure, not the URL or
the headers sent.

A pulled instance is called with its target set's client (its credentials);
every other instance with the ``[reach]`` credentials.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from actuator.client import RetryPolicy, call_with_retries

MAX_ANSWER = 4 * 1024 * 1024
"""The largest instance answer the console reads, bytes (a loggers list is far smaller)."""


class Credentials(BaseModel):
    """How the console authenticates to actuators: a bearer token, and/or mutual TLS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_env: str | None = Field(default=None, description="variable holding a bearer token")
    client_cert: Path | None = Field(default=None, description="PEM certificate for mTLS")
    client_key: Path | None = Field(default=None, description="its private key")
    ca: Path | None = Field(default=None, description="CA bundle to verify the instances")


def client_options(
    credentials: Credentials, label: str
) -> tuple[dict[str, str], ssl.SSLContext | bool]:
    """The headers and TLS verification that carry ``credentials``.

    ``ValueError`` naming ``label.token_env`` when that variable is unset or
    empty (the token itself is never part of a message).
    """
    headers = {"accept": "application/json"}
    if credentials.token_env:
        token = os.environ.get(credentials.token_env)
        if not token:
            raise ValueError(f"{label}.token_env: ${credentials.token_env} is not set")
        headers["authorization"] = f"Bearer {token}"
    verify: ssl.SSLContext | bool = True
    if credentials.ca or credentials.client_cert:
        context = ssl.create_default_context(cafile=str(credentials.ca) if credentials.ca else None)
        if credentials.client_cert:
            context.load_cert_chain(
                str(credentials.client_cert),
                str(credentials.client_key) if credentials.client_key else None,
            )
        verify = context
    return headers, verify


def http_client(
    credentials: Credentials,
    *,
    label: str,
    timeout: float,
    concurrency: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` carrying ``credentials`` (see ``client_options``)."""
    headers, verify = client_options(credentials, label)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(
        headers=headers, verify=verify, limits=limits, transport=transport, timeout=timeout
    )


class ReachConfig(Credentials):
    """The ``[reach]`` section: the console's calls to instances (proxy and actions)."""

    timeout: float = Field(default=5.0, gt=0, le=300, description="deadline per request, seconds")
    concurrency: int = Field(default=50, ge=1, le=10_000, description="requests in flight at most")


class ReachError(Exception):
    """A call to an instance that gave no usable answer; ``status`` is the console's (5xx/409)."""

    def __init__(self, status: int, instance: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.instance = instance
        self.message = message


@dataclass(frozen=True)
class Reply:
    """An instance's answer: its status code and its JSON body (``None`` when empty)."""

    status: int
    body: Any
    elapsed: float


ClientFor = Callable[[str], "httpx.AsyncClient | None"]
"""A base URL's own client (a pull target set's), or ``None`` for the ``[reach]`` one."""

# Health answers 503 when the instance is down: an answer to pass on, not one to retry.
_NO_RETRY_503 = RetryPolicy(attempts=2, statuses=frozenset({429}))
_DEFAULT = RetryPolicy(attempts=2)


class Reach:
    """Calls instances' actuators with the console's credentials, each under a deadline.

    Parameters:
        config: the ``[reach]`` section (default: no credentials, 5 s).
        client_for: a base URL's own client, when it has one (pulled instances).
        transport: an httpx transport, for tests.
    """

    def __init__(
        self,
        config: ReachConfig | None = None,
        *,
        client_for: ClientFor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config or ReachConfig()
        self._client_for = client_for
        # Built now so a missing token variable stops the console at start-up.
        self._client = http_client(
            self.config,
            label="reach",
            timeout=self.config.timeout,
            concurrency=self.config.concurrency,
            transport=transport,
        )
        self._semaphore = asyncio.Semaphore(self.config.concurrency)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        instance: str,
        base_url: str | None,
        method: str,
        path: str,
        *,
        body: Any = None,
        deadline: float | None = None,
    ) -> Reply:
        """``method {base_url}/{path}`` on instance ``instance``; ``ReachError`` when it fails.

        ``body`` is sent as JSON when not ``None``. ``deadline`` (default
        ``timeout``) covers the whole call, a retry after a refused connection
        or a 429 included.
        """
        if not base_url:
            raise ReachError(
                409,
                instance,
                f"Instance {instance!r} has no management URL: set fleet.management_url "
                "on it, or pull it",
            )
        seconds = deadline or self.config.timeout
        client = (self._client_for(base_url) if self._client_for else None) or self._client
        url = base_url.rstrip("/") + "/" + path.lstrip("/")
        policy = _NO_RETRY_503 if path.startswith("health") else _DEFAULT
        kwargs: dict[str, Any] = {} if body is None else {"json": body}

        async def attempt(left: float) -> httpx.Response:
            sent = client.build_request(
                method, url, headers={"x-request-timeout": f"{left:.3f}"}, timeout=left, **kwargs
            )
            answer = await client.send(sent, stream=True)
            try:
                content = await _capped(answer, instance)
            finally:
                await answer.aclose()
            return httpx.Response(answer.status_code, content=content, request=sent)

        started = time.monotonic()
        try:
            async with self._semaphore:
                # The deadline covers retries; wait_for holds it whatever the transport does.
                answer = await asyncio.wait_for(
                    call_with_retries(attempt, method=method, deadline=seconds, policy=policy),
                    seconds + 0.5,
                )
        except (httpx.TimeoutException, asyncio.TimeoutError):
            raise ReachError(
                504, instance, f"Instance {instance!r} did not answer within {seconds:g}s"
            ) from None
        except httpx.HTTPError as exc:
            raise ReachError(
                502, instance, f"Instance {instance!r} is unreachable ({type(exc).__name__})"
            ) from None
        elapsed = time.monotonic() - started
        if answer.status_code in (401, 403):
            raise ReachError(
                502,
                instance,
                f"Instance {instance!r} refused the console's credentials "
                f"({answer.status_code}); see [reach] in the console's configuration",
            )
        if not answer.content.strip():
            return Reply(answer.status_code, None, elapsed)
        try:
            parsed = json.loads(answer.content)
        except ValueError:
            raise ReachError(
                502,
                instance,
                f"Instance {instance!r} answered {answer.status_code} with something other "
                "than JSON",
            ) from None
        return Reply(answer.status_code, parsed, elapsed)


async def _capped(answer: httpx.Response, instance: str) -> bytes:
    """The body, read up to ``MAX_ANSWER`` bytes: a runaway instance cannot fill the console."""
    chunks, size = [], 0
    async for chunk in answer.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER:
            raise ReachError(
                502, instance, f"Instance {instance!r} answered more than {MAX_ANSWER} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)
