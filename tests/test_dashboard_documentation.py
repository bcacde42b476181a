"""DOCUMENTATION in the report and the app: the coverage message when the check could not run, the
patient-day's notes with the detected spans highlighted for auditors, and never a note (nor a quoted
span) for managers — on pages, in exports, in the report."""

from __future__ import annotations

import json
import shutil

import duckdb
import flask
import polars as pl
import pytest
from dash._utils import to_json

from dashboards import context, data
from dashboards.access.privacy import NOTE_WITHHELD, patient_token
from dashboards.app import create_app
from dashboards.data.coverage import coverage_notices
from dashboards.data.snapshot import reading
from dashboards.files.report import write_report
from dashboards.pages import overview, patient_day
from pipelines.rules import Reference, RuleSettings, line_units
from pipelines.rules.findings._common import FINDING_BASE
from pipelines.rules.findings.documentation import NOT_RUN_MESSAGE, documentation
from pipelines.warehouse.snapshot import publish_snapshot

PATIENT, NPI = "PHI-PAT-0001", "1000000001"
MARKER = "NOTEMARKER-7731"
NOTE = (
    f"{MARKER} Pt w/ impaired dynamic balance. Perturbation training on foam. Pt tolerated well. Goal: improve balance."
)
SPANS = ("impaired dynamic balance", "Perturbation", "tolerated")


@pytest.fixture(scope="module")
def documented(fixture_info, users_file, tmp_path_factory):
    """The fixture warehouse with one patient-day's note and the DOCUMENTATION finding the rule
    raises on it, rule_coverage rows saying the check could not run elsewhere; published."""
    folder = tmp_path_factory.mktemp("documented")
    warehouse = folder / "w.duckdb"
    shutil.copy(fixture_info.path, warehouse)
    con = duckdb.connect(str(warehouse))
    day = con.execute(
        "select min(service_date) from claim_lines where patient_id = ? and rendering_npi = ?", [PATIENT, NPI]
    ).fetchone()[0]
    con.execute(
        "update claim_lines set note_text = ?, deficit_documented = null, goals_documented = null, "
        "response_documented = null where patient_id = ? and service_date = ?",
        [NOTE, PATIENT, day],
    )
    lines = con.sql("select * from claim_lines where patient_id = ? and service_date = ?", params=[PATIENT, day]).pl()
    ref, settings = Reference.load(), RuleSettings()
    units = line_units(lines.lazy(), ref, settings).collect()
    found = documentation(lines.lazy(), units.lazy(), ref, settings).collect()
    assert found.height == 1 and all(s in found["detail"][0] for s in SPANS)
    con.register("incoming", found.select(list(FINDING_BASE)))  # the columns a rule gives (no pricing)
    con.execute(
        "delete from findings where rule_id = 'DOCUMENTATION' and patient_id = ? and service_date = ?", [PATIENT, day]
    )
    con.execute("insert into findings by name select * from incoming")
    con.unregister("incoming")
    con.execute(
        "insert into rule_coverage (rule_id, ran, patient_days_checked, patient_days_not_assessable, note) "
        "values ('DOCUMENTATION', false, 0, 42, "
        "'the extracts carry neither documentation flags nor notes'), ('DAILY_LIMIT', true, 10, 0, null)"
    )
    snapshot = folder / "snapshot.duckdb"
    publish_snapshot(con, snapshot)
    con.close()
    return {"snapshot": snapshot, "day": day, "detail": found["detail"][0], "users": users_file}


def render_as(app, role: str, what) -> str:
    with app.server.test_request_context("/"):
        flask.session["user"], flask.session["role"] = "someone", role
        try:
            # as the browser reads it (to_json escapes non-ASCII characters such as the quote marks)
            return json.dumps(json.loads(to_json(what(context.settings().token_key))), ensure_ascii=False)
        finally:
            context.close_snapshot()


@pytest.fixture(scope="module")
def app(documented):
    return create_app(documented["snapshot"], documented["users"], secret_key="test secret")


def patient_day_page(documented):
    return lambda key: patient_day.layout(npi=NPI, token=patient_token(key, PATIENT), date=str(documented["day"]))


def test_auditors_see_the_note_with_the_spans_highlighted(app, documented):
    page = render_as(app, "auditor", patient_day_page(documented))
    assert MARKER in page and "doc-span" in page
    for span, element in zip(SPANS, ("deficit", "technique", "response"), strict=True):
        assert span in page and f"doc-span doc-{element}" in page
    assert "\u201cimpaired dynamic balance\u201d" in page  # the finding's detail, as the rule wrote it


def test_managers_get_neither_the_note_nor_the_spans(app, documented):
    page = render_as(app, "manager", patient_day_page(documented))
    assert "Patient-day" in page and "DOCUMENTATION" in page
    assert MARKER not in page and "doc-span" not in page
    for span in SPANS:
        assert span not in page
    assert patient_day.MANAGER_NOTES in page
    assert f"functional deficit (note {NOTE_WITHHELD})" in page
    assert PATIENT not in page


@pytest.mark.parametrize("what", ["findings.csv", "review.xlsx"])
def test_manager_exports_withhold_the_spans(app, documented, what):
    def body(name, password):
        client = app.server.test_client()
        client.post("/login", data={"username": name, "password": password, "next": "/"})
        raw = client.get(f"/export/providers/{NPI}/{what}").data
        if what.endswith(".xlsx"):
            import io

            sheets = pl.read_excel(io.BytesIO(raw), sheet_id=0)
            return "".join(sheets[s].write_csv() for s in ("findings", "lines"))
        return raw.decode("utf-8")

    manager, auditor = body("mona", "manager-pass"), body("audrey", "auditor-pass")
    assert "measurable goals (none found in the note)" in manager
    assert not [s for s in SPANS if s in manager] and MARKER not in manager
    assert all(s in auditor for s in SPANS)


def test_the_overview_and_the_report_say_when_documentation_could_not_run(app, documented, tmp_path):
    with reading(documented["snapshot"]) as snap:
        assert coverage_notices(snap) == [NOT_RUN_MESSAGE]
    page = render_as(app, "manager", lambda key: overview.layout())
    assert NOT_RUN_MESSAGE in page
    with app.server.test_request_context("/"):
        flask.session["user"], flask.session["role"] = "someone", "manager"
        content = overview.content(context.snapshot(), context.viewer(), data.Filters(period="all"))
        context.close_snapshot()
    assert NOT_RUN_MESSAGE in content["notices"]
    html = write_report(documented["snapshot"], tmp_path / "report.html").read_text(encoding="utf-8")
    assert NOT_RUN_MESSAGE in html
    assert "\u201c" not in html and MARKER not in html and not [s for s in SPANS if s in html]


def test_no_message_when_every_check_ran_or_the_table_is_absent(fixture_info, tmp_path):
    with reading(fixture_info.path) as snap:  # a review's table, no rule in it
        assert snap.has("rule_coverage") and coverage_notices(snap) == []
    warehouse = tmp_path / "ran.duckdb"
    shutil.copy(fixture_info.path, warehouse)
    with duckdb.connect(str(warehouse)) as con:  # a warehouse from before the table
        con.execute("drop table rule_coverage")
    with reading(warehouse) as snap:
        assert not snap.has("rule_coverage") and coverage_notices(snap) == []
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table rule_coverage as select 'DOCUMENTATION' as rule_id, true as ran")
    with reading(warehouse) as snap:
        assert coverage_notices(snap) == []
    with duckdb.connect(str(warehouse)) as con:  # no note column: the default reason
        con.execute("update rule_coverage set ran = false")
    with reading(warehouse) as snap:
        assert coverage_notices(snap) == [NOT_RUN_MESSAGE]
    assert "could not run" not in write_report(fixture_info.path, tmp_path / "r.html").read_text(encoding="utf-8")
