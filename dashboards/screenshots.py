"""Screenshots of every page of the review app and of the HTML report, on synthetic data only.

    python -m dashboards.screenshots [--snapshot SNAPSHOT.duckdb] [--out docs/screenshots]

Without ``--snapshot`` it builds the synthetic test warehouse (``tests/fixtures_warehouse.py``)
and publishes it to a temporary snapshot. Needs Debian's Chromium at /usr/bin/chromium and the
``playwright`` package (it never downloads a browser).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import duckdb

from dashboards.app import create_app
from dashboards.background import running
from dashboards.files.report import write_report
from dashboards.users import add_user
from pipelines.warehouse.snapshot import publish_snapshot

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1400, "height": 900}
REPO = Path(__file__).resolve().parent.parent


def synthetic_snapshot(workdir: Path) -> tuple[Path, str, str]:
    """Build the synthetic fixture warehouse, publish it; returns (snapshot, flagged NPI, the NPI
    with an OVERLAP day)."""
    sys.path.insert(0, str(REPO))
    from tests.fixtures_warehouse import OVERLAP_NPI, build_fixture_warehouse

    info = build_fixture_warehouse(workdir / "warehouse.duckdb")
    con = duckdb.connect(str(info.path))
    try:
        publish_snapshot(con, workdir / "snapshot.duckdb")
    finally:
        con.close()
    return workdir / "snapshot.duckdb", info.flagged_npi, OVERLAP_NPI


def _wait_figures(page, *ids: str) -> None:
    for graph in ids:
        page.wait_for_selector(f"#{graph} .main-svg")
    page.wait_for_timeout(600)  # let the grids size their columns


def _shoot_why_flagged(page, path: Path) -> None:
    """The provider page's "Why flagged" section: its heading and first two metrics (figure and days)."""
    page.wait_for_selector("#why-flagged .why-metric .main-svg")
    page.wait_for_selector("#why-flagged .why-metric .ag-row")
    page.wait_for_timeout(600)
    top = page.locator("#why-flagged").bounding_box()
    blocks = page.locator("#why-flagged .why-metric")
    first = blocks.nth(min(1, blocks.count() - 1)).bounding_box()
    scroll = page.evaluate("() => [window.scrollX, window.scrollY]")
    page.screenshot(
        path=str(path),
        full_page=True,
        clip={
            "x": top["x"] + scroll[0] - 8,
            "y": top["y"] + scroll[1] - 8,
            "width": top["width"] + 16,
            "height": first["y"] + first["height"] - top["y"] + 16,
        },
    )


def take(snapshot: Path, out: Path, npi: str | None, workdir: Path, therapist_day: str | None = None) -> list[Path]:
    """Every PNG; ``npi``: the provider shown (default: risk rank 1); ``therapist_day``: the provider
    whose OVERLAP finding opens the therapist-day timeline (default: ``npi``)."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    users_file = workdir / "users.toml"
    add_user(users_file, "manager", "manager", "screenshots-only")
    report = write_report(snapshot, workdir / "report.html")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)

        def shoot(page, name: str) -> None:
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)

        with running(create_app(snapshot, None, secret_key="screenshots")) as base:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(30_000)
            page.goto(base + "/")
            _wait_figures(page, "ov-by-rule", "ov-monthly", "ov-map", "ov-dist")
            shoot(page, "overview")
            page.goto(base + "/providers")
            page.wait_for_selector("#providers-grid .ag-row")
            page.wait_for_timeout(600)
            shoot(page, "providers")
            first = npi or page.get_attribute("#providers-grid .ag-row[row-index='0']", "row-id")
            page.click(f'#providers-grid .ag-row[row-id="{first}"] .ag-cell[col-id="provider_name"]')
            page.wait_for_selector("#pv-findings .ag-row")
            _wait_figures(page, "pv-peers", "pv-trend")
            shoot(page, "provider")
            _shoot_why_flagged(page, out / "why-flagged.png")
            shots.append(out / "why-flagged.png")
            page.click('#pv-findings .ag-row .ag-cell[col-id="rule_id"] >> nth=0')
            page.wait_for_url(re.compile(r"/patient-day/"))
            page.wait_for_selector("#pd-lines .ag-row")
            page.wait_for_timeout(600)
            shoot(page, "patient-day")
            overlap = therapist_day or first
            page.goto(base + f"/providers/{overlap}")
            page.click(
                '#pv-findings .ag-row:has(.ag-cell[col-id="rule_id"]:text-is("OVERLAP")) .ag-cell[col-id="rule_id"]'
            )
            page.wait_for_url(re.compile(r"/therapist-day/"))
            _wait_figures(page, "td-timeline")
            shoot(page, "therapist-day")
            page.close()

        with running(create_app(snapshot, users_file, secret_key="screenshots")) as base:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(30_000)
            page.goto(base + "/")
            page.wait_for_selector("#login-button")
            shoot(page, "login")
            page.fill("#username", "manager")
            page.fill("#password", "screenshots-only")
            page.click("#login-button")
            page.wait_for_selector("#ov-map .main-svg")
            page.goto(base + f"/providers/{first}")
            page.wait_for_selector("#pv-findings .ag-row")
            page.click('#pv-findings .ag-row .ag-cell[col-id="rule_id"] >> nth=0')
            page.wait_for_selector("#pd-lines .ag-row")
            page.wait_for_timeout(600)
            shoot(page, "patient-day-manager")
            page.close()

        page = browser.new_page(viewport=VIEWPORT)
        page.goto(report.resolve().as_uri())
        page.wait_for_selector(".plotly-graph-div .main-svg")
        page.wait_for_timeout(800)
        shoot(page, "report")
        browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshot", type=Path, help="a published snapshot of SYNTHETIC data (default: build one)")
    parser.add_argument("--npi", help="the provider to show (default: risk rank 1)")
    parser.add_argument(
        "--overlap-npi", help="the provider whose OVERLAP finding opens the therapist-day page (default: --npi)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is absent: apt-get install chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="unitreview-shots-") as tmp:
        workdir = Path(tmp)
        if args.snapshot:
            snapshot, npi, overlap = args.snapshot, args.npi, args.overlap_npi
        else:
            snapshot, npi, overlap = synthetic_snapshot(workdir)
        for path in take(snapshot, args.out, args.npi or npi, workdir, args.overlap_npi or overlap):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
