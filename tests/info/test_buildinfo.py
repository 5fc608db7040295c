from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest

from actuator import write_build_info
from actuator.info.buildinfo import generate_build_info, git_info, read_build_file, spring_git
from tests.support.gitrepo import COMMIT_DATE_UTC, git, init_repo, isolate_git


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def test_git_info_of_a_real_checkout(tmp_path: Path) -> None:
    commit = init_repo(tmp_path / "repo", "Add the app")
    assert git_info(tmp_path / "repo") == {
        "commit": commit,
        "commit_time": COMMIT_DATE_UTC,
        "commit_message": "Add the app",
        "branch": "main",
        "dirty": False,
    }


def test_git_info_sees_local_changes_and_an_exact_tag(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    init_repo(repo)
    git(repo, "tag", "v1.4.2")
    (repo / "app.py").write_text("print('changed')\n")
    (repo / "untracked.txt").write_text("ignored: untracked files do not make it dirty\n")
    info = git_info(repo)
    assert info["dirty"] is True
    assert info["tag"] == "v1.4.2"


def test_a_detached_checkout_takes_the_branch_from_ci_variables(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commit = init_repo(repo)
    git(repo, "checkout", "-q", "--detach")
    assert "branch" not in git_info(repo, env={})
    info = git_info(repo, env={"GITHUB_REF_NAME": "release/1.4", "GITHUB_SHA": "f" * 40})
    assert info["branch"] == "release/1.4"
    assert info["commit"] == commit  # git wins over the variables


def test_outside_a_checkout_ci_variables_are_used(tmp_path: Path) -> None:
    info = git_info(
        tmp_path,
        env={"CI_COMMIT_SHA": "a" * 40, "CI_COMMIT_REF_NAME": "main", "GITHUB_SHA": "b" * 40},
    )
    assert info == {"commit": "b" * 40, "branch": "main"}  # GITHUB_SHA comes first


def test_without_git_on_the_path_ci_variables_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_repo(tmp_path / "repo")
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    assert git_info(tmp_path / "repo", env={"GIT_COMMIT": "c" * 40}) == {"commit": "c" * 40}


def test_no_commit_anywhere_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="actuator.info")
    assert git_info(tmp_path, env={}) == {}
    assert "No git commit found" in caplog.text
    assert "GITHUB_SHA" in caplog.text


def test_a_checkout_git_cannot_read_is_explained(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="actuator.info")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")  # no commit yet: HEAD names nothing
    assert git_info(repo, env={}) == {}
    assert "git rev-parse HEAD failed" in caplog.text


def test_git_info_of_a_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a directory"):
        git_info(tmp_path / "missing")


def test_generated_build_section(tmp_path: Path) -> None:
    data = generate_build_info(
        name="orders", version="1.4.2", cwd=tmp_path, env={"SOURCE_DATE_EPOCH": "1700000000"}
    )
    assert data == {
        "build": {
            "name": "orders",
            "version": "1.4.2",
            "artifact": "orders",
            "time": "2023-11-14T22:13:20Z",
        },
        "git": {},
    }


def test_build_time_is_now_without_source_date_epoch(tmp_path: Path) -> None:
    built = generate_build_info(cwd=tmp_path, env={})["build"]
    assert set(built) == {"time"}
    assert built["time"].endswith("Z")


def test_write_build_info_is_atomic_and_readable_by_all(tmp_path: Path) -> None:
    init_repo(tmp_path / "repo")
    target = tmp_path / "out" / "build-info.json"
    data = write_build_info(target, name="orders", cwd=tmp_path / "repo")
    assert json.loads(target.read_text()) == data
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["build-info.json"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "build-info.json").mkdir()  # the target is a directory
    with pytest.raises(OSError, match=r"build-info\.json"):
        write_build_info(tmp_path / "build-info.json", cwd=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["build-info.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read build info file"),
        ("[1, 2]", "must hold a JSON object"),
    ],
)
def test_a_malformed_file_raises_naming_it(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "build-info.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as caught:
        read_build_file(path)
    assert str(path) in str(caught.value)


def test_a_missing_or_unset_file_reads_as_empty(tmp_path: Path) -> None:
    assert read_build_file(tmp_path / "none.json") == {}
    assert read_build_file(None) == {}


@pytest.mark.parametrize(
    ("flat", "shaped"),
    [
        (
            {
                "branch": "main",
                "commit": "0123456789abcdef",
                "commit_time": "2024-05-04T09:12:44Z",
                "commit_message": "Fix",
                "dirty": "false",
                "tag": "v1",
            },
            {
                "branch": "main",
                "commit": {
                    "id": "0123456",
                    "full": "0123456789abcdef",
                    "time": "2024-05-04T09:12:44Z",
                    "message": "Fix",
                },
                "dirty": False,
                "tag": "v1",
            },
        ),
        ({"dirty": "TRUE"}, {"dirty": True}),
        ({"dirty": True, "remote": "git@host:o/r"}, {"dirty": True, "remote": "git@host:o/r"}),
        ({"commit": {"id": "abc1234", "time": "t"}}, {"commit": {"id": "abc1234", "time": "t"}}),
        ({"branch": "", "tag": None}, {}),
    ],
)
def test_spring_git_shape(flat: dict[str, Any], shaped: dict[str, Any]) -> None:
    assert spring_git(flat) == shaped
