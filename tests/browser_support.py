"""What the browser tests share: Debian's Chromium driven by Playwright (Playwright cannot download
its own browser here), the launch flags that work as root, the marks that skip a test, saying why,
when either is absent, the users of each role and how they sign in, and the waits that keep a test in
step with Dash. The ``browser``, ``page`` and signed-in page fixtures are in tests/conftest.py."""

from __future__ import annotations

import os
import re

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT = 30_000  # ms for any page action
VIEWPORT = {"width": 1400, "height": 1000}
# role -> (user name, password) in the users file of tests/conftest.py
USERS = {"manager": ("mona", "manager-pass"), "auditor": ("audrey", "auditor-pass")}

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,  # a server and a browser: end to end
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
]


def playwright():
    """playwright.sync_api, or the calling test skipped, saying why."""
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


def launch(p):
    """Debian's Chromium from a started ``sync_playwright()``."""
    return p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


def needs_chromium(test):
    """One test (in a module of other tests) marked as a browser test and skipped, saying why,
    without Chromium."""
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


def sign_in(page, base: str, role: str, start: str = "/") -> None:
    """Sign in on the app at ``base`` as the user of ``role``, asking for ``start``; returns once the
    app has left the sign-in page."""
    name, password = USERS[role]
    page.goto(f"{base}/login?next={start}")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login-button")
    page.wait_for_url(lambda url: "/login" not in url)


def settle(page) -> None:
    """Wait until Dash has no request in flight (the view of a new URL is rendered)."""
    page.wait_for_timeout(150)
    page.wait_for_function("() => window.store && !window.store.getState().isLoading")


def choose(page, dropdown: str, value: str, url: str | None = None) -> None:
    """Pick the option of ``value`` in a dcc.Dropdown, wait for the URL it opens (ending in ``url``, when
    given), then until Dash has rendered that view: a dropdown opened while the filter bar re-renders
    loses its options."""
    page.click(dropdown)
    page.click(f'[role="option"]:has(input[value="{value}"])')
    if url is not None:
        page.wait_for_url(re.compile(re.escape(url) + "$"))
    settle(page)
