"""The fast ingest path gives exactly what the straightforward one gives.

``validate_typed`` (each value conformed and parsed once per distinct value, ClaimLineText's rules
evaluated on the parsed values) must equal ``typed(validate(conform(...)))`` (the rules parsing the
text row by row, then every valid row parsed again), row for row and reason for reason; and the
ingest step, which reads the next file while it writes the current one, must load, skip and reject
exactly as a file-by-file loop would.
"""

from __future__ import annotations

import gc
import random
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipelines.ingest.load as ingest_asset
import pipelines.ingest.validate as validate_module
from pipelines.definitions import build_defs
from pipelines.ingest.columns import CANONICAL
from pipelines.ingest.extract import (
    DUPLICATE_KEY_IN_FILE,
    DUPLICATE_KEY_LOADED,
    ingest_file,
)
from pipelines.ingest.validate import (
    PARSERS,
    REASONS,
    ClaimLineText,
    PreparsedClaimLine,
    conform,
    conform_derived,
    typed,
    validate,
    validate_typed,
)
from tests.extracts import VALID_ROW, write_csv

# Unicode White_Space and a few look-alikes that are not (zero-width space, BOM, unit separator)
SPACES = [" ", "\t", "\n", "\x0b", "\x85", "\xa0", "\u2003", "\u3000", "\u200b", "\ufeff", "\x1f"]

# per column: the valid value first, then variants valid or not
VALUES: dict[str, list[str]] = {
    "claim_id": ["CLM-1", "CLM-2", "CLM-3", ""],
    "line_number": ["1", "2", "0", "-1", "1.0", "2.00", "1.5", "x", "+3", "007", "٣", "9223372036854775808"],
    "patient_id": ["PAT-1", "PAT-2", ""],
    "rendering_npi": ["1234567893", "1234567890", "123456789", "١٢٣٤٥٦٧٨٩٣", "abcdefghij", "12345678931"],
    "service_date": [
        "2026-10-01",
        "10/01/2026",
        "2026-10-01 00:00:00",
        "2026-10-01T00:00",
        "2026-10-01 00:00:00.000",
        "2026-13-01",
        "1999-12-31",
        "2099-01-01",
        "01.10.2026",
        "10/1/2026",
        "2026-10-01 10:00",
    ],
    "cpt_code": ["97112", "g0283", "9711", "97112A", "97530"],
    "units_billed": ["2", "0", "-1", "2.0", "two", "1e1"],
    "payer_type": [
        "medicare",
        "Medicare Advantage",
        "MEDICARE-ADVANTAGE",
        "medicare \t advantage",
        "self_pay",
        "Workers Comp",
    ],
    "minutes": ["30", "721", "-5", "thirty", "15.0", "720"],
    "total_timed_minutes": ["30", "1441", "60", "x"],
    "billing_npi": ["1245319599", "1245319598", "12453", "1234567893"],
    "modifiers": ["GP", "GP, 59 KX;CQ", "GP;59;KX;CQ;XU", "G", "gp"],
    "diagnosis_codes": ["I63.9;R26.81", "I639; r2681", "stroke", ";I63.9", "M25.511"],
    "payer_name": ["Medicare Part B", '=HYPERLINK("x")'],
    "charge_amount": ["120.00", "$120", "-3.00", "120", "1,200.00", "1e3", ".5", "5."],
    "allowed_amount": ["70.50", "-1", "abc", "0"],
    "paid_amount": ["56.40", "-3.00", "NaN", "inf"],
    "visit_start": ["2026-10-01T09:00", "2026-10-01 09:00:00", "2026-10-01T09:00:00.123", "9am", "2026-10-01T25:00"],
    "visit_end": ["2026-10-01T09:45", "2026-10-01T08:00", "2026-10-02T09:30", "2026-10-01 09:45:30", "x"],
    "provider_specialty": ["PT", "OT"],
    "provider_name": ["Avery Lopez, PT"],
    "clinic_name": ["Riverside Physical Therapy"],
    "deficit_documented": ["true", "False", "Y", "n", "1", "0", "maybe"],
    "goals_documented": ["yes", "no", "t"],
    "response_documented": ["true", "2"],
    "note_text": ["Pt tolerated tx well.", "line1\nline2"],
    "justification_documented": ["F", "nope"],
}


@st.composite
def extracts(draw):
    """Raw text rows (as a reader returns them) and the header renames: values drawn from small
    pools, so that most columns repeat their values (the per-distinct-value path) or not."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    n = draw(st.sampled_from([0, 1, 3, 20, 400]))
    p_bad, p_space, p_blank = (draw(st.sampled_from([0.0, 0.05, 0.5])) for _ in range(3))
    columns = [c for c in CANONICAL if c in VALUES and (rng.random() < 0.85 or c == "claim_id")]
    headers = {c: rng.choice([c, c.upper(), c.replace("_", " ")]) for c in columns}
    data: dict[str, list[str | None]] = {}
    for c in columns:
        cells = []
        for i in range(n):
            value = VALUES[c][0] if rng.random() >= p_bad else rng.choice(VALUES[c])
            if c == "claim_id" and value:
                value = f"CLM-{i if rng.random() < 0.9 else rng.randrange(max(n, 1))}"
            if rng.random() < p_space:
                value = rng.choice(SPACES) + value if rng.random() < 0.5 else value + rng.choice(SPACES)
            if rng.random() < p_blank:
                value = rng.choice([None, "", " ", "\xa0\t"])
            cells.append(value)
        data[headers[c]] = cells
    rows = pl.DataFrame(
        {"source_row": list(range(1, n + 1)), **data},
        schema={"source_row": pl.Int64, **dict.fromkeys(data, pl.String)},
    )
    return rows, {h: c for c, h in headers.items()}


def reference(rows: pl.DataFrame, renames: dict[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    valid, invalid = validate(conform(rows, renames))
    return typed(valid), invalid


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(extracts())
def test_validate_typed_gives_the_rows_and_reasons_of_validate_then_typed(extract):
    rows, renames = extract
    lines, invalid = validate_typed(rows, renames)
    want_lines, want_invalid = reference(rows, renames)
    assert lines.schema == want_lines.schema
    assert lines.equals(want_lines)
    assert invalid.equals(want_invalid)


def test_a_large_extract_takes_the_per_distinct_value_path_and_agrees():
    rng = random.Random(3)
    n = 20_000
    data = {c: [rng.choice(VALUES[c]) if rng.random() < 0.1 else VALUES[c][0] for _ in range(n)] for c in VALUES}
    data["claim_id"] = [f"CLM-{i}" for i in range(n)]
    data["visit_start"] = [f"2026-10-{1 + i % 28:02d}T{8 + i % 9:02d}:{i % 60:02d}" for i in range(n)]
    data["payer_type"] = [rng.choice(VALUES["payer_type"]) + rng.choice(["", " ", "\u3000"]) for _ in range(n)]
    rows = pl.DataFrame({"source_row": range(1, n + 1), **data}).with_columns(pl.col("source_row").cast(pl.Int64))
    renames = {c: c for c in data}
    lines, invalid = validate_typed(rows, renames)
    want_lines, want_invalid = reference(rows, renames)
    assert lines.equals(want_lines) and invalid.equals(want_invalid)
    assert 0 < invalid.height < n


def test_values_whose_hashes_collide_are_looked_up_by_their_text(monkeypatch):
    monkeypatch.setattr(validate_module, "_hashes_distinct", lambda hashes: False)
    test_a_large_extract_takes_the_per_distinct_value_path_and_agrees()


def test_the_preparsed_schema_has_exactly_the_rules_and_columns_of_claim_line_text():
    no_rows = pl.DataFrame(schema={"source_row": pl.Int64})

    def rule_names(schema, frame: pl.DataFrame) -> list[str]:
        _, failure = schema.filter(frame)
        return [c for c in failure.details().columns if c not in schema.column_names()]

    preparsed = rule_names(PreparsedClaimLine, conform_derived(no_rows, {}))
    assert preparsed == rule_names(ClaimLineText, conform(no_rows, {}))

    assert set(preparsed) <= set(REASONS)
    extra = set(PreparsedClaimLine.column_names()) - set(ClaimLineText.column_names())
    assert extra == {f"{c}:parsed" for c in PARSERS} | {"rendering_npi:check_digit", "billing_npi:check_digit"}


def test_claim_line_text_on_its_own_still_parses_the_text():
    text = conform(
        pl.DataFrame([{"source_row": 1, **VALID_ROW, "units_billed": "-1", "service_date": "yesterday"}]),
        {c: c for c in VALID_ROW},
    )
    _, failure = ClaimLineText.filter(text)
    assert failure.counts() == {"units_billed_min": 1, "service_date_format": 1}


# ---- ingest_file: line keys, quarantine, lineage ----------------------------------------------------


def test_repeated_and_already_loaded_keys_are_quarantined_as_before(tmp_path):
    records = [
        {**VALID_ROW, "claim_id": "CLM-1"},
        {**VALID_ROW, "claim_id": "CLM-2"},
        {**VALID_ROW, "claim_id": "CLM-1", "units_billed": "3"},  # repeats row 1
        {**VALID_ROW, "claim_id": "CLM-3", "line_number": "2.0"},  # loaded before as 2
        {**VALID_ROW, "claim_id": "CLM-3", "line_number": "2"},  # repeats row 4, loaded before
        {**VALID_ROW, "claim_id": "CLM-4", "units_billed": "-1"},  # invalid
        {**VALID_ROW, "claim_id": "CLM-5", "Memo": " x "},
    ]
    path = write_csv(tmp_path / "keys.csv", records, header=[*VALID_ROW, "Memo"])

    def loaded(keys: pl.DataFrame) -> pl.DataFrame:
        assert keys.height == keys.unique().height  # each key asked once
        return keys.filter((pl.col("claim_id") == "CLM-3") & (pl.col("line_number") == 2))

    result = ingest_file(path, "keys.csv", {}, loaded)
    assert result.lines["source_row"].to_list() == [1, 2, 7]
    assert result.lines["Memo"].to_list() == [None, None, " x "]
    assert result.quarantine.select("source_row", "reasons").rows() == [
        (3, [DUPLICATE_KEY_IN_FILE]),
        (4, [DUPLICATE_KEY_LOADED]),
        (5, [DUPLICATE_KEY_LOADED]),
        (6, [REASONS["units_billed_min"]]),
    ]
    assert result.rows_read == 7


# ---- the ingest step: files in order, each on its own, work ahead dropped when not needed -------------


def run_ingest(folder: Path, warehouse: Path) -> dg.ExecuteInProcessResult:
    defs = build_defs(warehouse_path=str(warehouse), input_path=str(folder), config_path=None)
    return defs.resolve_job_def("ingest").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def ingest_log(warehouse: Path) -> list[tuple]:
    gc.collect()  # a failed step's connection closes when its traceback is collected
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select source_file, status, rows_loaded, rows_quarantined from ingest_log order by ingested_at"
        ).fetchall()


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "a.csv", [{**VALID_ROW, "claim_id": f"A-{i}"} for i in range(3)])
    write_csv(folder / "b.csv", [{**VALID_ROW, "claim_id": f"A-{i}"} for i in range(2, 5)])  # A-2 again
    (folder / "c.parquet").write_bytes(b"PAR1 not really")
    shutil.copy(folder / "a.csv", folder / "d.csv")  # same content as a.csv
    write_csv(folder / "e.csv", [{**VALID_ROW, "claim_id": "E-1"}])
    return folder


@pytest.mark.slow  # a subprocess or a Dagster run
def test_files_load_in_order_with_duplicates_and_rejections_as_a_file_by_file_loop(folder, tmp_path, monkeypatch):
    prepared: list[str] = []
    real = ingest_asset.prepare_file
    monkeypatch.setattr(
        ingest_asset, "prepare_file", lambda path, *a, **k: prepared.append(path.name) or real(path, *a, **k)
    )
    warehouse = tmp_path / "w.duckdb"
    assert run_ingest(folder, warehouse).success
    assert ingest_log(warehouse) == [
        ("a.csv", "loaded", 3, 0),
        ("b.csv", "loaded", 2, 1),  # A-2 was loaded from a.csv
        ("c.parquet", "rejected", 0, 0),
        ("d.csv", "duplicate", 0, 0),
        ("e.csv", "loaded", 1, 0),
    ]
    assert "d.csv" not in prepared  # a duplicate is not read

    prepared.clear()
    assert run_ingest(folder, warehouse).success  # nothing new: no file is read again
    assert prepared == []
    assert len(ingest_log(warehouse)) == 5


@pytest.mark.slow  # a subprocess or a Dagster run
def test_an_error_while_reading_ahead_stops_the_step_at_that_file_after_the_earlier_ones(folder, tmp_path, monkeypatch):
    real = ingest_asset.prepare_file

    def failing(path, *a, **k):
        if path.name == "b.csv":
            raise RuntimeError("boom")
        return real(path, *a, **k)

    monkeypatch.setattr(ingest_asset, "prepare_file", failing)
    warehouse = tmp_path / "w.duckdb"
    assert not run_ingest(folder, warehouse).success
    assert ingest_log(warehouse) == [("a.csv", "loaded", 3, 0)]
