"""Access control through real HTTP: identities, roles, exposure and access levels."""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from starlette.requests import Request

from actuator import (
    Actuator,
    AuthenticationFailed,
    SecurityContext,
    hash_password,
    hash_token,
)
from actuator.security.auth import subject_common_name
from actuator.security.credentials import PasswordHash
from tests.support.secured import (
    ALICE,
    MONITORING,
    NOBODY,
    Switch,
    bearer,
    client,
    secured_actuator,
)

PASSWORD_HASH = hash_password("correct horse battery staple", n=2**10)


@pytest.fixture
async def secured() -> AsyncIterator[tuple[Actuator, Switch, httpx.AsyncClient]]:
    actuator, switch = secured_actuator(
        security={
            "users": {"ops": PASSWORD_HASH},
            "roles": {"full": ["sre\\..*"], "read": ["monitoring", "ops"]},
        }
    )
    async with client(actuator) as http:
        yield actuator, switch, http
    await actuator.shutdown()


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


# -- hashes -----------------------------------------------------------------------------


def test_token_hash_is_sha256_of_the_token_and_refuses_short_tokens() -> None:
    assert hash_token("a" * 24) == "sha256:" + hashlib.sha256(b"a" * 24).hexdigest()
    with pytest.raises(ValueError, match="at least 24"):
        hash_token("short")
    with pytest.raises(ValueError, match="may hold only"):
        hash_token("x" * 30 + " space")


def test_password_hash_verifies_only_the_right_password() -> None:
    parsed = PasswordHash.parse(PASSWORD_HASH)
    assert parsed.n == 2**10
    assert parsed.verify("correct horse battery staple")
    assert not parsed.verify("Correct horse battery staple")
    assert PasswordHash.parse(hash_password("pw", n=2**10)).salt != parsed.salt


@pytest.mark.parametrize(
    "bad",
    [
        "plain",
        "scrypt$3$8$1$c2FsdHNhbHQ=$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        "scrypt$1024$8$1$!!!$abc",
        "md5$x",
    ],
)
def test_malformed_password_hashes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"hash|scrypt"):
        PasswordHash.parse(bad)


def test_settings_refuse_a_plain_token_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"security\.tokens.*not the token itself"):
        Actuator(settings={"security": {"tokens": {"prometheus": ALICE}}})


def test_settings_refuse_an_invalid_role_pattern_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"security\.roles\.full.*invalid regular expression"):
        Actuator(settings={"security": {"roles": {"full": ["sre[.*"]}}})


def test_settings_refuse_an_unknown_write_role() -> None:
    with pytest.raises(ValueError, match=r"security\.write_roles\.switch"):
        Actuator(settings={"security": {"write_roles": {"switch": "admin"}}})


def test_full_implies_read_in_a_security_context() -> None:
    assert SecurityContext("x", frozenset({"full"})).roles == {"full", "read"}
    assert SecurityContext("x", frozenset({"full"})).authorized
    assert not SecurityContext("x").authorized
    assert SecurityContext("x").authenticated


def test_subject_common_name_unescapes_rfc4514() -> None:
    assert subject_common_name("CN=sre.alice,O=Acme\\, Inc.,C=DE") == "sre.alice"
    assert subject_common_name("O=Acme,CN=caf\\C3\\A9\\+x") == "café+x"
    assert subject_common_name("UID=7+CN=multi,O=x") == "multi"
    assert subject_common_name("O=Acme,C=DE") is None


# -- defaults: anonymous gets health status only ----------------------------------------


async def test_anonymous_callers_get_health_status_without_details() -> None:
    actuator = Actuator(
        settings={
            "exposure": {"include": ["*"]},
            "health": {"event_loop": {"enabled": False}, "show_details": "when_authorized"},
        }
    )
    async with client(actuator) as http:
        health = await http.get("/actuator/health")
        info = await http.get("/actuator/info")
        links = await http.get("/actuator")
    await actuator.shutdown()
    assert health.status_code == 200
    assert set(health.json()) == {"status", "groups"}
    assert info.status_code == 401
    assert info.headers["www-authenticate"] == 'Bearer realm="actuator"'
    assert set(links.json()["_links"]) == {"self", "health", "health-path"}


async def test_discovery_lists_what_the_caller_may_read(secured: Any) -> None:
    _, _, http = secured
    anonymous = (await http.get("/actuator")).json()["_links"]
    reader = (await http.get("/actuator", headers=bearer(MONITORING))).json()["_links"]
    assert "info" not in anonymous
    assert "switch" not in anonymous
    assert {"info", "switch", "health"} <= set(reader)


# -- bearer tokens --------------------------------------------------------------------


async def test_right_token_reads_info_and_health_details(secured: Any) -> None:
    _, _, http = secured
    info = await http.get("/actuator/info", headers=bearer(MONITORING))
    health = await http.get("/actuator/health", headers=bearer(MONITORING))
    assert info.status_code == 200
    assert info.json()["app"]["name"] == "secured"
    assert "components" in health.json()
    assert "details" in health.json()["components"]["readinessState"]


async def test_missing_token_is_401_with_a_challenge(secured: Any) -> None:
    _, _, http = secured
    response = await http.get("/actuator/info")
    assert response.status_code == 401
    assert response.json()["message"] == "Authentication required"
    assert response.headers.get_list("www-authenticate") == [
        'Bearer realm="actuator"',
        'Basic realm="actuator", charset="UTF-8"',
    ]


async def test_wrong_token_is_401_and_names_no_token(secured: Any, caplog: Any) -> None:
    _, _, http = secured
    wrong = ALICE[:-4] + "abcd"
    with caplog.at_level(logging.WARNING, logger="actuator.security"):
        response = await http.get("/actuator/info", headers=bearer(wrong))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    for name in ("sre.alice", "monitoring", "nobody"):
        assert name not in response.text
    assert "unknown bearer token" in caplog.text
    assert wrong not in caplog.text


async def test_wrong_token_is_refused_even_where_anonymous_callers_are_allowed(
    secured: Any,
) -> None:
    _, _, http = secured
    response = await http.get("/actuator/health", headers=bearer("x" * 43))
    assert response.status_code == 401


@pytest.mark.parametrize(
    "value",
    [
        "Bearer",
        "Bearer ",
        "Bearer two words",
        "Token abcdefabcdefabcdefabcdef",
        "bearer\tnot-a-token",
        "Bearer é-not-ascii-but-long-enough-xxxxxxxxx",
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
    ],
)
async def test_malformed_authorization_headers_are_401(secured: Any, value: str) -> None:
    _, _, http = secured
    response = await http.get("/actuator/info", headers={"Authorization": value.encode()})
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid or malformed credentials"
    assert "www-authenticate" in response.headers


async def test_two_authorization_headers_are_refused(secured: Any) -> None:
    _, _, http = secured
    headers = [("Authorization", f"Bearer {MONITORING}"), ("Authorization", f"Bearer {ALICE}")]
    response = await http.get("/actuator/info", headers=headers)
    assert response.status_code == 401


async def test_an_identity_without_a_role_is_403(secured: Any, caplog: Any) -> None:
    _, _, http = secured
    with caplog.at_level(logging.WARNING, logger="actuator.security"):
        response = await http.get("/actuator/info", headers=bearer(NOBODY))
    assert response.status_code == 403
    assert "www-authenticate" not in response.headers
    assert "'nobody'" in caplog.text
    assert "lacks role 'read'" in caplog.text


async def test_role_patterns_are_anchored() -> None:
    evil, bot = "x" * 43, "y" * 43
    actuator, _ = secured_actuator(
        security={"tokens": {"evil-sre.alice": hash_token(evil), "monitoring-bot": hash_token(bot)}}
    )
    async with client(actuator) as http:
        prefixed = await http.get("/actuator/info", headers=bearer(evil))
        suffixed = await http.get("/actuator/info", headers=bearer(bot))
    assert prefixed.status_code == 403
    assert suffixed.status_code == 403


# -- HTTP basic ---------------------------------------------------------------------


async def test_basic_auth_with_the_right_password(secured: Any) -> None:
    _, _, http = secured
    response = await http.get(
        "/actuator/switch", headers=basic("ops", "correct horse battery staple")
    )
    assert response.status_code == 200
    assert response.json()["principal"] == "ops"


async def test_basic_auth_with_a_wrong_password_or_unknown_user_is_401(secured: Any) -> None:
    _, _, http = secured
    wrong = await http.get("/actuator/info", headers=basic("ops", "wrong"))
    unknown = await http.get("/actuator/info", headers=basic("eve", "correct horse battery staple"))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == {**unknown.json()}


# -- writes ---------------------------------------------------------------------------


async def test_writes_need_the_full_role(secured: Any, caplog: Any) -> None:
    _, switch, http = secured
    anonymous = await http.post("/actuator/switch")
    reader = await http.post("/actuator/switch", headers=bearer(MONITORING))
    assert (anonymous.status_code, reader.status_code) == (401, 403)
    assert switch.changes == []
    with caplog.at_level(logging.INFO, logger="actuator.access"):
        full = await http.post("/actuator/switch", headers=bearer(ALICE))
        deleted = await http.delete("/actuator/switch", headers=bearer(ALICE))
    assert (full.status_code, deleted.status_code) == (200, 204)
    assert switch.changes == [("write", "sre.alice"), ("delete", "sre.alice")]
    assert "POST /actuator/switch" in caplog.text
    assert "by sre.alice" in caplog.text


async def test_write_roles_setting_lowers_the_role_a_write_needs() -> None:
    actuator, switch = secured_actuator(security={"write_roles": {"switch": "read"}})
    async with client(actuator) as http:
        reader = await http.post("/actuator/switch", headers=bearer(MONITORING))
        anonymous = await http.post("/actuator/switch")
    assert (reader.status_code, anonymous.status_code) == (200, 401)
    assert switch.changes == [("write", "monitoring")]


async def test_no_write_or_delete_operation_of_any_endpoint_runs_without_full() -> None:
    # Every registered endpoint, exposed and unrestricted: whatever endpoints
    # exist (the management endpoints included), their write and delete
    # operations refuse anonymous callers, readers and role-less identities.
    actuator, switch = secured_actuator(
        access={"default": "unrestricted"}, shutdown={"enabled": True}
    )
    checked = []
    async with client(actuator) as http:
        for name, endpoint in actuator.endpoints.items():
            for path in ((), ("x",), ("x", "y")):
                for operation in endpoint.operations(path) & {"write", "delete"}:
                    url = "/".join(("/actuator", name, *path))
                    method = "POST" if operation == "write" else "DELETE"
                    for headers, expected in (
                        ({}, 401),
                        (bearer(MONITORING), 403),
                        (bearer(NOBODY), 403),
                    ):
                        response = await http.request(method, url, headers=headers, json={})
                        assert response.status_code == expected, (method, url, headers)
                    checked.append((method, url))
    assert ("POST", "/actuator/switch") in checked
    assert ("DELETE", "/actuator/switch") in checked
    for management in ("loggers/x", "pause", "resume", "flip", "shutdown"):
        assert ("POST", f"/actuator/{management}") in checked
    assert switch.changes == []
    assert not actuator.paused
    assert actuator.shutdown_control.plan is None


# -- exposure x access x role ---------------------------------------------------------

CALLERS = {
    "anonymous": {},
    "nobody": bearer(NOBODY),
    "read": bearer(MONITORING),
    "full": bearer(ALICE),
}
ROLES = {"anonymous": set(), "nobody": set(), "read": {"read"}, "full": {"read", "full"}}


def expected_status(
    exposed: bool, access: str, caller: str, method: str, anonymous_reads: bool
) -> int:
    """The documented rules, in order: exposure, access level, then role."""
    if not exposed:
        return 404
    if access == "none" or (access == "read_only" and method != "GET"):
        return 403
    needed = (None if anonymous_reads else "read") if method == "GET" else "full"
    if needed is None or needed in ROLES[caller]:
        return 200
    return 401 if caller == "anonymous" else 403


@pytest.mark.parametrize(
    ("exposed", "access", "anonymous_reads"),
    list(itertools.product([True, False], ["none", "read_only", "unrestricted"], [False, True])),
)
async def test_exposure_access_and_roles_combine_as_documented(
    exposed: bool, access: str, anonymous_reads: bool
) -> None:
    actuator, switch = secured_actuator(
        exposure={"include": ["health", "info", "switch"] if exposed else ["health", "info"]},
        access={"endpoints": {"switch": access}},
        security={"anonymous": ["health", "switch"] if anonymous_reads else ["health"]},
    )
    async with client(actuator) as http:
        for (caller, headers), method in itertools.product(CALLERS.items(), ["GET", "POST"]):
            response = await http.request(method, "/actuator/switch", headers=headers)
            want = expected_status(exposed, access, caller, method, anonymous_reads)
            assert response.status_code == want, (caller, method, response.text)
    writes = [c for c in switch.changes if c[0] == "write"]
    assert writes == ([("write", "sre.alice")] if exposed and access == "unrestricted" else [])


async def test_unexposed_endpoints_are_404_whoever_asks() -> None:
    actuator, _ = secured_actuator(exposure={"include": ["health"]})
    async with client(actuator) as http:
        info = await http.get("/actuator/info", headers=bearer(ALICE))
        anonymous = await http.get("/actuator/info")
    assert info.status_code == anonymous.status_code == 404


# -- hooks ----------------------------------------------------------------------------


async def test_a_sync_hook_names_the_caller_and_patterns_grant_roles() -> None:
    actuator, _ = secured_actuator()
    actuator.add_authenticator(lambda request: request.headers.get("x-user"))
    async with client(actuator) as http:
        via_hook = await http.get("/actuator/switch", headers={"x-user": "sre.bob"})
        fallback = await http.get("/actuator/switch", headers=bearer(MONITORING))
    assert via_hook.json()["principal"] == "sre.bob"
    assert via_hook.json()["roles"] == ["full", "read"]
    assert fallback.json()["principal"] == "monitoring"


async def test_an_async_hook_can_grant_roles_itself() -> None:
    actuator, switch = secured_actuator()

    @actuator.add_authenticator
    async def jwt(request: Request) -> SecurityContext | None:
        if request.headers.get("x-jwt") == "signed":
            return SecurityContext("robot", frozenset({"full"}))
        if "x-jwt" in request.headers:
            raise AuthenticationFailed("bad signature")
        return None

    async with client(actuator) as http:
        ok = await http.post("/actuator/switch", headers={"x-jwt": "signed"})
        refused = await http.get("/actuator/switch", headers={"x-jwt": "forged"})
    assert ok.status_code == 200
    assert switch.changes == [("write", "robot")]
    assert refused.status_code == 401
    assert "bad signature" not in refused.text


async def test_a_failing_hook_is_a_500_without_traceback(caplog: Any) -> None:
    actuator, _ = secured_actuator()

    def broken(request: Request) -> str:
        raise RuntimeError("directory down")

    actuator.add_authenticator(broken)
    async with client(actuator) as http:
        response = await http.get("/actuator/info")
    assert response.status_code == 500
    assert "directory down" not in response.text
    assert "directory down" in caplog.text


async def test_a_fastapi_dependency_serves_as_the_hook() -> None:
    async def current_user(request: Request) -> str | None:
        return {"key-1": "sre.carol"}.get(request.headers.get("x-api-key", ""))

    async def require_user(user: str | None = Depends(current_user)) -> str:
        if user is None:
            raise HTTPException(401)
        return user

    app = FastAPI()

    @app.get("/me")
    async def me(user: str = Depends(require_user)) -> dict[str, str]:
        return {"user": user}

    actuator, switch = secured_actuator()
    actuator.add_authenticator(current_user)
    async with client(actuator.wrap(app)) as http:
        route = await http.get("/me", headers={"x-api-key": "key-1"})
        write = await http.post("/actuator/switch", headers={"x-api-key": "key-1"})
    assert route.json() == {"user": "sre.carol"}
    assert write.status_code == 200
    assert switch.changes == [("write", "sre.carol")]


async def test_certificate_subject_from_the_tls_extension_identifies_the_caller() -> None:
    actuator, _ = secured_actuator()
    scope = {
        "type": "http",
        "headers": [],
        "extensions": {
            "tls": {"client_cert_name": "CN=sre.dave,O=Acme", "client_cert_error": None}
        },
    }
    caller = await actuator.authenticate(scope)
    assert caller == SecurityContext("sre.dave", frozenset({"full"}))
    failed = {
        **scope,
        "extensions": {"tls": {"client_cert_name": "CN=sre.dave", "client_cert_error": "expired"}},
    }
    assert not (await actuator.authenticate(failed)).authenticated
    subject, _ = secured_actuator(security={"certificate_identity": "subject"})
    assert (await subject.authenticate(scope)).principal == "CN=sre.dave,O=Acme"
