from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from actuator import Actuator, generate_token, hash_token
from actuator.sanitizer import MASK
from actuator.security.credentials import hash_password
from tests.support.management import make_actuator, serve


class OrdersSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERS_")

    database_url: str = "postgres://orders:hunter2@db:5432/orders"
    api_key: str = "k3y"
    stripe_secret: SecretStr = SecretStr("sk_live_1")
    page_size: int = 20


def beans(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = body["contexts"]["application"]["beans"]
    return {bean["prefix"]: bean for bean in found.values()}


async def test_actuator_sections_are_beans_with_every_value_masked_by_default() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        body = (await http.get("/actuator/configprops")).json()
    found = beans(body)
    assert (
        "actuator.health-actuator.settings.HealthSettings"
        in body["contexts"]["application"]["beans"]
    )
    assert {"actuator", "actuator.health", "actuator.security", "actuator.configprops"} <= set(
        found
    )
    health = found["actuator.health"]["properties"]
    assert health["timeout"] == MASK
    assert health["disk_space"]["threshold"] == MASK
    assert found["actuator"]["properties"]["base_path"] == MASK
    assert "health" not in found["actuator"]["properties"]  # sections are beans of their own


async def test_shown_values_keep_credentials_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_PAGE_SIZE", "50")
    actuator = make_actuator(
        configprops={"show_values": "always"},
        security={
            "anonymous": ["*"],
            "write_roles": {"*": "anonymous"},
            "tokens": {"ci": hash_token(generate_token())},
            "users": {"bob": hash_password("correct horse battery", n=2)},
        },
    )
    actuator.add_config_properties(OrdersSettings())
    async with serve(actuator) as http:
        found = beans((await http.get("/actuator/configprops")).json())
    security = found["actuator.security"]["properties"]
    assert security["tokens"] == {"ci": MASK}
    assert security["users"] == {"bob": MASK}
    assert security["realm"] == "actuator"
    assert found["actuator.health"]["properties"]["timeout"] == 0.5
    orders = found["orders"]
    assert orders["properties"] == {
        "database_url": f"postgres://orders:{MASK}@db:5432/orders",
        "api_key": MASK,
        "stripe_secret": MASK,
        "page_size": 50,
    }
    assert orders["inputs"]["page_size"] == {
        "value": 50,
        "origin": 'System Environment Property "ORDERS_PAGE_SIZE"',
    }
    assert orders["inputs"]["api_key"] == {}
    assert found["actuator.configprops"]["inputs"]["show_values"] == {
        "value": "always",
        "origin": "code",
    }


async def test_when_authorized_masks_for_anonymous_callers() -> None:
    actuator = make_actuator(configprops={"show_values": "when_authorized"})
    async with serve(actuator) as http:
        found = beans((await http.get("/actuator/configprops")).json())
    assert found["actuator.health"]["properties"]["timeout"] == MASK


async def test_a_prefix_narrows_to_its_beans_and_an_unknown_one_is_404() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        health = beans((await http.get("/actuator/configprops/actuator.health")).json())
        everything = beans((await http.get("/actuator/configprops/actuator")).json())
        missing = await http.get("/actuator/configprops/nope")
    assert set(health) == {"actuator.health"}
    assert "actuator.metrics" in everything
    assert missing.status_code == 404
    assert missing.json()["message"] == "No configuration properties with prefix 'nope'"


class Plain(BaseModel):
    retries: int = 3


def test_registering_models_checks_prefix_type_and_duplicates() -> None:
    actuator = Actuator()
    actuator.add_config_properties(Plain(), prefix="client")
    with pytest.raises(ValueError, match="already registered"):
        actuator.add_config_properties(Plain(), prefix="client")
    with pytest.raises(ValueError, match="prefix is required"):
        actuator.add_config_properties(Plain())
    with pytest.raises(ValueError, match="prefix must be"):
        actuator.add_config_properties(Plain(), prefix="Bad Prefix")
    with pytest.raises(TypeError, match="pydantic model"):
        actuator.add_config_properties({"retries": 3})  # type: ignore[arg-type]
    actuator.add_config_properties(OrdersSettings())
    assert [b.prefix for b in actuator.config_properties.beans("orders")] == ["orders"]
