"""Health and application info as gauges."""

from __future__ import annotations

import json
from pathlib import Path

from actuator import Actuator, Health
from tests.metrics.support import client, series


def scraping_actuator(**kwargs: object) -> Actuator:
    settings = {
        "exposure": {"include": ["prometheus", "metrics"]},
        "health": {"disk_space": {"enabled": False}, "event_loop": {"enabled": False}},
    }
    return Actuator(settings=settings, **kwargs)  # type: ignore[arg-type]


async def test_health_gauges_per_indicator_group_and_overall_after_a_scrape() -> None:
    actuator = scraping_actuator()
    state = {"db": True}
    actuator.add_indicator("database", lambda: state["db"], groups=["readiness"])
    actuator.add_indicator("cache", {"local": lambda: True, "remote": lambda: True})
    async with client(actuator) as http:
        assert (await http.get("/actuator/prometheus")).status_code == 200
        state["db"] = False
        assert (await http.get("/actuator/prometheus")).status_code == 200
    assert series(actuator, "actuator_health_status") == {(("status", "DOWN"),): 0.0}
    groups = series(actuator, "actuator_health_group_status")
    assert groups[(("group", "readiness"), ("status", "DOWN"))] == 0.0
    assert groups[(("group", "liveness"), ("status", "UP"))] == 1.0
    indicators = series(actuator, "actuator_health_indicator_status")
    assert indicators[(("indicator", "database"), ("status", "DOWN"))] == 0.0
    assert indicators[(("indicator", "cache"), ("status", "UP"))] == 1.0
    assert indicators[(("indicator", "ping"), ("status", "UP"))] == 1.0


async def test_health_gauges_read_last_results_without_running_checks() -> None:
    actuator = scraping_actuator()
    runs = []

    def counted() -> Health:
        runs.append(1)
        return Health.up()

    actuator.add_indicator("counted", counted)
    # Collecting (what a custom exposition of the registry does) never runs a check.
    assert (
        series(actuator, "actuator_health_indicator_status")[
            (("indicator", "counted"), ("status", "UNKNOWN"))
        ]
        == 0.0
    )
    assert runs == []


async def test_application_info_carries_name_version_and_commit(tmp_path: Path) -> None:
    build_file = tmp_path / "build-info.json"
    build_file.write_text(json.dumps({"git": {"commit": "3f2a9c1d0e"}}))
    actuator = scraping_actuator(name="orders", version="1.4.2")
    assert series(actuator, "application_info") == {
        (("commit", ""), ("name", "orders"), ("version", "1.4.2")): 1.0
    }
    with_commit = Actuator(
        name="orders", version="1.4.2", settings={"info": {"build_file": str(build_file)}}
    )
    assert series(with_commit, "application_info") == {
        (("commit", "3f2a9c1"), ("name", "orders"), ("version", "1.4.2")): 1.0
    }


async def test_health_gauges_can_be_switched_off() -> None:
    actuator = Actuator(settings={"metrics": {"health": False}})
    assert series(actuator, "actuator_health_status") == {}
