"""Why a provider is flagged, in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
an outlier's page shows each flagging metric against its peers and the days behind it, and a day
opens its patient-day; an OVERLAP finding opens the therapist-day timeline with the overlap marked;
a manager sees no patient id on these pages nor in any response behind them."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest

from dashboards.app import create_app
from dashboards.background import running
from dashboards.data import evidence
from dashboards.data.snapshot import reading
from tests.browser_support import BROWSER_MARKS, playwright
from tests.fixtures_warehouse import OVERLAP_NPI, OVERLAP_VISITS

pytestmark = BROWSER_MARKS
playwright()  # without playwright the module is skipped, saying why

OVERLAP_TRACE = "overlaps another patient's visit"


@pytest.fixture(scope="module")
def local_url(snapshot_path):
    with running(create_app(snapshot_path, None, secret_key="why tests")) as url:
        yield url


def overlap_day(snapshot_path) -> dt.date:
    with reading(snapshot_path) as snap:
        return snap.rows(
            "select service_date from findings where rule_id = 'OVERLAP' and rendering_npi = ?", [OVERLAP_NPI]
        )[0][0]


def test_an_outlier_shows_why_and_a_day_opens_its_patient_day(page, local_url, fixture_info, snapshot_path):
    npi = fixture_info.flagged_npi
    with reading(snapshot_path) as snap:
        flagged = evidence.flagged_metrics(snap, npi, "all")
        days = evidence.provider_days(snap, npi, "all")
        at_limit = evidence.definition("share_days_97112_at_limit").select(days, evidence.limits(snap), None).days
    assert "share_days_97112_at_limit" in flagged["metric"].to_list() and at_limit.height > 0

    page.goto(f"{local_url}/providers/{npi}")
    page.wait_for_selector("#why-flagged .why-metric .main-svg")
    blocks = page.locator("#why-flagged .why-metric")
    assert blocks.count() == flagged.height
    block = "#why-share_days_97112_at_limit"
    figure = page.inner_text(f"{block} .js-plotly-plot")
    assert "peer median" in figure and "this provider" in figure
    page.wait_for_selector(f"{block} .ag-row")
    assert f"{at_limit.height:,} of the {days.patient_days.height:,} patient-days" in page.inner_text(block)
    first = f'{block} .ag-row[row-index="0"]'
    assert page.text_content(f'{first} .ag-cell[col-id="service_date"]') == str(at_limit["service_date"][0])
    assert page.text_content(f'{first} .ag-cell[col-id="units_97112"]') == str(at_limit["units_97112"][0])

    page.click(f'{first} .ag-cell[col-id="service_date"]')
    page.wait_for_url(re.compile(rf"/patient-day/{npi}/pt-[0-9a-f]{{16}}/{at_limit['service_date'][0]}$"))
    page.wait_for_selector("#pd-lines .ag-row")
    assert page.inner_text("#patient-day-title") == f"Patient-day {at_limit['service_date'][0]}"
    assert at_limit["patient_id"][0] in page.inner_text("#patient-day-who")  # local mode is an auditor


def test_an_overlap_finding_opens_the_therapist_day_timeline(page, local_url, snapshot_path):
    day = overlap_day(snapshot_path)
    page.goto(f"{local_url}/providers/{OVERLAP_NPI}")
    page.click('#pv-findings .ag-row:has(.ag-cell[col-id="rule_id"]:text-is("OVERLAP")) .ag-cell[col-id="rule_id"]')
    page.wait_for_url(re.compile(rf"/therapist-day/{OVERLAP_NPI}/{day}$"))
    page.wait_for_selector("#td-timeline .main-svg")
    traces = page.evaluate(
        "() => document.querySelector('#td-timeline .js-plotly-plot').data"
        ".map(t => ({name: t.name, y: t.y, base: t.base, x: t.x, pattern: (t.marker.pattern || {}).shape}))"
    )
    (overlap,) = [t for t in traces if t["name"] == OVERLAP_TRACE]
    # PHI-PAT-0007 09:00-10:00 and PHI-PAT-0008 09:30-10:30: 09:30-10:00 marked on both rows, hatched
    (_, start7, end7), (_, start8, end8) = OVERLAP_VISITS["PHI-PAT-0007"], OVERLAP_VISITS["PHI-PAT-0008"]
    shared_from = dt.datetime.combine(day, max(start7, start8))
    shared_minutes = (dt.datetime.combine(day, min(end7, end8)) - shared_from).seconds // 60
    assert sorted(label.split(" ")[0] for label in overlap["y"]) == ["PHI-PAT-0007", "PHI-PAT-0008"]  # auditor: ids
    assert set(overlap["base"]) == {shared_from.isoformat()}
    assert set(overlap["x"]) == {shared_minutes * 60_000} and overlap["pattern"] == "/"
    assert page.text_content("#td-timeline .legend").count(OVERLAP_TRACE) == 1
    assert page.inner_text("#td-overlap-minutes").endswith(str(shared_minutes))
    assert "OVERLAP" in page.inner_text("#therapist-day-findings")
    # the visit without times is listed apart, with the note
    assert "cannot be placed on the timeline" in page.inner_text("#td-no-times-note")
    assert OVERLAP_VISITS["PHI-PAT-0009"][0] in page.inner_text("#td-visits-no-times")


def test_a_manager_sees_no_patient_id_behind_why_flagged_and_the_timeline(
    manager_page, signed_in_url, snapshot_path, fixture_info
):
    page, base = manager_page, signed_in_url
    day = overlap_day(snapshot_path)
    bodies: list[str] = []  # read as they come: a body is gone once the page navigates
    page.on("response", lambda r: bodies.append(r.text()) if "_dash-" in r.url and r.ok else None)
    seen = []

    def scan():
        html = page.content()
        seen.append(urlsplit(page.url).path)
        for patient_id in fixture_info.patient_ids:
            assert patient_id not in html, f"{patient_id} visible at {page.url}"
            assert patient_id not in page.url

    page.goto(f"{base}/providers/{fixture_info.flagged_npi}")
    page.wait_for_selector("#why-flagged .why-metric .ag-row")
    assert "pt-" in page.inner_text("#why-flagged")  # patients by token
    scan()
    page.click('#why-share_days_97112_at_limit .ag-row[row-index="0"] .ag-cell[col-id="service_date"]')
    page.wait_for_url(re.compile(r"/patient-day/"))
    page.wait_for_selector("#pd-lines .ag-row")
    scan()
    page.goto(f"{base}/providers/{OVERLAP_NPI}")
    page.click('#pv-findings .ag-row:has(.ag-cell[col-id="rule_id"]:text-is("OVERLAP")) .ag-cell[col-id="rule_id"]')
    page.wait_for_url(re.compile(rf"/therapist-day/{OVERLAP_NPI}/{day}$"))
    page.wait_for_selector("#td-timeline .main-svg")
    rows = page.evaluate("() => document.querySelector('#td-timeline .js-plotly-plot').data.flatMap(t => t.y)")
    assert rows and all(re.fullmatch(r"pt-[0-9a-f]{16}", r) for r in rows)
    scan()
    # each scan read a page of its own: the flagged provider, a patient-day of it, the therapist-day
    assert seen[0] == f"/providers/{fixture_info.flagged_npi}" and seen[2] == f"/therapist-day/{OVERLAP_NPI}/{day}"
    assert re.fullmatch(rf"/patient-day/{fixture_info.flagged_npi}/pt-[0-9a-f]{{16}}/\d{{4}}-\d{{2}}-\d{{2}}", seen[1])
    assert any("why-days" in b for b in bodies) and any("td-timeline" in b for b in bodies)
    for body in bodies:  # every page layout and callback answer behind the pages
        for patient_id in fixture_info.patient_ids:
            assert patient_id not in body
