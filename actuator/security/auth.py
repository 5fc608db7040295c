"""Authentication (who is calling) and authorization (may they run this operation)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import inspect
import logging
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Scope

from actuator._pool import DaemonThreadPool
from actuator.endpoints.base import Operation
from actuator.sanitizer import loggable
from actuator.security.attempts import Busy, FailedAttempts, PasswordChecks
from actuator.security.credentials import (
    ANONYMOUS,
    FULL,
    READ,
    AuthenticationFailed,
    Authenticator,
    PasswordHash,
    SecurityContext,
    token_digest,
)
from actuator.settings import SecuritySettings

logger = logging.getLogger("actuator.security")

_CACHE_LIMIT = 1024


class AuthError(Exception):
    """A refused request: 401 (no valid identity) or 403 (identity lacks the role)."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        challenges: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.challenges = tuple(challenges)


def describe_request(scope: Scope) -> str:
    """``GET /actuator/env from 10.0.0.7:5000`` for a log line, every part escaped.

    The path is percent-decoded by the server: a ``%0A`` in it must not start a
    line of its own in the log.
    """
    client = scope.get("client")
    where = f"{client[0]}:{client[1]}" if client else "unknown client"
    return loggable(f"{scope.get('method', '?')} {scope.get('path', '')} from {where}")


class Guard:
    """Identifies callers and decides what they may do, from ``SecuritySettings``.

    Identities are tried in this order: authenticator hooks, the
    ``Authorization`` header (Bearer token or HTTP basic), then a verified
    TLS client certificate. Credentials that are present but wrong are a 401
    even where anonymous callers are allowed, so a misconfigured client
    learns about it instead of silently seeing less; except an HTTP basic
    password where the answer does not depend on the caller, which is not
    checked at all (``verify_passwords=False``: no scrypt for nothing).
    """

    def __init__(self, settings: SecuritySettings, hooks: list[Authenticator]) -> None:
        self.settings = settings
        self.hooks = hooks
        self._tokens = [
            (name, bytes.fromhex(hashed.removeprefix("sha256:")))
            for name, hashed in settings.tokens.items()
        ]
        self._users = {name: PasswordHash.parse(hashed) for name, hashed in settings.users.items()}
        self._full = [re.compile(p) for p in settings.roles.full]
        self._read = [re.compile(p) for p in settings.roles.read]
        self._verified: dict[bytes, str] = {}
        self._decoy: PasswordHash | None = None
        self._password_checks = PasswordChecks(settings.max_password_checks)
        # scrypt runs on threads of its own, as many as may run at once: each thread's
        # malloc arena keeps the 16 MiB it used, so a few threads keep memory bounded
        # where the default executor's dozens would not.
        self._scrypt_pool: DaemonThreadPool | None = None
        self._failures = FailedAttempts(
            settings.max_failed_attempts, settings.failed_attempts_window
        )
        realm = settings.realm
        self._challenges = [f'Bearer realm="{realm}"']
        if self._users:
            self._challenges.append(f'Basic realm="{realm}", charset="UTF-8"')

    # -- roles ----------------------------------------------------------------

    def roles_for(self, principal: str) -> frozenset[str]:
        if any(p.fullmatch(principal) for p in self._full):
            return frozenset({FULL, READ})
        if any(p.fullmatch(principal) for p in self._read):
            return frozenset({READ})
        return frozenset()

    def context(self, principal: str) -> SecurityContext:
        return SecurityContext(principal, self.roles_for(principal))

    # -- authentication -------------------------------------------------------

    async def authenticate(self, scope: Scope, *, verify_passwords: bool = True) -> SecurityContext:
        """The caller of a request; ``AuthError`` for invalid credentials.

        401 for invalid credentials; 429 (``Retry-After``) once the client
        address has failed ``security.max_failed_attempts`` times in the
        window; 503 when too many password checks are running. With
        ``verify_passwords=False`` (the answer does not depend on who asks)
        an HTTP basic password is not checked at all and the caller is
        anonymous: no scrypt runs for a request that needs no identity.
        """
        client = _client_address(scope)
        retry_after = self._failures.retry_after(client)
        if retry_after is not None:
            logger.warning("Authentication refused, too many failures: %s", describe_request(scope))
            raise AuthError(
                429,
                "Too many failed authentication attempts from this address; "
                f"retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
        for hook in self.hooks:
            found = await self._run_hook(hook, scope)
            if found is not None:
                return found
        values = Headers(scope=scope).getlist("authorization")
        if len(values) > 1:
            raise self._unauthorized(scope, "several Authorization headers", "invalid_request")
        if values:
            if not verify_passwords and values[0].strip()[:6].lower() == "basic ":
                return ANONYMOUS
            return await self._from_header(scope, values[0])
        return self._from_certificate(scope)

    async def _run_hook(self, hook: Authenticator, scope: Scope) -> SecurityContext | None:
        try:
            result = hook(Request(scope))
            if inspect.isawaitable(result):
                result = await result
        except AuthenticationFailed as exc:
            raise self._unauthorized(
                scope, f"authenticator refused: {exc}", "invalid_token"
            ) from None
        except Exception:
            logger.exception("Authenticator %r failed on %s", hook, describe_request(scope))
            raise AuthError(
                500, "Authentication failed on the server; see the server log"
            ) from None
        if result is None:
            return None
        if isinstance(result, SecurityContext):
            return result
        if isinstance(result, str) and result:
            return self.context(result)
        logger.error(
            "Authenticator %r returned %r; expected an identity, a SecurityContext or None",
            hook,
            result,
        )
        raise AuthError(500, "Authentication failed on the server; see the server log")

    async def _from_header(self, scope: Scope, value: str) -> SecurityContext:
        scheme, _, credentials = value.strip().partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer" and credentials:
            digest = token_digest(credentials)
            if digest is None:
                raise self._unauthorized(scope, "malformed bearer token", "invalid_request")
            name = self._match_token(digest)
            if name is None:
                raise self._unauthorized(scope, "unknown bearer token", "invalid_token")
            return self.context(name)
        if scheme == "basic" and credentials:
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                raise self._unauthorized(
                    scope, "malformed basic credentials", "invalid_request"
                ) from None
            user, colon, password = decoded.partition(":")
            if not colon:
                raise self._unauthorized(scope, "malformed basic credentials", "invalid_request")
            if not await self._check_password(user, password):
                raise self._unauthorized(
                    scope, f"wrong password or unknown user {user!r}", "invalid_token"
                )
            return self.context(user)
        raise self._unauthorized(
            scope, f"unsupported or empty Authorization scheme {scheme[:20]!r}", "invalid_request"
        )

    def _match_token(self, digest: bytes) -> str | None:
        # Compare against every configured token, without stopping at a match,
        # so timing says nothing about which tokens exist.
        found = None
        for name, expected in self._tokens:
            if hmac.compare_digest(digest, expected):
                found = name
        return found

    async def _check_password(self, user: str, password: str) -> bool:
        key = hashlib.sha256(f"{user}\x00{password}".encode()).digest()
        if self._verified.get(key) == user:
            return True
        if not self._users:
            return False
        stored = self._users.get(user)
        if stored is None:
            # Spend the same time on unknown users as on known ones.
            stored = self._decoy_hash()
        try:
            await self._password_checks.acquire()
        except Busy:
            raise AuthError(
                503, "Too many password checks at once; retry shortly", headers={"Retry-After": "1"}
            ) from None
        try:
            if self._scrypt_pool is None:
                self._scrypt_pool = DaemonThreadPool(
                    self.settings.max_password_checks, thread_name_prefix="actuator-scrypt"
                )
            matched = await asyncio.get_running_loop().run_in_executor(
                self._scrypt_pool, stored.verify, password
            )
        finally:
            self._password_checks.release()
        if not matched or user not in self._users:
            return False
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[key] = user
        return True

    def _decoy_hash(self) -> PasswordHash:
        if self._decoy is None:
            template = next(iter(self._users.values()))
            self._decoy = PasswordHash(
                template.n, template.r, template.p, secrets.token_bytes(16), secrets.token_bytes(32)
            )
        return self._decoy

    def _from_certificate(self, scope: Scope) -> SecurityContext:
        extensions: dict[str, Any] = scope.get("extensions") or {}
        tls = extensions.get("tls")
        if not isinstance(tls, Mapping) or tls.get("client_cert_error"):
            return ANONYMOUS
        subject = tls.get("client_cert_name")
        if not isinstance(subject, str) or not subject:
            return ANONYMOUS
        if self.settings.certificate_identity == "subject":
            return self.context(subject)
        common_name = subject_common_name(subject)
        return ANONYMOUS if common_name is None else self.context(common_name)

    def _unauthorized(self, scope: Scope, reason: str, error: str) -> AuthError:
        self._failures.failed(_client_address(scope))
        logger.warning("Authentication failed (%s): %s", loggable(reason), describe_request(scope))
        bearer, *others = self._challenges
        return AuthError(
            401,
            "Invalid or malformed credentials",
            challenges=(f'{bearer}, error="{error}"', *others),
        )

    # -- authorization --------------------------------------------------------

    def required_role(self, endpoint: str, operation: Operation) -> str:
        """``anonymous``, ``read`` or ``full``: what running ``operation`` on ``endpoint`` needs."""
        if operation == "read":
            return "anonymous" if self.settings.anonymous_reads(endpoint) else READ
        return self.settings.write_role(endpoint)

    def may(self, caller: SecurityContext, endpoint: str, operation: Operation) -> bool:
        role = self.required_role(endpoint, operation)
        return role == "anonymous" or caller.has_role(role)

    def authorize(
        self, caller: SecurityContext, endpoint: str, operation: Operation, scope: Scope
    ) -> None:
        """Return if ``caller`` may run the operation; else ``AuthError`` 401 or 403."""
        role = self.required_role(endpoint, operation)
        if role == "anonymous" or caller.has_role(role):
            return
        if not caller.authenticated:
            logger.warning(
                "Authentication required: anonymous %s on endpoint %r needs role %r: %s",
                operation,
                endpoint,
                role,
                describe_request(scope),
            )
            raise AuthError(401, "Authentication required", challenges=self._challenges)
        logger.warning(
            "Access denied: %r (roles: %s) lacks role %r for %s on endpoint %r: %s",
            loggable(caller.principal),
            ", ".join(sorted(caller.roles)) or "none",
            role,
            operation,
            endpoint,
            describe_request(scope),
        )
        raise AuthError(
            403, f"Role {role!r} required for {operation} operations on endpoint {endpoint!r}"
        )


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def subject_common_name(subject: str) -> str | None:
    """The first ``CN`` of an RFC 4514 distinguished name, unescaped; ``None`` if it has none.

    >>> subject_common_name("CN=sre.alice,O=Acme\\\\, Inc.,C=DE")
    'sre.alice'
    """
    for rdn in _split_unescaped(subject, ","):
        for attribute in _split_unescaped(rdn, "+"):
            key, sep, value = attribute.partition("=")
            if sep and key.strip().upper() in ("CN", "2.5.4.3"):
                return _unescape(value.strip())
    return None


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    # RFC 4514 escapes are a backslash before a special character, or before
    # two hex digits that give one byte of the UTF-8 encoding.
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            pair = value[i + 1 : i + 3]
            if len(pair) == 2 and all(c in string.hexdigits for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            char = value[i + 1]
            i += 1
        out += char.encode("utf-8")
        i += 1
    return out.decode("utf-8", "replace")
