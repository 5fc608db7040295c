from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from actuator import Actuator
from actuator.__about__ import __version__
from actuator.cli import main
from tests.support.gitrepo import COMMIT_DATE_UTC, git, init_repo, isolate_git


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m actuator ...`` as a user runs it (in a Dockerfile, say)."""
    return subprocess.run(
        [sys.executable, "-m", "actuator", *args],
        cwd=cwd,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_build_info_in_a_real_git_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    commit = init_repo(repo, "Release 1.4.2")
    git(repo, "tag", "v1.4.2")
    out = tmp_path / "image" / "build-info.json"
    code = main(
        [
            "build-info",
            "--cwd",
            str(repo),
            "-o",
            str(out),
            "--name",
            "orders",
            "--version",
            "1.4.2",
            "--group",
            "shop",
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert data["git"] == {
        "commit": commit,
        "branch": "main",
        "commit_time": COMMIT_DATE_UTC,
        "commit_message": "Release 1.4.2",
        "dirty": False,
        "tag": "v1.4.2",
    }
    assert data["build"]["name"] == "orders"
    assert data["build"]["artifact"] == "orders"
    assert data["build"]["group"] == "shop"
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out}:")
    assert commit in printed


def test_without_git_it_falls_back_to_ci_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_SHA", "9" * 40)
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    monkeypatch.chdir(tmp_path)  # not a checkout
    assert main(["build-info", "-q"]) == 0
    data = json.loads((tmp_path / "build-info.json").read_text())
    assert data["git"] == {"commit": "9" * 40, "branch": "main"}


def read_info(actuator: Actuator) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        try:
            return await actuator.info()
        finally:
            await actuator.shutdown()

    return asyncio.run(read())


def test_the_written_file_round_trips_into_springs_git_shape(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commit = init_repo(repo, "Ship it")
    out = tmp_path / "build-info.json"
    assert (
        main(
            [
                "build-info",
                "--cwd",
                str(repo),
                "-o",
                str(out),
                "-q",
                "--name",
                "orders",
                "--version",
                "1.4.2",
            ]
        )
        == 0
    )
    actuator = Actuator(settings={"info": {"build_file": out}})
    info = read_info(actuator)
    assert info["git"] == {
        "branch": "main",
        "commit": {"id": commit[:7], "full": commit, "time": COMMIT_DATE_UTC, "message": "Ship it"},
        "dirty": False,
    }
    assert info["build"]["version"] == "1.4.2"


def test_output_dash_prints_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit = init_repo(tmp_path / "repo")
    assert main(["build-info", "--cwd", str(tmp_path / "repo"), "-o", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["git"]["commit"] == commit
    assert not (tmp_path / "repo" / "-").exists()


def test_python_dash_m_actuator_build_info(tmp_path: Path) -> None:
    commit = init_repo(tmp_path)
    result = run_module("build-info", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert json.loads((tmp_path / "build-info.json").read_text())["git"]["commit"] == commit


def test_help(tmp_path: Path) -> None:
    result = run_module("build-info", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "--output" in result.stdout
    assert "GITHUB_SHA" in result.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"actuator {__version__}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["build-info", "--cwd", "missing-dir"],
            "actuator build-info: error: 'missing-dir' is not a directory",
        ),
        (["build-info", "-o", "blocker/build-info.json"], "actuator build-info: error:"),
        (["build-info", "--colour"], "unrecognized arguments: --colour"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_errors_exit_2_with_a_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("a file where a directory is needed")
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code  # type: ignore[assignment]
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_failing_command_prints_no_traceback(tmp_path: Path) -> None:
    result = run_module("build-info", "--cwd", "missing-dir", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "actuator build-info: error: 'missing-dir' is not a directory\n"


def test_settings_prints_what_the_environment_makes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACTUATOR_HEALTH__TIMEOUT", "0.3")
    monkeypatch.setenv("ACTUATOR_EXPOSURE__INCLUDE", "health,info")
    assert main(["settings"]) == 0
    effective = json.loads(capsys.readouterr().out)
    assert effective["health"]["timeout"] == 0.3
    assert effective["exposure"]["include"] == ["health", "info"]


def test_settings_names_an_invalid_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACTUATOR_HEALTH__SHOW_DETAILS", "sometimes")
    assert main(["settings"]) == 2
    error = capsys.readouterr().err
    assert "health.show_details (ACTUATOR_HEALTH__SHOW_DETAILS)" in error
    assert "Traceback" not in error


def test_settings_reference_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "--reference"]) == 0
    table = capsys.readouterr().out
    assert "| `health.timeout` | `ACTUATOR_HEALTH__TIMEOUT` | `0.5` |" in table
    assert "`ACTUATOR_SECURITY__ROLES__FULL`" in table
