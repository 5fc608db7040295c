from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from actuator import Actuator
from tests.support.asgi import get_once

BUILD_FILE: dict[str, dict[str, Any]] = {
    "build": {
        "name": "orders",
        "version": "1.4.2",
        "artifact": "orders",
        "time": "2026-05-04T09:20:00Z",
    },
    "git": {
        "branch": "main",
        "commit": "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        "commit_time": "2026-05-04T09:12:44Z",
        "commit_message": "Ship it",
        "dirty": False,
    },
}


@pytest.fixture(autouse=True)
def _no_info_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACTUATOR_INFO__BUILD_FILE", "ACTUATOR_INFO__EXCLUDE"):
        monkeypatch.delenv(name, raising=False)


async def get_info(actuator: Actuator) -> httpx.Response:
    return await get_once(actuator, "/actuator/info")


def make(build_file: Path | None, **info: Any) -> Actuator:
    return Actuator(
        settings={"exposure": {"include": ["info"]}, "info": {"build_file": build_file, **info}}
    )


def write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


async def test_build_and_git_come_from_the_build_info_file(tmp_path: Path) -> None:
    body = (await get_info(make(write(tmp_path / "b.json", BUILD_FILE)))).json()
    assert body["build"] == BUILD_FILE["build"]
    assert body["git"] == {
        "branch": "main",
        "commit": {
            "id": "3f2a9c1",
            "full": "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
            "time": "2026-05-04T09:12:44Z",
            "message": "Ship it",
        },
        "dirty": False,
    }


async def test_environment_variables_override_single_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTUATOR_EXPOSURE__INCLUDE", "info")
    monkeypatch.setenv("ACTUATOR_INFO__BUILD_FILE", str(write(tmp_path / "b.json", BUILD_FILE)))
    monkeypatch.setenv("ACTUATOR_INFO__BUILD__VERSION", "1.4.3")
    monkeypatch.setenv("ACTUATOR_INFO__GIT__BRANCH", "hotfix")
    monkeypatch.setenv("ACTUATOR_INFO__GIT__DIRTY", "true")
    body = (await get_info(Actuator())).json()
    assert body["build"] == {**BUILD_FILE["build"], "version": "1.4.3"}
    assert body["git"]["branch"] == "hotfix"
    assert body["git"]["dirty"] is True
    assert body["git"]["commit"]["id"] == "3f2a9c1"


async def test_environment_alone_without_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTUATOR_INFO__GIT__COMMIT", "0123456789abcdef")
    monkeypatch.setenv("ACTUATOR_INFO__GIT__COMMIT_TIME", "2026-05-04T09:12:44Z")
    body = (await get_info(make(tmp_path / "absent.json"))).json()
    assert "build" not in body
    assert body["git"] == {
        "commit": {"id": "0123456", "full": "0123456789abcdef", "time": "2026-05-04T09:12:44Z"}
    }


async def test_sections_are_left_out_when_there_is_nothing(tmp_path: Path) -> None:
    response = await get_info(make(tmp_path / "absent.json"))
    assert response.status_code == 200
    body = response.json()
    assert "build" not in body
    assert "git" not in body
    assert {"python", "os", "process"} <= set(body)


async def test_the_default_file_is_build_info_json_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "build-info.json", BUILD_FILE)
    actuator = Actuator(settings={"exposure": {"include": ["info"]}})
    assert (await get_info(actuator)).json()["build"]["version"] == "1.4.2"


async def test_an_empty_build_file_setting_switches_the_file_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "build-info.json", "{broken")
    monkeypatch.setenv("ACTUATOR_INFO__BUILD_FILE", "")
    monkeypatch.setenv("ACTUATOR_EXPOSURE__INCLUDE", "info")
    body = (await get_info(Actuator())).json()
    assert "build" not in body
    assert "git" not in body


async def test_a_malformed_file_fills_its_sections_with_an_error_and_info_still_answers(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "b.json", "{not json")
    response = await get_info(make(path, app={"name": "orders"}))
    assert response.status_code == 200
    body = response.json()
    for section in ("build", "git"):
        assert body[section]["error"].startswith("ValueError: cannot read build info file")
        assert str(path) in body[section]["error"]
    assert body["app"] == {"name": "orders"}
    assert body["process"]["pid"] > 0


async def test_a_malformed_git_section_spoils_only_git(tmp_path: Path) -> None:
    path = write(tmp_path / "b.json", {"build": BUILD_FILE["build"], "git": ["main"]})
    response = await get_info(make(path))
    assert response.status_code == 200
    body = response.json()
    assert body["build"] == BUILD_FILE["build"]
    assert body["git"] == {
        "error": f"ValueError: build info file {str(path)!r}: 'git' must be a JSON object"
    }


async def test_a_file_written_after_start_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    actuator = make(path)
    assert "build" not in await actuator.info()
    write(path, BUILD_FILE)
    assert (await actuator.info())["build"]["name"] == "orders"


async def test_sections_can_be_excluded(tmp_path: Path) -> None:
    body = (
        await get_info(make(write(tmp_path / "b.json", BUILD_FILE), exclude=["git", "os"]))
    ).json()
    assert "build" in body
    assert "git" not in body
    assert "os" not in body


async def test_build_name_and_version_default_to_the_apps_for_spring_boot_admin(
    tmp_path: Path,
) -> None:
    bare = Actuator(
        name="orders",
        version="1.4.2",
        settings={"exposure": {"include": ["info"]}, "info": {"build_file": None}},
    )
    assert (await get_info(bare)).json()["build"] == {"name": "orders", "version": "1.4.2"}
    build_file = tmp_path / "build-info.json"
    build_file.write_text(json.dumps({"build": {"version": "1.5.0", "artifact": "orders-api"}}))
    filed = Actuator(
        name="orders",
        version="1.4.2",
        settings={"exposure": {"include": ["info"]}, "info": {"build_file": str(build_file)}},
    )
    assert (await get_info(filed)).json()["build"] == {
        "name": "orders",
        "version": "1.5.0",
        "artifact": "orders-api",
    }
