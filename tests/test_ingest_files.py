"""File-level behaviour of the input contract v1, "What bad input gets"."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import Config
from pipelines.ingest.extract import DUPLICATE_KEY_IN_FILE, ingest_file
from tests.extracts import VALID_ROW, row, rows, write_csv

PROFILES = Config().header_profiles()


def ingest(path: Path, existing=None):
    result = ingest_file(path, path.name, PROFILES, existing)
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    return result


def test_a_clean_csv_loads_every_row_with_its_lineage(tmp_path):
    result = ingest(write_csv(tmp_path / "a.csv", rows(3)))
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 3, 3)
    assert result.lines["source_row"].to_list() == [1, 2, 3]
    assert set(result.lines["source_file"]) == {"a.csv"}
    assert result.lines.schema["service_date"] == pl.Date


def test_csv_gz_parquet_and_excel_read_the_same_rows(tmp_path):
    csv_path = write_csv(tmp_path / "a.csv", rows(4))
    gz_path = tmp_path / "b.csv.gz"
    gz_path.write_bytes(gzip.compress(csv_path.read_bytes()))
    frame = pl.read_csv(csv_path, infer_schema=False)
    frame.write_parquet(tmp_path / "c.parquet")
    frame.write_excel(tmp_path / "d.xlsx")
    loaded = [
        ingest(tmp_path / n).lines.drop("source_file", "ingested_at")
        for n in ("a.csv", "b.csv.gz", "c.parquet", "d.xlsx")
    ]
    for other in loaded[1:]:
        assert other.equals(loaded[0])


def test_typed_parquet_columns_are_read_through_their_text(tmp_path):
    frame = pl.DataFrame([row()]).with_columns(
        pl.col("service_date").str.to_date(),
        pl.col("units_billed", "minutes", "line_number").cast(pl.Int64),
        pl.col("charge_amount").cast(pl.Float64),
        pl.col("visit_start", "visit_end").str.to_datetime(),
    )
    frame.write_parquet(tmp_path / "typed.parquet")
    result = ingest(tmp_path / "typed.parquet")
    assert result.rows_loaded == 1, result.quarantine["reasons"].to_list()


def test_bad_rows_are_quarantined_with_raw_values_and_good_rows_still_load(tmp_path):
    records = [*rows(3), row(claim_id="CLM-9", rendering_npi="1234567890", units_billed="-1")]
    result = ingest(write_csv(tmp_path / "mixed.csv", records))
    assert (result.rows_loaded, result.rows_quarantined) == (3, 1)
    bad = result.quarantine.row(0, named=True)
    assert bad["source_row"] == 4
    assert set(bad["reasons"]) == {"rendering_npi: check digit invalid", "units_billed: below 0"}
    assert '"rendering_npi":"1234567890"' in bad["raw_values"]


def test_a_row_that_cannot_be_split_into_the_headers_fields_is_quarantined_with_its_line(tmp_path):
    path = write_csv(tmp_path / "ragged.csv", rows(3))
    lines = path.read_text().splitlines()
    lines.insert(2, "CLM-X,1,PAT-9")  # too few fields, as data row 2
    path.write_text("\n".join(lines) + "\n")
    result = ingest(path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    bad = result.quarantine.row(0, named=True)
    assert bad["source_row"] == 2 and bad["raw_line"] == "CLM-X,1,PAT-9"
    assert result.lines["source_row"].to_list() == [1, 3, 4]


@pytest.mark.parametrize(
    ("name", "content", "reason_starts"),
    [
        ("no_required.csv", b"foo,bar\n1,2\n", "no column for required claim_id"),
        ("empty.csv", b"", "no column for required"),
        ("latin1.csv", ("claim_id,patient_id\nC1,Jos\xe9\n").encode("latin-1"), "wrong encoding: not UTF-8"),
        ("utf16.csv", "claim_id,patient_id\nC1,P\n".encode("utf-16"), "wrong encoding: UTF-16"),
        ("truncated.parquet", None, "cannot be read as parquet"),
        ("not_really.xlsx", b"this is not a workbook", "cannot be read as xlsx"),
        ("bad.csv.gz", b"\x1f\x8b\x08 definitely not gzip", "cannot be read as CSV"),
    ],
)
def test_a_file_that_is_not_a_readable_table_is_rejected_whole_with_a_reason(tmp_path, name, content, reason_starts):
    path = tmp_path / name
    if content is None:
        pl.DataFrame(rows(50)).write_parquet(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    result = ingest(path)
    assert result.status == "rejected"
    assert result.reason.startswith(reason_starts), result.reason
    assert result.rows_loaded == result.rows_quarantined == 0


def test_a_rejection_reason_never_quotes_a_cell(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(("claim_id,patient_id\nC1,PATIENT-S\xe9CRET\n").encode("latin-1"))
    assert "PATIENT" not in ingest(path).reason


def test_vendor_headers_are_read_through_the_mapping_profile(tmp_path):
    vendor = {
        "claim_id": "Claim Number",
        "service_date": "Date of Service",
        "cpt_code": "CPT",
        "rendering_npi": "Rendering Provider NPI",
        "units_billed": "Units",
    }
    record = {vendor.get(k, k): v for k, v in row(service_date="10/01/2026").items()}
    result = ingest(write_csv(tmp_path / "vendor.csv", [record]))
    assert result.rows_loaded == 1
    assert "Date of Service->service_date" in result.profile_columns
    assert result.lines["service_date"].dt.day().to_list() == [1]


def test_headers_match_ignoring_case_spaces_dashes_and_underscores(tmp_path):
    record = {
        "Claim-ID": "C1",
        "LINE NUMBER": "1",
        **{k: v for k, v in VALID_ROW.items() if k not in ("claim_id", "line_number")},
    }
    assert ingest(write_csv(tmp_path / "spelled.csv", [record])).rows_loaded == 1


def test_two_headers_for_one_column_reject_the_file(tmp_path):
    record = {**VALID_ROW, "CPT": "97110"}
    result = ingest(write_csv(tmp_path / "ambiguous.csv", [record]))
    assert result.status == "rejected" and "several headers map to cpt_code" in result.reason


def test_columns_beyond_the_contract_are_carried_as_they_are(tmp_path):
    result = ingest(write_csv(tmp_path / "extra.csv", [{**row(), "Referring MD": "Dr. =Who"}]))
    assert result.lines["Referring MD"].to_list() == ["Dr. =Who"]


def test_a_repeated_line_key_in_one_file_loads_the_first_and_quarantines_the_rest(tmp_path):
    result = ingest(write_csv(tmp_path / "dup.csv", [row(), row(units_billed="3")]))
    assert result.lines["units_billed"].to_list() == [2]
    assert result.quarantine["reasons"].to_list() == [[DUPLICATE_KEY_IN_FILE]]


def test_a_line_key_loaded_from_an_earlier_file_is_quarantined(tmp_path):
    def already_loaded(keys: pl.DataFrame) -> pl.DataFrame:
        return keys.filter(pl.col("claim_id") == "CLM-2")

    result = ingest(write_csv(tmp_path / "later.csv", rows(3)), existing=already_loaded)
    assert result.rows_loaded == 2
    assert result.quarantine["source_row"].to_list() == [2]
