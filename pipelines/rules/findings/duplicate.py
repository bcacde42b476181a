"""DUPLICATE: the same service billed on more than one claim.

Contract: "the same service (patient, date, therapist, code, units) is billed on more than one claim".

Lines billing units (> 0) that share (patient, date, rendering NPI, code, units) across claim ids are
one service; the line(s) on the smallest claim_id are the original, the rest are *duplicate extras*
(``line_units.duplicate_extra``). units_over = the extras' units, priced at the extras' lines. Every
other rule leaves the extras out, so their units are reported once, here. One finding per patient-day
(grain patient_id, service_date) naming each repeated service, its therapist and its claims.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.findings._common import PATIENT_DAY, as_findings, at_risk, join_sorted, unit_price
from pipelines.rules.reference import Reference
from pipelines.rules.settings import RuleSettings
from pipelines.rules.units import DUPLICATE_KEY

RULE_ID = "DUPLICATE"
DAY = ["patient_id", "service_date"]


def duplicate(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """DUPLICATE findings, one per patient-day with a service billed on several claims."""
    extras = units.filter(pl.col("duplicate_extra"))
    services = (
        units.filter(pl.col("units_billed") > 0)
        .join(extras.select(DUPLICATE_KEY).unique(), on=DUPLICATE_KEY, how="semi")
        .group_by(DUPLICATE_KEY)
        .agg(
            pl.col("claim_id").unique().sort().str.join(", ").alias("claims"),
            pl.col("claim_id").min().alias("original"),
        )
        .with_columns(
            pl.format(
                "{} x{} by NPI {} on claims {} (original {})",
                pl.col("cpt_code"), pl.col("units_billed"), pl.col("rendering_npi"), pl.col("claims"), pl.col("original"),
            ).alias("service")
        )
        .group_by(DAY)
        .agg(join_sorted(pl.col("service"), [pl.col("cpt_code"), pl.col("rendering_npi"), pl.col("units_billed")]).alias("services"))
    )
    over = extras.group_by(DAY).agg(
        pl.col("units_billed").sum().alias("units_over"), unit_price().alias("price"), pl.len().alias("n_extra")
    )
    result = over.join(services, on=DAY, how="left").with_columns(
        pl.format(
            "Same service billed on more than one claim: {}; {} units on {} extra line(s).",
            pl.col("services"), pl.col("units_over"), pl.col("n_extra"),
        ).alias("detail"),
        at_risk(pl.col("units_over"), pl.col("price")),
    )
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), PATIENT_DAY)
