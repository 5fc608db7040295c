"""The management server: the actuator on its own host and port, inside the app's process.

A second ``uvicorn.Server`` runs on the app's own event loop (indicators use
the app's connection pools, which belong to that loop), with its own
connection limit and its own listening socket, so probes keep answering when
the app's port is saturated. The actuator middleware starts it as soon as the
ASGI lifespan startup begins, before the app's own startup code runs, so a
Kubernetes startup probe sees ``INIT`` while the app starts; it stops after
the app's lifespan shutdown completes. Once it is enabled, the app's own port
no longer serves the actuator: requests under the base path go to the app.

In a worker of several (``uvicorn --workers N``, gunicorn, hypercorn, granian)
every worker serves the management port, as every worker serves the app's:
each binds it with ``SO_REUSEPORT`` and the kernel spreads the connections
over them, so the workers never clash over the port; a probe, a scrape or a
pause reaches one worker, as on the app's port. A single process binds it
alone, so a second server on the same port fails at start.

With ``management_server.thread`` it runs on a thread with its own event loop
instead (``ServerThread``), and liveness judges the app's loop by its
heartbeat (the ``eventLoop`` indicator joins it): probes are answered within
milliseconds even while the app's loop is saturated.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import ssl
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from actuator._handler import not_found_app, subpath_of
from actuator.management.workers import supervisor
from actuator.security.tls import tls_protocol_class
from actuator.settings import ServerSettings

if TYPE_CHECKING:
    from actuator.endpoints.registry import EndpointRegistry
    from actuator.metrics.http import Handler

# Where uvicorn reports its own listeners, so the line shows wherever uvicorn's do.
server_logger = logging.getLogger("uvicorn.error")

_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_GRACEFUL_SECONDS = 5.0


def uvicorn_config(app: ASGIApp, settings: ServerSettings, **options: object) -> uvicorn.Config:
    """A ``uvicorn.Config`` that serves ``app`` as ``settings`` describe (TLS, client certs).

    Requests over TLS carry the ASGI ``tls`` extension, so client certificates
    identify callers. Extra ``options`` go to ``uvicorn.Config``.
    """
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
        ssl_ca_certs=settings.ssl_ca_certs,
        ssl_cert_reqs=_CERT_REQS[settings.client_certs],
        http=tls_protocol_class(access_log=settings.access_log),
        ws="none",
        **options,  # type: ignore[arg-type]
    )


class _Server(uvicorn.Server):
    def _log_started_message(self, listeners: Sequence[socket.SocketType]) -> None:
        host, port = listeners[0].getsockname()[:2]
        scheme = "https" if self.config.ssl else "http"
        server_logger.info("Actuator management server running on %s://%s:%d", scheme, host, port)


class ManagementServer:
    """Serves an actuator on the host and port of ``settings``, on the running event loop.

    Created by the ``Actuator`` when ``management_server.enabled`` is set, and
    started and stopped with the app's lifespan (or by hand)::

        actuator = Actuator(settings={"management_server": {"enabled": True, "port": 9090}})
        app = actuator.wrap(app)          # /actuator now answers on 127.0.0.1:9090 only

    Parameters:
        app: the ASGI app to serve (the actuator's ``ManagementApp``).
        settings: host, port, TLS files and client certificate policy.
        thread: serve on a thread with its own event loop (``ServerThread``). Default False.
    """

    def __init__(self, app: ASGIApp, settings: ServerSettings, *, thread: bool = False) -> None:
        settings.check_files("management_server")
        self.thread = thread
        self.app = app
        self.settings = settings
        self._server: _Server | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._thread: ServerThread | None = None
        self.port: int | None = None
        """The port it listens on once started (useful with ``port = 0``)."""

    @property
    def started(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen and serve. Idempotent; ``RuntimeError`` if the port cannot be bound."""
        if self._server is not None:
            return
        config = uvicorn_config(
            self.app,
            self.settings,
            lifespan="off",
            log_config=None,
            log_level=None,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=_GRACEFUL_SECONDS,
        )
        config.load()
        server = _Server(config)
        server.lifespan = config.lifespan_class(config)
        sockets = self._shared_socket()
        if self.thread:
            self._thread = ServerThread(server, self._cannot_listen(), sockets)
            self.port = await self._thread.start()
            self._server = server
            return
        try:
            await server.startup(sockets=sockets)
        except SystemExit:
            # uvicorn logs the OSError and exits; the app's startup should fail instead.
            raise self._cannot_listen() from None
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server = server
        # uvicorn's main loop refreshes the Date header and watches should_exit.
        self._loop_task = asyncio.get_running_loop().create_task(
            server.main_loop(), name="actuator-management-server"
        )

    async def stop(self) -> None:
        """Stop listening, let in-flight requests finish (up to 5 s). Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._thread is not None:
            await self._thread.join()
            self._thread = None
        else:
            if self._loop_task is not None:
                await self._loop_task
                self._loop_task = None
            await server.shutdown()
        server_logger.info("Actuator management server stopped")

    def _shared_socket(self) -> list[socket.socket] | None:
        """In a worker of several, the port bound with ``SO_REUSEPORT`` (every worker
        listens on it); ``None`` in a single process, where uvicorn binds it alone."""
        if self.settings.port == 0 or supervisor() is None:
            return None
        host, port = self.settings.host, self.settings.port
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )[0]
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            raise self._cannot_listen() from exc
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
        except OSError as exc:
            sock.close()
            raise self._cannot_listen() from exc
        return [sock]

    def _cannot_listen(self) -> RuntimeError:
        return RuntimeError(
            f"management server cannot listen on {self.settings.host}:{self.settings.port}"
        )

    async def __aenter__(self) -> ManagementServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class ServerThread:
    """A uvicorn server on a thread and event loop of its own (``management_server.thread``).

    Probes then wait neither for the app's event loop nor behind its
    requests: the thread needs only the GIL, which a busy loop hands over
    every few milliseconds (``sys.getswitchinterval()``). The actuator's
    endpoints run on this loop: the built-in indicators are safe from any
    thread; an async indicator of yours that uses the app loop's resources
    (a connection pool) should be given an ``interval``, so it is refreshed
    on the app's loop and probes read its last result.
    """

    def __init__(
        self,
        server: uvicorn.Server,
        cannot_listen: RuntimeError,
        sockets: list[socket.socket] | None = None,
    ) -> None:
        self.server = server
        self._cannot_listen = cannot_listen
        self._sockets = sockets
        self._started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, name="actuator-management-server", daemon=True
        )

    async def start(self) -> int:
        """Start the thread; the port once it listens (``RuntimeError`` if it cannot)."""
        self._thread.start()
        return await asyncio.wrap_future(self._started)

    async def join(self) -> None:
        """Wait for the thread to end, after ``server.should_exit`` was set."""
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        server = self.server
        try:
            await server.startup(sockets=self._sockets)
        except SystemExit:
            self._started.set_exception(self._cannot_listen)
            return
        except BaseException as exc:
            self._started.set_exception(exc)
            raise
        self._started.set_result(server.servers[0].sockets[0].getsockname()[1])
        await server.main_loop()
        await server.shutdown()


class ManagementApp:
    """The actuator alone, as the management server serves it: its base path, 404 elsewhere.

    It takes no part in the lifespan: the app's lifespan, seen by the
    middleware on the app's port, drives the actuator.
    """

    def __init__(self, handler: Handler, base_path: str, endpoints: EndpointRegistry) -> None:
        self.handler = handler
        self.base_path = base_path
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            subpath = subpath_of(scope, self.base_path, self.endpoints)
            if subpath is not None:
                await self.handler(scope, receive, send, subpath)
                return
        await not_found_app(scope, receive, send)
