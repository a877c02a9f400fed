import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[2]


def new_browser(folder):
    """A headless Chromium with its own profile (and so its own session) under `folder`."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("Debian chromium and chromium-driver are needed (deploy/bootstrap.sh test)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={folder / 'profile'}",
    ):
        options.add_argument(flag)
    downloads = folder / "downloads"
    downloads.mkdir(parents=True)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.downloads = downloads
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture
def browser(tmp_path):
    driver = new_browser(tmp_path)
    yield driver
    driver.quit()


@pytest.fixture
def browsers(tmp_path):
    """make() another browser (another person); all quit at the end."""
    drivers = []

    def make():
        drivers.append(new_browser(tmp_path / f"browser{len(drivers)}"))
        return drivers[-1]

    yield make
    for driver in drivers:
        driver.quit()


ARTIFACTS = Path(os.environ.get("CRIMEBOX_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
SIZES = {"laptop": (1400, 900), "phone": (390, 844)}
_saved: list[Path] = []


@pytest.fixture
def shoot(browser, request):
    """shoot(name): screenshots of the current page at laptop and phone width (the whole
    page's height), saved under test-artifacts/screenshots/<test>/ for a reviewer."""

    def take(name: str, sizes=("laptop", "phone")) -> list[Path]:
        folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for size in sizes:
            width, height = SIZES[size]
            browser.set_window_size(width, height)
            full = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(width, min(max(height, full + 120), 4000))
            path = folder / f"{name}-{size}.png"
            browser.save_screenshot(str(path))
            paths.append(path)
        browser.set_window_size(*SIZES["laptop"])
        _saved.extend(paths)
        return paths

    return take


def pytest_terminal_summary(terminalreporter):
    if _saved:
        terminalreporter.write_line(f"browser screenshots ({len(_saved)}): {ARTIFACTS}")
