"""MINUTES_MISSING: a timed code billed with no documented minutes, per line or as a visit total.

Contract: "a timed code is billed with no documented minutes, per line or as a visit total"; input
contract: "A timed line without minutes (and no visit total below) is a finding, not a rejected row".
Pub. 100-02 ch. 15 sec. 220.3 requires in each treatment note "Total timed code treatment minutes and
total treatment time in minutes".

A line is reported when its code is timed, it bills units (> 0), it has no ``minutes`` and its visit
(its claim's lines of the same 8-minute-rule group) carries no ``total_timed_minutes``. Its units
are all at risk (units_over = units_billed) and are reported only here: UNITS_OVER_MINUTES checks the
documented codes of such a group and leaves these units out. Duplicate extras are DUPLICATE's.
Line grain (claim_id, line_number); patient_id, service_date and rendering_npi are also filled for
drill-down.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.findings._common import LINE_DRILL_DOWN, as_findings, at_risk, each_line, plural
from pipelines.rules.reference import Reference
from pipelines.rules.settings import RuleSettings

RULE_ID = "MINUTES_MISSING"


def minutes_missing(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """MINUTES_MISSING findings, one per undocumented billed timed line (line grain)."""
    missing = units.filter(
        pl.col("is_timed")
        & ~pl.col("duplicate_extra")
        & (pl.col("units_billed") > 0)
        & pl.col("minutes_used").is_null()
        & pl.col("visit_timed_minutes").is_null()
    )
    result = missing.with_columns(
        each_line(),
        pl.col("units_billed").alias("units_over"),
        at_risk(pl.col("units_billed"), pl.col("price_per_unit").fill_null(0.0)),
        pl.format(
            "{} billed for {} with no documented minutes on the line and no total timed minutes for the visit.",
            pl.col("cpt_code"),
            plural(pl.col("units_billed"), "unit"),
        ).alias("detail"),
    )
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), LINE_DRILL_DOWN)
