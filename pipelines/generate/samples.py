"""The small committed sample set (``data_samples/``): every way an extract arrives, with its keys.

- ``claims_2026_09.csv``: canonical headers;
- ``claims_2026_10_vendor.xlsx``: the next month with a vendor's headers ("Claim Number", "Date of
  Service" as MM/DD/YYYY, ...), read through the shipped header profile;
- ``claims_2026_10_bad_rows.csv``: 50 rows breaking the input contract (each alone on its claim, of
  patients and therapists found nowhere else) among ~100 valid rows of complete clean visits, some of
  whose text cells are hostile (formula-like, SQL-like) but valid data;
- ``claims_truncated.parquet``: a Parquet file cut to half its bytes: rejected as a file;
- ``answer_key.ndjson`` (findings; DOCUMENTATION rows name the ``missing`` elements),
  ``planted_providers.ndjson``, ``scenarios.ndjson`` (the scenario claims, ``scenarios.py``),
  ``quarantine_key.ndjson`` (the bad rows: source_file, 1-based data
  row, reasons as column names) and ``ingest_key.ndjson`` (the expected outcome per file).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generate import writers
from pipelines.generate.extract import (
    ANSWER_KEY,
    DEFAULT_RATES,
    PLANTED_PROVIDERS,
    SCENARIOS,
    GenerateSummary,
    generate_months,
    high_providers_frame,
    sort_key,
    write_ndjson,
)
from pipelines.generate.month import RULE_IDS

MAIN_FILE = "claims_2026_09.csv"
VENDOR_FILE = "claims_2026_10_vendor.xlsx"
BAD_FILE = "claims_2026_10_bad_rows.csv"
TRUNCATED_FILE = "claims_truncated.parquet"
QUARANTINE_KEY = "quarantine_key.ndjson"
INGEST_KEY = "ingest_key.ndjson"
SAMPLE_LINES = 3400
VALID_IN_BAD_FILE = 100

HOSTILE_PAYER_NAMES = (
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "@SUM(A1)",
    "x'); drop table claim_lines; --",
    "-2+3",
    "=1+2",
)
HOSTILE_NOTES = ("=cmd|' /C calc'!A0", "- pt tolerated session well; HEP reviewed", '@home program, see "HEP" sheet')

_BEFORE = "__end_before_start__"
_NEXT_DAY = "__end_next_day__"
_BAD_TIME = "2026-10-05 25:99"

# (changed cells, expected reasons). A date made invalid also blanks the visit times (optional) so
# that the only reasons are the ones listed.
BAD_ROWS: tuple[tuple[dict[str, str], tuple[str, ...]], ...] = (
    ({"claim_id": ""}, ("claim_id",)),
    ({"claim_id": "", "patient_id": ""}, ("claim_id", "patient_id")),
    ({"line_number": "0"}, ("line_number",)),
    ({"line_number": "abc"}, ("line_number",)),
    ({"line_number": "-3"}, ("line_number",)),
    ({"line_number": "1.5"}, ("line_number",)),
    ({"patient_id": ""}, ("patient_id",)),
    ({"rendering_npi": "1234567890"}, ("rendering_npi",)),
    ({"rendering_npi": "123456789"}, ("rendering_npi",)),
    ({"rendering_npi": "12345678AB"}, ("rendering_npi",)),
    ({"rendering_npi": "__bad_check_digit__"}, ("rendering_npi",)),
    ({"rendering_npi": ""}, ("rendering_npi",)),
    ({"service_date": "2099-03-15"}, ("service_date",)),
    ({"service_date": "1999-12-31"}, ("service_date",)),
    ({"service_date": "1987-06-01"}, ("service_date",)),
    ({"service_date": "2026-02-30"}, ("service_date",)),
    ({"service_date": "13/45/2026"}, ("service_date",)),
    ({"service_date": "yesterday"}, ("service_date",)),
    ({"service_date": ""}, ("service_date",)),
    ({"service_date": "10/32/2026"}, ("service_date",)),
    ({"cpt_code": "9711"}, ("cpt_code",)),
    ({"cpt_code": "971120"}, ("cpt_code",)),
    ({"cpt_code": ""}, ("cpt_code",)),
    ({"cpt_code": "97-11"}, ("cpt_code",)),
    ({"units_billed": "-1"}, ("units_billed",)),
    ({"units_billed": "two"}, ("units_billed",)),
    ({"units_billed": ""}, ("units_billed",)),
    ({"units_billed": "-4"}, ("units_billed",)),
    ({"payer_type": "selfpay"}, ("payer_type",)),
    ({"payer_type": "hmo"}, ("payer_type",)),
    ({"payer_type": ""}, ("payer_type",)),
    ({"minutes": "900"}, ("minutes",)),
    ({"minutes": "-5"}, ("minutes",)),
    ({"minutes": "abc"}, ("minutes",)),
    ({"total_timed_minutes": "1500"}, ("total_timed_minutes",)),
    ({"total_timed_minutes": "-1"}, ("total_timed_minutes",)),
    ({"visit_end": _BEFORE}, ("visit_end",)),
    ({"visit_end": _NEXT_DAY}, ("visit_end",)),
    ({"visit_start": _BAD_TIME}, ("visit_start",)),
    ({"charge_amount": "-45.00"}, ("charge_amount",)),
    ({"allowed_amount": "-10.00"}, ("allowed_amount",)),
    ({"paid_amount": "n/a"}, ("paid_amount",)),
    ({"deficit_documented": "maybe"}, ("deficit_documented",)),
    ({"billing_npi": "12345"}, ("billing_npi",)),
    ({"line_number": "0", "rendering_npi": "1234567890"}, ("line_number", "rendering_npi")),
    ({"service_date": "1999-12-31", "cpt_code": "9711"}, ("service_date", "cpt_code")),
    ({"claim_id": "", "units_billed": "-1"}, ("claim_id", "units_billed")),
    ({"payer_type": "unknown", "minutes": "900"}, ("payer_type", "minutes")),
    ({"charge_amount": "-45.00", "visit_end": _BEFORE}, ("charge_amount", "visit_end")),
    ({"patient_id": "", "service_date": "2026-13-01"}, ("patient_id", "service_date")),
)


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame's cells exactly as the CSV writer spells them."""
    buffer = io.BytesIO()
    writers.write_csv(frame, buffer)  # type: ignore[arg-type]
    buffer.seek(0)
    return pl.read_csv(buffer, infer_schema=False)


def _whole_claims(frame: pl.DataFrame, claims: list[str]) -> pl.DataFrame:
    return frame.filter(pl.col("claim_id").is_in(claims)).sort("claim_id", "line_number")


def _bad_rows_file(seed: int, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(the bad-rows file as text, its quarantine key, leftover clean lines for the truncated file)."""
    side = generate_months(
        1200,
        seed + 1,
        start_month="2026-10",
        months=1,
        rates=dict.fromkeys(RULE_IDS, 0.0),
        therapists=4,
        high_providers=0,
        npi_block=4,
        patient_prefix="Q",
        claim_prefix="X",
        scenario_rate=0.0,
    )
    lines = next(side.months).lines
    sizes = lines.group_by("claim_id").len().sort("claim_id")
    perm = rng.permutation(sizes.height)
    claims, n_lines = sizes["claim_id"].to_numpy()[perm], sizes["len"].to_numpy()[perm]
    single = np.flatnonzero(n_lines == 1)
    is_bad = np.zeros(len(claims), bool)
    is_bad[single[: len(BAD_ROWS)]] = True
    cum = np.cumsum(np.where(is_bad, 0, n_lines))
    is_valid = ~is_bad & (cum <= VALID_IN_BAD_FILE)
    bad_claims = claims[is_bad].tolist()
    valid_claims = claims[is_valid].tolist()
    rest = claims[~is_bad & ~is_valid].tolist()

    valid = _as_text(_whole_claims(lines, valid_claims))
    # hostile but valid text
    pick = rng.choice(valid.height, size=len(HOSTILE_PAYER_NAMES), replace=False)
    valid = valid.with_columns(
        pl.Series("payer_name", valid["payer_name"].to_list()).scatter(pick, list(HOSTILE_PAYER_NAMES))
    )
    # hostile notes go on visits without 97112 (a note on a 97112 visit is read for its documentation)
    claims_112 = valid.filter(pl.col("cpt_code") == "97112")["claim_id"].unique().to_list()
    no_note = np.flatnonzero((valid["note_text"].is_null() & ~valid["claim_id"].is_in(claims_112)).to_numpy())
    pick = rng.choice(no_note, size=min(len(HOSTILE_NOTES), len(no_note)), replace=False)
    valid = valid.with_columns(
        pl.Series("note_text", valid["note_text"].to_list()).scatter(pick, list(HOSTILE_NOTES[: len(pick)]))
    )

    bad = _as_text(_whole_claims(lines, bad_claims)).to_dicts()
    reasons = []
    for row, (changes, why) in zip(bad, BAD_ROWS, strict=True):
        for col, value in changes.items():
            if value == "__bad_check_digit__":
                value = row[col][:9] + str((int(row[col][9]) + 1) % 10)
            elif value == _BEFORE:
                value = (dt.datetime.fromisoformat(row["visit_start"]) - dt.timedelta(minutes=10)).isoformat()
            elif value == _NEXT_DAY:
                value = (dt.datetime.fromisoformat(row["visit_start"]) + dt.timedelta(days=1, minutes=30)).isoformat()
            row[col] = value or None
        if "service_date" in changes:
            row["visit_start"] = row["visit_end"] = None
        reasons.append(list(why))
    bad_frame = pl.DataFrame(bad, schema=dict.fromkeys(valid.columns, pl.String))
    bad_frame = bad_frame.with_columns(pl.Series("_reasons", reasons, dtype=pl.List(pl.String)))
    both = pl.concat([valid.with_columns(pl.lit(None, pl.List(pl.String)).alias("_reasons")), bad_frame])
    both = both[rng.permutation(both.height)]
    key = (
        both.with_row_index("source_row", offset=1)
        .filter(pl.col("_reasons").is_not_null())
        .select(
            pl.lit(BAD_FILE).alias("source_file"),
            pl.col("source_row").cast(pl.Int64),
            pl.col("_reasons").alias("reasons"),
        )
    )
    return both.drop("_reasons"), key, _whole_claims(lines, rest[:120])


def write_samples(out_dir: Path, seed: int = 2026) -> GenerateSummary:
    """Write the sample set into ``out_dir`` (about 3,500 lines); same seed, same bytes."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed % 2**63, 99])
    # twice the default DOCUMENTATION rate: enough plants on so few days for every kind of export
    gen = generate_months(
        SAMPLE_LINES,
        seed,
        start_month="2026-09",
        months=2,
        therapists=12,
        high_providers=2,
        rates={"DOCUMENTATION": 2 * DEFAULT_RATES["DOCUMENTATION"]},
    )
    september, october = next(gen.months), next(gen.months)
    writers.write_csv(september.lines, out_dir / MAIN_FILE)
    writers.write_xlsx(writers.to_vendor(october.lines), out_dir / VENDOR_FILE)
    bad, quarantine, leftover = _bad_rows_file(seed, rng)
    writers.write_csv(bad, out_dir / BAD_FILE)
    buffer = io.BytesIO()
    leftover.write_parquet(buffer, compression="zstd")
    whole = buffer.getvalue()
    (out_dir / TRUNCATED_FILE).write_bytes(whole[: len(whole) // 2])

    key = sort_key(pl.concat([september.key, october.key]))
    write_ndjson(key, out_dir / ANSWER_KEY)
    providers = high_providers_frame(gen.world)
    write_ndjson(providers, out_dir / PLANTED_PROVIDERS)
    write_ndjson(quarantine, out_dir / QUARANTINE_KEY)
    write_ndjson(pl.concat([september.scenarios, october.scenarios]), out_dir / SCENARIOS)
    n_bad = quarantine.height
    ingest = pl.DataFrame(
        [
            (MAIN_FILE, "loaded", september.lines.height, september.lines.height, 0),
            (VENDOR_FILE, "loaded", october.lines.height, october.lines.height, 0),
            (BAD_FILE, "loaded", bad.height, bad.height - n_bad, n_bad),
            (TRUNCATED_FILE, "rejected", None, None, None),
        ],
        schema={
            "source_file": pl.String,
            "status": pl.String,
            "rows_read": pl.Int64,
            "rows_loaded": pl.Int64,
            "rows_quarantined": pl.Int64,
        },
        orient="row",
    )
    write_ndjson(ingest, out_dir / INGEST_KEY)
    counts = dict(key.group_by("rule_id").len().iter_rows())
    files = (MAIN_FILE, VENDOR_FILE, BAD_FILE, TRUNCATED_FILE)
    return GenerateSummary(
        out_dir=out_dir,
        files=tuple(out_dir / f for f in files),
        lines_per_file={
            MAIN_FILE: september.lines.height,
            VENDOR_FILE: october.lines.height,
            BAD_FILE: bad.height,
            TRUNCATED_FILE: 0,
        },
        planted={rule: int(counts.get(rule, 0)) for rule in RULE_IDS},
        answer_key=out_dir / ANSWER_KEY,
        planted_providers=out_dir / PLANTED_PROVIDERS,
        high_97112_providers=tuple(providers["rendering_npi"].to_list()),
        quarantine_key=out_dir / QUARANTINE_KEY,
        extra_files={
            INGEST_KEY: "expected ingest outcome per file",
            TRUNCATED_FILE: "half a Parquet file: must be rejected",
            SCENARIOS: "the scenario claims (kind, claim, patient, date, therapist)",
        },
    )
