import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

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


@pytest.fixture(scope="module")
def module_browser(tmp_path_factory):
    """One Chromium per test module (starting one takes ~1.5 s); `browser` hands it to each
    test as new."""
    driver = new_browser(tmp_path_factory.mktemp("browser"))
    driver.first_size = driver.get_window_size()
    yield driver
    driver.quit()


@pytest.fixture
def browser(module_browser, tmp_path):
    """A headless Chromium as a new person would open it: no cookies, no site storage, the
    default window size, downloads into this test's own folder."""
    driver = module_browser
    driver.downloads = tmp_path / "downloads"
    driver.downloads.mkdir()
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(driver.downloads)}
    )
    yield driver
    forget(driver)


def forget(driver) -> None:
    """Everything a test left in the browser: open dialogs, site storage, cookies, cache."""
    try:
        driver.switch_to.alert.dismiss()
    except Exception:  # no alert open (selenium's NoAlertPresentException and kin)
        pass
    url = urlsplit(driver.current_url)
    driver.get("about:blank")
    if url.scheme in ("http", "https"):
        origin = f"{url.scheme}://{url.netloc}"
        driver.execute_cdp_cmd(
            "Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"}
        )
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.set_window_size(driver.first_size["width"], driver.first_size["height"])


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
