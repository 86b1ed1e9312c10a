"""A real headless Chromium (Debian's chromium, driven through chromium-driver by Selenium) for
the desktop's tests.

The daemon under test runs in the test's process, in gevent greenlets; Selenium's calls block.
So every WebDriver call (but starting and quitting the browser, before and after the test) goes
through tests.blocking: a native thread of gevent's threadpool, unpatched, or directly under
monkey-patching, where Selenium's sockets yield; either way the daemon goes on serving the
page. Waits poll the page with JavaScript (``until``) and yield between polls.
"""

import os
import shutil
import tempfile

import gevent
import pytest

from tests.blocking import blocking

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
#: As the machine's notes say: without the background-networking flags Chromium keeps trying
#: to reach Google's hosts, which a closed network refuses.
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1366,800")


class Browser:
    def __init__(self, shots, flags=()):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.path.exists(path):
                pytest.fail(f"{path} is missing: `make test` installs Debian's chromium and "
                            "chromium-driver (apt-get install chromium chromium-driver)")
        self.profile = tempfile.mkdtemp(prefix="acd-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS + tuple(flags) + (f"--user-data-dir={self.profile}",):
            options.add_argument(flag)
        self.shots = shots
        # started and quit in the test's own thread: the driver's process must be a child of
        # it (under gevent's patching, a child process needs the main loop's child watcher)
        self.driver = webdriver.Chrome(options=options,
                                       service=Service(executable_path=CHROMEDRIVER))

    def get(self, url):
        blocking(self.driver.get, url)

    def js(self, script, *args):
        return blocking(self.driver.execute_script, script, *args)

    def text(self, css):
        return self.js("const e = document.querySelector(arguments[0]); "
                       "return e ? e.textContent : null;", css)

    def visible(self, css):
        return self.js("const e = document.querySelector(arguments[0]); "
                       "return !!e && e.offsetParent !== null;", css)

    def element(self, css):
        from selenium.webdriver.common.by import By
        return blocking(self.driver.find_element, By.CSS_SELECTOR, css)

    def click(self, css):
        element = self.element(css)
        blocking(element.click)

    def type(self, css, text):
        element = self.element(css)
        blocking(element.clear)
        blocking(element.send_keys, text)

    def select(self, css, value):
        from selenium.webdriver.support.select import Select
        element = self.element(css)
        blocking(lambda: Select(element).select_by_value(value))

    def until(self, check, timeout=10.0, what="the page to change"):
        """Poll ``check()`` until it returns something true; that value."""
        deadline = gevent.get_hub().loop.now() + timeout
        while True:
            found = check()
            if found:
                return found
            if gevent.get_hub().loop.now() > deadline:
                self.screenshot("timeout")
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                     f"page: {self.text('body')!r:.600}")
            gevent.sleep(0.05)

    def until_text(self, css, wanted, timeout=10.0):
        return self.until(lambda: wanted in (self.text(css) or ""), timeout,
                          f"{css} to show {wanted!r}")

    def screenshot(self, name):
        path = self.shots / f"{name}.png"
        blocking(self.driver.save_screenshot, str(path))
        return path

    def console_errors(self):
        logs = blocking(self.driver.get_log, "browser")
        return [entry for entry in logs if entry["level"] == "SEVERE"]

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browser(tmp_path):
    """A Browser; its screenshots go to the test's folder (``tmp_path/screenshots``)."""
    shots = tmp_path / "screenshots"
    shots.mkdir()
    b = Browser(shots)
    yield b
    b.close()


#: The softphone's test (tests/test_softphone.py): a fake microphone, no permission prompt.
MEDIA_FLAGS = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
               "--autoplay-policy=no-user-gesture-required")


@pytest.fixture
def media_browser(tmp_path):
    """A Browser with fake media devices (getUserMedia answers with a test tone)."""
    shots = tmp_path / "screenshots"
    shots.mkdir()
    b = Browser(shots, MEDIA_FLAGS)
    yield b
    b.close()
