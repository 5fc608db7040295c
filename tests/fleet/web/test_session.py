"""Session cookies: signed, expiring, revocable, and holding no secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from actuator.fleet.web.session import Sessions, proof_of
from actuator.security.credentials import SecurityContext

OPS = SecurityContext("ops", frozenset({"read"}))
T0 = 1_800_000_000.0


def test_an_issued_cookie_reads_back_as_its_identity_and_roles() -> None:
    sessions = Sessions(ttl=60)
    session = sessions.read(sessions.issue(OPS, T0), T0 + 59)
    assert session is not None
    assert session.context == OPS
    assert session.expires == T0 + 60


def test_the_cookie_names_the_identity_but_holds_no_credential() -> None:
    cookie = Sessions().issue(SecurityContext("ops", frozenset({"full"})), T0, "bearer token")
    payload = json.loads(base64.urlsafe_b64decode(cookie.split(".")[0] + "=="))
    assert set(payload) == {"p", "r", "m", "e", "n"}
    assert payload["p"] == "ops"
    assert payload["r"] == ["full", "read"]
    assert payload["m"] == "bearer token"


@pytest.mark.parametrize(
    ("proof", "identity"),
    [
        ("bearer token", "dashboard session: bearer token"),
        ("basic", "dashboard session: basic"),
        (None, "dashboard session"),
    ],
)
def test_a_session_says_how_its_identity_was_proved(proof: str | None, identity: str) -> None:
    sessions = Sessions()
    session = sessions.read(sessions.issue(OPS, T0, proof), T0)
    assert session is not None
    assert (session.proof, session.identity) == (proof, identity)


def test_a_cookie_issued_before_proofs_were_recorded_is_still_a_session() -> None:
    key = b"k" * 32
    payload = json.dumps({"p": "ops", "r": ["read"], "e": T0 + 60, "n": "ab" * 16}).encode()
    mac = hmac.new(key, b"session\x00" + payload, hashlib.sha256).digest()
    b64 = base64.urlsafe_b64encode
    cookie = f"{b64(payload).decode().rstrip('=')}.{b64(mac).decode().rstrip('=')}"
    session = Sessions(key).read(cookie, T0)
    assert session is not None
    assert (session.context, session.identity) == (OPS, "dashboard session")


@pytest.mark.parametrize(
    ("scope", "proof"),
    [
        ({"headers": [(b"authorization", b"Bearer abc")]}, "bearer token"),
        ({"headers": [(b"authorization", b"basic YTpi")]}, "basic"),
        ({"headers": [], "extensions": {"tls": {"client_cert_name": "CN=ops"}}}, "certificate"),
        ({"headers": [(b"authorization", b"Digest x")]}, None),
        ({"headers": []}, None),
    ],
)
def test_the_proof_of_a_request_is_its_credentials_kind_never_the_credential(
    scope: dict[str, object], proof: str | None
) -> None:
    assert proof_of({"type": "http", **scope}) == proof


def test_each_session_has_its_own_csrf_token_stable_for_its_lifetime() -> None:
    sessions = Sessions()
    one, two = sessions.issue(OPS, T0), sessions.issue(OPS, T0)
    first, again, other = sessions.read(one, T0), sessions.read(one, T0 + 1), sessions.read(two, T0)
    assert first is not None
    assert again is not None
    assert other is not None
    assert first.csrf == again.csrf != other.csrf
    assert Sessions.csrf_matches(first, first.csrf)
    assert not Sessions.csrf_matches(first, other.csrf)
    assert not Sessions.csrf_matches(first, None)


@pytest.mark.parametrize("age", [60, 61, 3600])
def test_an_expired_session_is_refused(age: float) -> None:
    sessions = Sessions(ttl=60)
    assert sessions.read(sessions.issue(OPS, T0), T0 + age) is None


def test_a_forged_or_altered_cookie_is_refused() -> None:
    sessions = Sessions()
    payload, signature = sessions.issue(OPS, T0).split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["r"] = ["full"]
    altered = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    assert sessions.read(f"{altered}.{signature}", T0) is None
    for garbage in ("", "x", "a.b", "!!!.???", f"{payload}.", "." + signature, "x" * 5000):
        assert sessions.read(garbage, T0) is None


def test_a_cookie_signed_with_another_key_is_refused_and_a_shared_key_is_accepted() -> None:
    key = b"k" * 32
    cookie = Sessions(key).issue(OPS, T0)
    assert Sessions().read(cookie, T0) is None
    assert Sessions(key).read(cookie, T0) is not None


def test_a_revoked_session_is_refused_while_others_stay_valid() -> None:
    sessions = Sessions()
    gone, kept = sessions.issue(OPS, T0), sessions.issue(OPS, T0)
    session = sessions.read(gone, T0)
    assert session is not None
    sessions.revoke(session, T0)
    assert sessions.read(gone, T0 + 1) is None
    assert sessions.read(kept, T0 + 1) is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"key": b"short"}, "session_key"), ({"ttl": 0}, "session_ttl")],
)
def test_invalid_settings_are_refused_naming_them(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Sessions(**kwargs)  # type: ignore[arg-type]
