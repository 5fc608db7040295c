"""The dashboard in a real browser: Debian's Chromium, headless, through chromedriver.

One console (``actuator fleet serve``, real uvicorn) and two real instances
(uvicorn apps with the actuator pushing to it) for the module, plus simulated
instances through the ingest API so the pages hold a fleet; one browser session
shared by the tests, which run in order (log in, filter, open a group, open an
instance, watch a change arrive). Each page is saved as a screenshot: in the
test's temp dir, and in ``$ACTUATOR_SCREENSHOTS`` when set
(``ACTUATOR_SCREENSHOTS=docs/img/fleet pytest tests/fleet/web/test_browser.py``
refreshes the docs' images).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from actuator import hash_token
from tests.fleet.fleetrun import serve_console
from tests.fleet.support import INGEST, INGEST_TOKEN, READ_TOKEN
from tests.support.server import ROOT, UvicornProcess, free_port, poll

FULL_TOKEN = "admin-token-0123456789abcdefghijk"
INSTANCE_TOKEN = "console-to-instances-0123456789abcd"
"""The console's credential on the instances, for the read proxy and the actions."""
TOKEN_ENV = "DASH_BROWSER_ACTUATOR_TOKEN"
WAIT = 20.0

CONFIG = """\
sweep_interval = 1

[ingest_tokens]
gateway = "{ingest}"

[dashboard]
poll_interval = 0.5

[reach]
timeout = 3
token_env = "DASH_BROWSER_ACTUATOR_TOKEN"

[actions]
poll_interval = 0.1

[settings.security]
tokens = {{ ops = "{read}", admin = "{full}" }}
roles.read = ["ops"]
roles.full = ["admin"]
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no chromium on PATH: scripts/system-deps.sh installs it")


def chromedriver() -> str:
    found = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not Path(found).exists():
        raise RuntimeError("no chromedriver: scripts/system-deps.sh installs chromium-driver")
    return found


def simulated() -> list[dict[str, Any]]:
    """A fleet around the real instances: several services, versions and statuses."""
    updates = []
    for n, (service, env, versions, down) in enumerate(
        [
            ("billing", "prod", ["2.1.0", "2.1.0", "2.0.9"], 0),
            ("billing", "staging", ["2.2.0-rc1"], 0),
            ("search", "prod", ["0.9.4"] * 4, 1),
            ("gateway", "prod", ["5.0.1", "5.0.1", "5.0.0", "4.9.8", "4.9.7"], 0),
            ("payments", "prod", ["3.3.0", "3.3.0"], 0),
        ]
    ):
        for i, version in enumerate(versions):
            updates.append(
                {
                    "type": "register",
                    "id": f"{service}-{env}-{i}",
                    "status": "DOWN" if i < down else "UP",
                    "components": ["index"] if i < down else [],
                    "service": service,
                    "version": version,
                    "facts": {
                        "environment": env,
                        "application": "shop",
                        "team": "payments" if service == "payments" else f"team-{n}",
                    },
                }
            )
    return updates


@dataclass
class Fleet:
    console: UvicornProcess
    instances: list[UvicornProcess]
    screenshots: list[Path]

    @property
    def url(self) -> str:
        return self.console.url + "/fleet/"


def instance(console_url: str, iid: str, version: str, team: str) -> UvicornProcess:
    port = free_port()
    env = {
        "APP_VERSION": version,
        "ACTUATOR_FLEET__URL": console_url,
        "ACTUATOR_FLEET__TOKEN": INGEST_TOKEN,
        "ACTUATOR_FLEET__INSTANCE_ID": iid,
        "ACTUATOR_FLEET__CHECK_INTERVAL": "0.2",
        "ACTUATOR_FLEET__MANAGEMENT_URL": f"http://127.0.0.1:{port}/actuator",
        "ACTUATOR_INFO__FACTS": json.dumps(
            {"environment": "prod", "application": "shop", "team": team, "region": "eu"}
        ),
        "ACTUATOR_HEALTH__SHOW_DETAILS": "always",
        "ACTUATOR_HEALTH__EVENT_LOOP__ENABLED": "false",
        "ACTUATOR_HEALTH__DISK_SPACE__ENABLED": "false",
        "ACTUATOR_EXPOSURE__INCLUDE": "*",
        # The console reads and acts with this token (full role).
        "ACTUATOR_SECURITY__TOKENS": json.dumps({"console": hash_token(INSTANCE_TOKEN)}),
        "ACTUATOR_SECURITY__ROLES__FULL": '["console"]',
        "ACTUATOR_ACCESS__DEFAULT": "unrestricted",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.fleet.web.instance_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return UvicornProcess("", command=command, env=env)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    workdir = tmp_path_factory.mktemp("fleet")
    config = workdir / "fleet.toml"
    config.write_text(
        CONFIG.format(
            ingest=hash_token(INGEST_TOKEN),
            read=hash_token(READ_TOKEN),
            full=hash_token(FULL_TOKEN),
        )
    )
    with serve_console(
        config, f"sqlite:///{workdir / 'fleet.db'}", env={TOKEN_ENV: INSTANCE_TOKEN}
    ) as console:
        answer = httpx.post(
            console.url + "/fleet/api/ingest",
            json={"updates": simulated()},
            headers=INGEST,
            timeout=10,
        )
        answer.raise_for_status()
        apps = [
            instance(console.url, "orders-a", "1.4.2", "orders"),
            instance(console.url, "orders-b", "1.5.0", "orders"),
        ]
        for app in apps:
            app.start()
        try:
            for iid in ("orders-a", "orders-b"):
                poll(
                    lambda iid=iid: (
                        httpx.get(  # type: ignore[misc]
                            f"{console.url}/fleet/api/instances/{iid}",
                            headers={"authorization": f"Bearer {READ_TOKEN}"},
                            timeout=5,
                        ).status_code
                        == 200
                        or None
                    ),
                    timeout=30,
                )
            yield Fleet(console, apps, [])
        finally:
            for app in apps:
                app.stop()


@contextlib.contextmanager
def headless_chromium() -> Iterator[WebDriver]:
    """Debian's chromium through chromium-driver, headless, a laptop-sized window."""
    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver()), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with headless_chromium() as driver:
        yield driver


def wait_for(driver: WebDriver, predicate: Any, timeout: float = WAIT) -> Any:
    # Live updates swap parts of the page: an element read mid-swap is stale, not wrong.
    return WebDriverWait(
        driver,
        timeout,
        poll_frequency=0.1,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(predicate)


def screenshot(driver: WebDriver, fleet: Fleet, name: str, tmp: Path) -> None:
    path = tmp / f"{name}.png"
    # The whole page, not only the window: as tall as the document.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(max(900, int(height) + 120), 3000))
    driver.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("ACTUATOR_SCREENSHOTS")
    if target:
        destination = Path(target) if Path(target).is_absolute() else ROOT / target
        destination.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, destination / path.name)
    fleet.screenshots.append(path)
    driver.set_window_size(width, 900)


def groups_listed(driver: WebDriver) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.groups tbody td a")]


def test_logging_in_leads_to_the_overview(fleet: Fleet, browser: WebDriver, tmp_path: Path) -> None:
    browser.get(fleet.url)
    assert "/fleet/login" in browser.current_url
    token = browser.find_element(By.ID, "token")
    screenshot(browser, fleet, "login", tmp_path)
    token.send_keys(READ_TOKEN, Keys.ENTER)  # the keyboard submits the form
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "table.groups"))
    assert browser.current_url == fleet.url
    assert "Signed in as ops" in browser.find_element(By.CSS_SELECTOR, "header").text
    names = groups_listed(browser)
    assert names[0] == "search/prod/shop"  # the DOWN group first
    assert "orders/prod/shop" in names
    counts = browser.find_element(By.ID, "counts").text
    assert "17 instances in 6 groups" in counts
    # The session cookie is not readable by scripts.
    assert "fleet_session" not in browser.execute_script("return document.cookie")
    screenshot(browser, fleet, "overview", tmp_path)


def test_filtering_by_a_fact_from_the_keyboard(
    fleet: Fleet, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(fleet.url)
    field = browser.find_element(By.ID, "f-where")
    field.send_keys("team=payments", Keys.ENTER)
    wait_for(browser, lambda d: "where=team%3Dpayments" in d.current_url)
    assert groups_listed(browser) == ["payments/prod/shop"]
    assert browser.find_element(By.ID, "f-where").get_attribute("value") == "team=payments"
    screenshot(browser, fleet, "overview-filtered", tmp_path)


def test_a_bad_filter_gets_an_error_page(fleet: Fleet, browser: WebDriver) -> None:
    browser.get(fleet.url + "?where=nonsense")
    assert "takes fact=value" in browser.find_element(By.TAG_NAME, "h1").text


def test_opening_a_group_shows_its_instances_versions_and_history(
    fleet: Fleet, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(fleet.url + "?service=orders")
    browser.find_element(By.LINK_TEXT, "orders/prod/shop").click()
    wait_for(browser, lambda d: "/fleet/groups/" in d.current_url)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("orders/prod/shop")
    members = browser.find_element(By.ID, "members").text
    assert "orders-a" in members
    assert "orders-b" in members
    versions = browser.find_element(By.ID, "summary").text
    assert "1.4.2" in versions
    assert "1.5.0" in versions
    assert browser.find_elements(By.CSS_SELECTOR, "#history .timeline li")
    screenshot(browser, fleet, "group", tmp_path)


def test_opening_an_instance_shows_its_facts_and_links(
    fleet: Fleet, browser: WebDriver, tmp_path: Path
) -> None:
    browser.find_element(By.LINK_TEXT, "orders-a").click()
    wait_for(browser, lambda d: d.current_url.endswith("/fleet/instances/orders-a"))
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("orders-a")
    facts = browser.find_element(By.CSS_SELECTOR, "table.compact").text
    assert "team orders" in facts
    link = browser.find_element(By.LINK_TEXT, "health").get_attribute("href")
    assert link is not None
    assert link.endswith("/fleet/api/instances/orders-a/actuator/health")
    # The live parts are loaded after the page, through the console.
    for part in ("health", "info", "loggers", "pause"):
        wait_for(
            browser,
            lambda d, p=part: d.find_element(By.ID, f"live-{p}").get_attribute("data-loaded"),
        )
    assert "db" in browser.find_element(By.ID, "live-health").text
    assert "Running" in browser.find_element(By.ID, "live-pause").text
    assert "ROOT" in browser.find_element(By.ID, "live-loggers").text
    screenshot(browser, fleet, "instance", tmp_path)


def test_a_status_change_appears_on_the_overview_without_a_reload(
    fleet: Fleet, browser: WebDriver
) -> None:
    browser.get(fleet.url + "?service=orders")
    browser.execute_script("window.notReloaded = true")
    badge = "table.groups tbody tr .status"
    assert browser.find_element(By.CSS_SELECTOR, badge).text.endswith(" UP")
    orders_a = fleet.instances[0]
    httpx.post(orders_a.url + "/db/down", timeout=5).raise_for_status()
    try:
        wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, badge).text.endswith(" DOWN"))
        assert browser.execute_script("return window.notReloaded") is True
        assert "Updated" in browser.find_element(By.ID, "live-status").text
    finally:
        httpx.post(orders_a.url + "/db/up", timeout=5).raise_for_status()
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, badge).text.endswith(" UP"))


def test_the_overview_fits_a_phone_screen(fleet: Fleet, browser: WebDriver, tmp_path: Path) -> None:
    browser.set_window_size(390, 844)
    try:
        browser.get(fleet.url)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0
        screenshot(browser, fleet, "overview-phone", tmp_path)
    finally:
        browser.set_window_size(1280, 900)


def test_logging_out_ends_the_session(fleet: Fleet, browser: WebDriver) -> None:
    browser.get(fleet.url)
    browser.find_element(By.CSS_SELECTOR, "form.who button").click()
    wait_for(browser, lambda d: "/fleet/login" in d.current_url)
    browser.get(fleet.url)
    assert "/fleet/login" in browser.current_url


def log_in(browser: WebDriver, fleet: Fleet, token: str) -> None:
    browser.get(fleet.console.url + "/fleet/login")
    browser.find_element(By.ID, "token").send_keys(token, Keys.ENTER)
    wait_for(browser, lambda d: d.current_url == fleet.url)


def run_from_the_instance_page(
    browser: WebDriver, fleet: Fleet, action: str, tmp_path: Path, shots: bool
) -> None:
    browser.get(fleet.console.url + "/fleet/instances/orders-b")
    browser.find_element(By.CSS_SELECTOR, f'form.act button[value="{action}"]').click()
    wait_for(browser, lambda d: d.current_url.endswith("/fleet/actions/preview"))
    assert browser.find_element(By.TAG_NAME, "h1").text == f"{action.capitalize()} 1 instance?"
    assert "Nothing has been sent yet" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    if shots:
        screenshot(browser, fleet, "action-preview", tmp_path)
    browser.find_element(By.ID, "reason").send_keys("browser test")
    browser.find_element(By.CSS_SELECTOR, "button.primary").click()
    wait_for(
        browser, lambda d: "/fleet/actions/" in d.current_url and "preview" not in d.current_url
    )
    # The progress page follows the action until it is done, without a reload.
    wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "h1").text.endswith("succeeded"))
    assert "1 of 1 done: 1 succeeded" in browser.find_element(By.ID, "progress").text
    # Journalled as the user who logged in, and how: never "authenticator".
    assert "admin (dashboard session: bearer token" in browser.find_element(By.TAG_NAME, "dl").text
    if shots:
        screenshot(browser, fleet, "action", tmp_path)


def test_pausing_and_resuming_an_instance_through_the_dashboard(
    fleet: Fleet, browser: WebDriver, tmp_path: Path
) -> None:
    log_in(browser, fleet, FULL_TOKEN)
    run_from_the_instance_page(browser, fleet, "pause", tmp_path, shots=True)
    browser.get(fleet.console.url + "/fleet/instances/orders-b")
    wait_for(browser, lambda d: "Paused" in d.find_element(By.ID, "live-pause").text)
    wait_for(browser, lambda d: "OUT_OF_SERVICE" in d.find_element(By.TAG_NAME, "h1").text)
    run_from_the_instance_page(browser, fleet, "resume", tmp_path, shots=False)
    browser.get(fleet.console.url + "/fleet/actions")
    journal = browser.find_element(By.ID, "journal").text
    assert "pause" in journal
    assert "resume" in journal
    assert "admin" in journal
    screenshot(browser, fleet, "actions", tmp_path)
