"""Audit sampling in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): an auditor
draws a sample on the provider page, downloads the worksheet, fills it in (programmatically, as the
auditor would in a spreadsheet), uploads it and reads the appraisal; a manager never sees the
controls."""

from __future__ import annotations

import re

import polars as pl
import pytest

from dashboards.app import create_app
from dashboards.background import running
from dashboards.ui import audit
from pipelines.audit import commands, store
from pipelines.audit import worksheet as sheets
from tests.browser_support import BROWSER_MARKS, playwright
from tests.fixtures_warehouse import PATIENTS, publish

pytestmark = BROWSER_MARKS
playwright()  # without playwright the module is skipped, saying why


@pytest.fixture(scope="module")
def snapshot(fixture_info, tmp_path_factory):
    """The fixture warehouse published for the local-mode app (which keeps audit samples beside it)."""
    target = tmp_path_factory.mktemp("audit-browser-published") / "warehouse.snapshot.duckdb"
    publish(fixture_info.path, target)
    return target


def simulated_audit(path) -> dict[int, float]:
    """The audit an auditor would record: examined - the day's findings' amount at risk, capped."""
    sample = pl.read_excel(path, sheet_name="sample", schema_overrides=dict.fromkeys(sheets.ENTRY_COLUMNS, pl.String))
    return {
        int(i): round(max(0.0, e - r), 2)
        for i, e, r in zip(sample["sample_item"], sample["examined_amount"], sample["amount_at_risk"], strict=True)
    }


def test_auditor_draws_downloads_fills_uploads_and_sees_the_appraisal(
    auditor_page, signed_in_url, signed_in_snapshot, fixture_info, tmp_path
):
    page, base, snapshot = auditor_page, signed_in_url, signed_in_snapshot
    npi = fixture_info.flagged_npi
    page.goto(f"{base}/providers/{npi}")
    page.wait_for_selector("#audit-panel")
    page.fill("#au-size", "6")
    page.fill("#au-seed", "31337")
    page.fill("#au-strata", "150,200")
    with page.expect_download() as info:
        page.click("#au-draw")
    download = tmp_path / info.value.suggested_filename
    info.value.save_as(download)
    assert re.fullmatch(rf"audit-{npi}-S-[0-9a-f]{{12}}\.xlsx", download.name)
    page.wait_for_selector("#au-sample-id")
    summary = page.inner_text("#au-draw-result")
    assert "seed 31337" in summary and "of 21 beneficiary-days" in summary

    ws = sheets.read_worksheet(download)
    assert ws.parameters["seed"] == "31337" and ws.parameters["strata"] == "150,200"
    assert ws.sample_id in summary
    assert set(ws.items["patient_id"]) <= set(PATIENTS)  # the worksheet names the patients

    filled = tmp_path / "completed.xlsx"
    filled.write_bytes(sheets.fill_worksheet(download, simulated_audit(download)))
    page.set_input_files("#au-upload input[type=file]", str(filled))
    page.wait_for_selector("#au-statement")
    page.wait_for_selector("#au-appraisal-grid .ag-row")

    # the same appraisal computed here, against the sample the app kept beside the snapshot
    import duckdb

    with duckdb.connect(str(audit.audit_store_path(snapshot)), read_only=True) as con:
        stored = store.load_sample(con, ws.sample_id)
        kept = con.execute("select count(*) from audit_appraisals where sample_id = ?", [ws.sample_id]).fetchall()[0][0]
    assert stored is not None and kept == 3  # two strata and the overall row
    expected = commands.appraise_read(sheets.read_worksheet(filled), stored)
    statement = page.inner_text("#au-statement")
    assert f"${expected.overall.estimate:,.2f}" in statement
    assert f"${expected.overall.at_least:,.2f}" in statement and "90% confidence interval" in statement
    assert f"${expected.overall.one_sided_lower_90:,.2f}" in statement and "One-sided 90% lower limit" in statement
    grid = page.inner_text("#au-appraisal-grid")
    assert "overall" in grid and "[150, 200)" in grid and "[200, inf)" in grid
    assert f"{expected.overall.standard_error:,.2f}" in grid
    assert "Error rate" in page.inner_text("#au-error-rate")


def test_incomplete_upload_names_the_missing_items(page, fixture_info, snapshot, tmp_path):
    npi = fixture_info.flagged_npi
    with running(create_app(snapshot, None, secret_key="audit browser")) as base:
        page.goto(f"{base}/providers/{npi}")
        page.wait_for_selector("#audit-panel")
        page.fill("#au-size", "4")
        page.fill("#au-seed", "5")
        with page.expect_download() as info:
            page.click("#au-draw")
        download = tmp_path / "drawn.xlsx"
        info.value.save_as(download)
        audited = simulated_audit(download)
        audited.pop(2)
        partial = tmp_path / "partial.xlsx"
        partial.write_bytes(sheets.fill_worksheet(download, audited))
        page.set_input_files("#au-upload input[type=file]", str(partial))
        page.wait_for_selector("#au-error")
        message = page.inner_text("#au-error")
        assert "sample item(s) 2" in message and not any(p in message for p in PATIENTS)


def test_manager_never_sees_the_audit_controls(manager_page, signed_in_url, fixture_info):
    page = manager_page
    page.goto(f"{signed_in_url}/providers/{fixture_info.flagged_npi}")
    page.wait_for_selector("#pv-findings .ag-row")
    assert "mona (manager)" in page.inner_text("#who")
    assert page.query_selector("#audit-panel") is None and page.query_selector("#au-draw") is None
    html = page.content()
    assert "Audit sample" not in html and not any(p in html for p in PATIENTS)
