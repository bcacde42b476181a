"""The auditor's worksheet: its content (items, lines, findings, empty entry columns, parameters),
formula safety, reading it back, the appraisal of a completed one against the stored sample, errors
that name item numbers (never patients), and an appraisal re-run exactly from audit_appraisals."""

from __future__ import annotations

import io
import re
import shutil
import zipfile

import duckdb
import polars as pl
import pytest

from dashboards.files.safe_export import FORMULA_PREFIXES
from pipelines.audit import commands, store
from pipelines.audit import worksheet as sheets
from pipelines.audit.appraise import AppraisalError
from tests.fixtures_warehouse import BAIT_MODIFIER, BAIT_NOTE, BAIT_PAYER, PATIENTS, build_fixture_warehouse

NPI = "1000000001"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_fixture_warehouse(tmp_path_factory.mktemp("audit-ws") / "warehouse.duckdb")


@pytest.fixture()
def drawn(base, tmp_path):
    """A warehouse copy with a stored stratified sample whose last stratum is sampled in full."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(base.path, warehouse)
    out = tmp_path / "worksheet.xlsx"
    summary = commands.draw_sample(warehouse, NPI, seed=2026, strata="150,180,200", stratum_sizes="5,4,all", out=out)
    return warehouse, out, summary


def _simulated_audit(path) -> dict[int, float]:
    """Audited = examined - the day's findings' amount at risk (capped at the examined amount)."""
    sample = pl.read_excel(path, sheet_name="sample", schema_overrides=dict.fromkeys(sheets.ENTRY_COLUMNS, pl.String))
    return {
        int(i): round(max(0.0, e - r), 2)
        for i, e, r in zip(sample["sample_item"], sample["examined_amount"], sample["amount_at_risk"], strict=True)
    }


def test_worksheet_holds_items_lines_findings_and_empty_entry_columns(drawn):
    warehouse, out, summary = drawn
    d = summary.draw
    book = pl.read_excel(out, sheet_id=0, infer_schema_length=None)
    assert set(book) == {"sample", "lines", "findings", "parameters", "strata", "read_me"}
    sample = book["sample"]
    assert sample["sample_item"].to_list() == list(range(1, d.sample_size + 1))
    assert sample["stratum"].to_list() == [1] * 5 + [2] * 4 + [3] * 4
    for column in sheets.ENTRY_COLUMNS:
        assert sample[column].null_count() == sample.height  # left empty for the auditor
    assert set(sample["patient_id"]) <= set(PATIENTS)  # auditors need the patient ids
    assert all(
        k == f"{p}|{day}"
        for k, p, day in zip(sample["beneficiary_day"], sample["patient_id"], sample["service_date"], strict=True)
    )
    assert sample["examined_amount"].to_list() == d.items["examined_amount"].to_list()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        n_lines = con.execute(
            "select count(*) from claim_lines c join audit_samples s on s.patient_id = c.patient_id "
            "and s.service_date = c.service_date and c.rendering_npi = s.rendering_npi where s.sample_id = ?",
            [d.sample_id],
        ).fetchall()[0][0]
    lines = book["lines"]
    assert lines.height == n_lines and {"minutes", "units_billed", "expected_units", "method"} <= set(lines.columns)
    assert (
        lines.group_by("sample_item").agg(pl.col("units_billed").sum()).sort("sample_item")["units_billed"].to_list()
        == sample["units_billed"].to_list()
    )
    findings = book["findings"]
    assert {"UNITS_OVER_MINUTES", "DAILY_LIMIT"} <= set(findings["rule_id"])
    assert set(findings["grain"]) <= {"line", "patient-day", "therapist-day"}
    own = (
        findings.filter(pl.col("grain") != "therapist-day").group_by("sample_item").agg(pl.col("amount_at_risk").sum())
    )
    per_item = dict(zip(own["sample_item"], own["amount_at_risk"], strict=True))
    assert [round(per_item.get(i, 0.0), 2) for i in sample["sample_item"]] == sample["amount_at_risk"].to_list()
    params = dict(zip(book["parameters"]["parameter"], book["parameters"]["value"], strict=True))
    assert params["sample_id"] == d.sample_id and params["seed"] == "2026" and params["rendering_npi"] == NPI
    assert params["frame_size"] == "21" and params["strata"] == "150,180,200" and params["stratum_sizes"] == "5,4,all"
    assert params["config_fingerprint"] == d.config_fingerprint and "PCG64" in params["procedure"]
    strata = book["strata"]
    assert strata["frame_size"].to_list() == [9, 8, 4] and strata["sample_size"].to_list() == [5, 4, 4]
    assert strata["sampled_in_full"].to_list() == [False, False, True]


def test_worksheet_is_formula_safe(base, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(base.path, warehouse)
    out = tmp_path / "all.xlsx"
    commands.draw_sample(warehouse, NPI, seed=1, size=21, out=out)  # every day, so the bait line is in
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8"), name  # no formula cell anywhere
    book = pl.read_excel(out, sheet_id=0, infer_schema_length=None)
    seen = []
    for frame in book.values():
        for column, dtype in frame.schema.items():
            if dtype == pl.String:
                values = frame[column].drop_nulls().to_list()
                assert not [v for v in values if v.startswith(FORMULA_PREFIXES)], column
                seen += values
    assert "'" + BAIT_MODIFIER in seen and "'" + BAIT_PAYER in seen
    assert BAIT_NOTE not in seen  # notes are not copied into the worksheet


def test_completed_worksheet_appraised_and_stored(drawn, tmp_path):
    warehouse, out, summary = drawn
    audited = _simulated_audit(out)
    filled = tmp_path / "filled.xlsx"
    filled.write_bytes(sheets.fill_worksheet(out, audited))
    result = commands.appraise_worksheet(filled, warehouse)
    a = result.appraisal
    assert a.sample_id == summary.draw.sample_id and a.design == "stratified"
    assert result.checked_against == str(warehouse)
    table = a.table()
    assert table["scope"].to_list() == ["stratum", "stratum", "stratum", "overall"]
    full = table.filter(pl.col("stratum") == 3).row(0, named=True)
    assert full["standard_error"] == 0 and full["lower_90"] == full["upper_90"] == pytest.approx(full["point_estimate"])
    overall = table.filter(pl.col("scope") == "overall").row(0, named=True)
    assert overall["distribution"] == "z" and overall["one_sided_lower_90"] == overall["lower_80"]
    assert overall["at_least"] == overall["lower_90"]
    # by hand: sum of N_h * mean_h of (examined - audited)
    items = summary.draw.items.with_columns(
        pl.Series("audited", [audited[i] for i in summary.draw.items["sample_item"]]),
    ).with_columns((pl.col("examined_amount") - pl.col("audited")).alias("d"))
    per = items.group_by("stratum").agg(pl.col("d").mean(), pl.col("frame_size").first())
    assert overall["point_estimate"] == pytest.approx(
        sum(m * n for m, n in zip(per["d"], per["frame_size"], strict=True))
    )
    text = "\n".join(result.summary_lines())
    assert "At least $" in text or "no overpayment is demonstrated" in text
    assert not any(p in text for p in PATIENTS)
    with duckdb.connect(str(warehouse)) as con:
        stored = store.load_appraisal(con, a.appraisal_id)
        assert stored.height == 4 and stored["sample_id"].unique().to_list() == [a.sample_id]
        again = store.rerun_appraisal(con, a.appraisal_id)
    assert again.table().equals(table)  # re-run exactly from the stored inputs


def test_missing_audited_amounts_name_the_item_numbers(drawn, tmp_path):
    warehouse, out, _ = drawn
    audited = _simulated_audit(out)
    for item in (2, 3, 4, 9):
        audited.pop(item)
    partial = tmp_path / "partial.xlsx"
    partial.write_bytes(sheets.fill_worksheet(out, audited))
    with pytest.raises(AppraisalError) as err:
        commands.appraise_worksheet(partial, warehouse)
    message = str(err.value)
    assert "sample item(s) 2-4, 9" in message and not any(p in message for p in PATIENTS)
    with pytest.raises(AppraisalError, match="sample item"):
        commands.appraise_worksheet(out, None)  # nothing filled in at all


def test_a_tampered_worksheet_is_refused(drawn, tmp_path):
    warehouse, out, _ = drawn
    book = pl.read_excel(out, sheet_id=0, infer_schema_length=None)
    audited = _simulated_audit(out)
    sample = book["sample"].with_columns(
        pl.Series("audited_amount", [audited[int(i)] for i in book["sample"]["sample_item"]], dtype=pl.Float64),
        pl.when(pl.col("sample_item") == 6)
        .then(pl.col("examined_amount") + 50)
        .otherwise(pl.col("examined_amount"))
        .alias("examined_amount"),
    )
    bad = tmp_path / "tampered.xlsx"
    bad.write_bytes(sheets.write_book({**book, "sample": sample}))
    with pytest.raises(AppraisalError, match=r"sample item\(s\) 6 of the worksheet differ"):
        commands.appraise_worksheet(bad, warehouse)
    # without the warehouse the worksheet's own parameters are used (and say so)
    alone = commands.appraise_worksheet(bad, None)
    assert alone.checked_against is None and "own parameters" in alone.notes[0]


def test_amount_cells_are_read_leniently(drawn, tmp_path):
    _, out, summary = drawn
    n = summary.draw.sample_size
    book = pl.read_excel(out, sheet_id=0, infer_schema_length=None)
    typed = ["$1,234.50", "(12.00)", " 7 ", "0"] + ["10"] * (n - 4)
    sample = book["sample"].with_columns(pl.Series("audited_amount", typed, dtype=pl.String))
    path = tmp_path / "typed.xlsx"
    path.write_bytes(sheets.write_book({**book, "sample": sample}))
    ws = sheets.read_worksheet(path)
    assert ws.items["audited_amount"].to_list()[:4] == [1234.5, -12.0, 7.0, 0.0]
    sample = sample.with_columns(
        pl.when(pl.col("sample_item") == 5).then(pl.lit("n/a")).otherwise("audited_amount").alias("audited_amount")
    )
    path.write_bytes(sheets.write_book({**book, "sample": sample}))
    with pytest.raises(AppraisalError, match=r"sample item\(s\) 5 is not a number"):
        sheets.read_worksheet(path)


def test_not_a_worksheet(tmp_path):
    other = tmp_path / "other.xlsx"
    from dashboards.files.safe_export import to_xlsx_bytes

    other.write_bytes(to_xlsx_bytes({"findings": pl.DataFrame({"a": [1]})}))
    with pytest.raises(AppraisalError, match="not a unitreview audit worksheet"):
        sheets.read_worksheet(other)
    with pytest.raises(AppraisalError):
        sheets.read_worksheet(io.BytesIO(b"not excel at all").getvalue())


def test_probe_worksheet_gives_a_sample_size(drawn, tmp_path):
    warehouse, out, _ = drawn
    filled = tmp_path / "probe.xlsx"
    filled.write_bytes(sheets.fill_worksheet(out, _simulated_audit(out)))
    res = commands.sample_size(warehouse=warehouse, npi=NPI, probe_worksheet=filled)
    assert res.population_size == 21 and 1 <= res.n <= 21 and res.basis == "probe sample"
    assert re.search(r"n0 = \(z\*s/\(r\*mean\)\)\^2", res.formula)
