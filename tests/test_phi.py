"""PHI: patient identifiers (and note text, which names them) stay in the data, where auditors need
them, and appear nowhere else: not on the command line's stdout/stderr (also when it fails), not in
Python logging at DEBUG, not in Dagster's events, metadata and error messages, not in the HTML
report, not in any page, callback response or export a manager gets from the running dashboard.

The extracts carry recognizable identifiers (``PHI-ZEBRA-000123``): a generated extract whose
patient ids and notes were rewritten, rows that are quarantined, a ragged line, a file without a
header (its first row becomes the header) and a file in the wrong encoding (both rejected).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import subprocess
import sys
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import polars as pl
import pytest

from tests import browser_support
from tests.extracts import VALID_ROW, row, write_csv
from tests.reviews import review

pytestmark = pytest.mark.slow

PHI = re.compile(r"PHI-ZEBRA-\d{6}")
UNITREVIEW = [str(Path(sys.executable).with_name("unitreview"))]


def leaks(text: str) -> list[str]:
    return sorted(set(PHI.findall(text)))


@pytest.fixture(scope="module")
def extracts(tmp_path_factory) -> Path:
    from pipelines.generate import generate_extract

    folder = tmp_path_factory.mktemp("phi")
    generated = tmp_path_factory.mktemp("generated")
    generate_extract(generated, 2500, 9, start_month="2026-05", months=2, fmt="csv")
    frames = {path.name: pl.read_csv(path, infer_schema=False) for path in sorted(generated.glob("*.csv"))}
    patients = sorted(set().union(*(set(f["patient_id"].drop_nulls()) for f in frames.values())))
    ids = {p: f"PHI-ZEBRA-{i:06d}" for i, p in enumerate(patients, start=1)}
    for name, frame in frames.items():
        frame = frame.with_columns(pl.col("patient_id").replace_strict(ids, default=None))
        if "note_text" in frame.columns:  # notes name their patient
            frame = frame.with_columns(
                pl.when(pl.col("note_text").is_not_null()).then(
                    pl.col("note_text") + " Pt " + pl.col("patient_id") + " seen."
                )
            )
        frame.write_csv(folder / name)
    bad = [
        row(claim_id=f"Q-{i}", patient_id=f"PHI-ZEBRA-{900_000 + i}", units_billed="lots", rendering_npi="123")
        for i in range(5)
    ]
    path = write_csv(folder / "bad_rows.csv", [*bad, row(claim_id="Q-ok", patient_id="PHI-ZEBRA-900099")])
    path.write_text(path.read_text() + "Q-ragged,1,PHI-ZEBRA-900100\n")
    headerless = [
        ",".join(v.replace(",", "") for v in row(patient_id=f"PHI-ZEBRA-{910_000 + i}", claim_id=f"H-{i}").values())
        for i in range(3)
    ]
    (folder / "headerless.csv").write_text("\n".join(headerless) + "\n")
    (folder / "latin1.csv").write_bytes(
        (
            ",".join(VALID_ROW)
            + "\n"
            + ",".join(v.replace(",", "") for v in row(patient_id="PHI-ZEBRA-920000", provider_name="Jos\xe9").values())
            + "\n"
        ).encode("latin-1")
    )
    return folder


@pytest.fixture(scope="module")
def reviewed(extracts, tmp_path_factory) -> dict:
    """The review as a user runs it: the command in a subprocess."""
    warehouse = tmp_path_factory.mktemp("w") / "w.duckdb"
    done = subprocess.run(
        [*UNITREVIEW, "review", "--input", str(extracts), "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return {"warehouse": warehouse, "stdout": done.stdout, "stderr": done.stderr}


def test_the_data_keeps_its_patient_ids(reviewed):
    with duckdb.connect(str(reviewed["warehouse"]), read_only=True) as con:
        assert (
            con.execute("select count(*) from claim_lines where patient_id like 'PHI-ZEBRA-%'").fetchall()[0][0] > 2000
        )
        assert (
            con.execute("select count(*) from quarantine where raw_values like '%PHI-ZEBRA-90000%'").fetchall()[0][0]
            == 5
        )
        assert (
            con.execute("select count(*) from quarantine where raw_line like '%PHI-ZEBRA-900100%'").fetchall()[0][0]
            == 1
        )
        assert con.execute("select count(*) from findings where patient_id like 'PHI-ZEBRA-%'").fetchall()[0][0] > 0
        statuses = dict(con.execute("select source_file, status from ingest_log").fetchall())
    assert statuses["headerless.csv"] == statuses["latin1.csv"] == "rejected"


def test_tables_about_the_review_name_no_patient(reviewed):
    with duckdb.connect(str(reviewed["warehouse"]), read_only=True) as con:
        for table in (
            "ingest_log",
            "review_runs",
            "finding_history",
            "rules_state",
            "provider_scores",
            "provider_metrics",
        ):
            text = con.sql(f"select * from {table}").pl().write_csv()
            assert not leaks(text), (table, leaks(text)[:3])


def test_the_command_line_prints_no_patient_id(reviewed):
    assert "rejected" in reviewed["stdout"] and "quarantine reasons" in reviewed["stdout"]
    assert not leaks(reviewed["stdout"] + reviewed["stderr"])


def test_the_html_report_names_no_patient(reviewed):
    html = reviewed["warehouse"].with_name("w_report.html").read_text()
    assert "<html" in html and not leaks(html)


def test_logging_at_debug_and_a_failure_message_name_no_patient(extracts, tmp_path, caplog, capfd, monkeypatch):
    import pipelines.assets.scores as scores

    caplog.set_level(logging.DEBUG)  # every logger that propagates, at DEBUG
    result = review(extracts, tmp_path / "w.duckdb")
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        patient = con.execute("select patient_id from claim_lines limit 1").fetchall()[0][0]

    def failing(*args, **kwargs):  # a library error that quotes a value, as polars and DuckDB errors do
        raise ValueError(f"conversion failed for '{patient}' in column patient_id: [{patient}, {patient}]")

    monkeypatch.setattr(scores, "scores_of_pieces", failing)
    failed = review(extracts, tmp_path / "w2.duckdb")
    assert failed.exit_code == 1 and "review could not complete: review_scores" in failed.output
    captured = capfd.readouterr()
    logged = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for text in (result.output, failed.output, captured.out, captured.err, logged):
        assert not leaks(text), leaks(text)[:3]


def test_dagster_events_metadata_and_logs_at_debug_name_no_patient(extracts, tmp_path, caplog, capfd):
    import dagster as dg
    from dagster._serdes import serialize_value

    from pipelines.definitions import build_defs

    caplog.set_level(logging.DEBUG)
    defs = build_defs(warehouse_path=str(tmp_path / "w.duckdb"), input_path=str(extracts))
    result = defs.resolve_job_def("review").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "DEBUG"}}}},
    )
    assert result.success
    events = "\n".join(serialize_value(e) for e in result.all_events)
    assert "rows_quarantined" in events and "headerless.csv" in events  # the metadata is there
    captured = capfd.readouterr()
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    for where, text in (("events", events), ("stdout", captured.out), ("stderr", captured.err), ("logging", logged)):
        assert not leaks(text), (where, leaks(text)[:3])


# ---- the running dashboard ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(reviewed, users_file):
    from dashboards.app import create_app
    from dashboards.background import running

    snapshot = reviewed["warehouse"].with_name("w.snapshot.duckdb")
    with duckdb.connect(str(snapshot), read_only=True) as con:
        npis = [
            r[0]
            for r in con.execute(
                "select rendering_npi from provider_scores where period = 'all' order by risk_rank"
            ).fetchall()
        ]
        flagged = [
            r[0]
            for r in con.execute(
                "select rendering_npi from findings where patient_id is not null and rendering_npi is not null group by 1 order by count(*) desc, 1 limit 3"
            ).fetchall()
        ]
    with running(create_app(snapshot, users_file, secret_key="phi tests")) as base:
        yield {"base": base, "npis": npis, "flagged": flagged}


def signed_in(base: str, name: str, password: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    opener.open(base + "/login", data=urlencode({"username": name, "password": password, "next": "/"}).encode())
    return opener


def fetch(opener, url: str) -> str:
    with opener.open(url) as response:
        body = response.read()
    if url.endswith(".xlsx"):
        sheets = pl.read_excel(io.BytesIO(body), sheet_id=0)
        return "\n".join(frame.write_csv() for frame in sheets.values())
    return body.decode("utf-8")


def test_a_managers_exports_name_no_patient_an_auditors_do(served):
    manager = signed_in(served["base"], "mona", "manager-pass")
    auditor = signed_in(served["base"], "audrey", "auditor-pass")
    seen_by_auditor = []
    for npi in served["npis"]:
        for what in ("findings.csv", "lines.csv", "review.xlsx"):
            url = f"{served['base']}/export/providers/{npi}/{what}"
            text = fetch(manager, url)
            assert "pt-" in text or text.count("\n") <= 1
            assert not leaks(text), (npi, what, leaks(text)[:3])
            seen_by_auditor += leaks(fetch(auditor, url))
    layout = fetch(manager, served["base"] + "/_dash-layout")
    assert "mona (manager)" in layout and not leaks(layout)
    assert len(set(seen_by_auditor)) > 100  # the auditor's exports do name the patients


@browser_support.needs_chromium
def test_every_page_and_callback_a_manager_gets_names_no_patient(served):
    sync_api = browser_support.playwright()
    base = served["base"]

    def visit(name: str, password: str) -> tuple[list[str], list[str]]:
        bodies, pages = [], []
        with sync_api.sync_playwright() as p:
            browser = browser_support.launch(p)
            page = browser.new_context(viewport=browser_support.VIEWPORT).new_page()
            page.set_default_timeout(browser_support.TIMEOUT)
            responses = []
            page.on("response", lambda response: responses.append(response))
            page.goto(base + "/login")
            page.fill("#username", name)
            page.fill("#password", password)
            page.click("#login-button")
            page.wait_for_selector("#ov-top .ag-row")
            pages.append(page.content())
            page.goto(base + "/providers")
            page.wait_for_selector("#providers-grid .ag-row")
            pages.append(page.content())
            for npi in served["flagged"]:
                page.goto(f"{base}/providers/{npi}")
                page.wait_for_selector("#pv-findings .ag-row")
                pages.append(page.content())
                # a finding about a patient-day opens that day (patient named by token only)
                for rule in (
                    "UNITS_OVER_MINUTES",
                    "DAILY_LIMIT",
                    "ALLOCATION",
                    "DUPLICATE",
                    "MINUTES_MISSING",
                    "DX_SUPPORT",
                ):
                    cell = f'#pv-findings .ag-row:has(.ag-cell[col-id="rule_id"]:text-is("{rule}")) .ag-cell[col-id="rule_id"]'
                    if page.query_selector(cell):
                        # the row may sit below the grid's fold (rows grow with wrapped details): what is
                        # scanned here is what a click sends; clicking itself is tested in test_dashboard_browser
                        page.locator(cell).first.dispatch_event("click")
                        page.wait_for_url(re.compile(r"/patient-day/"))
                        page.wait_for_selector("#patient-day-title")
                        page.wait_for_selector("#pd-lines .ag-row")
                        pages.append(page.content())
                        break
            page.wait_for_load_state("networkidle")
            for response in responses:
                with contextlib.suppress(Exception):
                    bodies.append(response.url + "\n" + response.body().decode("utf-8", "replace"))
            browser.close()
        return pages, bodies

    pages, bodies = visit("mona", "manager-pass")
    assert len(pages) == 2 + 2 * len(served["flagged"]), "every provider page and one of its patient-days"
    assert any("_dash-update-component" in b and "pt-" in b for b in bodies)  # callbacks carry tokens
    for text in pages + bodies:
        assert not leaks(text), leaks(text)[:3]
    auditor_pages, auditor_bodies = visit("audrey", "auditor-pass")
    assert leaks("\n".join(auditor_pages + auditor_bodies))  # an auditor does see patient ids
