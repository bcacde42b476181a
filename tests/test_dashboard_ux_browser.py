"""What a reviewer expects of the app, in headless Chromium (Debian's /usr/bin/chromium via Playwright):
filters that live in the URL (a reload, a shared link, Back), a provider search, breadcrumbs that keep
the filters, one Back press per grid click, a 404 page, the new downloads, figures whose labels can be
read, and pages that fit a 390 px phone."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dashboards import context, data
from dashboards.access.privacy import patient_token
from dashboards.app import create_app
from dashboards.background import running
from dashboards.data.snapshot import reading
from dashboards.files.safe_export import UTF8_BOM
from tests.browser_support import BROWSER_MARKS, TIMEOUT, choose, playwright
from tests.fixtures_warehouse import publish

pytestmark = BROWSER_MARKS
playwright()  # without playwright the module is skipped, saying why

PHONE = {"width": 390, "height": 844}
SECRET = "ux browser tests"


@pytest.fixture(scope="module")
def app(snapshot_path):
    return create_app(snapshot_path, None, secret_key=SECRET)


@pytest.fixture(scope="module")
def base(app):
    with running(app) as url:
        yield url


def wait_overview(page) -> None:
    for graph in ("ov-by-rule", "ov-monthly", "ov-map", "ov-dist"):
        page.wait_for_selector(f"#{graph} .main-svg")
    page.wait_for_selector("#ov-top .ag-row")


def history_length(page) -> int:
    return page.evaluate("history.length")


# ---- filters in the URL -------------------------------------------------------------------------------


def test_filters_live_in_the_url_so_a_reload_and_a_shared_link_show_the_same_view(page, base, browser, snapshot_path):
    page.goto(base + "/")
    wait_overview(page)
    choose(page, "#f-from", "2026-02", "/?from=2026-02")
    choose(page, "#f-to", "2026-03", "?from=2026-02&to=2026-03")
    choose(page, "#f-clinic", "1111111111", "&clinic=1111111111")
    choose(page, "#f-payer", "medicare", "&payer=medicare")
    query = "?from=2026-02&to=2026-03&clinic=1111111111&payer=medicaid&payer=medicare"
    choose(page, "#f-payer", "medicaid", query)  # several payer types at once
    with reading(snapshot_path) as snap:
        head = data.headline(
            snap, data.Filters(period="2026-02..2026-03", clinic=("1111111111",), payer_type=("medicare", "medicaid"))
        )
        everything = data.headline(snap, data.Filters())
    assert 0 < head["findings"] < everything["findings"]

    def shows_the_view(p):
        wait_overview(p)
        p.wait_for_function(
            "n => document.querySelector('#card-findings').innerText.endsWith(n)", arg=f"{head['findings']:,}"
        )
        assert p.inner_text("#card-lines").endswith(f"{head['lines_reviewed']:,}")
        assert "2026-02" in p.inner_text("#f-from") and "2026-03" in p.inner_text("#f-to")
        payers = p.inner_text("#f-payer")
        assert "medicare" in payers and "medicaid" in payers and "Riverside" in p.inner_text("#f-clinic")

    shows_the_view(page)
    page.reload()
    shows_the_view(page)
    shared = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = shared.new_page()
    other.set_default_timeout(TIMEOUT)
    other.goto(base + "/" + query)
    shows_the_view(other)
    shared.close()
    page.go_back()  # Back undoes the last filter
    page.wait_for_url(re.compile(r"&payer=medicare$"))
    page.wait_for_function("() => !document.querySelector('#f-payer').innerText.includes('medicaid')")


def test_the_provider_search_narrows_the_ranking_and_stays_in_the_url(page, base):
    page.goto(base + "/providers")
    page.wait_for_selector("#providers-grid .ag-row")
    assert page.locator("#providers-grid .ag-center-cols-container .ag-row").count() == 6
    page.fill("#p-search", "ston")
    page.press("#p-search", "Enter")
    page.wait_for_url(re.compile(r"/providers\?q=ston$"))
    page.wait_for_function(
        "() => document.querySelectorAll('#providers-grid .ag-center-cols-container .ag-row').length == 1"
    )
    assert "Avery Stone" in page.inner_text("#providers-grid") and "1 provider matching" in page.inner_text(
        "#providers-count"
    )
    page.fill("#p-search", "1000000003")
    page.press("#p-search", "Enter")
    page.wait_for_url(re.compile(r"\?q=1000000003$"))
    page.wait_for_function("() => document.querySelector('#providers-grid').innerText.includes('Casey Diaz')")
    page.reload()
    page.wait_for_selector("#providers-grid .ag-row")
    assert page.input_value("#p-search") == "1000000003"
    assert page.locator("#providers-grid .ag-center-cols-container .ag-row").count() == 1


# ---- breadcrumbs and Back -----------------------------------------------------------------------------


def crumbs(page) -> dict[str, str]:
    return {a.inner_text(): a.get_attribute("href") for a in page.locator("#breadcrumbs a").all()}


def test_breadcrumbs_keep_the_period_and_filters_on_every_page(page, base, fixture_info):
    query = "?from=2026-02&to=2026-02&payer=medicare"
    page.goto(base + "/" + query)
    wait_overview(page)
    page.click(f'#ov-top .ag-row[row-id="{fixture_info.flagged_npi}"] .ag-cell[col-id="provider_name"]')
    page.wait_for_url(re.compile(re.escape(f"/providers/{fixture_info.flagged_npi}{query}") + "$"))
    page.wait_for_selector("#pv-findings .ag-row")
    assert crumbs(page) == {"Overview": "/" + query, "Providers": "/providers" + query}
    assert "2026-02" in page.inner_text("#pv-period")
    metrics = page.inner_text("#pv-metrics")  # plain names in the grid, not metric ids
    assert "97112 units per patient-day" in metrics and "units_97112_per_patient_day" not in metrics
    assert {r.get_attribute("href") for r in page.locator(".exports a").all()} == {
        f"/export/providers/{fixture_info.flagged_npi}/{what}{query}"
        for what in ("findings.csv", "lines.csv", "review.xlsx")
    }
    page.click('#pv-findings .ag-row .ag-cell[col-id="rule_id"] >> nth=0')
    page.wait_for_url(re.compile(r"/patient-day/\d+/pt-[0-9a-f]{16}/2026-02-\d\d" + re.escape(query) + "$"))
    page.wait_for_selector("#pd-lines .ag-row")
    trail = crumbs(page)
    assert (
        trail["Overview"] == "/" + query
        and trail[fixture_info.flagged_name] == f"/providers/{fixture_info.flagged_npi}{query}"
    )
    assert "Patient-day" in page.inner_text("#breadcrumbs .crumb-here")
    page.click(f'#breadcrumbs a:text-is("{fixture_info.flagged_name}")')
    page.wait_for_url(re.compile(re.escape(f"/providers/{fixture_info.flagged_npi}{query}") + "$"))
    page.click('#breadcrumbs a:text-is("Providers")')
    page.wait_for_url(re.compile(re.escape("/providers" + query) + "$"))
    page.wait_for_selector("#providers-grid .ag-row")
    assert "2026-02" in page.inner_text("#p-from") and "medicare" in page.inner_text("#p-payer")
    page.click('#breadcrumbs a:text-is("Overview")')
    page.wait_for_url(re.compile(re.escape("/" + query) + "$"))
    wait_overview(page)


@pytest.mark.parametrize(
    "start, grid, cell, opened",
    [
        ("/", "#ov-top", '.ag-row[row-index="0"] .ag-cell[col-id="provider_name"]', r"/providers/\d+$"),
        (
            "/providers",
            "#providers-grid",
            '.ag-row[row-index="0"] .ag-cell[col-id="provider_name"]',
            r"/providers/\d+$",
        ),
        (
            "/providers/1000000001",
            "#pv-findings",
            '.ag-row[row-index="0"] .ag-cell[col-id="rule_id"]',
            r"/patient-day/",
        ),
    ],
)
def test_one_back_press_undoes_one_grid_click(page, base, start, grid, cell, opened):
    one_entry_per_click(page, base + start, grid, cell, opened)


def one_entry_per_click(page, start: str, grid: str, cell: str, opened: str) -> None:
    page.goto(start)
    page.wait_for_selector(f"{grid} .ag-row")
    page.wait_for_timeout(500)  # every callback of the page has run
    before = history_length(page)
    for _ in range(2):  # and again after coming back
        page.click(f"{grid} {cell}")
        page.wait_for_url(re.compile(opened))
        page.wait_for_timeout(800)  # a second history entry would be pushed by now
        assert history_length(page) == before + 1, "one click, one history entry"
        page.go_back()
        page.wait_for_url(start)
        page.wait_for_selector(f"{grid} .ag-row")
        page.wait_for_timeout(500)


def test_one_back_press_undoes_a_click_in_the_why_flagged_and_therapist_day_grids(page, base, snapshot_path):
    with reading(snapshot_path) as snap:
        npi, day = snap.rows("select rendering_npi, service_date from findings where rule_id = 'OVERLAP' limit 1")[0]
    one_entry_per_click(
        page,
        f"{base}/providers/1000000001",
        "#why-flagged > div.why-metric:nth-of-type(1)",
        '.ag-row[row-index="0"] .ag-cell >> nth=0',
        r"/(patient|therapist)-day/",
    )
    one_entry_per_click(
        page,
        f"{base}/therapist-day/{npi}/{day}",
        "#td-visits",
        '.ag-row[row-index="0"] .ag-cell >> nth=0',
        r"/patient-day/",
    )


# ---- 404 ----------------------------------------------------------------------------------------------


def test_an_unknown_address_shows_page_not_found_with_status_404(page, base):
    response = page.goto(base + "/providers-that-do-not-exist")
    assert response.status == 404
    page.wait_for_selector("#not-found-title")
    assert "Page not found" in page.inner_text("#not-found") and page.is_visible("#nav-overview")
    page.click('#not-found a:text-is("Overview")')
    page.wait_for_url(base + "/")
    wait_overview(page)
    assert page.goto(base + "/help").status == 200


# ---- downloads from the pages -------------------------------------------------------------------------


def test_the_ranking_and_a_patient_day_download_from_their_pages(page, base, tmp_path):
    page.goto(base + "/providers?payer=medicare")
    page.wait_for_selector("#providers-grid .ag-row")
    shown = page.locator("#providers-grid .ag-center-cols-container .ag-row").count()
    with page.expect_download() as info:
        page.click("#export-ranking-csv")
    body = Path(info.value.path()).read_bytes()
    assert body.startswith(UTF8_BOM) and info.value.suggested_filename == "providers-ranking-all.csv"
    assert len(list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))) == shown
    page.goto(base + "/providers/1000000001")
    page.wait_for_selector("#pv-findings .ag-row")
    page.click('#pv-findings .ag-row[row-index="0"] .ag-cell[col-id="rule_id"]')
    page.wait_for_selector("#pd-lines .ag-row")
    with page.expect_download() as info:
        page.click("#export-day-xlsx")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert re.fullmatch(r"patient-day-pt-[0-9a-f]{16}-\d{4}-\d\d-\d\d\.xlsx", path.name)
    book = pl.read_excel(path, sheet_id=0)
    assert set(book) == {"lines", "findings", "metadata"}
    assert book["lines"].height == page.locator("#pd-lines .ag-center-cols-container .ag-row").count()


# ---- figures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crowded(fixture_info, tmp_path_factory):
    """The fixture with thousands of one rule's findings (four-digit bar labels) and six outliers whose
    points nearly coincide (labels that would pile up), published; its app's URL."""
    folder = tmp_path_factory.mktemp("crowded")
    wh = folder / "wh.duckdb"
    shutil.copy(fixture_info.path, wh)
    con = duckdb.connect(str(wh))
    con.execute(
        "insert into findings select f.* from (select * from findings where rule_id = 'MINUTES_MISSING' limit 1) f, "
        "range(4011)"
    )
    con.execute(
        "update provider_scores set outlier = true, "
        "units_97112_per_patient_day = 3.0 + 0.004 * risk_rank, amount_at_risk = 900 + 3 * risk_rank "
        "where period = 'all'"
    )
    con.close()
    target = folder / "snapshot.duckdb"
    publish(wh, target)
    with running(create_app(target, None, secret_key=SECRET)) as url:
        yield url


RECTS = """(args) => {
  const [root, inner] = args;
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const fig = document.querySelector(root);
  return {svg: box(fig.querySelector('.main-svg')), area: box(fig.querySelector('.nsewdrag')),
          items: Array.from(fig.querySelectorAll(inner)).map(e => ({
            text: e.textContent, box: box(e),
            clipped: e.closest('[clip-path]') !== null && e.closest('[clip-path]') !== fig.querySelector('.main-svg')}))};
}"""


def inside(box, frame, slack=1.0) -> bool:
    return (
        box[0] >= frame[0] - slack
        and box[1] >= frame[1] - slack
        and box[2] <= frame[2] + slack
        and box[3] <= frame[3] + slack
    )


def overlap(a, b) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 1


@pytest.mark.parametrize("viewport", [{"width": 1400, "height": 1000}, PHONE])
def test_bar_labels_show_whole_counts_inside_the_plot(browser, crowded, viewport):
    context_ = browser.new_context(viewport=viewport)
    page = context_.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(crowded + "/")
    wait_overview(page)
    page.wait_for_timeout(500)
    for figure in ("#ov-by-rule", "#ov-dist"):
        found = page.evaluate(RECTS, [figure, "text.bartext"])
        assert found["items"], figure
        for item in found["items"]:
            assert re.fullmatch(r"\d+|\d{1,3}(,\d{3})+", item["text"]), item  # a whole count
            # drawn whole: within the plot when the plot clips it, else within the figure
            visible = found["area"] if item["clipped"] else found["svg"]
            assert inside(item["box"], visible), (figure, item, visible)
    counts = [item["text"] for item in page.evaluate(RECTS, ["#ov-by-rule", "text.bartext"])["items"]]
    assert "4,012" in [f"{int(c.replace(',', '')):,}" for c in counts]  # the crowded rule: 4,011 added to its one
    context_.close()


@pytest.mark.parametrize("viewport", [{"width": 1400, "height": 1000}, PHONE])
def test_risk_map_outlier_labels_neither_overlap_nor_leave_the_figure(browser, crowded, viewport, fixture_info):
    context_ = browser.new_context(viewport=viewport)
    page = context_.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(crowded + "/")
    wait_overview(page)
    page.wait_for_timeout(500)
    found = page.evaluate(RECTS, ["#ov-map", "text"])
    names = ["Avery Stone", "Blake Chen", "Casey Diaz", "Devon Ito", "Emery Fox", "Finley Gray"]
    labels = [i for i in found["items"] if any(n in i["text"] for n in names)]
    assert len(labels) == 6  # the six clustered outliers are all named
    others = [i for i in found["items"] if i not in labels and i["text"].strip()]
    for n, label in enumerate(labels):
        assert inside(label["box"], found["svg"]), label  # not clipped by the figure's edge
        for other in labels[n + 1 :] + others:
            assert not overlap(label["box"], other["box"]), (label, other)
    context_.close()


# ---- a phone ------------------------------------------------------------------------------------------


def test_every_page_fits_a_390px_phone(browser, app, base, snapshot_path, fixture_info):
    with reading(snapshot_path) as snap:
        pid, day = snap.rows(
            "select patient_id, service_date from findings where rendering_npi = ? and "
            "rule_id = 'UNITS_OVER_MINUTES' limit 1",
            [fixture_info.flagged_npi],
        )[0]
        overlap_npi, overlap_day = snap.rows(
            "select rendering_npi, service_date from findings where rule_id = 'OVERLAP'"
        )[0]
    token = patient_token(app.server.config[context.CONFIG_KEY].token_key, pid)
    pages = {
        "/": "#ov-top .ag-row",
        "/providers": "#providers-grid .ag-row",
        f"/providers/{fixture_info.flagged_npi}": "#pv-findings .ag-row",
        f"/patient-day/{fixture_info.flagged_npi}/{token}/{day}": "#pd-lines .ag-row",
        f"/therapist-day/{overlap_npi}/{overlap_day}": "#td-timeline .main-svg",
        "/help": "#help-page",
        "/no-such-page": "#not-found",
    }
    context_ = browser.new_context(viewport=PHONE)
    page = context_.new_page()
    page.set_default_timeout(TIMEOUT)
    for path, ready in pages.items():
        page.goto(base + path)
        page.wait_for_selector(ready)
        page.wait_for_timeout(700)  # figures and grids have sized themselves
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 2, f"{path} scrolls sideways ({width} px)"
        for link in ("#nav-overview", "#nav-providers", "#nav-help"):
            box = page.locator(link).bounding_box()
            assert page.is_visible(link) and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (path, link)
        filters = {"/": "#f-filters", "/providers": "#p-filters"}.get(path)
        if filters:
            for box in (f.bounding_box() for f in page.locator(f"{filters} .filter").all()):
                assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["width"] >= 120, (path, box)
    context_.close()


def test_the_therapist_day_keeps_the_filters_in_its_breadcrumbs_and_links(page, base, snapshot_path):
    with reading(snapshot_path) as snap:
        npi, day = snap.rows("select rendering_npi, service_date from findings where rule_id = 'OVERLAP' limit 1")[0]
    query = f"?from={day:%Y-%m}&to={day:%Y-%m}&payer=medicare"
    page.goto(f"{base}/providers/{npi}{query}")
    page.wait_for_selector("#pv-findings .ag-row")
    page.click('#pv-findings .ag-row:has(.ag-cell[col-id="rule_id"]:text-is("OVERLAP")) .ag-cell[col-id="rule_id"]')
    page.wait_for_url(re.compile(re.escape(f"/therapist-day/{npi}/{day}{query}") + "$"))
    page.wait_for_selector("#td-visits .ag-row")
    trail = crumbs(page)
    assert trail["Overview"] == "/" + query and trail["Providers"] == "/providers" + query
    assert f"/providers/{npi}{query}" in trail.values()
    page.click('#td-visits .ag-row[row-index="0"] .ag-cell >> nth=0')
    page.wait_for_url(re.compile(r"/patient-day/.+" + re.escape(query) + "$"))
    page.wait_for_selector("#pd-lines .ag-row")
