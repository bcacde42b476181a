"""What the browser tests share: Debian's Chromium driven by Playwright (Playwright cannot download
its own browser here), the launch flags that work as root, the marks that skip a test, saying why,
when either is absent, and the ``browser`` / ``page`` fixtures (a page fails its test on any
JavaScript error). A test module imports the fixtures it uses by name."""

from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT = 30_000  # ms for any page action
VIEWPORT = {"width": 1400, "height": 1000}

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
]


def playwright():
    """playwright.sync_api, or the calling test skipped, saying why."""
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


def launch(p):
    """Debian's Chromium from a started ``sync_playwright()``."""
    return p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


@pytest.fixture(scope="module")
def browser():
    with playwright().sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors[:3]}"


def needs_chromium(test):
    """One test (in a module of other tests) marked as a browser test and skipped, saying why,
    without Chromium."""
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test
