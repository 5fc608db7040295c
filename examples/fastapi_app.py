"""Orders: a small FastAPI service with the actuator mounted. ``make demo`` runs it.

::

    python examples/fastapi_app.py                           # http://127.0.0.1:8000
    python examples/fastapi_app.py --host 0.0.0.0 --port 9000 --db ./orders.db
    uvicorn examples.fastapi_app:app                         # the same app, your uvicorn flags

What it shows:

- a SQLite database (stdlib ``sqlite3``) with a ``database`` indicator running
  ``SELECT 1`` on it, in the readiness group: no database, no traffic;
- an HTTP dependency, ``payments``, checked by ``HttpIndicator``. By default it
  points at a stub route of this same app, so the demo needs nothing else
  running; ``--payments-url`` (or ``PAYMENTS_URL``) points it elsewhere. It is
  not in the readiness group on purpose: a dependency that is down for every
  pod should not take every pod out of the load balancer;
- a custom info contributor, ``orders``, that reads the database, and facts
  a fleet tool can filter on;
- a background worker that ships new orders and honours pause/resume
  (``actuator.wait_resumed()``), so ``POST /actuator/pause`` visibly stops it;
- every endpoint exposed, readable by anyone on this machine, with details:
  right for a demo, too much for production (there, expose what you scrape and
  grant ``read`` to named identities). Operations that change something
  (loggers, pause/resume/flip, shutdown) need the ``full`` role: the demo
  prints a bearer token for them (``DEMO_TOKEN`` sets your own).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, closing, contextmanager
from datetime import datetime, timezone
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from actuator import (
    Actuator,
    ActuatorMiddleware,
    Health,
    HttpIndicator,
    generate_token,
    hash_token,
)

logger = logging.getLogger("orders")

# -- what the actuator serves: the one place to change it --------------------------

DEMO_TOKEN = os.environ.get("DEMO_TOKEN") or generate_token()
"""The bearer token of the ``operator`` identity, which has the ``full`` role."""

WRITABLE = ("loggers", "pause", "resume", "flip", "shutdown")

ACTUATOR_SETTINGS: dict[str, Any] = {
    "exposure": {"include": ["*"]},  # every endpoint, including ones added later
    "health": {"show_details": "always"},  # production: "when_authorized"
    # Write operations are off unless an endpoint's access says otherwise.
    "access": {"endpoints": dict.fromkeys(WRITABLE, "unrestricted")},
    # Anyone on this machine may read every endpoint (the demo listens on 127.0.0.1 only);
    # in production grant "read" to named identities instead (see docs/security.md).
    # Writes need the full role, which only the operator token has.
    "security": {
        "anonymous": ["*"],
        "tokens": {"operator": hash_token(DEMO_TOKEN)},
        "roles": {"full": ["operator"]},
    },
    "shutdown": {"enabled": True, "drain_period": 3},
    "env": {"show_values": "always"},  # secret-looking keys stay masked even so
    "info": {"facts": {"environment": "demo", "team": "orders", "region": "local"}},
}
# Printed at start besides the discovery page, every exposed endpoint, the
# health groups and this app's own indicators: add paths worth trying here.
EXTRA_PATHS: tuple[str, ...] = ()

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_DB = os.path.join(tempfile.gettempdir(), "asgi-actuator-orders.db")


# -- the database ------------------------------------------------------------------


class OrderStore:
    """Orders in a SQLite file; one short-lived connection per call, as a pool would lend."""

    def __init__(self, path: str) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=2.0)) as db:
            db.row_factory = sqlite3.Row
            with db:  # one transaction: committed, or rolled back on error
                yield db

    def create_schema(self) -> None:
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS orders ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " item TEXT NOT NULL,"
                " quantity INTEGER NOT NULL,"
                " status TEXT NOT NULL DEFAULT 'new',"
                " created_at TEXT NOT NULL)"
            )

    def add(self, item: str, quantity: int) -> dict[str, Any]:
        created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO orders (item, quantity, created_at) VALUES (?, ?, ?)",
                (item, quantity, created_at),
            )
        return {
            "id": cursor.lastrowid,
            "item": item,
            "quantity": quantity,
            "status": "new",
            "created_at": created_at,
        }

    def ship_new(self) -> int:
        """Mark every new order shipped; how many were."""
        with self._connect() as db:
            return db.execute("UPDATE orders SET status = 'shipped' WHERE status = 'new'").rowcount

    def recent(self, limit: int) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM orders ORDER BY id DESC LIMIT ?", (limit,))
            return [dict(row) for row in rows]

    def get(self, order_id: int) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else dict(row)

    # The actuator calls these two from its own thread pool (they are sync).

    def health(self) -> Health:
        """The ``database`` indicator: the same query a connection pool validates with."""
        with self._connect() as db:
            db.execute("SELECT 1").fetchone()
        return Health.up(
            database="SQLite", version=sqlite3.sqlite_version, validationQuery="SELECT 1"
        )

    def contribute(self) -> dict[str, Any]:
        """The ``orders`` section of ``/actuator/info``."""
        with self._connect() as db:
            count, latest = db.execute("SELECT COUNT(*), MAX(created_at) FROM orders").fetchone()
        return {"count": count, "latestAt": latest, "database": self.path}


# -- the app -----------------------------------------------------------------------


class NewOrder(BaseModel):
    item: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=1000)


def create_app(db_path: str = DEFAULT_DB, payments_url: str | None = None) -> FastAPI:
    """The orders service. ``payments_url`` defaults to this app's stub on the default port."""
    store = OrderStore(db_path)
    payments_url = payments_url or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/payments/health"

    actuator = Actuator(
        name="orders",
        version="1.4.2",
        description="Takes and lists orders",
        settings=ACTUATOR_SETTINGS,
    )
    actuator.add_indicator("database", store.health, groups=["readiness"], timeout=0.5)
    actuator.add_indicator("payments", HttpIndicator(payments_url, timeout=0.4))
    actuator.add_contributor("orders", store)
    actuator.add_logger_group("orders", ["orders"])
    actuator.on_pause(lambda: logger.warning("paused: shipping stops until resumed"))
    actuator.on_resume(lambda: logger.warning("resumed: shipping again"))

    async def ship_orders() -> None:
        """The fulfilment worker: ships new orders every second, unless the service is paused."""
        while True:
            await actuator.wait_resumed()
            shipped = await asyncio.to_thread(store.ship_new)
            if shipped:
                logger.info("shipped %d order(s)", shipped)
            await asyncio.sleep(1.0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Readiness stays INIT (503) until this has run: no traffic before the schema exists.
        store.create_schema()
        worker = asyncio.create_task(ship_orders(), name="orders-fulfilment")
        yield
        worker.cancel()

    app = FastAPI(title="orders", lifespan=lifespan)
    app.add_middleware(ActuatorMiddleware, actuator=actuator)
    app.state.actuator = actuator

    @app.post("/orders", status_code=201)
    def create_order(order: NewOrder) -> dict[str, Any]:
        return store.add(order.item, order.quantity)

    @app.get("/orders")
    def list_orders(limit: int = 20) -> list[dict[str, Any]]:
        return store.recent(max(1, min(limit, 100)))

    @app.get("/orders/{order_id}")
    def get_order(order_id: int) -> dict[str, Any]:
        order = store.get(order_id)
        if order is None:
            raise HTTPException(404, f"no order {order_id}")
        return order

    @app.get("/payments/health")
    async def payments_stub() -> dict[str, str]:
        """Stands in for the payments service, so the demo is self-contained."""
        return {"status": "UP"}

    return app


app = create_app(os.environ.get("ORDERS_DB", DEFAULT_DB), os.environ.get("PAYMENTS_URL"))


def demo_urls(actuator: Actuator, root: str) -> list[str]:
    """URLs worth trying: the discovery page, every exposed endpoint, health groups
    and components, then ``EXTRA_PATHS``. New endpoints show up on their own."""
    base = root + actuator.settings.base_path
    urls = [base]
    for endpoint in actuator.exposed_endpoints():
        urls.append(f"{base}/{endpoint.name}")
        if endpoint.name == "health":
            urls += [f"{base}/health/{group}" for group in actuator.health_groups]
            urls += [f"{base}/health/{r.name}" for r in actuator.registrations]
    urls += [root + path for path in EXTRA_PATHS]
    return urls


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The orders demo service.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="default: %(default)s")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    parser.add_argument(
        "--db",
        default=os.environ.get("ORDERS_DB", DEFAULT_DB),
        help="SQLite file (default: %(default)s)",
    )
    parser.add_argument(
        "--payments-url",
        default=os.environ.get("PAYMENTS_URL"),
        help="URL the payments indicator checks (default: this app's stub)",
    )
    args = parser.parse_args(argv)

    # A wildcard address is where the server listens, not where to send requests.
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    root = f"http://[{host}]:{args.port}" if ":" in host else f"http://{host}:{args.port}"
    demo = create_app(args.db, args.payments_url or f"{root}/payments/health")

    print(f"Orders demo on {root}  (SQLite: {args.db})\n")
    print("Try:")
    for url in demo_urls(demo.state.actuator, root):
        print(f"  {url}")
    print(f"  {root}/orders")
    print(
        f"  curl -X POST {root}/orders -H 'content-type: application/json' "
        """-d '{"item": "book", "quantity": 2}'"""
    )
    base = root + demo.state.actuator.settings.base_path
    auth = f"-H 'Authorization: Bearer {DEMO_TOKEN}' -H 'content-type: application/json'"
    print("\nOperations that change something need the operator token (role full):")
    print(f"""  curl -X POST {base}/pause {auth} -d '{{"reason": "maintenance"}}'""")
    print(f"  curl -X POST {base}/resume {auth}")
    print(f"""  curl -X POST {base}/loggers/orders {auth} -d '{{"configuredLevel": "DEBUG"}}'""")
    print(f"  curl -X POST {base}/shutdown {auth}")
    print(flush=True)
    # The console as before, and a file that /actuator/logfile serves (Spring Boot Admin's
    # log view): the actuator finds the file of a logging.FileHandler on its own.
    log_file = os.path.splitext(args.db)[0] + ".log"
    print(f"Logs also go to {log_file} (served at {base}/logfile)\n", flush=True)
    file_handler = logging.FileHandler(log_file)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(levelname)s:     %(name)s: %(message)s",
        handlers=[logging.StreamHandler(), file_handler],
    )
    uvicorn.run(demo, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
