from __future__ import annotations

import json
from typing import Any

import pytest

from actuator import Actuator
from actuator.management.environment import MASK, mask_url_passwords
from actuator.sanitizer import is_secret_key
from actuator.security.credentials import hash_password, hash_token
from actuator.settings import credential_settings, settings_reference
from tests.support.asgi import merge
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
    return {
        s["name"]: {k: v["value"] for k, v in s["properties"].items()}
        for s in body["propertySources"]
    }


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
    for secret in (
        "DB_PASSWORD",
        "API_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "OAUTH_CLIENT",
        "TLS_PRIVATE_PEM",
    ):
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
        {
            "name": "systemEnvironment",
            "property": {
                "value": "eu-west-1",
                "origin": 'System Environment Property "APP_REGION"',
            },
        },
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


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("amqp://guest:guest@rabbit:5672/", "amqp://guest:******@rabbit:5672/"),
        ("redis://:pw@cache", "redis://:******@cache"),
        ("https://user@example.com/x", "https://user@example.com/x"),
        # As Spring Boot: everything up to the last "@" may be user info, so this is masked too.
        ("https://example.com/a:b@c", "https://example.com/a:******@c"),
        ("a=http://u:p@h1,b=http://v:q@h2", "a=http://u:******@h1,b=http://v:******@h2"),
    ],
)
def test_url_passwords_are_masked(text: str, masked: str) -> None:
    assert mask_url_passwords(text) == masked


# -- credentials are masked whatever show_values says ---------------------------------------

KEY_FILE = "/etc/actuator/tls/private.pem"
# One value for every setting marked CREDENTIAL: a new credential setting must add its own.
CREDENTIAL_SAMPLES: dict[str, Any] = {
    "security.tokens": {"scraper": hash_token("s" * 43)},
    "security.users": {"sre.bob": hash_password("correct horse", n=16)},
    "management_server.ssl_keyfile": KEY_FILE,
    "fleet.token": "fleet-ingest-token-0123456789abcdef",
    "fleet.nats.token": "fleet-nats-token-0123456789abcdef",
    "fleet.nats.password": "fleet-nats-password-0123456789",
    "fleet.nats.tls_key": "/etc/actuator/nats/client-key.pem",
    "spring_boot_admin.username": "sba-registrant-0123",
    "spring_boot_admin.password": "sba-server-password-0123",
    "spring_boot_admin.metadata": {"user.password": "sba-reader-password-0123"},
}
# What a credential needs beside it to be valid settings.
CREDENTIAL_COMPANIONS: dict[str, dict[str, str]] = {
    "management_server.ssl_keyfile": {"ACTUATOR_MANAGEMENT_SERVER__SSL_CERTFILE": "/etc/cert.pem"},
    "fleet.nats.password": {"ACTUATOR_FLEET__NATS__USER": "orders"},
    "fleet.nats.tls_key": {"ACTUATOR_FLEET__NATS__TLS_CERT": "/etc/actuator/nats/client.pem"},
}


def test_every_credential_setting_has_a_sample_here() -> None:
    assert sorted(credential_settings()) == sorted(CREDENTIAL_SAMPLES)


def test_settings_that_look_like_credentials_are_marked_as_credentials() -> None:
    # A setting named like a secret, or holding a hash, must carry settings.CREDENTIAL
    # (numbers and switches, such as security.max_password_checks, hold no secret).
    not_credentials = {"env.mask_keys"}
    marked = set(credential_settings())
    for setting, _env, default, description in settings_reference():
        looks = is_secret_key(setting.rsplit(".", 1)[-1]) or "hash" in description
        number = default and isinstance(json.loads(default), (int, float, bool))
        if looks and not number and setting not in not_credentials:
            assert setting in marked, setting


def _settings_value(path: str, value: Any) -> dict[str, Any]:
    *parents, leaf = path.split(".")
    tree: dict[str, Any] = {leaf: value}
    for parent in reversed(parents):
        tree = {parent: tree}
    return tree


def _leaked(body: dict[str, Any], needle: str) -> list[str]:
    return [
        f"{s['name']}:{key}"
        for s in body["propertySources"]
        for key, entry in s["properties"].items()
        if needle in str(entry["value"])
    ]


@pytest.mark.parametrize("path", sorted(CREDENTIAL_SAMPLES))
@pytest.mark.parametrize("policy", ["always", "when_authorized"])
async def test_credential_settings_are_masked_for_the_read_role_whatever_show_values_says(
    path: str, policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = CREDENTIAL_SAMPLES[path]
    secret = next(iter(value.values())) if isinstance(value, dict) else value
    variable = "ACTUATOR_" + path.replace(".", "__").upper()
    monkeypatch.setenv(variable, json.dumps(value) if isinstance(value, dict) else value)
    for name, companion in CREDENTIAL_COMPANIONS.get(path, {}).items():
        monkeypatch.setenv(name, companion)
    overrides = {"env": {"show_values": policy}}
    if path.startswith("security."):
        overrides = merge(overrides, _settings_value(path, value))
    actuator, _ = secured_actuator(**overrides)  # the rest come from the variable set above
    async with client(actuator) as http:
        body = (await http.get("/actuator/env", headers=bearer(MONITORING))).json()
        one = await http.get(f"/actuator/env/{variable}", headers=bearer(MONITORING))
    await actuator.shutdown()
    assert _leaked(body, secret) == []
    assert sources(body)["systemEnvironment"][variable] == MASK
    assert one.json()["property"]["value"] == MASK
    shown = sources(body)["actuatorSettings"]
    assert any(key.startswith(path) for key in shown), sorted(shown)
    assert all(value == MASK for key, value in shown.items() if key.startswith(path))
    assert shown["env.show_values"] == policy  # other settings are shown


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_PASS", "hunter2"),
        ("MYSQL_PWD", "hunter2"),
        ("SESSION_COOKIE", "s%3Aabc"),
        ("GITHUB_PAT", "ghp_abcdef"),
        ("STRIPE_SK", "sk_live_abc"),
        ("API_PWD", "hunter2"),
        ("APP_CONFIG_JSON", '{"db": {"password": "hunter2"}}'),
        ("PG_DSN", "host=db password=hunter2 dbname=app"),
        ("JDBC_URL", "jdbc:mysql://db/app?user=app&password=hunter2"),
        ("SQLSERVER", "Server=db;Password=hunter2;"),
        ("BLOB_URL", "https://acct.blob/c?sv=1&sig=hunter2"),
        ("SEARCH_URL", "https://api/x?apikey=hunter2"),
        ("CALLBACK_URL", "https://api/x?token=hunter2"),
        ("DATABASE_URL", "postgres://app:hunter2/YmFy@db/app"),
    ],
    ids=lambda value: str(value)[:12] if "hunter2" not in str(value) else "",
)
async def test_common_secrets_are_masked_for_the_read_role(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    actuator, _ = secured_actuator(env={"show_values": "when_authorized"})
    actuator.add_env_source("custom", {"pools": [{"name": "main", "password": "hunter2"}]})
    async with client(actuator) as http:
        body = (await http.get("/actuator/env", headers=bearer(MONITORING))).json()
    await actuator.shutdown()
    assert _leaked(body, "hunter2") == []
    assert sources(body)["custom"]["pools"] == [{"name": "main", "password": MASK}]
