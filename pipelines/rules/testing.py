"""Small ``claim_lines`` frames for tests and examples: give only the columns a case is about.

``claim_lines({"cpt_code": "97112", "minutes": 24, "units_billed": 2}, {...})`` fills every other
canonical column (``pipelines.ingest.columns.CLAIM_LINE_SCHEMA``) with a default (one Medicare patient, one
PT day with a valid NPI) or null, numbers ``line_number`` within each claim, and returns a LazyFrame
with the canonical dtypes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import polars as pl

from pipelines.ingest.columns import CLAIM_LINE_SCHEMA

NPI_A = "1234567893"  # valid NPI check digit (Luhn over 80840 + the 10 digits)
NPI_B = "1245319599"
NPI_C = "1679576722"
DAY = dt.date(2024, 3, 4)

DEFAULTS: dict[str, Any] = {
    "claim_id": "C1",
    "patient_id": "PAT-0001",
    "rendering_npi": NPI_A,
    "service_date": DAY,
    "units_billed": 1,
    "payer_type": "medicare",
    "modifiers": "GP",
    "diagnosis_codes": "I63.9",
}


def claim_lines(*rows: dict[str, Any], **defaults: Any) -> pl.LazyFrame:
    """A canonical claim_lines LazyFrame from partial rows; ``defaults`` apply to every row."""
    base = {**DEFAULTS, **defaults}
    numbering: dict[str, int] = defaultdict(int)
    records = []
    for row in rows:
        record = {**base, **row}
        if "line_number" not in row:
            numbering[record["claim_id"]] += 1
            record["line_number"] = numbering[record["claim_id"]]
        records.append({name: record.get(name) for name in CLAIM_LINE_SCHEMA})
    return pl.DataFrame(records, schema=CLAIM_LINE_SCHEMA, orient="row").lazy()


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    """A visit_start / visit_end clock time on ``day``."""
    return dt.datetime.combine(day, dt.time(hour, minute))
