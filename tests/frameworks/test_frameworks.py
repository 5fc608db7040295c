"""Every framework the docs name, through the same checks: the metrics' ``uri`` is the route
template, unmatched paths never reach the label, ``/actuator/mappings`` lists the routes, and a
paused app answers 503 before the framework runs. Each case feeds the compatibility table."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.endpoints.test_mappings import app_routes
from tests.frameworks.apps import CASES, Case, served
from tests.metrics.support import client, counts_by
from tests.support.management import make_actuator, serve

pytestmark = pytest.mark.usefixtures("no_event_loop_heartbeat")


def cases(feature: str) -> list[Any]:
    return [
        pytest.param(case, id=case.name, marks=pytest.mark.compat("framework", case.name, feature))
        for case in CASES
    ]


class Spy:
    """Counts the requests that reach the framework's app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


@pytest.mark.parametrize("case", cases("metrics uri is the route template"))
@pytest.mark.parametrize("root_path", ["", "/api"])
async def test_uri_is_the_route_template(case: Case, root_path: str) -> None:
    actuator = make_actuator()
    app = actuator.wrap(case.app())
    async with client(app, root_path=root_path) as http:
        for path in ("/items/1", "/items/2", "/v1/things/x", "/v1/things/y"):
            response = await http.get(root_path + path)
            assert response.status_code == 200, (path, response.text)
    item, thing = case.templates
    assert counts_by(actuator) == {item: 2, thing: 2}
    await actuator.shutdown()


@pytest.mark.parametrize("case", cases("unmatched paths and max_uri_tags keep uri bounded"))
async def test_unmatched_paths_never_reach_the_uri_and_the_cap_holds(case: Case) -> None:
    actuator = make_actuator(metrics={"max_uri_tags": 1})
    app = actuator.wrap(case.app())
    async with client(app) as http:
        for n in range(5):
            assert (await http.get(f"/no/such/page/{n}")).status_code == 404
        assert (await http.get("/items/1")).status_code == 200
        assert (await http.get("/v1/things/x")).status_code == 200  # a second template: over
    assert counts_by(actuator) == {"NOT_FOUND": 5, case.templates[0]: 1, "OVERFLOW": 1}
    await actuator.shutdown()


@pytest.mark.parametrize("case", cases("mappings lists the routes"))
async def test_mappings_lists_the_framework_routes(case: Case) -> None:
    actuator = make_actuator()
    async with serve(actuator, actuator.wrap(case.app())) as http:
        answer = await http.get("/actuator/mappings")
    assert answer.status_code == 200
    routes = {route["path"]: route for route in app_routes(answer.json())}
    item, thing = case.mappings
    assert "GET" in routes[item]["methods"] or routes[item]["methods"] == ["*"]
    assert routes[item]["kind"] == routes[thing]["kind"] == "http"
    assert routes[item]["handler"].endswith("item")
    assert routes[thing]["handler"].endswith("thing")


@pytest.mark.parametrize("case", cases("pause answers 503 before the framework runs"))
async def test_pause_answers_503_before_the_framework_runs(case: Case) -> None:
    actuator = make_actuator()
    spy = Spy(case.app())
    async with serve(actuator, actuator.wrap(spy)) as http:
        assert (await http.get("/items/1")).status_code == 200
        before = served[case.name]
        actuator.pause("maintenance")
        paused = await http.get("/items/1")
        actuator.resume()
        resumed = await http.get("/items/1")
    assert paused.status_code == 503
    assert (spy.requests, served[case.name]) == (2, before + 1)  # the paused one never got in
    assert resumed.status_code == 200


# Litestar's router raises Method Not Allowed before it records the route.
WRONG_METHOD = {"litestar": "UNKNOWN"}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=case.name,
            marks=pytest.mark.compat(
                "framework",
                case.name,
                "405 keeps the route template",
                "no: uri UNKNOWN" if case.name in WRONG_METHOD else "yes",
            ),
        )
        for case in CASES
    ],
)
async def test_wrong_method_keeps_the_route_template_where_the_framework_matched_it(
    case: Case,
) -> None:
    actuator = make_actuator()
    async with client(actuator.wrap(case.app())) as http:
        assert (await http.delete("/items/1")).status_code == 405
    assert counts_by(actuator) == {WRONG_METHOD.get(case.name, case.templates[0]): 1}
    await actuator.shutdown()
