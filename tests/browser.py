"""A headless Chromium driven by selenium, for the admin pages in a real browser (tests/test_admin_browser.py).

Debian's chromium and chromium-driver (`make test` installs them): selenium is handed the driver's path,
so Selenium Manager never downloads a driver or a browser. Without them the browser tests are skipped,
except in CI (CI=true), where a missing browser fails them. Each browser has a fresh profile, saves the
files it downloads and the screenshots it takes under its test's directory; a page that never shows
what a test waits for is saved as a screenshot too, and the failure names it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 15.0  # seconds a page has to show what a test waits for (two busy cores, a suite beside it)
WINDOW = (1280, 900)


def require_chromium() -> None:
    """Skips the test without Debian's chromium and chromium-driver; in CI that is a failure."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        message = (
            f"browser tests need {' and '.join(missing)} (Debian: chromium chromium-driver; make test installs them)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def chromium_options(profile: Path, downloads: Path) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.add_argument("--headless=new")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    options.add_argument(f"--user-data-dir={profile}")
    # a container's /dev/shm is often 64 MB: Chromium's renderer would crash in it
    options.add_argument("--disable-dev-shm-usage")
    if os.geteuid() == 0:  # Chromium refuses to start as root inside its sandbox (CI runs as root)
        options.add_argument("--no-sandbox")
    # a download is saved there without asking (headless=new honours the profile's prefs)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    return options


@dataclasses.dataclass
class Browser:
    driver: webdriver.Chrome
    screenshots: Path
    downloads: Path
    _failures: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def open(self, url: str) -> None:
        self.driver.get(url)

    @property
    def path(self) -> str:
        """The path of the page shown (no query): what a redirect or a form's answer is checked by."""
        return urlsplit(self.driver.current_url).path

    def shot(self, name: str) -> Path:
        """A screenshot of the window as `<name>.png`: the page as an admin sees it."""
        path = self.screenshots / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), f"no screenshot of {self.driver.current_url}"
        return path

    def fail(self, what: str) -> NoReturn:
        """Fails the test naming `what`, the page shown and a screenshot of it."""
        shown = self.shot(f"failure-{next(self._failures)}")
        pytest.fail(f"{what}; the browser is on {self.driver.current_url} ({self.driver.title!r}), screenshot {shown}")

    def wait(self, what: str, condition: Callable[[webdriver.Chrome], Any], seconds: float = WAIT) -> Any:
        """condition's first true answer, asked until `seconds` have passed."""
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.1).until(condition)
        except TimeoutException:
            self.fail(f"{what} not within {seconds} s")

    def find(self, css: str, seconds: float = WAIT) -> WebElement:
        """The first element the CSS selector matches, once the page has it."""
        return self.wait(f"an element {css!r}", lambda driver: driver.find_elements(By.CSS_SELECTOR, css), seconds)[0]

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def on(self, path: str, seconds: float = WAIT) -> None:
        """Waits until the browser shows the page at `path` (a link followed, a form answered, a redirect)."""
        self.wait(f"the page {path}", lambda _: self.path == path, seconds)

    def reload_until(self, css: str, seconds: float = WAIT, every: float = 0.5) -> list[WebElement]:
        """The elements matching css, reloading the page until there are some: what a background writer adds."""
        deadline = time.monotonic() + seconds
        while not (found := self.find_all(css)):
            if time.monotonic() > deadline:
                self.fail(f"no element {css!r} after reloading for {seconds} s")
            time.sleep(every)
            self.driver.refresh()
        return found

    def downloaded(self, name: str, seconds: float = WAIT) -> Path:
        """The file `name` the browser downloads, once it is complete (Chromium writes *.crdownload first)."""
        path = self.downloads / name
        deadline = time.monotonic() + seconds
        while not path.exists() or any(self.downloads.glob("*.crdownload")):
            if time.monotonic() > deadline:
                held = sorted(found.name for found in self.downloads.iterdir())
                self.fail(f"no download {name} within {seconds} s (the download directory holds {held})")
            time.sleep(0.1)
        return path


@contextlib.contextmanager
def headless_chromium(directory: Path) -> Iterator[Browser]:
    """A headless Chromium with a fresh profile in `directory`, its downloads and screenshots beside it."""
    require_chromium()
    profile, downloads, screenshots = (directory / name for name in ("profile", "downloads", "screenshots"))
    for made in (profile, downloads, screenshots):
        made.mkdir(parents=True, exist_ok=True)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(directory / "chromedriver.log"))
    driver = webdriver.Chrome(options=chromium_options(profile, downloads), service=service)
    try:
        driver.set_page_load_timeout(WAIT * 2)
        yield Browser(driver, screenshots, downloads)
    finally:
        driver.quit()
