"""Precision and recall of the findings against a generator's answer key, per rule, and for
DOCUMENTATION per missing element.

A finding matches a key row of the same rule on the rule's grain columns (review outputs v1, "Rule
ids and their grain"). Used by the tests on data_samples/ and by ``unitreview evaluate``; also
``python -m pipelines.generate.evaluate --warehouse W.duckdb --key answer_key.ndjson`` prints both tables.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from pipelines.rules.registry import GRAIN

# the order of the evaluation's rows
RULE_ORDER = (
    "UNITS_OVER_MINUTES",
    "ALLOCATION",
    "DOCUMENTATION",
    "DAILY_LIMIT",
    "DUPLICATE",
    "MINUTES_MISSING",
    "DX_SUPPORT",
    "OVERLAP",
    "IMPOSSIBLE_DAY",
    "UNTIMED_UNITS",
)
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
    for rule_id in RULE_ORDER:
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
    return pl.DataFrame(
        rows,
        schema={
            "rule_id": pl.String,
            "planted": pl.Int64,
            "found": pl.Int64,
            "true_positives": pl.Int64,
            "precision": pl.Float64,
            "recall": pl.Float64,
        },
    )


ELEMENTS = ("deficit", "goals", "response", "technique")


def documentation_by_element(findings: pl.DataFrame, key: pl.DataFrame) -> pl.DataFrame:
    """DOCUMENTATION per missing element: a finding claims element E missing when its detail names E
    (``documentation.missing_elements``), a key row when its ``missing`` list holds E; both matched on
    the grain (patient_id, service_date, rendering_npi). One row per element: planted, found, true
    positives, precision, recall (plus an ``any`` row: the rule as a whole)."""
    from pipelines.rules.findings.documentation import missing_elements

    grain = GRAIN["DOCUMENTATION"]
    keys = [pl.col(c).cast(_TYPES.get(c, pl.String)) for c in grain]
    found = findings.filter(pl.col("rule_id") == "DOCUMENTATION").select(
        *keys, missing_elements(pl.col("detail")).alias("missing")
    )
    planted = key.filter(pl.col("rule_id") == "DOCUMENTATION")
    if "missing" not in planted.columns:
        planted = planted.with_columns(pl.lit(None, pl.List(pl.String)).alias("missing"))
    planted = planted.select(*keys, pl.col("missing").cast(pl.List(pl.String)))
    rows = []
    for element in (*ELEMENTS, "any"):

        def claims(frame: pl.DataFrame, element: str = element) -> pl.DataFrame:
            if element == "any":
                return frame.select(grain).unique()
            return frame.filter(pl.col("missing").list.contains(element)).select(grain).unique()

        f, p = claims(found), claims(planted)
        hits = f.join(p, on=grain, how="semi", nulls_equal=True).height
        rows.append(
            {
                "element": element,
                "planted": p.height,
                "found": f.height,
                "true_positives": hits,
                "precision": hits / f.height if f.height else None,
                "recall": hits / p.height if p.height else None,
            }
        )
    schema = {
        "element": pl.String,
        "planted": pl.Int64,
        "found": pl.Int64,
        "true_positives": pl.Int64,
        "precision": pl.Float64,
        "recall": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def main(argv: list[str] | None = None) -> int:
    """Print precision and recall per rule, and DOCUMENTATION per missing element."""
    import duckdb

    parser = argparse.ArgumentParser(prog="python -m pipelines.generate.evaluate", description=main.__doc__)
    parser.add_argument("--warehouse", required=True, type=Path, help="a warehouse reviewed from a generated extract")
    parser.add_argument("--key", required=True, type=Path, help="the generator's answer_key.ndjson")
    args = parser.parse_args(argv)
    with duckdb.connect(str(args.warehouse), read_only=True) as con:
        found = con.sql("select * from findings").pl()
    key = read_answer_key(args.key)
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True, float_precision=4):
        print(precision_recall(found, key))
        print("DOCUMENTATION per missing element")
        print(documentation_by_element(found, key))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
