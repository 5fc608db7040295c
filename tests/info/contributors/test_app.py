from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

import httpx
import pytest

from actuator import Actuator
from tests.support.asgi import get_once


async def info(actuator: Actuator) -> httpx.Response:
    return await get_once(actuator, "/actuator/info")


def settings(**app: Any) -> dict[str, Any]:
    return {"exposure": {"include": ["info"]}, "info": {"app": app, "build_file": None}}


async def test_code_wins_over_settings_which_win_over_distribution_metadata() -> None:
    httpx_meta = importlib.metadata.metadata("httpx")
    actuator = Actuator(
        name="orders", settings=settings(name="ignored", version="9.9", distribution="httpx")
    )
    response = await info(actuator)
    assert response.status_code == 200
    assert response.json()["app"] == {
        "name": "orders",
        "version": "9.9",
        "description": httpx_meta["Summary"],
    }


async def test_all_from_an_installed_distribution() -> None:
    meta = importlib.metadata.metadata("httpx")
    response = await info(Actuator(settings=settings(distribution="httpx")))
    assert response.json()["app"] == {
        "name": meta["Name"],
        "version": meta["Version"],
        "description": meta["Summary"],
    }


async def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTUATOR_EXPOSURE__INCLUDE", "info")
    monkeypatch.setenv("ACTUATOR_INFO__APP__NAME", "billing")
    monkeypatch.setenv("ACTUATOR_INFO__APP__DESCRIPTION", "Sends the invoices")
    response = await info(Actuator(version="2.0.0"))
    assert response.json()["app"] == {
        "name": "billing",
        "version": "2.0.0",
        "description": "Sends the invoices",
    }


async def test_an_unknown_distribution_is_reported_at_startup(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="actuator.info")
    actuator = Actuator(name="orders", settings=settings(distribution="no-such-dist-for-tests"))
    await actuator.startup()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "'no-such-dist-for-tests' is not installed" in warnings[0]
    response = await info(actuator)
    assert response.status_code == 200
    assert response.json()["app"] == {"name": "orders"}
    assert len(caplog.records) == 1  # resolved once, not on every request


async def test_metadata_is_not_looked_up_when_code_gives_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="actuator.info")
    actuator = Actuator(
        name="a",
        version="1",
        description="d",
        settings=settings(distribution="no-such-dist-for-tests"),
    )
    assert (await info(actuator)).json()["app"] == {"name": "a", "version": "1", "description": "d"}
    assert caplog.records == []


async def test_the_app_section_is_left_out_when_nothing_is_known() -> None:
    response = await info(Actuator(settings=settings()))
    assert response.status_code == 200
    assert "app" not in response.json()
