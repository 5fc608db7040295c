"""Build and git metadata: generated at image build time, read at run time.

At build time (in a Dockerfile, where the git checkout is at hand)::

    RUN actuator build-info --output build-info.json --name orders --version 1.4.2

or from Python, ``write_build_info("build-info.json", name="orders", version="1.4.2")``.
At run time the ``build`` and ``git`` info sections read that file
(``info.build_file``, default ``build-info.json`` in the working directory),
and ``ACTUATOR_INFO__BUILD__*`` / ``ACTUATOR_INFO__GIT__*`` variables override
single values (``ACTUATOR_INFO__GIT__COMMIT=...``).

The file holds ``{"build": {...}, "git": {...}}`` with flat git fields
(``branch``, ``commit``, ``commit_time``, ``commit_message``, ``tag``,
``dirty``); the ``git`` info section shows them in Spring Boot's shape.
"""

from __future__ import annotations

import contextlib
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
COMMIT_VARIABLES = (
    "GIT_COMMIT",
    "GITHUB_SHA",
    "CI_COMMIT_SHA",
    "BUILDKITE_COMMIT",
    "CIRCLE_SHA1",
    "TRAVIS_COMMIT",
    "BITBUCKET_COMMIT",
    "SOURCE_COMMIT",
)
BRANCH_VARIABLES = (
    "GIT_BRANCH",
    "GITHUB_REF_NAME",
    "CI_COMMIT_REF_NAME",
    "BUILDKITE_BRANCH",
    "CIRCLE_BRANCH",
    "TRAVIS_BRANCH",
    "BITBUCKET_BRANCH",
    "SOURCE_BRANCH",
)


def _git(args: list[str], cwd: Path, *, explain: bool = False) -> str | None:
    """Output of ``git args`` in ``cwd``, or ``None`` if git is missing or fails.

    With ``explain``, a failure other than "not a repository" is logged: a
    checkout git refuses to read (``safe.directory``, a user that does not own
    it in a Docker build) should not lose the git section silently.
    """
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("git %s: %s", " ".join(args), exc)
        return None
    if result.returncode != 0:
        message = result.stderr.strip()
        if explain and "not a git repository" not in message:
            logger.warning("git %s failed in %s: %s", " ".join(args), cwd, message)
        return None
    return result.stdout.strip()


def _utc(timestamp: str) -> str:
    """An ISO 8601 time in UTC with a ``Z``, as Spring Boot shows git and build times."""
    try:
        moment = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if moment.tzinfo is None:
        return timestamp
    return moment.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def git_info(
    cwd: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Flat git metadata of the checkout at ``cwd``, falling back to CI environment variables.

    ``{"commit", "commit_time", "commit_message", "branch", "dirty", "tag"}``,
    each left out when unknown. Git wins over the variables; the branch comes
    from the variables when the checkout is detached (as in most CI jobs).
    Raises ``ValueError`` if ``cwd`` is not a directory.
    """
    env = os.environ if env is None else env
    where = Path(cwd)
    if not where.is_dir():
        raise ValueError(f"{str(where)!r} is not a directory")
    info: dict[str, Any] = {}
    commit = _git(["rev-parse", "HEAD"], where, explain=True)
    if commit:
        info["commit"] = commit
        for key, fmt in (("commit_time", "%cI"), ("commit_message", "%s")):
            value = _git(["log", "-1", f"--format={fmt}", commit], where)
            if value:
                info[key] = _utc(value) if key == "commit_time" else value
        branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], where)
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        if status is not None:
            info["dirty"] = bool(status)
        tag = _git(["describe", "--tags", "--exact-match"], where)
        if tag:
            info["tag"] = tag
    else:
        commit = _first(env, COMMIT_VARIABLES)
        branch = None
        if commit:
            info["commit"] = commit
        else:
            logger.warning(
                "No git commit found: %s is not a git checkout (or git is missing) "
                "and none of %s is set",
                where,
                ", ".join(COMMIT_VARIABLES),
            )
    if not branch or branch == "HEAD":  # detached HEAD names no branch
        branch = _first(env, BRANCH_VARIABLES)
    if branch:
        info["branch"] = branch
    return info


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((env[name] for name in names if env.get(name)), None)


def _build_time(env: Mapping[str, str]) -> str:
    # SOURCE_DATE_EPOCH (reproducible-builds.org) pins the time so identical inputs
    # give an identical file (and an identical image layer).
    epoch = env.get("SOURCE_DATE_EPOCH", "").strip()
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch.isdigit()
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def generate_build_info(
    *,
    name: str | None = None,
    version: str | None = None,
    group: str | None = None,
    artifact: str | None = None,
    cwd: str | os.PathLike[str] = ".",
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``{"build": {...}, "git": {...}}`` for the checkout at ``cwd``, timed now
    (or at ``SOURCE_DATE_EPOCH``).

    Parameters:
        name, version, group: the ``build`` section's values. Default: left out.
        artifact: the artifact name. Default: ``name``.
        cwd: the git checkout to describe. Default ``"."``.
        env: the environment to read CI variables from. Default ``os.environ``.
    """
    env = os.environ if env is None else env
    build = {
        "name": name,
        "version": version,
        "group": group,
        "artifact": artifact or name,
        "time": _build_time(env),
    }
    return {
        "build": {key: value for key, value in build.items() if value},
        "git": git_info(cwd, env),
    }


def write_build_info(path: str | os.PathLike[str], **kwargs: Any) -> dict[str, Any]:
    """Generate build info (see ``generate_build_info`` for the keyword arguments) and write
    it to ``path`` atomically, readable by every user (the app may run as another user than
    the build). Returns what was written::

        write_build_info("build-info.json", name="orders", version="1.4.2")
    """
    data = generate_build_info(**kwargs)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w",
        dir=target.parent,
        delete=False,
        suffix=".tmp",
        prefix=f".{target.name}.",
        encoding="utf-8",
    ) as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    try:
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise
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


def build_file_section(path: Path | None, section: str) -> dict[str, Any]:
    """One section (``build`` or ``git``) of the build-info file, ``{}`` when absent."""
    value = read_build_file(path).get(section)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"build info file {str(path)!r}: {section!r} must be a JSON object")
    return value


def spring_git(git: Mapping[str, Any]) -> dict[str, Any]:
    """Flat git fields in Spring Boot's ``info.git`` shape::

        {"branch": "main", "commit": {"id": "3f2a9c1", "full": "3f2a9c1...",
         "time": "2026-05-04T09:12:44Z", "message": "..."}, "dirty": false, "tag": "v1.4.2"}

    Keys it does not know pass through unchanged; a ``commit`` that is already
    a mapping (a file in Spring's shape) is kept as it is.
    """
    known = ("branch", "commit", "commit_time", "commit_message", "tag", "dirty")
    result: dict[str, Any] = {
        key: value for key, value in git.items() if key not in known and value not in (None, "")
    }
    if git.get("branch"):
        result["branch"] = git["branch"]
    commit: dict[str, Any] = {}
    value = git.get("commit")
    if isinstance(value, Mapping):
        commit.update(value)
    elif value:
        full = str(value)
        commit["id"] = full[:7]
        commit["full"] = full
    if git.get("commit_time"):
        commit["time"] = git["commit_time"]
    if git.get("commit_message"):
        commit["message"] = git["commit_message"]
    if commit:
        result["commit"] = commit
    if git.get("tag"):
        result["tag"] = git["tag"]
    dirty = git.get("dirty")
    if dirty not in (None, ""):
        result["dirty"] = dirty is True or str(dirty).strip().lower() in ("true", "1", "yes")
    return result
