"""The actuator in front of a bare ASGI callable: no framework at all.

::

    python examples/raw_asgi.py [--host 127.0.0.1] [--port 8000]
    curl http://127.0.0.1:8000/actuator/health

``actuator.wrap(app)`` answers ``/actuator/...`` and passes everything else,
websockets included, to ``app``. The app ignores the lifespan (it only knows
HTTP): the actuator then runs the lifespan on its behalf, so readiness still
turns UP once the server has started.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

import uvicorn
from starlette.types import Receive, Scope, Send

from actuator import Actuator


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello from a bare ASGI app\n"})


actuator = Actuator(name="bare", version="1.0.0")


@actuator.indicator("tmp", groups=["readiness"])
def tmp_has_room() -> bool:
    """A sync check returning a bool: True is UP, False is DOWN."""
    return shutil.disk_usage(tempfile.gettempdir()).free > 1024 * 1024


app = actuator.wrap(hello)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port)
