"""A manager never sees a patient identifier, wherever the snapshot's text carries one.

The fixture warehouse is given a patient identifier in every text column of every table (provider
and clinic names, payer types and names, specialties, details, reasons, notes, claim ids, file
names, ingest reasons, methods, bases, ...) and a rule_coverage note naming one; then, signed in as
a manager in Chromium, every page Dash has registered and every page they link to is opened, every
dropdown option chosen and every clickable grid's first row clicked, every response body and every
linked export read (``tests.manager_scan``): none holds a planted identifier. The HTML report of
the same snapshot names none either.
"""

from __future__ import annotations

import itertools
from urllib.parse import urlsplit

import duckdb
import pytest

from dashboards import users
from dashboards.access.privacy import patient_token
from dashboards.app import create_app
from dashboards.background import running
from dashboards.files.report import write_report
from tests.browser_support import needs_chromium
from tests.fixtures_warehouse import PATIENTS, build_fixture_warehouse, publish

# Text columns no patient identifier can reach, and why; every other text column gets one.
NOT_PLANTED = {
    "patient_id": "the identifier itself (managers get its token)",
    "rendering_npi": "an NPI: ten digits, checked at ingest (pipelines/ingest/validate.py)",
    "billing_npi": "an NPI: ten digits, checked at ingest",
    "billing_provider": "the billing NPI, carried over by the rules",
    "cpt_code": "a procedure code, its format checked at ingest",
    "modifiers": "two-character modifiers, checked at ingest",
    "diagnosis_codes": "ICD-10 codes, their format checked at ingest",
    "period": "the scores' own key, 'all' or a month, written by the pipeline",
    "rule_id": "a rule's name from the pipeline's code, which pages match on",
    "metric": "a metric's name from the pipeline's code, which pages match on",
    "label": "a metric's words from the pipeline's code (pipelines/scores/peers.py), shown as a heading",
}
PLANTED_CELLS: dict[tuple[str, str], int] = {}


def plant(warehouse) -> dict[tuple[str, str], str]:
    """Append a patient id to every value of every text column (the same id for a column name in
    every table, so that joins still join); returns {(table, column): id}."""
    ids = itertools.cycle(PATIENTS)
    by_column: dict[str, str] = {}
    planted: dict[tuple[str, str], str] = {}
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "insert into rule_coverage (rule_id, ran, patient_days_checked, patient_days_not_assessable, note) "
            "values ('DOCUMENTATION', false, 0, 12, 'notes unreadable'), ('DUPLICATE', true, 40, 0, null)"
        )
        columns = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'main' and (data_type = 'VARCHAR' or data_type = 'VARCHAR[]' or data_type = 'JSON') "
            "order by table_name, ordinal_position"
        ).fetchall()
        for table, column, dtype in columns:
            if column in NOT_PLANTED:
                continue
            pid = by_column.setdefault(column, next(ids))
            if dtype == "VARCHAR[]":
                value = f"list_transform({column}, lambda x: x || ' {pid}')"
            elif dtype == "JSON":
                value = f"""'{{"note": "{pid}"}}'::json"""
            else:
                value = f"coalesce({column} || ' ', '') || '{pid}'"
            cells = con.execute(f'update "{table}" set "{column}" = {value}').fetchone()[0]
            planted[(table, column)] = pid
            PLANTED_CELLS[(table, column)] = cells
        con.execute("checkpoint")
    finally:
        con.close()
    return planted


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted") / f"clinic-{PATIENTS[10]}"  # the path names one too
    folder.mkdir()
    info = build_fixture_warehouse(folder / "warehouse.duckdb")
    columns = plant(info.path)
    snapshot = folder / "warehouse.snapshot.duckdb"
    publish(info.path, snapshot)
    return {"info": info, "snapshot": snapshot, "columns": columns}


def leaks(text: str) -> list[str]:
    return [p for p in PATIENTS if p in text]


def test_every_text_column_is_planted(planted):
    columns = planted["columns"]
    assert {
        ("claim_lines", "clinic_name"),
        ("claim_lines", "provider_name"),
        ("claim_lines", "payer_type"),
        ("claim_lines", "payer_name"),
        ("claim_lines", "note_text"),
        ("claim_lines", "claim_id"),
        ("findings", "detail"),
        ("provider_scores", "reasons"),
        ("provider_scores", "provider_name"),
        ("provider_scores", "discipline"),
        ("provider_metrics", "peer_group"),
        ("line_units", "expected_basis"),
        ("rule_coverage", "note"),
        ("ingest_log", "status"),
        ("quarantine", "reasons"),
    } <= set(columns)
    with duckdb.connect(str(planted["snapshot"]), read_only=True) as con:
        texts = con.execute(
            "select table_name, column_name from information_schema.columns where data_type in ('VARCHAR', 'VARCHAR[]', 'JSON') "
            "and table_name <> 'snapshot_info'"
        ).fetchall()
        unplanted = {(t, c) for t, c in texts if (t, c) not in columns}
        assert {c for _, c in unplanted} <= set(NOT_PLANTED), unplanted
        assert con.execute("select count(*) from claim_lines where clinic_name like '% PHI-PAT-%'").fetchone()[0] > 0


def test_the_report_of_the_planted_snapshot_names_no_patient(planted, tmp_path):
    html = write_report(planted["snapshot"], tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Riverside Physical Therapy" in html or "Avery Stone" in html
    assert not leaks(html), leaks(html)


def test_a_managers_masked_filter_choices_still_filter(planted):
    from dashboards import data
    from dashboards.access.privacy import Viewer, protect_options
    from dashboards.data.snapshot import reading
    from dashboards.pages import overview
    from dashboards.ui import filter_bar
    from dashboards.ui.view_state import ViewState

    manager = Viewer(role="manager", key=b"k")
    with reading(planted["snapshot"]) as snap:
        known = data.all_patient_ids(snap)
        opts = data.filter_options(snap)
        raw = opts["payer_types"]
        options = protect_options([{"label": p, "value": p} for p in raw], manager, known)
        assert all("pt-" in o["value"] and not leaks(o["value"] + o["label"]) for o in options)
        # the masked value is what the dropdown, and so the URL, carries
        state = ViewState.from_search(ViewState(payers=(options[0]["value"],)).query())
        assert not leaks(state.query())
        filters = filter_bar.unmasked(state, opts, manager, known).filters()
        planted_id = planted["columns"][("claim_lines", "payer_type")]
        assert filters.payer_type == (raw[0],) and planted_id in raw[0]  # the planted value, found again
        everyone = overview.content(snap, manager, ViewState().filters())
        one_payer = overview.content(snap, manager, filters)
        assert str(one_payer["cards"]) != str(everyone["cards"])  # the filter applied


@needs_chromium
def test_a_manager_sees_no_planted_identifier_on_any_page_callback_or_export(browser, planted, tmp_path):
    from tests.manager_scan import scan

    users_file = tmp_path / "users.toml"
    users.add_user(users_file, "mona", "manager", "manager-pass")
    app = create_app(planted["snapshot"], users_file, secret_key="scan", state_dir=tmp_path / "state")
    key = app.server.config["UNITREVIEW"].token_key
    with duckdb.connect(str(planted["snapshot"]), read_only=True) as con:
        patient_days = con.execute(
            "select f.rendering_npi, f.patient_id, f.service_date from findings f where f.patient_id is not null "
            "and f.rendering_npi is not null order by f.rule_id, f.service_date limit 3"
        ).fetchall()
        therapist_days = con.execute(
            "select rendering_npi, service_date from findings where patient_id is null and rendering_npi is not null "
            "and service_date is not null order by rule_id limit 2"
        ).fetchall()
        npis = [r[0] for r in con.execute("select distinct rendering_npi from provider_scores order by 1").fetchall()]
    fill = [{"npi": npi} for npi in npis]  # every provider's page
    fill += [{"npi": npi, "token": patient_token(key, pid), "date": str(day)} for npi, pid, day in patient_days]
    fill += [{"npi": npi, "date": str(day)} for npi, day in therapist_days]
    with running(app) as base:
        result = scan(browser, base, ("mona", "manager-pass"), fill)
    found = {(where, p) for where, text in result.texts for p in leaks(text)}
    planted_ids = set(planted["columns"].values()) | {PATIENTS[10]}
    summary = (
        f"manager scan: {result.summary()}; identifiers planted: {sum(PLANTED_CELLS.values()):,} cells in "
        f"{len(planted['columns'])} text columns ({len(planted_ids)} distinct ids) and the snapshot's path; "
        f"found: {len(found)}"
    )
    print("pages scanned:", ", ".join(sorted({urlsplit(p).path for p in result.pages})))
    print(summary)
    assert any("/patient-day/" in p for p in result.pages) and any("/providers/" in p for p in result.pages)
    assert result.callbacks > 10 and result.exports, summary
    examples = [
        (where, text[max(0, text.find(p) - 80) : text.find(p) + 12])
        for where, text in result.texts
        for p in leaks(text)
    ][:5]
    assert not found, f"{summary}: e.g. {examples}"
    sharing = [g for g in result.graphs if g["showSendToCloud"] is not False]
    assert not sharing, f"graphs offering to share: {sharing[:2]}"
