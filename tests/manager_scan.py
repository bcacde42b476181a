"""Everything a signed-in user's browser receives from the review app, for tests that look for patient
identifiers in it: every registered page (``dash.page_registry``, path templates filled from the
snapshot) and every same-site link found on them, each dropdown option chosen and each clickable
grid's first row clicked (the callbacks), every response body, and every export the pages link to.

``scan(browser, base, login, fill)`` returns a ``Scan``: the texts received with where each came from,
and counts to quote. ``fill`` gives the values of a path template's variables (``{"npi": ...}``
dicts); a page whose template needs a variable no value is given for fails the scan, so that a page
added later is scanned too, or the test says what it needs.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import dash

from tests.browser_support import TIMEOUT, VIEWPORT

MAX_PAGES = 80
MAX_OPTIONS = 12  # per dropdown
SKIP = ("/logout", "/export/", "/_dash-", "/assets/", "/_favicon")
TEMPLATE_VAR = re.compile(r"<([^>]+)>")


@dataclass
class Scan:
    texts: list[tuple[str, str]] = field(default_factory=list)  # (where, text)
    pages: list[str] = field(default_factory=list)
    callbacks: int = 0
    exports: list[str] = field(default_factory=list)
    graphs: list[dict] = field(default_factory=list)

    @property
    def responses(self) -> int:
        return sum(1 for where, _ in self.texts if where.startswith("response "))

    def summary(self) -> str:
        return (
            f"{len(self.pages)} pages, {self.callbacks} callback responses, {self.responses} responses, "
            f"{len(self.exports)} exports scanned"
        )


def registered_urls(fill: list[dict]) -> list[str]:
    """A URL of every page Dash has registered: a path as is, a path template once per fitting value."""
    urls = []
    for page in dash.page_registry.values():
        template = page.get("path_template")
        if not template:
            urls.append(page["path"])
            continue
        needed = set(TEMPLATE_VAR.findall(template))
        values = [v for v in fill if needed <= set(v)]
        if not values:
            raise AssertionError(
                f"page {page['module']} ({template}) needs values for {sorted(needed)}: add them to fill"
            )
        for v in values:
            url = template
            for name in needed:
                url = url.replace(f"<{name}>", str(v[name]))
            urls.append(url)
    return urls


def _export_text(body: bytes) -> str:
    if body[:2] == b"PK":  # xlsx: the sheets' XML
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return body.decode("utf-8", "replace")


GRAPHS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
    id: gd.id, showSendToCloud: gd._context.showSendToCloud, plotlyServerURL: gd._context.plotlyServerURL,
    buttons: [...gd.querySelectorAll('.modebar-btn')].map(b => b.getAttribute('data-title'))}))"""


def by_id(element_id: str) -> str:
    """A selector for an element id, pattern-matching ids (JSON text) included."""
    return f"[id={json.dumps(element_id)}]"


def scan(browser, base: str, login: tuple[str, str] | None, fill: list[dict]) -> Scan:
    out = Scan()
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    responses = []
    page.on("response", lambda r: responses.append(r))

    def settle():
        page.wait_for_load_state("networkidle")
        page.wait_for_function("() => !document.querySelector('[data-dash-is-loading=\"true\"]')")

    def collect():
        while responses:
            r = responses.pop(0)
            try:
                body = r.body()
            except Exception:
                continue
            if "/_dash-update-component" in r.url:
                out.callbacks += 1
            out.texts.append((f"response {r.url}", body.decode("utf-8", "replace")))

    def visit(url: str) -> list[str]:
        page.goto(url)
        settle()
        out.pages.append(page.url)
        out.texts.append((f"page {page.url}", page.url + "\n" + page.content()))
        out.graphs += page.evaluate(GRAPHS_JS)
        return page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")

    def exercise(url: str) -> list[str]:
        """Each dropdown's options in turn, and a click on each clickable grid's first row; returns
        the URLs these led to."""
        led_to = []
        dropdowns = page.eval_on_selector_all(
            ".dash-dropdown[id], [id] > .dash-dropdown", "els => els.map(e => e.id || e.parentElement.id)"
        )
        for dropdown in dropdowns:
            for i in range(MAX_OPTIONS):
                if page.url != url:
                    page.goto(url)
                    settle()
                if not page.locator(by_id(dropdown)).count():
                    break
                page.click(by_id(dropdown))
                options = page.locator('[role="option"]')
                if i >= options.count():
                    page.keyboard.press("Escape")
                    break
                options.nth(i).click()
                settle()
                led_to.append(page.url)
                out.texts.append((f"page {page.url} after {dropdown} option {i}", page.content()))
        page.goto(url)  # the grids as the page opens (not as the last dropdown option left it)
        settle()
        grids = page.eval_on_selector_all(".clickable-grid[id]", "els => els.map(e => e.id)")
        for grid in grids:
            page.goto(url)
            settle()
            cell = page.locator(f"{by_id(grid)} .ag-row .ag-cell >> nth=0")
            if cell.count():
                cell.click()
                settle()
                led_to.append(page.url)
                out.texts.append((f"page {page.url} after a click in {grid}", page.url + "\n" + page.content()))
        return led_to

    try:
        page.goto(base + "/login")
        out.texts.append(("page /login", page.content()))
        if login:
            page.fill("#username", login[0])
            page.fill("#password", login[1])
            page.click("#login-button")
            page.wait_for_url(lambda u: "/login" not in u)
        queue = deque(urljoin(base, u) for u in registered_urls(fill))
        seen, exports = set(), []
        while queue and len(out.pages) < MAX_PAGES:
            url = queue.popleft()
            key = url.split("#")[0]
            if key in seen:
                continue
            seen.add(key)
            links = visit(url)
            paths_seen = {urlsplit(u).path for u in seen}
            led_to = [u for u in exercise(page.url) if urlsplit(u).path not in paths_seen]
            collect()
            for link in links + led_to:
                parts = urlsplit(link)
                if f"{parts.scheme}://{parts.netloc}" != base:
                    continue
                if parts.path.startswith("/export/"):
                    exports.append(link)
                elif not parts.path.startswith(SKIP) and link.split("#")[0] not in seen:
                    queue.append(link)
        # every export linked, as the browser's session fetches it; the first also as a real download
        exports = list(dict.fromkeys(exports))
        if exports:
            npi = urlsplit(exports[0]).path.split("/")[3]
            page.goto(f"{base}/providers/{npi}")
            settle()
            with page.expect_download() as info:
                page.click(f'a[href^="/export/providers/{npi}/"] >> nth=0')
            with open(info.value.path(), "rb") as fh:
                out.texts.append((f"download {info.value.suggested_filename}", _export_text(fh.read())))
        for link in exports:
            out.exports.append(link)
            out.texts.append((f"export {link}", _export_text(context.request.get(link).body())))
        collect()
    finally:
        context.close()
    return out
