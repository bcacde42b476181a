"""The claims-line extract's columns (input contract v1, ``docs/contract/claims-extract.md``).

One place names every canonical column and the Polars type it has once loaded into ``claim_lines``.
Ingestion parses raw text into these types; rules, scores and the generator all read these names.
It lives in ``ingest/`` because the input contract is what reading an extract checks.
"""

from __future__ import annotations

import polars as pl

REQUIRED: dict[str, pl.DataType] = {
    "claim_id": pl.String(),
    "line_number": pl.Int64(),
    "patient_id": pl.String(),
    "rendering_npi": pl.String(),
    "service_date": pl.Date(),
    "cpt_code": pl.String(),
    "units_billed": pl.Int64(),
    "payer_type": pl.String(),
}

OPTIONAL: dict[str, pl.DataType] = {
    "minutes": pl.Int64(),
    "total_timed_minutes": pl.Int64(),
    "billing_npi": pl.String(),
    "modifiers": pl.String(),
    "diagnosis_codes": pl.String(),
    "payer_name": pl.String(),
    "charge_amount": pl.Float64(),
    "allowed_amount": pl.Float64(),
    "paid_amount": pl.Float64(),
    "visit_start": pl.Datetime("us"),
    "visit_end": pl.Datetime("us"),
    "provider_specialty": pl.String(),
    "provider_name": pl.String(),
    "clinic_name": pl.String(),
    "deficit_documented": pl.Boolean(),
    "goals_documented": pl.Boolean(),
    "response_documented": pl.Boolean(),
    "note_text": pl.String(),
    "justification_documented": pl.Boolean(),
    "claim_frequency": pl.Int64(),  # X12 CLM05-3: 1 original, 7 replacement, 8 void (blank = 1)
    "original_claim_id": pl.String(),  # the claim a replacement or void replaces or voids
}

CANONICAL: dict[str, pl.DataType] = {**REQUIRED, **OPTIONAL}

PAYER_TYPES = (
    "medicare",
    "medicare_advantage",
    "medicaid",
    "commercial",
    "workers_comp",
    "tricare",
    "other",
)

# Lineage columns ingestion adds to every loaded line.
LINEAGE: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "source_row": pl.Int64(),
    "ingested_at": pl.Datetime("us", "UTC"),
}

CLAIM_LINE_SCHEMA: dict[str, pl.DataType] = {**CANONICAL, **LINEAGE}
