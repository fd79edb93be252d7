"""A real browser for the app's tests: Debian's Chromium driven by Selenium through chromedriver, offline.

Every name but an address such as 127.0.0.1 fails to resolve
(``--host-resolver-rules``), so a page that reached for a CDN would show it;
:func:`foreign_requests` lists what a page loaded from anywhere but the app.
Downloads go to the folder given. Skips only where Chromium or chromedriver
is missing (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chrome(profile: Path, downloads: Path, *, width: int = 1366, height: int = 768, lang: str = "zh-CN"):
    """A headless Chromium at ``width`` x ``height`` (a common office screen), downloading into ``downloads``."""
    if not (os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM)):
        pytest.skip("Chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers on the internet
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", f"--user-data-dir={profile}",
                f"--window-size={width},{height}", f"--lang={lang}"):
        opts.add_argument(arg)
    downloads.mkdir(parents=True, exist_ok=True)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False,
                                           "intl.accept_languages": lang})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    # the window's size includes the browser's own bars: grow it until the page itself has width x height
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])
    return driver


def foreign_requests(driver, origin: str) -> list[str]:
    """What the page (and its frames) loaded from anywhere but ``origin``."""
    urls = driver.execute_script(
        "const out = performance.getEntriesByType('resource').map(e => e.name);"
        "for (const f of document.querySelectorAll('iframe')) {"
        "  try { out.push(...f.contentWindow.performance.getEntriesByType('resource').map(e => e.name)); } catch (e) {} }"
        "return out;")
    return [u for u in urls if not (u.startswith(origin) or u.startswith("data:") or u.startswith("blob:") or u == "about:blank")]


def wait_until(predicate, timeout: float = 60.0, step: float = 0.25, what: str = "a condition"):
    """Poll ``predicate`` until it returns something true; that value, or AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as err:  # noqa: BLE001 - an element not there yet
            last_error = err
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


def click_to_new_page(driver, element, timeout: float = 30.0) -> None:
    """Click ``element`` (a link or a form's button) and wait until the page it was on is gone.

    Without the wait, an element the next page shares with this one (the
    Data page's "make a scenario" button, in one folder and the next) can be
    found on the old page and go stale before it is clicked.
    """
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def gone() -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        return False

    wait_until(gone, timeout, what="the next page")


def wait_for_download(folder: Path, suffix: str, timeout: float = 60.0) -> Path:
    return wait_until(lambda: next((p for p in folder.glob(f"*{suffix}") if p.stat().st_size > 0), None), timeout,
                      what=f"a {suffix} download in {folder}")
