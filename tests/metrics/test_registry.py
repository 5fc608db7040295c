"""Registries: one per actuator, or the global one; multiprocess mode is checked."""

from __future__ import annotations

import os
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, Counter
from starlette.responses import PlainTextResponse

from actuator import Actuator
from actuator.metrics.multiprocess import multiprocess_dir
from tests.metrics.support import client, counts_by


async def test_two_actuators_in_one_process_never_collide() -> None:
    first, second = Actuator(), Actuator()  # same metric names, no DuplicateTimeseries
    assert first.metrics.registry is not second.metrics.registry
    app = PlainTextResponse("hi")
    async with client(first.wrap(app)) as one, client(second.wrap(app)) as two:
        await one.get("/a")
        await one.get("/a")
        await two.get("/a")
    assert counts_by(first) == {"UNKNOWN": 2}
    assert counts_by(second) == {"UNKNOWN": 1}


async def test_user_metrics_in_the_actuator_registry_are_served() -> None:
    actuator = Actuator(settings={"exposure": {"include": ["prometheus"]}})
    orders = Counter("orders_placed", "Orders placed", registry=actuator.metrics.registry)
    orders.inc(3)
    async with client(actuator) as http:
        text = (await http.get("/actuator/prometheus")).text
    assert "orders_placed_total 3.0" in text


async def test_the_global_registry_can_be_served_alongside() -> None:
    actuator = Actuator(
        registry=prometheus_client.REGISTRY, settings={"exposure": {"include": ["prometheus"]}}
    )
    try:
        async with client(actuator) as http:
            text = (await http.get("/actuator/prometheus")).text
        # the global registry's own process collector, not a second one
        assert text.count("# TYPE process_cpu_seconds_total counter") == 1
        assert "http_server_requests_seconds" in text
        with pytest.raises(ValueError, match="is another Actuator using it"):
            Actuator(registry=prometheus_client.REGISTRY)
    finally:
        for collector in list(prometheus_client.REGISTRY._collector_to_names):
            if collector not in (
                prometheus_client.PROCESS_COLLECTOR,
                prometheus_client.PLATFORM_COLLECTOR,
                prometheus_client.GC_COLLECTOR,
            ):
                prometheus_client.REGISTRY.unregister(collector)


def test_a_registry_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError, match="registry must be a prometheus_client CollectorRegistry"):
        Actuator(registry="global")  # type: ignore[arg-type]


def test_a_given_registry_is_used() -> None:
    registry = CollectorRegistry()
    assert Actuator(registry=registry).metrics.registry is registry


def test_multiprocess_mode_is_off_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert multiprocess_dir() is None
    with pytest.raises(ValueError, match=r"multiprocess is on but PROMETHEUS_MULTIPROC_DIR"):
        Actuator(settings={"metrics": {"multiprocess": True}})


def test_a_missing_multiprocess_dir_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"MULTIPROC_DIR=.*missing.* is not a directory"):
        Actuator()


def test_a_read_only_multiprocess_dir_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    # os.access, not chmod: root (as in CI) may write anywhere.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(ValueError, match="is not writable"):
        Actuator()


def test_a_multiprocess_dir_set_after_import_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="was set after prometheus_client was imported"):
        Actuator()
