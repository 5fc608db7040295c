"""Who is calling: identities, roles, and the hashes that stand for credentials.

Two roles, as in Choria's backplane: ``read`` (every read operation) and
``full`` (every operation, including those that change state). ``full``
implies ``read``.

Credentials are configured as hashes, never as plain text:

- bearer tokens as ``sha256:<hex>``: tokens are long random strings made by a
  machine (``generate_token()``, ``actuator hash-token --generate``), so a
  fast unsalted hash is safe (nobody can search 2**190 candidates) and lets a
  request be checked with one hash, against every token in constant time;
- passwords (HTTP basic) as ``scrypt$N$r$p$salt$hash``: people choose
  passwords, so they get a salted, memory-hard hash (``hashlib.scrypt``),
  slow on purpose to make guessing from a leaked hash expensive.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from starlette.requests import Request

READ = "read"
FULL = "full"
Role = Literal["read", "full"]

TOKEN_PREFIX = "sha256:"  # noqa: S105 (a hash prefix, not a secret)
MIN_TOKEN_LENGTH = 24
_TOKEN_HASH = re.compile(r"sha256:[0-9a-f]{64}\Z")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")

# Django's defaults for scrypt: about 50 ms and 16 MiB per check on a current CPU.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 256 * 1024 * 1024


@dataclass(frozen=True)
class SecurityContext:
    """The caller of an operation.

    ``principal`` is the caller's identity (a token name, a user name, a
    certificate subject, or what an authenticator hook returned) and
    ``roles`` what it was granted (``read``, ``full``). Anonymous callers
    have neither::

        SecurityContext("sre.alice", frozenset({"full", "read"}))

    Parameters:
        principal: the identity, ``None`` for anonymous callers.
        roles: the roles granted; ``full`` implies ``read`` (added when missing).
    """

    principal: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        roles = frozenset(self.roles)
        if FULL in roles:
            roles |= {READ}
        object.__setattr__(self, "roles", roles)

    @property
    def authenticated(self) -> bool:
        """Whether the caller proved an identity (it may still have no role)."""
        return self.principal is not None

    @property
    def authorized(self) -> bool:
        """Whether the caller may see what ``when_authorized`` policies guard: it has ``read``."""
        return READ in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles


ANONYMOUS = SecurityContext()

AuthenticatorResult = str | SecurityContext | None
Authenticator = Callable[[Request], AuthenticatorResult | Awaitable[AuthenticatorResult]]
"""A hook that identifies a caller from the request (headers, client, scope).

Return the identity (roles then come from ``security.roles`` patterns), a
``SecurityContext`` (to grant roles yourself), or ``None`` when the request
carries nothing the hook recognises. Raise ``AuthenticationFailed`` to refuse
credentials the hook recognises but finds invalid. The request has no body.
"""


class AuthenticationFailed(Exception):
    """Raise from an authenticator hook: the credentials it found are invalid (a 401)."""


# -- bearer tokens --------------------------------------------------------------


def generate_token() -> str:
    """A new random bearer token: 43 URL-safe characters, 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The ``sha256:<hex>`` form of a bearer token, for ``security.tokens``::

        >>> hash_token("p3Xx...")          # doctest: +SKIP
        'sha256:9f86d08...'

    Tokens must be long random strings (at least 24 characters from the
    RFC 6750 token alphabet); ``generate_token()`` makes one.
    """
    if not isinstance(token, str):
        raise TypeError(f"token must be a string, got {type(token).__name__}")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"a token must be at least {MIN_TOKEN_LENGTH} random characters "
            f"(use generate_token() or `actuator hash-token --generate`)"
        )
    if not _TOKEN68.match(token):
        raise ValueError(
            "a token may hold only letters, digits and - . _ ~ + / (with = padding at the end)"
        )
    return TOKEN_PREFIX + hashlib.sha256(token.encode("ascii")).hexdigest()


def check_token_hash(value: str) -> str:
    """``value`` normalised, or ``ValueError`` if it is not a ``sha256:<64 hex>`` token hash."""
    normalised = value.strip().lower()
    if not _TOKEN_HASH.match(normalised):
        raise ValueError(
            "must be a token hash 'sha256:<64 hex digits>' "
            "(make one with `actuator hash-token`), not the token itself"
        )
    return normalised


def token_digest(token: str) -> bytes | None:
    """The SHA-256 of a presented token, or ``None`` if it cannot be a valid token."""
    if not _TOKEN68.match(token):
        return None
    return hashlib.sha256(token.encode("ascii")).digest()


# -- passwords ----------------------------------------------------------------


@dataclass(frozen=True)
class PasswordHash:
    """A parsed ``scrypt$N$r$p$salt$hash`` password hash."""

    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, value: str) -> PasswordHash:
        parts = value.strip().split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError(
                "must be a password hash 'scrypt$N$r$p$salt$hash' "
                "(make one with `actuator hash-token --password`)"
            )
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt = base64.b64decode(parts[4], validate=True)
            digest = base64.b64decode(parts[5], validate=True)
        except (ValueError, binascii.Error):
            raise ValueError("password hash has a malformed number or base64 field") from None
        if (
            n < 2
            or n & (n - 1)
            or not 1 <= r <= 64
            or not 1 <= p <= 16
            or 128 * n * r > _SCRYPT_MAXMEM // 2
        ):
            raise ValueError(
                f"scrypt parameters out of range: N={n} (a power of two), "
                f"r={r} (1-64), p={p} (1-16), N*r*128 at most 128 MiB"
            )
        if len(salt) < 8 or len(digest) < 16:
            raise ValueError("password hash salt or digest is too short")
        return cls(n, r, p, salt, digest)

    def verify(self, password: str) -> bool:
        """Whether ``password`` matches, compared in constant time. Slow on purpose."""
        candidate = hashlib.scrypt(
            password.encode("utf-8"),
            salt=self.salt,
            n=self.n,
            r=self.r,
            p=self.p,
            dklen=len(self.digest),
            maxmem=_SCRYPT_MAXMEM,
        )
        return hmac.compare_digest(candidate, self.digest)

    def __str__(self) -> str:
        salt = base64.b64encode(self.salt).decode("ascii")
        digest = base64.b64encode(self.digest).decode("ascii")
        return f"scrypt${self.n}${self.r}${self.p}${salt}${digest}"


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The ``scrypt$...`` form of an HTTP basic password, for ``security.users``::

        >>> hash_password("correct horse battery staple")   # doctest: +SKIP
        'scrypt$16384$8$1$...$...'

    Parameters:
        password: the password (any non-empty string).
        n, r, p: scrypt cost parameters. Defaults 2**14, 8, 1.
    """
    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=_SCRYPT_MAXMEM
    )
    return str(PasswordHash(n, r, p, salt, digest))


def check_password_hash(value: str) -> str:
    """``value`` normalised, or ``ValueError`` if it is not a valid ``scrypt$...`` hash."""
    return str(PasswordHash.parse(value))
