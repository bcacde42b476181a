"""Precision and recall of the findings against a generator's answer key, per rule.

A finding matches a key row of the same rule on the rule's grain columns (review outputs v1, "Rule
ids and their grain"). Used by the tests on data_samples/ and by ``unitreview evaluate``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

GRAIN: dict[str, list[str]] = {
    "UNITS_OVER_MINUTES": ["patient_id", "service_date", "rendering_npi"],
    "ALLOCATION": ["patient_id", "service_date", "rendering_npi"],
    "DOCUMENTATION": ["patient_id", "service_date", "rendering_npi"],
    "DAILY_LIMIT": ["patient_id", "service_date"],
    "DUPLICATE": ["patient_id", "service_date"],
    "MINUTES_MISSING": ["claim_id", "line_number"],
    "DX_SUPPORT": ["claim_id", "line_number"],
    "OVERLAP": ["rendering_npi", "service_date"],
    "IMPOSSIBLE_DAY": ["rendering_npi", "service_date"],
}

_TYPES = {"service_date": pl.Date, "line_number": pl.Int64}


def read_answer_key(path: Path) -> pl.DataFrame:
    key = pl.read_ndjson(path, infer_schema_length=None)
    return key.with_columns(
        pl.col("service_date").str.to_date() if key.schema.get("service_date") == pl.String else pl.col("service_date"),
        pl.col("line_number").cast(pl.Int64),
    )


def _keys(frame: pl.DataFrame, rule_id: str) -> pl.DataFrame:
    cols = GRAIN[rule_id]
    return (
        frame.filter(pl.col("rule_id") == rule_id)
        .select(pl.col(c).cast(_TYPES.get(c, pl.String)) for c in cols)
        .unique()
    )


def precision_recall(findings: pl.DataFrame, key: pl.DataFrame) -> pl.DataFrame:
    """One row per rule: planted, found, true positives, precision, recall."""
    rows = []
    for rule_id in GRAIN:
        found, planted = _keys(findings, rule_id), _keys(key, rule_id)
        if found.height == 0 and planted.height == 0:
            continue
        hits = found.join(planted, on=GRAIN[rule_id], how="semi", nulls_equal=True).height
        rows.append(
            {
                "rule_id": rule_id,
                "planted": planted.height,
                "found": found.height,
                "true_positives": hits,
                "precision": hits / found.height if found.height else None,
                "recall": hits / planted.height if planted.height else None,
            }
        )
    return pl.DataFrame(rows, schema={"rule_id": pl.String, "planted": pl.Int64, "found": pl.Int64, "true_positives": pl.Int64, "precision": pl.Float64, "recall": pl.Float64})
