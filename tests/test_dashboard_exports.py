"""Exports as an auditor hands them on: every finding names all its claims (``claim_ids``), an Excel
file says where it came from (``metadata`` sheet), a CSV opens right in Excel (UTF-8 byte order
mark), everything stays formula-safe, and a manager's files carry patient references only. Also the
two new downloads: the providers ranking and one patient-day."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import duckdb
import polars as pl
import pytest

from dashboards import context, data
from dashboards.access.privacy import Viewer, patient_token
from dashboards.app import create_app
from dashboards.data.snapshot import reading
from dashboards.files.safe_export import FORMULA_PREFIXES, UTF8_BOM, to_csv_bytes
from dashboards.ui import ranking
from dashboards.ui.view_state import ViewState
from tests.browser_support import USERS

SECRET = "exports test"
NPI = "1000000001"  # the fixture's flagged provider


@pytest.fixture(scope="module")
def app(snapshot_path, users_file):
    return create_app(snapshot_path, users_file, secret_key=SECRET)


def signed_in(app, name, password):
    client = app.server.test_client()
    assert client.post("/login", data={"username": name, "password": password, "next": "/"}).status_code == 302
    return client


def read_csv(body: bytes) -> list[dict]:
    assert body.startswith(UTF8_BOM)
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def sheets(body: bytes) -> dict[str, pl.DataFrame]:
    return pl.read_excel(io.BytesIO(body), sheet_id=0, infer_schema_length=0)


def token(app, pid: str) -> str:
    """The patient's reference in this app's links (its key)."""
    return patient_token(app.server.config[context.CONFIG_KEY].token_key, pid)


# ---- the CSV byte order mark --------------------------------------------------------------------------


def test_csv_starts_with_a_byte_order_mark_so_excel_reads_utf8():
    body = to_csv_bytes(pl.DataFrame({"provider_name": ["Zoë Ångström", "=1+1"], "units": [1, -2]}))
    assert body.startswith(UTF8_BOM) and body.count(UTF8_BOM) == 1
    rows = read_csv(body)
    assert rows[0]["provider_name"] == "Zoë Ångström" and rows[1]["provider_name"] == "'=1+1"
    assert list(rows[0]) == ["provider_name", "units"]  # the mark is not part of the first header


@pytest.mark.parametrize(
    "path",
    ["/export/providers/1000000001/findings.csv", "/export/providers/1000000001/lines.csv", "/export/ranking.csv"],
)
def test_every_csv_download_carries_the_mark_and_says_utf8(app, path):
    response = signed_in(app, "audrey", "auditor-pass").get(path)
    assert response.status_code == 200 and response.data.startswith(UTF8_BOM)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


# ---- claim ids ------------------------------------------------------------------------------------------


def claims_in_scope(lines: pl.DataFrame, finding: dict) -> list[str]:
    """What the finding's grain covers, worked out from the claim lines alone."""
    if finding["claim_id"]:
        return [finding["claim_id"]]
    if finding["patient_id"]:
        day = lines.filter(
            (pl.col("patient_id") == finding["patient_id"]) & (pl.col("service_date") == finding["service_date"])
        )
        if finding["billing_provider"] or finding["discipline"]:
            day = day.filter(
                (pl.col("billing_npi") == finding["billing_provider"]) & (pl.col("discipline") == finding["discipline"])
            )
        elif finding["rendering_npi"]:
            day = day.filter(pl.col("rendering_npi") == finding["rendering_npi"])
    else:
        day = lines.filter(
            (pl.col("rendering_npi") == finding["rendering_npi"]) & (pl.col("service_date") == finding["service_date"])
        )
    return sorted(set(day["claim_id"].to_list()))


def test_each_finding_lists_every_claim_of_its_line_patient_day_or_therapist_day(snapshot_path, fixture_info):
    with reading(snapshot_path) as snap:
        lines = snap.frame(
            "select cl.claim_id, cl.patient_id, cl.service_date, cl.rendering_npi, cl.billing_npi, "
            "lu.discipline from claim_lines cl join line_units lu using (claim_id, line_number)"
        )
        raw = snap.frame("select row_number() over () as finding_id, * from findings")
        claimed = data.finding_claim_ids(snap, raw["finding_id"].to_list())
    found = raw.join(claimed, on="finding_id").to_dicts()
    assert {f["rule_id"] for f in found} >= {
        "DX_SUPPORT",
        "DAILY_LIMIT",
        "OVERLAP",
        "IMPOSSIBLE_DAY",
        "MINUTES_MISSING",
    }
    several = 0
    for finding in found:
        expected = claims_in_scope(lines, finding)
        assert finding["claim_ids"] == expected, finding["rule_id"]
        several += len(expected) > 1
    assert several > 0  # therapist-day findings span several claims


def test_provider_exports_carry_the_claim_ids_column(app):
    auditor = signed_in(app, "audrey", "auditor-pass")
    rows = read_csv(auditor.get(f"/export/providers/{NPI}/findings.csv").data)
    assert rows and all("claim_ids" in r for r in rows)
    days = [r for r in rows if r["claim_id"] == ""]  # patient-day and therapist-day findings name no claim_id ...
    assert {r["rule_id"] for r in days} >= {"UNITS_OVER_MINUTES", "DAILY_LIMIT", "IMPOSSIBLE_DAY"}
    assert all(re.fullmatch(r"CLM-\d{5}(; CLM-\d{5})*", r["claim_ids"]) for r in days)  # ... but their claims
    line = [r for r in rows if r["rule_id"] == "DX_SUPPORT"]
    assert line and all(r["claim_ids"] == r["claim_id"] for r in line)
    book = sheets(auditor.get(f"/export/providers/{NPI}/review.xlsx").data)
    assert book["findings"]["claim_ids"].to_list() == [r["claim_ids"] for r in rows]


@pytest.fixture(scope="module")
def reviewed(samples_review, users_file):
    """The session's review of data_samples/ (every rule's grain, review_runs and rules_state)."""
    snapshot = samples_review.with_name("w.snapshot.duckdb")
    assert snapshot.exists()
    return {"warehouse": samples_review, "snapshot": snapshot, "users": users_file}


def test_a_real_review_names_the_claims_its_details_quote(reviewed):
    with reading(reviewed["snapshot"]) as snap:
        raw = snap.frame("select row_number() over () as finding_id, rule_id, claim_id, detail from findings")
        claimed = raw.join(data.finding_claim_ids(snap, raw["finding_id"].to_list()), on="finding_id")
    duplicates = claimed.filter(pl.col("rule_id") == "DUPLICATE")
    assert duplicates.height > 0
    for detail, claims in duplicates.select("detail", "claim_ids").iter_rows():
        quoted = set(re.findall(r"\bC\d{6,}\b", detail))
        assert quoted and quoted <= set(claims), (quoted, claims)
    for rule in ("OVERLAP", "IMPOSSIBLE_DAY"):
        days = claimed.filter(pl.col("rule_id") == rule)
        assert days.height > 0 and (days["claim_ids"].list.len() >= 2).all(), rule
    assert (claimed["claim_ids"].list.len() >= 1).all()  # every finding names at least one claim


# ---- the metadata sheet ---------------------------------------------------------------------------------


def metadata_of(body: bytes) -> dict[str, str]:
    meta = sheets(body)["metadata"]
    return dict(zip(meta["field"].to_list(), meta["value"].to_list(), strict=True))


def test_excel_metadata_says_when_who_which_filters_and_which_rules(reviewed, tmp_path):
    with reading(reviewed["snapshot"]) as snap:
        taken = snap.info().taken_at_text()
        npi = snap.rows("select rendering_npi from provider_scores where period = 'all' order by risk_rank limit 1")[0][
            0
        ]
        month = snap.rows("select strftime(min(service_date), '%Y-%m') from claim_lines")[0][0]
    with duckdb.connect(str(reviewed["warehouse"]), read_only=True) as con:
        rules_hash, units_hash = con.execute("select config_hash, units_hash from rules_state").fetchone()
        run_id, review_hash = con.execute(
            "select run_id, config_hash from review_runs order by finished_at desc limit 1"
        ).fetchone()
    signed = signed_in(
        create_app(reviewed["snapshot"], reviewed["users"], secret_key=SECRET, state_dir=tmp_path), *USERS["auditor"]
    )
    meta = metadata_of(signed.get(f"/export/providers/{npi}/review.xlsx?from={month}&to={month}&payer=medicare").data)
    assert meta["exported_by"] == "audrey" and meta["role"] == "auditor"
    assert meta["snapshot_taken_at"] == taken
    assert meta["rules_config_hash"] == rules_hash and meta["line_units_hash"] == units_hash
    assert meta["last_review_run"] == run_id and meta["last_review_config_hash"] == review_hash
    assert meta["filter: period"] == month and meta["filter: payer types"] == "medicare"
    assert meta["rule DOCUMENTATION ran"] == "yes"
    local = create_app(reviewed["snapshot"], None, secret_key=SECRET).server.test_client()
    meta = metadata_of(local.get("/export/ranking.xlsx").data)
    assert meta["exported_by"].startswith("local mode") and meta["filter: period"] == "whole review"
    assert meta["export"] == "providers ranking"


def test_metadata_of_a_snapshot_without_history_says_so_and_stays_formula_safe(app):
    body = signed_in(app, "mona", "manager-pass").get("/export/ranking.xlsx?payer=%3DHYPERLINK(1)").data
    meta = metadata_of(body)
    assert meta["rules_config_hash"] == "not recorded in this snapshot"
    assert meta["exported_by"] == "mona" and meta["patient_identifiers"] == "patient_ref tokens only"
    assert meta["filter: payer types"] == "'=HYPERLINK(1)"  # a filter value is text, never a formula
    for frame in sheets(body).values():
        for column in frame.columns:
            assert not any(str(v).startswith(FORMULA_PREFIXES) for v in frame[column].drop_nulls()), column


# ---- the providers ranking ------------------------------------------------------------------------------


def test_ranking_export_is_the_providers_page_under_the_same_filters(app, snapshot_path):
    auditor = signed_in(app, "audrey", "auditor-pass")
    query = "?from=2026-02&to=2026-03&payer=medicare&payer=medicaid&q=ston"
    rows = read_csv(auditor.get(f"/export/ranking.csv{query}").data)
    with reading(snapshot_path) as snap:
        expected = ranking.ranking(snap, Viewer("auditor", b"k"), ViewState.from_search(query))
    assert [r["rendering_npi"] for r in rows] == expected["rendering_npi"].to_list()
    assert [r["provider_name"] for r in rows] == ["Avery Stone"]
    by_npi = read_csv(auditor.get("/export/ranking.csv?q=1000000003").data)
    assert [r["rendering_npi"] for r in by_npi] == ["1000000003"]
    everyone = read_csv(auditor.get("/export/ranking.csv").data)
    assert len(everyone) == 6 and [r["risk_rank"] for r in everyone] == [str(n) for n in range(1, 7)]
    book = sheets(auditor.get(f"/export/ranking.xlsx{query}").data)
    assert (
        set(book) == {"ranking", "metadata"}
        and book["ranking"]["rendering_npi"].to_list() == expected["rendering_npi"].to_list()
    )


def test_a_bad_filter_in_an_export_link_is_refused(app):
    auditor = signed_in(app, "audrey", "auditor-pass")
    assert auditor.get("/export/ranking.csv?from=2026-13").status_code == 400
    assert auditor.get(f"/export/providers/{NPI}/findings.csv?period=last-week").status_code == 400
    assert auditor.get("/export/ranking.pdf").status_code == 404


# ---- one patient-day ------------------------------------------------------------------------------------


def a_flagged_day(snapshot_path) -> tuple[str, str]:
    with reading(snapshot_path) as snap:
        row = snap.rows(
            "select patient_id, service_date from findings where rule_id = 'UNITS_OVER_MINUTES' "
            "and rendering_npi = ? order by service_date limit 1",
            [NPI],
        )[0]
    return row[0], row[1].isoformat()


def test_patient_day_export_has_its_lines_findings_and_metadata(app, snapshot_path):
    pid, day = a_flagged_day(snapshot_path)
    base = f"/export/patient-day/{NPI}/{token(app, pid)}/{day}"
    auditor = signed_in(app, "audrey", "auditor-pass")
    with reading(snapshot_path) as snap:
        lines = data.patient_day_lines(snap, pid, dt.date.fromisoformat(day))
        findings = data.patient_day_findings(snap, pid, dt.date.fromisoformat(day))
    got_lines = read_csv(auditor.get(f"{base}/lines.csv").data)
    assert sorted((r["claim_id"], r["line_number"]) for r in got_lines) == sorted(
        (c, str(n)) for c, n in lines.select("claim_id", "line_number").iter_rows()
    )
    assert {r["patient_id"] for r in got_lines} == {pid}  # an auditor's file names the patient
    got_findings = read_csv(auditor.get(f"{base}/findings.csv").data)
    assert sorted(r["rule_id"] for r in got_findings) == sorted(findings["rule_id"].to_list())
    assert all(r["claim_ids"] for r in got_findings)
    response = auditor.get(f"{base}/day.xlsx")
    assert (
        pid not in response.headers["Content-Disposition"]
        and token(app, pid) in response.headers["Content-Disposition"]
    )
    assert set(sheets(response.data)) == {"lines", "findings", "metadata"}
    assert auditor.get(f"/export/patient-day/{NPI}/pt-0000000000000000/{day}/lines.csv").status_code == 404


# ---- managers ---------------------------------------------------------------------------------------------


def test_managers_exports_carry_patient_refs_never_patient_ids(app, snapshot_path, fixture_info):
    pid, day = a_flagged_day(snapshot_path)
    manager = signed_in(app, "mona", "manager-pass")
    downloads = {
        path: manager.get(path)
        for path in [
            *(
                f"/export/providers/{npi}/{what}"
                for npi in fixture_info.npis
                for what in ("findings.csv", "lines.csv", "review.xlsx")
            ),
            "/export/ranking.csv",
            "/export/ranking.xlsx",
            *(
                f"/export/patient-day/{NPI}/{token(app, pid)}/{day}/{what}"
                for what in ("lines.csv", "findings.csv", "day.xlsx")
            ),
        ]
    }
    refs = 0
    for path, response in downloads.items():
        assert response.status_code == 200, path
        frames = (
            list(sheets(response.data).values())
            if path.endswith(".xlsx")
            else [pl.read_csv(io.BytesIO(response.data), infer_schema_length=0)]
        )
        text = "\n".join(f.write_csv() for f in frames)
        leaked = [p for p in fixture_info.patient_ids if p in text]
        assert not leaked, (path, leaked[:2])
        assert not [f for f in frames if "patient_id" in f.columns], path  # no patient id column at all
        refs += "pt-" in text
    day_lines = read_csv(downloads[f"/export/patient-day/{NPI}/{token(app, pid)}/{day}/lines.csv"].data)
    assert {r["patient_ref"] for r in day_lines} == {token(app, pid)}
    assert refs >= len(fixture_info.npis)  # findings and lines name patients by reference
