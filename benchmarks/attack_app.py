"""The target of ``benchmarks/attacks.py``: a secured actuator holding canary secrets.

Everything comes from the environment the attack script sets (tokens, users,
exposure); the indicators and contributors below put the canary ``CANARY`` into
exception texts, details and info sections, where the sanitizer must catch it.
"""

from __future__ import annotations

import os
from typing import Any

from actuator import Actuator, Health

CANARY = os.environ.get("ATTACK_SECRET", "Canary-Zm9v/YmFy")

actuator = Actuator(name="target", version="1.0.0")


@actuator.indicator("db")
async def db() -> Health:
    raise ConnectionError(
        f"cannot reach postgres://orders:{CANARY}@db:5432/orders (host=db password={CANARY})"
    )


@actuator.indicator("cache")
def cache() -> Health:
    return Health.up(
        url=f"redis://:{CANARY}@cache/0",
        pools=[{"password": CANARY}],
        dsn=f"Server=db;Password={CANARY};",
    )


@actuator.indicator("circular")
def circular() -> Health:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    return Health.up(state=loop)


@actuator.indicator("huge")
def huge() -> Health:
    return Health.up(**{f"k{i}": i for i in range(100_000)})


actuator.add_contributor(
    "db",
    lambda: {
        "url": f"jdbc:postgresql://db/app?password={CANARY}",
        "config": f'{{"password": "{CANARY}"}}',
    },
)


def circular_info() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


actuator.add_contributor("circular", circular_info)


async def plain(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    # 299 and the path the app saw: under the base path, that would be a bypass.
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode("utf-8", "replace")})


app = actuator.wrap(plain)
