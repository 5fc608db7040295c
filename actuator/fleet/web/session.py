"""Browser sessions for the dashboard: a signed cookie that names the caller, never its secret.

::

    sessions = Sessions(key=None, ttl=8 * 3600)      # key None: a random key per process
    cookie = sessions.issue(SecurityContext("ops", frozenset({"read"})), now=time.time())
    session = sessions.read(cookie, now=time.time())  # None: forged, expired or logged out
    session.csrf                                     # the token forms and fetches send back

The cookie holds the identity's name, its roles, how it proved itself at
login (``bearer token``, ``basic``, ``certificate``: never the secret), an
expiry and a random nonce, signed with HMAC-SHA256; the token or password
that proved the identity is checked once at login and never stored. Consoles sharing a
configured key accept each other's sessions. The CSRF token is derived from
the nonce with the same key, so it needs no storage either. Logging out
revokes the nonce in this process (until the session would have expired).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import Scope

from actuator.security.credentials import SecurityContext

COOKIE = "fleet_session"
_MAX_REVOKED = 100_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """A valid session: who, until when, and its CSRF token."""

    context: SecurityContext
    expires: float
    nonce: str
    csrf: str
    proof: str | None = None
    """How the identity was proved at login (``bearer token``, ``basic``, ...)."""

    @property
    def identity(self) -> str:
        """What the actions journal records as the caller's ``identity``."""
        return f"dashboard session: {self.proof}" if self.proof else "dashboard session"


class Sessions:
    """Issues and checks session cookies (see the module docstring).

    Parameters:
        key: the signing key (at least 32 bytes); ``None`` (default): 32 random
            bytes made at start, so sessions end when the console restarts.
        ttl: seconds a session lasts from login (default 8 hours).
    """

    def __init__(self, key: bytes | None = None, ttl: float = 8 * 3600) -> None:
        if key is not None and len(key) < 32:
            raise ValueError("dashboard.session_key must be at least 32 characters")
        if ttl <= 0:
            raise ValueError("dashboard.session_ttl must be positive")
        self._key = key if key is not None else secrets.token_bytes(32)
        self.ttl = ttl
        self._revoked: dict[str, float] = {}

    def _mac(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self._key, purpose + b"\x00" + data, hashlib.sha256).digest()

    def issue(self, context: SecurityContext, now: float, proof: str | None = None) -> str:
        """A new cookie value for ``context``, valid for ``ttl`` seconds from ``now``;
        ``proof`` says how the identity was proved (see ``proof_of``)."""
        payload = json.dumps(
            {
                "p": context.principal,
                "r": sorted(context.roles),
                "m": proof,
                "e": round(now + self.ttl, 3),
                "n": secrets.token_hex(16),
            },
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(b'session', payload))}"

    def read(self, cookie: str | None, now: float) -> Session | None:
        """The session a cookie stands for; ``None`` if absent, forged, expired or revoked."""
        if not cookie or len(cookie) > 4096:
            return None
        text, dot, signature = cookie.partition(".")
        if not dot:
            return None
        try:
            payload = _unb64(text)
            valid = hmac.compare_digest(_unb64(signature), self._mac(b"session", payload))
        except (binascii.Error, ValueError):
            return None
        if not valid:
            return None
        data = json.loads(payload)
        expires, nonce = float(data["e"]), str(data["n"])
        if expires <= now or nonce in self._revoked:
            return None
        context = SecurityContext(str(data["p"]), frozenset(data["r"]))
        csrf = _b64(self._mac(b"csrf", nonce.encode()))
        proof = data.get("m")  # absent from cookies issued before it was recorded
        return Session(context, expires, nonce, csrf, str(proof) if proof else None)

    def revoke(self, session: Session, now: float) -> None:
        """Log out: this session's cookie is refused from now on (in this process)."""
        self._revoked = {n: e for n, e in self._revoked.items() if e > now}
        if len(self._revoked) >= _MAX_REVOKED:
            # Keep the newest half; the oldest would have expired first anyway.
            kept = sorted(self._revoked.items(), key=lambda item: item[1])[_MAX_REVOKED // 2 :]
            self._revoked = dict(kept)
        self._revoked[session.nonce] = session.expires

    @staticmethod
    def csrf_matches(session: Session, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(session.csrf, token)


def proof_of(scope: Scope) -> str | None:
    """How a request proves who it is, from its credentials alone: ``bearer token``,
    ``basic`` (an ``Authorization`` header) or ``certificate`` (a TLS client
    certificate); ``None`` when it carries neither."""
    headers = Headers(scope=scope)
    scheme = headers.get("authorization", "").strip().partition(" ")[0].lower()
    if scheme in ("bearer", "basic"):
        return "bearer token" if scheme == "bearer" else "basic"
    tls = (scope.get("extensions") or {}).get("tls")
    if isinstance(tls, dict) and tls.get("client_cert_name"):
        return "certificate"
    return None
