"""The Grafana example dashboard only charts series the actuator really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from starlette.responses import PlainTextResponse

from actuator import Actuator
from tests.metrics.support import client

DASHBOARD = (
    Path(__file__).resolve().parents[2] / "examples" / "grafana" / ("asgi-actuator-dashboard.json")
)
_SERIES = re.compile(r"\b([a-z_][a-z0-9_]*)\{")
_FUNCTIONS = {"rate", "sum", "max", "histogram_quantile", "by", "label_values"}


def expressions(node: object) -> list[str]:
    if isinstance(node, dict):
        return [
            e
            for key, value in node.items()
            for e in ([value] if key == "expr" else expressions(value))
        ]
    if isinstance(node, list):
        return [e for item in node for e in expressions(item)]
    return []


async def test_every_dashboard_query_names_an_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {name for expr in expressions(dashboard) for name in _SERIES.findall(expr)}
    queried -= _FUNCTIONS
    actuator = Actuator(settings={"health": {"event_loop": {"enabled": True}}})
    async with client(actuator.wrap(PlainTextResponse("ok"))) as http:
        await http.get("/")
    exported = {
        sample.name for metric in actuator.metrics.registry.collect() for sample in metric.samples
    }
    assert len(queried) >= 15
    assert queried - exported == set()
