from __future__ import annotations

from typing import Any

import pytest

from actuator import Actuator
from actuator.management.environment import MASK, mask_url_passwords
from tests.support.management import make_actuator, serve
from tests.support.secured import MONITORING, NOBODY, bearer, client, secured_actuator

SHOWN = {"env": {"show_values": "always"}}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_REGION", "eu-west-1")
    monkeypatch.setenv("DB_PASSWORD", "hunter2")
    monkeypatch.setenv("API_TOKEN", "t0k3n")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("OAUTH_CLIENT", "client-id")
    monkeypatch.setenv("TLS_PRIVATE_PEM", "-----BEGIN")
    monkeypatch.setenv("DATABASE_URL", "postgres://orders:s3cr@t@db:5432/orders?sslmode=require")


def sources(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: {k: v["value"] for k, v in s["properties"].items()}
            for s in body["propertySources"]}


async def test_every_value_is_masked_by_default() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        body = (await http.get("/actuator/env")).json()
    found = sources(body)
    assert body["activeProfiles"] == []
    assert list(found)[:2] == ["systemEnvironment", "actuatorSettings"]
    assert found["systemEnvironment"]["APP_REGION"] == MASK
    assert found["actuatorSettings"]["base_path"] == MASK
    assert set(found["systemEnvironment"].values()) == {MASK}


async def test_shown_values_still_mask_secret_keys_and_url_passwords() -> None:
    actuator = make_actuator(**SHOWN)
    async with serve(actuator) as http:
        found = sources((await http.get("/actuator/env")).json())
    system = found["systemEnvironment"]
    assert system["APP_REGION"] == "eu-west-1"
    for secret in ("DB_PASSWORD", "API_TOKEN", "AWS_SECRET_ACCESS_KEY", "OAUTH_CLIENT",
                   "TLS_PRIVATE_PEM"):
        assert system[secret] == MASK, secret
    assert system["DATABASE_URL"] == "postgres://orders:******@db:5432/orders?sslmode=require"
    assert found["actuatorSettings"]["health.timeout"] == 0.5
    assert found["actuatorSettings"]["env.show_values"] == "always"


async def test_when_authorized_masks_values_for_anonymous_callers() -> None:
    actuator = make_actuator(env={"show_values": "when_authorized"})
    async with serve(actuator) as http:
        found = sources((await http.get("/actuator/env")).json())
    assert found["systemEnvironment"]["APP_REGION"] == MASK


async def test_when_authorized_shows_values_to_callers_with_the_read_role() -> None:
    actuator, _ = secured_actuator(env={"show_values": "when_authorized"})
    async with client(actuator) as http:
        reader = sources((await http.get("/actuator/env", headers=bearer(MONITORING))).json())
        roleless = await http.get("/actuator/env", headers=bearer(NOBODY))
    await actuator.shutdown()
    assert reader["systemEnvironment"]["APP_REGION"] == "eu-west-1"
    assert reader["systemEnvironment"]["DB_PASSWORD"] == MASK  # secret-looking keys, always
    assert roleless.status_code == 403


async def test_one_property_names_the_source_that_holds_it() -> None:
    actuator = make_actuator(**SHOWN)
    actuator.add_env_source("config", {"APP_REGION": "us-east-1"})
    async with serve(actuator) as http:
        found = await http.get("/actuator/env/APP_REGION")
        secret = await http.get("/actuator/env/DB_PASSWORD")
        missing = await http.get("/actuator/env/NO_SUCH_VARIABLE_HERE")
    assert found.json()["property"] == {"source": "systemEnvironment", "value": "eu-west-1"}
    assert found.json()["propertySources"] == [
        {"name": "systemEnvironment", "property": {"value": "eu-west-1"}},
        {"name": "config", "property": {"value": "us-east-1"}},
    ]
    assert secret.json()["property"]["value"] == MASK
    assert missing.status_code == 404
    assert "NO_SUCH_VARIABLE_HERE" in missing.json()["message"]


async def test_app_sources_and_sanitizers() -> None:
    actuator = make_actuator(env={"show_values": "always", "mask_keys": ["region"]})
    actuator.add_env_source("features", {"checkout": {"v2": True}, "cache_url": "redis://:pw@c"})
    actuator.add_env_source("live", lambda: {"requests": 42})
    actuator.add_env_source("broken", lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    actuator.add_sanitizer(lambda source, key, value: MASK if key == "requests" else value)
    async with serve(actuator) as http:
        body = (await http.get("/actuator/env")).json()
    found = sources(body)
    assert found["features"] == {"checkout.v2": True, "cache_url": "redis://:******@c"}
    assert found["live"] == {"requests": MASK}
    assert found["systemEnvironment"]["APP_REGION"] == MASK  # env.mask_keys
    broken = next(s for s in body["propertySources"] if s["name"] == "broken")
    assert broken["error"].startswith("ZeroDivisionError")


async def test_a_failing_sanitizer_masks_rather_than_reveals() -> None:
    actuator = make_actuator(**SHOWN)

    def broken(source: str, key: str, value: Any) -> Any:
        raise RuntimeError("bug")

    actuator.add_sanitizer(broken)
    async with serve(actuator) as http:
        body = (await http.get("/actuator/env/APP_REGION")).json()
    assert body["property"]["value"] == MASK


async def test_env_is_read_only() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        posted = await http.post("/actuator/env", json={"name": "X", "value": "1"})
    assert posted.status_code == 405
    assert posted.headers["allow"] == "GET, HEAD, OPTIONS"


def test_env_sources_are_checked() -> None:
    actuator = Actuator()
    with pytest.raises(ValueError, match="already exists"):
        actuator.add_env_source("systemEnvironment", {})
    with pytest.raises(TypeError, match="mapping or a callable"):
        actuator.add_env_source("bad", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sanitizer must be callable"):
        actuator.add_sanitizer("mask")  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "masked"), [
    ("amqp://guest:guest@rabbit:5672/", "amqp://guest:******@rabbit:5672/"),
    ("redis://:pw@cache", "redis://:******@cache"),
    ("https://user@example.com/x", "https://user@example.com/x"),
    ("https://example.com/a:b@c", "https://example.com/a:b@c"),
    ("a=http://u:p@h1,b=http://v:q@h2", "a=http://u:******@h1,b=http://v:******@h2"),
])
def test_url_passwords_are_masked(text: str, masked: str) -> None:
    assert mask_url_passwords(text) == masked
