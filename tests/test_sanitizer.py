"""The one sanitizer behind env, health details, info and logs."""

from __future__ import annotations

from typing import Any

import pytest

from actuator.sanitizer import MASK, is_secret_key, mask_url_passwords, sanitize, sanitize_text


@pytest.mark.parametrize(
    "key",
    [
        "DB_PASS",
        "MYSQL_PWD",
        "SESSION_COOKIE",
        "GITHUB_PAT",
        "STRIPE_SK",
        "API_PWD",
        "dbPassword",
        "db.pass",
        "x-api-key",
        "apiKey",
        "AWS_SECRET_ACCESS_KEY",
        "OAUTH_CLIENT",
        "AUTHORIZATION",
        "auth",
        "TLS_PRIVATE_PEM",
        "jwt",
        "webhook_sig",
        "CREDENTIALS_JSON",
    ],
)
def test_secret_looking_keys_are_secret(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "HOME",
        "PWD",
        "OLDPWD",
        "author",
        "passport",
        "bypass",
        "disk",
        "skip",
        "session_timeout",
    ],
)
def test_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgres://app:Zm9v/YmFy@db/app", "postgres://app:******@db/app"),
        ("postgres://orders:s3cr@t@db:5432/orders", "postgres://orders:******@db:5432/orders"),
        ("host=db password=hunter2 port=5432", "host=db password=****** port=5432"),
        ("host=db password = 'two words' port=5432", "host=db password = '******' port=5432"),
        ("Server=db;User Id=app;Password=hunter2;", "Server=db;User Id=app;Password=******;"),
        (
            "jdbc:postgresql://db/app?user=app&password=hunter2&ssl=true",
            "jdbc:postgresql://db/app?user=app&password=******&ssl=true",
        ),
        ("https://blob/x?sv=1&sig=abc%3D&se=2", "https://blob/x?sv=1&sig=******&se=2"),
        (
            "https://api/x?apikey=k&token=t&page=2",
            "https://api/x?apikey=******&token=******&page=2",
        ),
        (
            '{"db": {"host": "db", "password": "hunter2"}, "n": [1]}',
            '{"db": {"host": "db", "password": "******"}, "n": [1]}',
        ),
        ('{"token":12345,"x":"y"}', '{"token":"******","x":"y"}'),
        ("{'password': 'hunter2', 'user': 'app'}", "{'password': '******', 'user': 'app'}"),
        ("Authorization: Bearer abcdefgh12345678", "Authorization: Bearer ******"),
        ("users: scrypt$16384$8$1$c2FsdHNhbHQ=$ZGlnZXN0ZGlnZXN0", "users: ******"),
        (
            "ConnectionError: cannot reach postgres://orders:S3cretPW@db:5432/orders",
            "ConnectionError: cannot reach postgres://orders:******@db:5432/orders",
        ),
        ("nothing secret here: a=1 b=http://host/x", "nothing secret here: a=1 b=http://host/x"),
    ],
)
def test_secrets_inside_text_are_masked(text: str, shown: str) -> None:
    assert sanitize_text(text) == shown


def test_urls_without_a_password_are_left_alone() -> None:
    assert mask_url_passwords("https://user@example.com/x") == "https://user@example.com/x"


def test_mappings_and_lists_of_dicts_are_walked() -> None:
    value: dict[str, Any] = {
        "pools": [{"name": "a", "password": "p1"}, {"name": "b", "DB_PASS": "p2"}],
        "url": "redis://:pw@cache",
        "port": 6379,
    }
    assert sanitize(value) == {
        "pools": [{"name": "a", "password": MASK}, {"name": "b", "DB_PASS": MASK}],
        "url": f"redis://:{MASK}@cache",
        "port": 6379,
    }
    assert value["pools"][0]["password"] == "p1"  # the original is not changed


def test_a_value_under_a_secret_key_is_masked_whatever_it_is() -> None:
    assert sanitize({"nested": 1}, key="client_secret") == MASK
    assert sanitize(12, key="MYSQL_PWD") == MASK


def test_extra_fragments_mask_more_keys() -> None:
    assert sanitize({"region": "eu"}, extra=["REGION"]) == {"region": MASK}


def test_cycles_and_deep_nesting_are_refused_with_a_reason() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="circular"):
        sanitize(loop)
    deep: list[Any] = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError, match="deeper than"):
        sanitize(deep)
