"""Real, throw-away git repositories for build-info tests, isolated from the user's git config
and from the CI variables of whatever machine runs the tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from actuator.info.buildinfo import BRANCH_VARIABLES, COMMIT_VARIABLES

COMMIT_DATE = "2024-05-04T11:12:44+02:00"
COMMIT_DATE_UTC = "2024-05-04T09:12:44Z"


def isolate_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No global/system git config, a fixed identity and date, no CI variables, and no
    repository found above ``tmp_path``."""
    for name in (*COMMIT_VARIABLES, *BRANCH_VARIABLES, "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_AUTHOR_DATE": COMMIT_DATE,
        "GIT_COMMITTER_DATE": COMMIT_DATE,
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def init_repo(repo: Path, message: str = "First commit") -> str:
    """A repository on branch ``main`` with one commit of ``app.py``; returns its commit id."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("print('hello')\n")
    git(repo, "add", "app.py")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")
