"""DUPLICATE: the same service of the same session billed on more than one claim.

Contract: "the same service (patient, date, therapist, code) of the same session (overlapping visit
windows, or without windows the same minutes) is billed on more than one claim; two documented
sessions are not duplicates, nor are replacements and voids (claim_frequency 7, 8)". The time that
counts is the time the patient is treated (Pub. 100-04 ch. 5 sec. 20.3: "The time counted is
the time the patient is treated", as First Coast, a MAC, restates it: secondary): a session billed twice
is one treatment time, while two sessions at different times of the day are two, whose minutes add up
in the 8-minute-rule group. X12 837 CLM05-3 (professional claims): "1 (Original), 7 (Replacement of
Prior Claim), or 8 (Void/Cancel of Prior Claim)".

Lines billing units (> 0) that share (patient, date, rendering NPI, code, units) across claim ids
are the same service when they are of the same session: their visit windows overlap (identical
windows included), or, where a line has no window, their minutes are the same (both unknown counts
as the same). Of such lines, each one with an earlier claim_id of the same session is a *duplicate
extra* (``line_units.duplicate_extra``, see ``units._with_duplicates``). A replacement (7) or void
(8) and the claim it names are never duplicates: the claim it names, and a void, are left out of the
review (``claims.py``) before duplicates are looked for. units_over = the extras' units, priced at
the extras' lines. Every other rule leaves the extras out, so their units are reported once, here.
One finding per patient-day (grain patient_id, service_date) naming each repeated service, its
therapist, its claims and the extra ones.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.findings._common import PATIENT_DAY, as_findings, at_risk, join_sorted, lines_claimed, unit_price
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
            pl.col("claim_id").filter(pl.col("duplicate_extra")).unique().sort().str.join(", ").alias("extra"),
        )
        .with_columns(
            pl.format(
                "{} x{} by NPI {} on claims {} (extra: {})",
                pl.col("cpt_code"),
                pl.col("units_billed"),
                pl.col("rendering_npi"),
                pl.col("claims"),
                pl.col("extra"),
            ).alias("service")
        )
        .group_by(DAY)
        .agg(
            join_sorted(pl.col("service"), [pl.col("cpt_code"), pl.col("rendering_npi"), pl.col("units_billed")]).alias(
                "services"
            )
        )
    )
    over = extras.group_by(DAY).agg(
        pl.col("units_billed").sum().alias("units_over"),
        unit_price().alias("price"),
        pl.len().alias("n_extra"),
        lines_claimed(),
    )
    result = over.join(services, on=DAY, how="left").with_columns(
        pl.format(
            "Same service of the same session (overlapping visit times, or without them the same minutes) billed "
            "on more than one claim: {}; {} units on {} extra line(s).",
            pl.col("services"),
            pl.col("units_over"),
            pl.col("n_extra"),
        ).alias("detail"),
        at_risk(pl.col("units_over"), pl.col("price")),
    )
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), PATIENT_DAY)
