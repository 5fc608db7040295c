"""``actuator hash-token``: hashes for the security settings, secrets never on the command line."""

from __future__ import annotations

import hashlib
import io

import pytest

from actuator.cli import main
from actuator.security.credentials import PasswordHash


class Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_generate_prints_a_token_and_its_hash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hash-token", "--generate"]) == 0
    lines = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    token, hashed = lines["token"].strip(), lines["hash"].strip()
    assert hashed == "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    assert len(token) >= 40


def test_a_token_from_stdin_is_hashed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "k" * 32
    monkeypatch.setattr("sys.stdin", Stdin(token + "\n"))
    assert main(["hash-token"]) == 0
    assert capsys.readouterr().out.strip() == "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def test_a_password_from_stdin_gets_a_scrypt_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", Stdin("hunter2 is weak\n"))
    assert main(["hash-token", "--password"]) == 0
    assert PasswordHash.parse(capsys.readouterr().out.strip()).verify("hunter2 is weak")


@pytest.mark.parametrize(("stdin", "message"), [("", "no token given"), ("short\n", "at least 24")])
def test_bad_input_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, message: str
) -> None:
    monkeypatch.setattr("sys.stdin", Stdin(stdin))
    assert main(["hash-token"]) == 2
    assert message in capsys.readouterr().err
