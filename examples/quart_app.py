"""A Quart app with the actuator in front of it, the way Quart wraps ASGI middleware.

::

    python examples/quart_app.py [--host 127.0.0.1] [--port 8000]
    curl http://127.0.0.1:8000/rooms/lobby/messages
    curl http://127.0.0.1:8000/actuator/prometheus | grep rooms  # uri="/rooms/<room>/messages"
    curl http://127.0.0.1:8000/actuator/mappings

When it wraps a Quart app, the actuator connects to Quart's ``request_started``
signal to copy each request's URL rule into the ASGI scope: the request
metrics count ``/rooms/lobby/messages`` as ``/rooms/<room>/messages``.
"""

from __future__ import annotations

import argparse

import uvicorn
from quart import Quart, request

from actuator import Actuator

MESSAGES: dict[str, list[str]] = {"lobby": ["welcome"]}

actuator = Actuator(
    name="chat",
    version="1.0.0",
    settings={
        # A demo: every reader may see these; in production grant them to named identities.
        "exposure": {"include": ["health", "info", "prometheus", "mappings"]},
        "security": {"anonymous": ["health", "info", "prometheus", "mappings"]},
    },
)
app = Quart("chat")


@app.get("/rooms/<room>/messages")
async def messages(room: str) -> list[str]:
    return MESSAGES.get(room, [])


@app.post("/rooms/<room>/messages")
async def post_message(room: str) -> tuple[dict[str, int], int]:
    MESSAGES.setdefault(room, []).append(await request.get_data(as_text=True))
    return {"count": len(MESSAGES[room])}, 201


# Quart's idiom for ASGI middleware: serve `app` as usual.
app.asgi_app = actuator.wrap(app.asgi_app)  # type: ignore[assignment]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port)
