"""The review of the committed data_samples/, checked against the keys the generator wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.generate.evaluate import GRAIN, documentation_by_element, precision_recall, read_answer_key

SAMPLES = Path(__file__).resolve().parent.parent / "data_samples"
# the quarantine key names columns; the review's reasons name some of them by their group
REASON_WORDS = {
    "charge_amount": "amount",
    "allowed_amount": "amount",
    "paid_amount": "amount",
    "visit_start": "visit_",
    "visit_end": "visit_",
    "deficit_documented": "documentation flag",
    "goals_documented": "documentation flag",
    "response_documented": "documentation flag",
    "justification_documented": "documentation flag",
}


@pytest.fixture(scope="module")
def reviewed(samples_review) -> Path:
    return samples_review


def query(warehouse: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(sql).pl()


def test_every_file_is_loaded_or_rejected_as_the_ingest_key_says(reviewed):
    expected = pl.read_ndjson(SAMPLES / "ingest_key.ndjson").sort("source_file")
    got = query(
        reviewed,
        "select source_file, status, rows_read, rows_loaded, rows_quarantined from ingest_log order by source_file",
    )
    for want, have in zip(expected.iter_rows(named=True), got.iter_rows(named=True), strict=True):
        assert have["source_file"] == want["source_file"] and have["status"] == want["status"]
        if want["status"] == "loaded":
            assert (have["rows_read"], have["rows_loaded"], have["rows_quarantined"]) == (
                want["rows_read"],
                want["rows_loaded"],
                want["rows_quarantined"],
            )
        assert have["rows_read"] == have["rows_loaded"] + have["rows_quarantined"]


def test_exactly_the_keyed_bad_rows_are_quarantined_each_with_its_reasons(reviewed):
    key = pl.read_ndjson(SAMPLES / "quarantine_key.ndjson")
    got = query(reviewed, "select source_file, source_row, reasons from quarantine")
    joined = key.join(got, on=["source_file", "source_row"], how="full", suffix="_got")
    assert joined.filter(pl.col("reasons").is_null() | pl.col("reasons_got").is_null()).height == 0
    for expected, reasons in joined.select("reasons", "reasons_got").iter_rows():
        text = " | ".join(reasons)
        for column in expected:
            assert REASON_WORDS.get(column, column) in text, (column, reasons)


def test_hostile_text_in_valid_rows_is_loaded_as_data(reviewed):
    names = query(reviewed, "select distinct payer_name from claim_lines")["payer_name"].to_list()
    assert any(n and n.startswith("=HYPERLINK(") for n in names)
    assert any(n and "drop table" in n for n in names)


def test_every_planted_finding_is_found_and_nothing_else(reviewed):
    result = precision_recall(query(reviewed, "select * from findings"), read_answer_key(SAMPLES / "answer_key.ndjson"))
    planted_rules = set(pl.read_ndjson(SAMPLES / "answer_key.ndjson")["rule_id"])
    assert set(result["rule_id"]) == planted_rules
    assert result.filter((pl.col("precision") < 1) | (pl.col("recall") < 1)).height == 0, result


def test_documentation_names_exactly_the_missing_elements(reviewed):
    findings = query(reviewed, "select * from findings")
    result = documentation_by_element(findings, read_answer_key(SAMPLES / "answer_key.ndjson"))
    assert result.filter(pl.col("element") == "any")["planted"].item() > 0
    assert result.filter((pl.col("planted") > 0) & ((pl.col("precision") < 1) | (pl.col("recall") < 1))).height == 0, (
        result
    )
    # the samples exercise the flags, the note text, and a clinic exporting both
    plants = set(pl.read_ndjson(SAMPLES / "answer_key.ndjson").filter(pl.col("rule_id") == "DOCUMENTATION")["plant"])
    assert plants == {"documentation_flags", "documentation_notes", "documentation_both"}


def test_the_report_quotes_no_note(reviewed):
    html = reviewed.with_name("w_report.html").read_text()
    details = query(reviewed, "select detail from findings where rule_id = 'DOCUMENTATION'")["detail"].to_list()
    assert details and "\u201c" not in html
    notes = query(reviewed, "select distinct note_text from claim_lines where note_text is not null")["note_text"]
    assert notes.len() > 0 and not [n for n in notes.to_list() if len(n) > 20 and n in html]


def test_every_rule_id_fills_its_grain_columns(reviewed):
    findings = query(reviewed, "select * from findings")
    for rule_id, columns in GRAIN.items():
        rows = findings.filter(pl.col("rule_id") == rule_id)
        assert rows.height > 0, rule_id
        assert rows.select(pl.any_horizontal(pl.col(columns).is_null()).sum()).item() == 0, rule_id


def test_the_planted_high_97112_providers_are_outliers_near_the_top(reviewed):
    planted = set(pl.read_ndjson(SAMPLES / "planted_providers.ndjson")["rendering_npi"])
    scores = query(
        reviewed,
        "select rendering_npi, discipline, risk_rank, outlier, reasons from provider_scores where period = 'all' order by risk_rank",
    )
    mine = scores.filter(pl.col("rendering_npi").is_in(list(planted)))
    assert mine["outlier"].all() and mine["risk_rank"].max() <= len(planted) + 1
    assert all("97112" in r for r in mine["reasons"])
    # among their physical-therapy peers they come first
    assert set(scores.filter(pl.col("discipline") == "PT")["rendering_npi"].head(len(planted))) == planted


def test_reviewing_the_samples_again_changes_no_table(reviewed, run_review, tmp_path):
    again = shutil.copy(reviewed, tmp_path / "w.duckdb")  # the session's review stays as it was
    tables = query(again, "select table_name from information_schema.tables order by 1")["table_name"].to_list()
    before = {t: query(again, f'select count(*) n from "{t}"')["n"][0] for t in tables}
    result = run_review(SAMPLES, again)
    assert result.exit_code == 0, result.output
    after = {t: query(again, f'select count(*) n from "{t}"')["n"][0] for t in tables}
    assert after == before


def test_the_review_publishes_the_snapshot_and_the_report(reviewed):
    assert reviewed.with_name("w.snapshot.duckdb").exists()
    html = reviewed.with_name("w_report.html").read_text()
    assert '<script src="http' not in html
    patients = query(reviewed, "select distinct patient_id from claim_lines")["patient_id"].to_list()
    assert not [p for p in patients if p in html]


def test_samples_folder_is_what_the_generator_writes(tmp_path):
    from pipelines.generate import write_samples

    write_samples(tmp_path, seed=2026)
    for path in SAMPLES.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
