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
from urllib.parse import urlsplit

import duckdb
import polars as pl
import pytest

from dashboards import data
from dashboards.app import create_app
from dashboards.background import running
from dashboards.data.snapshot import reading
from dashboards.files.safe_export import FORMULA_PREFIXES
from tests.browser_support import BROWSER_MARKS, choose, playwright
from tests.fixtures_warehouse import publish

pytestmark = BROWSER_MARKS
playwright()  # without playwright the module is skipped, saying why


@pytest.fixture(scope="module")
def local_url(snapshot_path):
    with running(create_app(snapshot_path, None, secret_key="browser tests")) as url:
        yield url


def open_overview(page, base):
    page.goto(base + "/")
    for graph in ("ov-by-rule", "ov-monthly", "ov-map", "ov-dist"):
        page.wait_for_selector(f"#{graph} .main-svg")
    page.wait_for_selector("#ov-top .ag-row")


def open_flagged_provider(page, base, npi):
    open_overview(page, base)
    page.click(f'#ov-top .ag-row[row-id="{npi}"] .ag-cell[col-id="provider_name"]')
    page.wait_for_url(re.compile(rf"/providers/{npi}$"))
    page.wait_for_selector("#provider-title")
    page.wait_for_selector("#pv-findings .ag-row")


def open_patient_day(page, rule="UNITS_OVER_MINUTES"):
    page.click(
        f'#pv-findings .ag-row:has(.ag-cell[col-id="rule_id"]:text-is("{rule}")) .ag-cell[col-id="rule_id"] >> nth=0'
    )
    page.wait_for_url(re.compile(r"/patient-day/\d+/pt-[0-9a-f]{16}/\d{4}-\d{2}-\d{2}$"))
    page.wait_for_selector("#patient-day-title")
    page.wait_for_selector("#pd-lines .ag-row")


def test_overview_loads_with_figures_and_filters(page, local_url, snapshot_path):
    open_overview(page, local_url)
    text = page.inner_text("body")
    assert "Snapshot taken at" in text and "local mode (auditor)" in text
    with reading(snapshot_path) as snap:
        head = data.headline(snap, data.Filters())
        january = data.headline(snap, data.Filters(period="2026-01"))
    assert page.inner_text("#card-findings").endswith(f"{head['findings']:,}")
    assert "peer median" in page.inner_text("#ov-map")
    assert "daily limit 4" in page.inner_text("#ov-dist")
    choose(page, "#f-from", "2026-01", "?from=2026-01")
    choose(page, "#f-to", "2026-01", "?from=2026-01&to=2026-01")
    page.wait_for_function(
        "n => document.querySelector('#card-findings').innerText.endsWith(n)", arg=f"{january['findings']:,}"
    )
    assert page.inner_text("#card-lines").endswith(f"{january['lines_reviewed']:,}")


def test_flagged_provider_opens_with_peers_trend_and_findings(page, local_url, fixture_info):
    open_flagged_provider(page, local_url, fixture_info.flagged_npi)
    assert fixture_info.flagged_name in page.inner_text("#provider-title")
    assert "OUTLIER" in page.inner_text("body")
    assert "vs peer median" in page.inner_text("#provider-reasons")
    page.wait_for_selector("#pv-peers .main-svg")
    page.wait_for_selector("#pv-trend .main-svg")
    assert "Snapshot taken at" in page.inner_text("body")


def test_patient_day_opens_and_shows_the_arithmetic(page, local_url, fixture_info):
    open_flagged_provider(page, local_url, fixture_info.flagged_npi)
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


def test_exports_download_right_and_formula_safe(page, local_url, fixture_info, snapshot_path, tmp_path):
    npi = fixture_info.flagged_npi
    open_flagged_provider(page, local_url, npi)
    with reading(snapshot_path) as snap:
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
                assert (
                    not frame[column]
                    .drop_nulls()
                    .map_elements(lambda s: s.startswith(FORMULA_PREFIXES), return_dtype=pl.Boolean)
                    .any()
                ), column


def test_manager_view_shows_no_patient_identifier(manager_page, signed_in_url, fixture_info):
    page, base = manager_page, signed_in_url
    seen = []

    def scan():
        html = page.content()
        seen.append(urlsplit(page.url).path)
        for patient_id in fixture_info.patient_ids:
            assert patient_id not in html, f"{patient_id} visible at {page.url}"
            assert patient_id not in page.url

    open_overview(page, base)
    assert "mona (manager)" in page.inner_text("#who")
    scan()
    page.goto(base + "/providers")
    page.wait_for_selector("#providers-grid .ag-row")
    scan()
    page.click(f'#providers-grid .ag-row[row-id="{fixture_info.flagged_npi}"] .ag-cell[col-id="provider_name"]')
    page.wait_for_selector("#pv-findings .ag-row")
    scan()
    open_patient_day(page, rule="DAILY_LIMIT")
    assert "patient pt-" in page.inner_text("#patient-day-who")
    scan()
    page.goto(base + "/providers/1000000003")  # its OVERLAP detail names two patients
    page.wait_for_selector("#pv-findings .ag-row")
    page.wait_for_selector('#pv-findings .ag-cell[col-id="rule_id"]:text-is("OVERLAP")')
    scan()
    # each scan read a page of its own: the overview, the ranking, a provider, a patient-day, another provider
    assert seen[:4] == ["/", "/providers", f"/providers/{fixture_info.flagged_npi}", seen[3]]
    assert re.fullmatch(rf"/patient-day/{fixture_info.flagged_npi}/pt-[0-9a-f]{{16}}/\d{{4}}-\d{{2}}-\d{{2}}", seen[3])
    assert seen[4] == "/providers/1000000003"


def test_a_new_snapshot_shows_after_a_reload(page, browser, fixture_info, tmp_path):
    wh = tmp_path / "wh.duckdb"
    shutil.copy(fixture_info.path, wh)
    target = tmp_path / "snapshot.duckdb"
    publish(wh, target)
    with running(create_app(target, None, secret_key="reload")) as base:
        open_overview(page, base)
        before = page.inner_text("#card-findings")
        stamp = page.inner_text("#snapshot-line")
        con = duckdb.connect(str(wh))
        con.execute(
            "insert into findings (rule_id, severity, service_date, detail) "
            "values ('DUPLICATE', 'low', date '2026-02-10', 'billed twice')"
        )
        con.close()
        page.wait_for_timeout(1100)  # the stamp shows seconds: the second snapshot's differs
        publish(wh, target)
        page.reload()
        open_overview(page, base)
        after = page.inner_text("#card-findings")
        assert int(after.split()[-1].replace(",", "")) == int(before.split()[-1].replace(",", "")) + 1
        with reading(target) as snap:
            taken_at = snap.info().taken_at_text()
        assert page.inner_text("#snapshot-line") == f"Snapshot taken at {taken_at}" != stamp
