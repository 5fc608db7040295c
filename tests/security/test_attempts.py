"""Limits on authentication attempts: no scrypt for nothing, few at once, 429 per address."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from typing import Any

import httpx
import pytest

from actuator import Actuator
from actuator.security.attempts import FailedAttempts
from actuator.security.credentials import PasswordHash, hash_password
from tests.support.secured import ALICE, bearer, secured_actuator

PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD, n=2**10)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class Verifications:
    """Counts PasswordHash.verify calls and how many ran at once."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.calls = 0
        self.running = 0
        self.most = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()
        self._real = PasswordHash.verify

    def __call__(self, stored: PasswordHash, password: str) -> bool:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            time.sleep(self.seconds)
            return self._real(stored, password)
        finally:
            with self._lock:
                self.running -= 1

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Verifications:
        def verify(stored: PasswordHash, password: str) -> bool:
            return self(stored, password)

        monkeypatch.setattr(PasswordHash, "verify", verify)
        return self


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Verifications:
    return Verifications().install(monkeypatch)


def users_actuator(**overrides: Any) -> Actuator:
    security = {
        "users": {"ops": PASSWORD_HASH},
        "roles": {"full": ["sre\\..*"], "read": ["monitoring", "ops"]},
        **overrides.pop("security", {}),
    }
    actuator, _ = secured_actuator(security=security, **overrides)
    return actuator


def client(actuator: Actuator, address: str = "10.0.0.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=actuator, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_password_is_not_checked_where_the_answer_does_not_depend_on_the_caller(
    verifications: Verifications,
) -> None:
    actuator = users_actuator(health={"show_details": "never"})
    async with client(actuator) as http:
        answers = [
            await http.get("/actuator/health", headers=basic("ops", f"guess{i}")) for i in range(5)
        ]
    await actuator.shutdown()
    assert [a.status_code for a in answers] == [200] * 5
    assert verifications.calls == 0


async def test_a_password_is_checked_where_details_depend_on_the_caller(
    verifications: Verifications,
) -> None:
    actuator = users_actuator(health={"show_details": "when_authorized"})
    async with client(actuator) as http:
        right = await http.get("/actuator/health", headers=basic("ops", PASSWORD))
        wrong = await http.get("/actuator/health", headers=basic("ops", "guess"))
    await actuator.shutdown()
    assert right.status_code == 200
    assert "components" in right.json()
    assert wrong.status_code == 401
    assert verifications.calls == 2


async def test_only_a_few_password_checks_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = Verifications(seconds=0.05).install(monkeypatch)
    actuator = users_actuator(security={"max_password_checks": 2, "max_failed_attempts": 0})
    async with client(actuator) as http:
        answers = await asyncio.gather(
            *(http.get("/actuator/info", headers=basic("ops", f"guess{i}")) for i in range(20))
        )
    await actuator.shutdown()
    assert slow.most == 2
    # On two threads of their own: each keeps the memory scrypt used in its malloc arena.
    assert len(slow.threads) == 2
    assert all(name.startswith("actuator-scrypt") for name in slow.threads)
    assert {a.status_code for a in answers} <= {401, 503}
    assert sum(a.status_code == 401 for a in answers) >= 10  # most waited for a slot


async def test_password_checks_that_wait_too_long_are_503_with_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = Verifications(seconds=0.4).install(monkeypatch)
    actuator = users_actuator(security={"max_password_checks": 1, "max_failed_attempts": 0})
    async with client(actuator) as http:
        answers = await asyncio.gather(
            *(http.get("/actuator/info", headers=basic("ops", f"guess{i}")) for i in range(6))
        )
    await actuator.shutdown()
    busy = [a for a in answers if a.status_code == 503]
    assert busy
    assert busy[0].headers["retry-after"] == "1"
    assert "Too many password checks" in busy[0].json()["message"]
    assert slow.calls < 6


async def test_an_address_that_keeps_failing_gets_429_with_retry_after(
    verifications: Verifications,
) -> None:
    actuator = users_actuator(security={"max_failed_attempts": 3, "failed_attempts_window": 60})
    async with client(actuator, "10.0.0.7") as attacker, client(actuator, "10.0.0.8") as other:
        failures = [
            await attacker.get("/actuator/info", headers=basic("ops", f"guess{i}"))
            for i in range(3)
        ]
        refused = await attacker.get("/actuator/info", headers=basic("ops", PASSWORD))
        bad_token = await attacker.get("/actuator/info", headers=bearer("y" * 43))
        elsewhere = await other.get("/actuator/info", headers=bearer(ALICE))
    await actuator.shutdown()
    assert [f.status_code for f in failures] == [401] * 3
    assert refused.status_code == bad_token.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Too many failed authentication attempts" in refused.json()["message"]
    assert verifications.calls == 3  # the refused attempt cost no scrypt
    assert elsewhere.status_code == 200


def test_failed_attempts_forget_old_windows_and_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    attempts = FailedAttempts(limit=2, window=10, max_clients=100)
    attempts.failed("a")
    attempts.failed("a")
    assert attempts.retry_after("a") == 10
    now[0] += 10
    assert attempts.retry_after("a") is None
    for i in range(1000):
        attempts.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(attempts._windows) <= 100
    assert FailedAttempts(limit=0, window=10).retry_after("a") is None
