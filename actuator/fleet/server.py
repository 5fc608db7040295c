"""Serving the console with uvicorn (``actuator fleet serve``)."""

from __future__ import annotations

from actuator.fleet.app import FleetConsole
from actuator.fleet.config import ConsoleConfig, ConsoleServer


def serve(
    config: ConsoleConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
) -> None:
    """Serve the console until SIGINT or SIGTERM; the store is opened in the lifespan."""
    import uvicorn

    from actuator.servers.management_server import uvicorn_config

    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    server = ConsoleServer.model_validate({**config.server.model_dump(), **overrides})
    server.check_files("server")
    console = FleetConsole(config)
    uvicorn.Server(
        uvicorn_config(
            console,
            server,
            lifespan="on",
            log_level=log_level,
            proxy_headers=False,
            server_header=False,
        )
    ).run()
