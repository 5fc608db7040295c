"""Build and git metadata: generated at image build time, read at run time.

At build time (in a Dockerfile, where the git checkout is at hand)::

    RUN actuator build-info --output build-info.json --name orders --version 1.4.2

or from Python, ``write_build_info("build-info.json", name="orders", version="1.4.2")``.
At run time the ``build`` and ``git`` info sections read that file
(``info.build_file``, default ``build-info.json`` in the working directory),
and ``ACTUATOR_INFO__BUILD__*`` / ``ACTUATOR_INFO__GIT__*`` variables override
single values (``ACTUATOR_INFO__GIT__COMMIT=...``).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger("actuator.info")

# Where CI systems put the commit and branch, tried in order when git is not at hand.
_COMMIT_VARIABLES = ("GIT_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT",
                     "CIRCLE_SHA1", "TRAVIS_COMMIT", "BITBUCKET_COMMIT", "SOURCE_COMMIT")
_BRANCH_VARIABLES = ("GIT_BRANCH", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILDKITE_BRANCH",
                     "CIRCLE_BRANCH", "TRAVIS_BRANCH", "BITBUCKET_BRANCH", "SOURCE_BRANCH")


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                                timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_info(cwd: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None
             ) -> dict[str, Any]:
    """Git metadata of the checkout at ``cwd``, falling back to CI environment variables."""
    env = os.environ if env is None else env
    where = Path(cwd)
    info: dict[str, Any] = {}
    commit = _git(["rev-parse", "HEAD"], where) or _first(env, _COMMIT_VARIABLES)
    if commit:
        info["commit"] = commit
        time = _git(["log", "-1", "--format=%cI", commit], where)
        if time:
            info["commit_time"] = time
        message = _git(["log", "-1", "--format=%s", commit], where)
        if message:
            info["commit_message"] = message
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], where)
    if not branch or branch == "HEAD":  # detached, as in most CI checkouts
        branch = _first(env, _BRANCH_VARIABLES) or branch
    if branch:
        info["branch"] = branch
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    if status is not None:
        info["dirty"] = "true" if status else "false"
    tag = _git(["describe", "--tags", "--exact-match"], where)
    if tag:
        info["tag"] = tag
    return info


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((env[name] for name in names if env.get(name)), None)


def generate_build_info(
    *,
    name: str | None = None,
    version: str | None = None,
    group: str | None = None,
    artifact: str | None = None,
    cwd: str | os.PathLike[str] = ".",
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``{"build": {...}, "git": {...}}`` for the checkout at ``cwd``, timed now."""
    build = {
        "name": name,
        "version": version,
        "group": group,
        "artifact": artifact or name,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return {
        "build": {key: value for key, value in build.items() if value},
        "git": git_info(cwd, env),
    }


def write_build_info(path: str | os.PathLike[str], **kwargs: Any) -> dict[str, Any]:
    """Generate build info (see ``generate_build_info``) and write it to ``path`` atomically."""
    data = generate_build_info(**kwargs)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=target.parent, delete=False, suffix=".tmp",
                                     encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(handle.name, target)
    return data


def read_build_file(path: Path | None) -> dict[str, Any]:
    """The parsed build-info file, ``{}`` when there is none; errors name the file."""
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read build info file {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"build info file {str(path)!r} must hold a JSON object")
    return data


def spring_git(git: Mapping[str, Any]) -> dict[str, Any]:
    """Flat git fields (``commit``, ``branch``...) in Spring Boot's ``info.git`` shape."""
    result: dict[str, Any] = {}
    if git.get("branch"):
        result["branch"] = git["branch"]
    commit: dict[str, Any] = {}
    if git.get("commit"):
        full = str(git["commit"])
        commit["id"] = full[:7]
        commit["full"] = full
    if git.get("commit_time"):
        commit["time"] = git["commit_time"]
    if git.get("commit_message"):
        commit["message"] = git["commit_message"]
    if commit:
        result["commit"] = commit
    for key in ("tag", "dirty"):
        if git.get(key) not in (None, ""):
            value = git[key]
            result[key] = value in (True, "true", "1") if key == "dirty" else value
    return result
