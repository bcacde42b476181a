"""What the browser does with the review app, in headless Chromium: after sign-in it stays on this
site whatever ``next`` said, and no chart (app or HTML report) offers to send its data to a cloud.
"""

from __future__ import annotations

import http.server
import re
import threading
from typing import ClassVar
from urllib.parse import urlsplit

from dashboards.app import create_app
from dashboards.background import free_port, running
from dashboards.files.report import write_report
from tests.browser_support import BROWSER_MARKS, USERS, playwright

pytestmark = BROWSER_MARKS
playwright()  # without playwright the module is skipped, saying why

SHARING = re.compile(r"share|cloud|chart studio|edit in", re.I)
GRAPHS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
    id: gd.id || (gd.closest('[id]') || {}).id,
    showSendToCloud: gd._context.showSendToCloud,
    plotlyServerURL: gd._context.plotlyServerURL,
    buttons: [...gd.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title')),
}))"""


def assert_no_chart_offers_sharing(page, expected: int) -> list[dict]:
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot .modebar').length >= {expected}")
    graphs = page.evaluate(GRAPHS_JS)
    assert len(graphs) >= expected
    for graph in graphs:
        assert graph["showSendToCloud"] is False and graph["plotlyServerURL"] == "", graph
        assert "Download plot as a PNG" in graph["buttons"] or "Download plot as a png" in graph["buttons"], graph
        assert not [b for b in graph["buttons"] if SHARING.search(b or "")], graph
    page.hover(".js-plotly-plot .main-svg >> nth=0")  # the modebar shows on hover
    assert not page.locator(".modebar-btn[data-title*='Share'], .modebar-btn[data-title*='loud']").count()
    text = page.inner_text("body")
    assert "Share chart" not in text and "Plotly Cloud" not in text
    return graphs


class _Phish(http.server.BaseHTTPRequestHandler):
    visits: ClassVar[list[str]] = []

    def do_GET(self):
        _Phish.visits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"phished")

    def log_message(self, *args):
        pass


def test_after_sign_in_the_browser_stays_on_this_site(page, snapshot_path, users_file, tmp_path):
    phish = http.server.ThreadingHTTPServer(("127.0.0.2", free_port("127.0.0.2")), _Phish)
    threading.Thread(target=phish.serve_forever, daemon=True).start()
    try:
        app = create_app(snapshot_path, users_file, secret_key="browser", state_dir=tmp_path / "state")
        with running(app) as base:
            page.goto(f"{base}/login?next=/%09/127.0.0.2:{phish.server_port}/phish")
            name, password = USERS["manager"]
            page.fill("#username", name)
            page.fill("#password", password)
            page.click("#login-button")
            page.wait_for_url(lambda url: "/login" not in url)
            assert urlsplit(page.url).netloc == urlsplit(base).netloc, page.url
            page.wait_for_selector("#who")
            assert "mona (manager)" in page.inner_text("#who")
    finally:
        phish.shutdown()
        phish.server_close()
    assert _Phish.visits == []


def test_no_chart_of_the_app_offers_to_share_it(page, snapshot_path, fixture_info):
    with running(create_app(snapshot_path, None, secret_key="browser")) as base:
        page.goto(base + "/")
        assert_no_chart_offers_sharing(page, expected=4)
        page.goto(f"{base}/providers/{fixture_info.flagged_npi}")
        assert_no_chart_offers_sharing(page, expected=2)


def test_no_chart_of_the_report_offers_to_share_it(page, snapshot_path, tmp_path):
    report = write_report(snapshot_path, tmp_path / "report.html")
    page.goto(report.resolve().as_uri())
    graphs = assert_no_chart_offers_sharing(page, expected=4)
    assert len(graphs) == 4
