"""`unitreview sample` and `unitreview appraise`: the auditor's round trip from the command line."""

from __future__ import annotations

import shutil

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.audit import worksheet as sheets
from pipelines.cli.commands import app
from tests.fixtures_warehouse import PATIENTS, build_fixture_warehouse

runner = CliRunner()


@pytest.fixture()
def warehouse(tmp_path_factory, tmp_path):
    base = build_fixture_warehouse(tmp_path_factory.mktemp("audit-cli") / "warehouse.duckdb")
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(base.path, path)
    return path


def top_provider(path) -> str:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select rendering_npi from provider_scores where period = 'all' order by risk_rank limit 1"
        ).fetchall()[0][0]


def test_a_sample_is_drawn_appraised_and_never_printed_with_patient_ids(warehouse, tmp_path):
    npi = top_provider(warehouse)
    sheet = tmp_path / "worksheet.xlsx"
    drawn = runner.invoke(
        app,
        [
            "sample",
            "--warehouse",
            str(warehouse),
            "--provider",
            npi,
            "--seed",
            "11",
            "--size",
            "5",
            "--out",
            str(sheet),
        ],
    )
    assert drawn.exit_code == 0, drawn.output
    assert sheet.exists() and "seed 11" in drawn.output
    sample = pl.read_excel(sheet, sheet_name="sample", schema_overrides=dict.fromkeys(sheets.ENTRY_COLUMNS, pl.String))
    audited = {int(i): 0.0 for i in sample["sample_item"]}  # every sampled day found wholly unsupported
    filled = tmp_path / "filled.xlsx"
    filled.write_bytes(sheets.fill_worksheet(sheet, audited))
    appraised = runner.invoke(app, ["appraise", "--worksheet", str(filled), "--warehouse", str(warehouse)])
    assert appraised.exit_code == 0, appraised.output
    assert "At least $" in appraised.output
    assert not any(p in drawn.output + appraised.output for p in PATIENTS)


def test_an_unfinished_worksheet_is_refused_with_the_item_numbers(warehouse, tmp_path):
    sheet = tmp_path / "worksheet.xlsx"
    runner.invoke(
        app,
        [
            "sample",
            "--warehouse",
            str(warehouse),
            "--provider",
            top_provider(warehouse),
            "--seed",
            "3",
            "--size",
            "4",
            "--out",
            str(sheet),
        ],
    )
    result = runner.invoke(app, ["appraise", "--worksheet", str(sheet)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "item" in result.output.lower()
