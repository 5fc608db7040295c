"""A Litestar app with the actuator in front of it.

::

    python examples/litestar_app.py [--host 127.0.0.1] [--port 8000]
    curl http://127.0.0.1:8000/v1/books/7
    curl http://127.0.0.1:8000/actuator/prometheus | grep books     # uri="/v1/books/{book_id}"
    curl http://127.0.0.1:8000/actuator/mappings

Litestar's router leaves the template of the route it matched in the ASGI
scope, so the request metrics count ``/v1/books/7`` as ``/v1/books/{book_id}``
with nothing to set up: wrap the app and serve the result.
"""

from __future__ import annotations

import argparse

import uvicorn
from litestar import Litestar, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from actuator import Actuator

BOOKS = {7: "Dune", 42: "The Hitchhiker's Guide to the Galaxy"}

actuator = Actuator(
    name="library",
    version="1.0.0",
    settings={
        # A demo: every reader may see these; in production grant them to named identities.
        "exposure": {"include": ["health", "info", "prometheus", "mappings"]},
        "security": {"anonymous": ["health", "info", "prometheus", "mappings"]},
    },
)


@get("/books/{book_id:int}")
async def book(book_id: FromPath[int]) -> dict[str, str]:
    if book_id not in BOOKS:
        raise NotFoundException(f"no book {book_id}")
    return {"title": BOOKS[book_id]}


@get("/books")
async def books() -> list[int]:
    return sorted(BOOKS)


app = actuator.wrap(Litestar(route_handlers=[Router(path="/v1", route_handlers=[book, books])]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port)
