"""Fixtures the tests share, found by pytest (no import needed):

- ``fixture_info`` / ``snapshot_path``: the dashboards' fixture warehouse (tests/fixtures_warehouse.py)
  and its published snapshot, built once per session; tests read them and copy before writing.
- ``run_review``: runs ``unitreview review`` in this process, ``run_review(input, warehouse, *options)``
  (tests/reviews.py; module-scoped fixtures import ``review`` / ``reviewed`` from there).
- ``samples_review``: one review of data_samples/ per session (its snapshot beside it), read-only.
- ``users_file``: a users file with one manager and one auditor (tests/browser_support.USERS).
- ``browser`` / ``page``: Debian's Chromium and a fresh page that fails its test on a JavaScript error;
  ``signed_in_url`` serves the fixture warehouse's ``signed_in_snapshot`` behind sign-in, ``manager_page`` / ``auditor_page`` are
  pages signed in there as that role.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from dashboards import users
from dashboards.app import create_app
from dashboards.background import running
from tests.browser_support import TIMEOUT, USERS, VIEWPORT, launch, playwright, sign_in
from tests.fixtures_warehouse import FixtureInfo, build_fixture_warehouse, publish
from tests.reviews import SAMPLES, review, reviewed


@pytest.fixture(scope="session")
def run_review() -> Callable[..., Result]:
    return review


@pytest.fixture(scope="session")
def samples_review(tmp_path_factory) -> Path:
    """The warehouse of a review of data_samples/ (``w.snapshot.duckdb`` and the report beside it)."""
    return reviewed(SAMPLES, tmp_path_factory.mktemp("samples-review") / "w.duckdb")


@pytest.fixture(scope="session")
def fixture_info(tmp_path_factory) -> FixtureInfo:
    return build_fixture_warehouse(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")


@pytest.fixture(scope="session")
def snapshot_path(fixture_info, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("published") / "snapshot.duckdb"
    publish(fixture_info.path, target)
    return target


@pytest.fixture(scope="session")
def users_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.toml"
    for role, (name, password) in USERS.items():
        users.add_user(path, name, role, password)
    return path


@pytest.fixture(scope="module")
def browser():
    with playwright().sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _new_page(browser):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


@pytest.fixture()
def page(browser):
    context, pg, errors = _new_page(browser)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors[:3]}"


@pytest.fixture(scope="module")
def signed_in_snapshot(fixture_info, tmp_path_factory) -> Path:
    """The fixture warehouse published for one module's signed-in app: what the app keeps beside its
    snapshot (sessions, audit samples) stays with that module."""
    target = tmp_path_factory.mktemp("signed-in") / "snapshot.duckdb"
    publish(fixture_info.path, target)
    return target


@pytest.fixture(scope="module")
def signed_in_url(signed_in_snapshot, users_file):
    """The URL of the app of ``signed_in_snapshot``, sign-in required."""
    with running(create_app(signed_in_snapshot, users_file, secret_key="signed-in tests")) as url:
        yield url


def _signed_in_page(browser, base: str, role: str):
    context, pg, errors = _new_page(browser)
    sign_in(pg, base, role)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors[:3]}"


@pytest.fixture()
def manager_page(browser, signed_in_url):
    yield from _signed_in_page(browser, signed_in_url, "manager")


@pytest.fixture()
def auditor_page(browser, signed_in_url):
    yield from _signed_in_page(browser, signed_in_url, "auditor")


# a test that asks for one of these runs a review, a server or a browser: end to end, so slow
END_TO_END_FIXTURES = {
    "run_review",
    "samples_review",
    "browser",
    "page",
    "signed_in_url",
    "manager_page",
    "auditor_page",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if END_TO_END_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
