"""The notifications page in a real browser: a real console (``actuator fleet serve``)
notifying a real webhook server, read and muted through headless Chromium.

``ACTUATOR_SCREENSHOTS=docs/img/fleet`` refreshes the docs' image of the page.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from actuator import hash_token
from tests.fleet.fleetrun import serve_console
from tests.fleet.notify.support import Receiver, webhook_server
from tests.fleet.support import INGEST, INGEST_TOKEN, READ_TOKEN, register
from tests.fleet.web.test_browser import FULL_TOKEN, headless_chromium, wait_for
from tests.support.server import ROOT, poll

CONFIG = """\
[ingest_tokens]
gateway = "{ingest}"

[settings.security]
tokens = {{ ops = "{read}", admin = "{full}" }}
roles.read = ["ops"]
roles.full = ["admin"]

[notifications]
interval = 0.2

[notifications.channels.ops]
type = "webhook"
url = "{hook}/hook"

[notifications.rules.down]
channels = ["ops"]
flap_changes = 0
"""


@pytest.fixture(scope="module")
def hook() -> Iterator[tuple[Receiver, str]]:
    with webhook_server() as served:
        yield served


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, hook: tuple[Receiver, str]) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("fleet")
    config = workdir / "fleet.toml"
    config.write_text(
        CONFIG.format(
            ingest=hash_token(INGEST_TOKEN),
            read=hash_token(READ_TOKEN),
            full=hash_token(FULL_TOKEN),
            hook=hook[1],
        )
    )
    with serve_console(config, f"sqlite:///{workdir / 'fleet.db'}") as server:
        receiver, _ = hook
        # The first round places the cursor; only changes after it are notified,
        # so orders-1 goes UP and DOWN until one is.
        poll(lambda: _notified(receiver, server.url), timeout=30, interval=0.5)
        yield server.url


def _notified(receiver: Receiver, url: str) -> bool | None:
    if receiver.received:
        return True
    for code in ("UP", "DOWN"):
        updates = [register("orders-1", code), register("orders-2")]
        answer = httpx.post(f"{url}/fleet/api/ingest", json={"updates": updates}, headers=INGEST)
        answer.raise_for_status()
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with headless_chromium() as driver:
        yield driver


def test_an_operator_reads_the_log_and_mutes_a_service(
    console: str, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(console + "/fleet/notifications")
    browser.find_element(By.ID, "token").send_keys(FULL_TOKEN, Keys.ENTER)
    wait_for(browser, lambda d: d.find_elements(By.ID, "deliveries"))
    log = browser.find_element(By.ID, "deliveries").text
    assert "orders-1" in log
    assert "HTTP 200" in log
    assert "DOWN" in log

    browser.find_element(By.ID, "mute-services").send_keys("orders")
    reason = browser.find_element(By.ID, "mute-reason")
    reason.send_keys("upgrade", Keys.ENTER)  # the keyboard submits the form
    wait_for(browser, lambda d: "services orders" in d.find_element(By.ID, "mutes").text)
    assert "upgrade" in browser.find_element(By.ID, "mutes").text

    path = tmp_path / "notifications.png"
    browser.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("ACTUATOR_SCREENSHOTS")
    if target:
        destination = Path(target) if Path(target).is_absolute() else ROOT / target
        shutil.copy(path, destination / path.name)

    browser.find_element(By.XPATH, "//button[text()='End now']").click()
    wait_for(browser, lambda d: "No mute." in d.find_element(By.ID, "mutes").text)
