"""The review app in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The overview loads with its figures and filters; a flagged provider opens from the ranking; a
patient-day opens and shows the rule's arithmetic; an export downloads with the right, formula-safe
content; a manager's pages name no patient; a newly published snapshot shows after a reload.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dashboards.app import create_app
from dashboards.background import running
from dashboards.files.safe_export import FORMULA_PREFIXES
from dashboards.data.snapshot import reading
from dashboards import data
from dashboards import users
from tests.browser_support import BROWSER_MARKS, TIMEOUT, browser, page, playwright  # noqa: F401 - fixtures
from tests.dashboard_fixtures import publish
from tests.fixtures_warehouse import build_fixture_warehouse

pytestmark = BROWSER_MARKS
playwright()  # without playwright the module is skipped, saying why


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return build_fixture_warehouse(tmp_path_factory.mktemp("browser") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def snapshot(warehouse, tmp_path_factory):
    target = tmp_path_factory.mktemp("browser-published") / "snapshot.duckdb"
    publish(warehouse.path, target)
    return target


@pytest.fixture(scope="module")
def local_url(snapshot):
    with running(create_app(snapshot, None, secret_key="browser tests")) as url:
        yield url


def open_overview(page, base):
    page.goto(base + "/")
    for graph in ("ov-by-rule", "ov-monthly", "ov-map", "ov-dist"):
        page.wait_for_selector(f"#{graph} .main-svg")
    page.wait_for_selector("#ov-top .ag-row")


def choose(page, dropdown: str, value: str) -> None:
    """Pick the option of ``value`` in a dcc.Dropdown, then wait until Dash has rendered the view of the
    new URL (a dropdown opened while the filter bar re-renders loses its options)."""
    page.click(dropdown)
    page.click(f'[role="option"]:has(input[value="{value}"])')
    page.wait_for_timeout(150)
    page.wait_for_function("() => window.store && !window.store.getState().isLoading")


def open_flagged_provider(page, base, npi):
    open_overview(page, base)
    page.click(f'#ov-top .ag-row[row-id="{npi}"] .ag-cell[col-id="provider_name"]')
    page.wait_for_url(re.compile(rf"/providers/{npi}$"))
    page.wait_for_selector("#provider-title")
    page.wait_for_selector("#pv-findings .ag-row")


def open_patient_day(page, rule="UNITS_OVER_MINUTES"):
    page.click(f'#pv-findings .ag-row:has(.ag-cell[col-id="rule_id"]:text-is("{rule}")) .ag-cell[col-id="rule_id"] >> nth=0')
    page.wait_for_url(re.compile(r"/patient-day/\d+/pt-[0-9a-f]{16}/\d{4}-\d{2}-\d{2}$"))
    page.wait_for_selector("#patient-day-title")
    page.wait_for_selector("#pd-lines .ag-row")


def test_overview_loads_with_figures_and_filters(page, local_url, snapshot):
    open_overview(page, local_url)
    text = page.inner_text("body")
    assert "Snapshot taken at" in text and "local mode (auditor)" in text
    with reading(snapshot) as snap:
        head = data.headline(snap, data.Filters())
        january = data.headline(snap, data.Filters(period="2026-01"))
    assert page.inner_text("#card-findings").endswith(f"{head['findings']:,}")
    assert "peer median" in page.inner_text("#ov-map")
    assert "daily limit 4" in page.inner_text("#ov-dist")
    choose(page, "#f-from", "2026-01")
    page.wait_for_url(re.compile(r"\?from=2026-01$"))
    choose(page, "#f-to", "2026-01")
    page.wait_for_url(re.compile(r"\?from=2026-01&to=2026-01$"))
    page.wait_for_function(
        "n => document.querySelector('#card-findings').innerText.endsWith(n)", arg=f"{january['findings']:,}"
    )
    assert page.inner_text("#card-lines").endswith(f"{january['lines_reviewed']:,}")


def test_flagged_provider_opens_with_peers_trend_and_findings(page, local_url, warehouse):
    open_flagged_provider(page, local_url, warehouse.flagged_npi)
    assert warehouse.flagged_name in page.inner_text("#provider-title")
    assert "OUTLIER" in page.inner_text("body")
    assert "vs peer median" in page.inner_text("#provider-reasons")
    page.wait_for_selector("#pv-peers .main-svg")
    page.wait_for_selector("#pv-trend .main-svg")
    assert "Snapshot taken at" in page.inner_text("body")


def test_patient_day_opens_and_shows_the_arithmetic(page, local_url, warehouse):
    open_flagged_provider(page, local_url, warehouse.flagged_npi)
    open_patient_day(page)
    findings = page.inner_text("#patient-day-findings")
    assert "UNITS_OVER_MINUTES" in findings and "timed minutes support" in findings and "units billed" in findings
    assert "timed minutes support" in page.inner_text("#patient-day-arithmetic")
    grid = page.inner_text("#pd-lines")
    assert "97112" in grid and ("cms" in grid or "ama" in grid)
    assert "PHI-PAT-" in page.inner_text("#patient-day-who")  # local mode is an auditor
    assert "PHI-PAT" not in page.url


def _text_cells_safe(rows: list[dict], numeric: set[str]) -> None:
    for row in rows:
        for key, value in row.items():
            if key in numeric and value not in ("", None):
                float(value)
            else:
                assert not str(value).startswith(FORMULA_PREFIXES), (key, value)


def test_exports_download_right_and_formula_safe(page, local_url, warehouse, snapshot, tmp_path):
    npi = warehouse.flagged_npi
    open_flagged_provider(page, local_url, npi)
    with reading(snapshot) as snap:
        expected_findings = data.provider_findings(snap, npi)
        expected_lines = data.provider_lines(snap, npi)

    with page.expect_download() as info:
        page.click("#export-findings-csv")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name == f"provider-{npi}-all-findings.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == expected_findings.height
    assert sorted(r["rule_id"] for r in rows) == sorted(expected_findings["rule_id"].to_list())
    _text_cells_safe(rows, {"units_over", "amount_at_risk", "line_number"})

    with page.expect_download() as info:
        page.click("#export-lines-csv")
    lines_path = tmp_path / info.value.suggested_filename
    info.value.save_as(lines_path)
    lines = list(csv.DictReader(io.StringIO(lines_path.read_text(encoding="utf-8-sig"))))
    assert len(lines) == expected_lines.height
    numeric = {c for c, t in expected_lines.schema.items() if t.is_numeric()}
    _text_cells_safe(lines, numeric)
    bait = [r for r in lines if r["note_text"].startswith("'=HYPERLINK")]
    assert bait and bait[0]["modifiers"] == "'-1+2" and bait[0]["payer_name"] == "'@SUM(A1:A9)"

    with page.expect_download() as info:
        page.click("#export-xlsx")
    xlsx = tmp_path / info.value.suggested_filename
    info.value.save_as(xlsx)
    sheets = pl.read_excel(xlsx, sheet_id=0)
    assert sheets["findings"].height == expected_findings.height and sheets["lines"].height == expected_lines.height
    for frame in sheets.values():
        for column, dtype in frame.schema.items():
            if dtype == pl.String:
                assert not frame[column].drop_nulls().str.starts_with("=").any(), column
                assert not frame[column].drop_nulls().map_elements(
                    lambda s: s.startswith(FORMULA_PREFIXES), return_dtype=pl.Boolean).any(), column


def test_manager_view_shows_no_patient_identifier(browser, snapshot, warehouse, tmp_path):
    users_file = tmp_path / "users.toml"
    users.add_user(users_file, "mona", "manager", "manager-pass")
    with running(create_app(snapshot, users_file, secret_key="browser tests")) as base:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        page.goto(base + "/")
        page.wait_for_url(re.compile(r"/login"))
        page.fill("#username", "mona")
        page.fill("#password", "manager-pass")
        page.click("#login-button")
        seen = []

        def scan():
            html = page.content()
            seen.append(page.url)
            for patient_id in warehouse.patient_ids:
                assert patient_id not in html, f"{patient_id} visible at {page.url}"
                assert patient_id not in page.url

        open_overview(page, base)
        assert "mona (manager)" in page.inner_text("#who")
        scan()
        page.goto(base + "/providers")
        page.wait_for_selector("#providers-grid .ag-row")
        scan()
        page.click(f'#providers-grid .ag-row[row-id="{warehouse.flagged_npi}"] .ag-cell[col-id="provider_name"]')
        page.wait_for_selector("#pv-findings .ag-row")
        scan()
        open_patient_day(page, rule="DAILY_LIMIT")
        assert "patient pt-" in page.inner_text("#patient-day-who")
        scan()
        page.goto(base + "/providers/1000000003")  # its OVERLAP detail names two patients
        page.wait_for_selector("#pv-findings .ag-row")
        page.wait_for_selector('#pv-findings .ag-cell[col-id="rule_id"]:text-is("OVERLAP")')
        scan()
        assert len(seen) == 5
        context.close()


def test_a_new_snapshot_shows_after_a_reload(page, browser, warehouse, tmp_path):
    wh = tmp_path / "wh.duckdb"
    shutil.copy(warehouse.path, wh)
    target = tmp_path / "snapshot.duckdb"
    publish(wh, target)
    with running(create_app(target, None, secret_key="reload")) as base:
        open_overview(page, base)
        before = page.inner_text("#card-findings")
        stamp = page.inner_text("#snapshot-line")
        con = duckdb.connect(str(wh))
        con.execute("insert into findings (rule_id, severity, service_date, detail) "
                    "values ('DUPLICATE', 'low', date '2026-02-10', 'billed twice')")
        con.close()
        page.wait_for_timeout(1100)  # so that the minute stamp may differ; the count surely does
        publish(wh, target)
        page.reload()
        open_overview(page, base)
        after = page.inner_text("#card-findings")
        assert int(after.split()[-1].replace(",", "")) == int(before.split()[-1].replace(",", "")) + 1
        assert page.inner_text("#snapshot-line").startswith("Snapshot taken at")
        assert stamp.startswith("Snapshot taken at")
