"""The ASGI TLS extension for uvicorn: put the verified client certificate into the scope.

uvicorn terminates TLS but does not tell the app who the peer is. The
protocol classes made here do what the ASGI TLS extension specifies: on a TLS
connection, every request's ``scope["extensions"]["tls"]`` holds
``client_cert_chain`` (PEM), ``client_cert_name`` (the RFC 4514 subject),
``client_cert_error``, ``tls_version`` and ``cipher_suite``. Only certificates
that the server verified against its CA are reported (the SSL context
refuses the others), so ``client_cert_error`` is always ``None``.

The actuator's management server and sidecar use them; to use the same on
your app's own port::

    config = uvicorn.Config(app, ssl_certfile=..., ssl_keyfile=..., ssl_ca_certs=...,
                            ssl_cert_reqs=ssl.CERT_REQUIRED, http=tls_protocol_class())
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
# IANA numbers of the TLS 1.3 suites (RFC 8446); earlier suites are reported as None.
_SUITES = {
    "TLS_AES_128_GCM_SHA256": 0x1301,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
    "TLS_AES_128_CCM_SHA256": 0x1304,
    "TLS_AES_128_CCM_8_SHA256": 0x1305,
}
_RFC4514_KEYS = {
    "commonName": "CN",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


def tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> dict[str, Any]:
    """The ASGI ``tls`` extension for one connection."""
    der = ssl_object.getpeercert(binary_form=True)
    peer = ssl_object.getpeercert() if der else None
    cipher = ssl_object.cipher()
    version = ssl_object.version()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": rfc4514_name(peer.get("subject", ())) if peer else None,
        "client_cert_error": None,
        "tls_version": _VERSIONS.get(version or ""),
        "cipher_suite": _SUITES.get(cipher[0]) if cipher else None,
    }


def rfc4514_name(subject: Any) -> str | None:
    """An RFC 4514 string from ``SSLSocket.getpeercert()["subject"]`` (most specific first)."""
    rdns = []
    for rdn in reversed(subject):
        rdns.append(
            "+".join(f"{_RFC4514_KEYS.get(key, key)}={_escape(value)}" for key, value in rdn)
        )
    return ",".join(rdns) or None


def _escape(value: str) -> str:
    escaped = "".join(f"\\{c}" if c in '"+,;<>\\' else "\\00" if c == "\x00" else c for c in value)
    if escaped.startswith((" ", "#")):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and not escaped.endswith("\\ "):
        escaped = escaped[:-1] + "\\ "
    return escaped


class _WithTls:
    """Per connection: adds the connection's TLS extension to each request's scope."""

    __slots__ = ("app", "tls")

    def __init__(self, app: ASGIApp, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = dict(scope.get("extensions") or {})
        extensions["tls"] = dict(self.tls)
        scope["extensions"] = extensions
        await self.app(scope, receive, send)


class _TlsScopeMixin(asyncio.Protocol):
    # Set per generated class: whether this server writes uvicorn's access log.
    actuator_access_log = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        this = cast(Any, self)
        if not self.actuator_access_log:
            this.access_log = False
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            this.app = _WithTls(this.app, tls_extension(ssl_object))


def tls_protocol_class(http: str = "auto", *, access_log: bool = True) -> type[asyncio.Protocol]:
    """A uvicorn HTTP protocol class (``h11``, ``httptools`` or ``auto``) that reports TLS.

    Parameters:
        http: which of uvicorn's HTTP implementations to extend. Default ``"auto"``.
        access_log: ``False`` silences uvicorn's access log for this server
            only (uvicorn's own switch reconfigures the process-wide logger).
    """
    if http not in ("auto", "h11", "httptools"):
        raise ValueError(f"http must be 'auto', 'h11' or 'httptools', got {http!r}")
    base: type[asyncio.Protocol] = import_from_string(HTTP_PROTOCOLS[http])
    return type(f"Tls{base.__name__}", (_TlsScopeMixin, base), {"actuator_access_log": access_log})
