"""The rules stage's asset checks: they pass on a reviewed warehouse and fail, with a count, on the
damage each one is there to catch."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from pipelines.assets.rules import findings_keys_exist, no_negative_expected_units, one_units_row_per_line


@pytest.fixture(scope="module")
def reviewed(samples_review) -> Path:
    return samples_review


def damaged(reviewed: Path, tmp_path: Path, *statements: str) -> DuckDBResource:
    copy = tmp_path / "w.duckdb"
    shutil.copy(reviewed, copy)
    with duckdb.connect(str(copy)) as con:
        for statement in statements:
            con.execute(statement)
    return DuckDBResource(database=str(copy))


def test_every_check_passes_on_a_reviewed_warehouse(reviewed):
    db = DuckDBResource(database=str(reviewed))
    assert findings_keys_exist(warehouse_db=db).passed
    assert one_units_row_per_line(warehouse_db=db).passed
    assert no_negative_expected_units(warehouse_db=db).passed


@pytest.mark.parametrize(
    ("key", "change"),
    [
        (
            "claim line",
            "update findings set line_number = 999 where rowid = (select min(rowid) from findings where claim_id is not null)",
        ),
        (
            "patient-day",
            "update findings set patient_id = 'NO-SUCH-PATIENT' where rowid = (select min(rowid) from findings where patient_id is not null)",
        ),
        (
            "therapist-day",
            "update findings set rendering_npi = '0000000000' where rowid = (select min(rowid) from findings where rendering_npi is not null)",
        ),
    ],
)
def test_a_finding_whose_key_is_not_in_claim_lines_fails_the_check(reviewed, tmp_path, key, change):
    result = findings_keys_exist(warehouse_db=damaged(reviewed, tmp_path, change))
    assert not result.passed, key
    assert result.metadata["findings_with_unknown_keys"].value == 1


def test_a_line_without_its_units_row_or_with_two_fails_the_check(reviewed, tmp_path):
    missing = damaged(reviewed, tmp_path, "delete from line_units where rowid = (select min(rowid) from line_units)")
    result = one_units_row_per_line(warehouse_db=missing)
    assert not result.passed and result.metadata["lines_without_exactly_one_row"].value == 1
    (tmp_path / "w.duckdb").unlink()
    doubled = damaged(reviewed, tmp_path, "insert into line_units select * from line_units limit 2")
    result = one_units_row_per_line(warehouse_db=doubled)
    assert not result.passed and result.metadata["lines_without_exactly_one_row"].value == 2


def test_a_units_row_moved_to_another_key_fails_though_the_row_counts_agree(reviewed, tmp_path):
    # as many units rows as lines, but one line has none and one row belongs to no line
    moved = damaged(
        reviewed, tmp_path, "update line_units set line_number = 999 where rowid = (select min(rowid) from line_units)"
    )
    result = one_units_row_per_line(warehouse_db=moved)
    assert not result.passed and result.metadata["lines_without_exactly_one_row"].value == 2


def test_negative_expected_units_fail_the_check(reviewed, tmp_path):
    negative = damaged(
        reviewed,
        tmp_path,
        "update line_units set expected_units = -1 where rowid = (select min(rowid) from line_units)",
    )
    result = no_negative_expected_units(warehouse_db=negative)
    assert not result.passed and result.metadata["negative_expected_units"].value == 1
