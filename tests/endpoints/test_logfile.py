from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx
import pytest

from actuator.endpoints.logfile import CHUNK, handler_log_file
from tests.support.management import make_actuator, serve

LINES = "".join(f"line {n:05d}\n" for n in range(20_000)).encode()  # 220 kB: several chunks


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "app.log"
    path.write_bytes(LINES)
    return path


async def get(
    path: Path | None, headers: dict[str, str] | None = None, method: str = "GET"
) -> httpx.Response:
    actuator = make_actuator(logfile={"path": str(path) if path else None})
    async with serve(actuator) as http:
        return await http.request(method, "/actuator/logfile", headers=headers)


async def test_the_whole_file_is_served_as_text_with_accept_ranges(log: Path) -> None:
    answer = await get(log)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["content-length"] == str(len(LINES))
    assert answer.content == LINES
    assert len(LINES) > 3 * CHUNK


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        ("bytes=-307200", 0, len(LINES) - 1),  # SBA's first request: more than there is
        ("bytes=-11", len(LINES) - 11, len(LINES) - 1),  # the last line
        ("bytes=100-", 100, len(LINES) - 1),  # SBA's polls: from what it has seen
        ("bytes=0-10", 0, 10),
        ("bytes=5-999999999", 5, len(LINES) - 1),
        ("bytes = 1 - 2", 1, 2),
    ],
)
async def test_a_single_range_is_206_with_content_range(
    log: Path, range_header: str, first: int, last: int
) -> None:
    answer = await get(log, {"Range": range_header})
    assert answer.status_code == 206
    assert answer.headers["content-range"] == f"bytes {first}-{last}/{len(LINES)}"
    assert answer.headers["content-length"] == str(last - first + 1)
    assert answer.content == LINES[first : last + 1]


@pytest.mark.parametrize("range_header", [f"bytes={len(LINES)}-", "bytes=999999999-", "bytes=-0"])
async def test_a_range_past_the_end_is_416_with_the_size(log: Path, range_header: str) -> None:
    answer = await get(log, {"Range": range_header})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{len(LINES)}"
    assert "not satisfiable" in answer.json()["message"]


@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=0-1,5-6",
        "lines=1-2",
        "bytes=-",
        "bytes=9-3",
        "bytes=a-b",
        "bytes=" + "9" * 5000 + "-",
    ],
)
async def test_a_malformed_or_multiple_range_is_400_naming_the_header(
    log: Path, range_header: str
) -> None:
    answer = await get(log, {"Range": range_header})
    assert answer.status_code == 400
    assert answer.json()["header"] == "Range"


async def test_an_empty_file_answers_200_and_any_range_416(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert (await get(empty)).content == b""
    assert (await get(empty, {"Range": "bytes=-100"})).status_code == 416
    assert (await get(empty, {"Range": "bytes=0-"})).status_code == 416


async def test_head_sends_the_headers_only(log: Path) -> None:
    answer = await get(log, {"Range": "bytes=-10"}, method="HEAD")
    assert answer.status_code == 206
    assert answer.headers["content-length"] == "10"
    assert answer.content == b""


async def test_a_missing_file_or_a_non_regular_one_is_404(tmp_path: Path) -> None:
    assert (await get(tmp_path / "nope.log")).status_code == 404
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it to read would block until a writer came
    answer = await get(fifo)
    assert answer.status_code == 404
    assert "not a regular file" in answer.json()["message"]


async def test_no_path_and_no_file_handler_is_404_saying_how_to_set_one() -> None:
    answer = await get(None)
    assert answer.status_code == 404
    assert "logfile.path" in answer.json()["message"]


async def test_the_file_of_the_apps_file_handler_is_found(tmp_path: Path) -> None:
    path = tmp_path / "handler.log"
    logger = logging.getLogger("tests.logfile.app")
    handler = logging.FileHandler(path)
    logger.addHandler(handler)
    try:
        logger.warning("hello from the app")
        handler.flush()
        assert handler_log_file() == path
        answer = await get(None)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert answer.status_code == 200
    assert answer.text == "hello from the app\n"


async def test_the_endpoint_takes_no_path_and_only_text(log: Path) -> None:
    actuator = make_actuator(logfile={"path": str(log)})
    async with serve(actuator) as http:
        below = await http.get("/actuator/logfile/..%2f..%2fetc%2fpasswd")
        other = await http.get("/actuator/logfile/etc")
        json_only = await http.get("/actuator/logfile", headers={"Accept": "application/json"})
    assert below.status_code == 400
    assert other.status_code == 404
    assert json_only.status_code == 406


async def test_discovery_lists_logfile_only_when_there_is_a_file(log: Path) -> None:
    without = make_actuator()
    async with serve(without) as http:
        assert "logfile" not in (await http.get("/actuator")).json()["_links"]
    with_file = make_actuator(logfile={"path": str(log)})
    async with serve(with_file) as http:
        links = (await http.get("/actuator")).json()["_links"]
    assert links["logfile"]["href"] == "http://testserver/actuator/logfile"
