"""IMPOSSIBLE_DAY: a therapist's documented one-on-one timed minutes in a day exceed the ceiling.

Contract: "one therapist's documented timed one-on-one minutes in a day exceed the configured ceiling
(default 12 hours)". HHS-OIG, "Questionable Billing for Medicare Outpatient Therapy Services"
(OEI-04-09-00540, December 2010) counted among questionable characteristics providers "who were paid
for more than 8 hours of outpatient therapy provided in a single day" (phrase as a summary of the report
gives it: secondary). The 12-hour ceiling is a unitreview default, not a published limit; the 8-hour
figure is a metric.

Minutes of the therapist's timed lines (untimed codes, incl. supervised modalities and group therapy
97150, are not one-on-one timed time; duplicate extras are left out), counted per visit (one claim's
lines of the therapist and 8-minute-rule group): the per-line minutes when no billed line lacks them,
else the visit's ``total_timed_minutes`` once, else the least time the chart allows for the units
billed: Pub. 100-04 ch. 5 sec. 20.2 C's chart gives 1 unit from 8 minutes, 2 from 23, 3 from 38,
..., so a visit billing u timed units took at least 15u - 7 minutes (and at least the minutes that are
documented). A therapist who bills 56 units with no minutes at all is an impossible day, not only
missing minutes. Zero-unit lines' documented minutes count (the time was spent). units_over = the
chart of the minutes above the ceiling; priced at the day's timed lines. The detail says how many
minutes were inferred from units. Therapist-day grain (rendering_npi, service_date).
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.chart import units_for_minutes
from pipelines.rules.findings._common import (
    THERAPIST_DAY,
    amount_micros,
    as_findings,
    at_risk,
    per_unit,
    plural,
    spread,
)
from pipelines.rules.groups import GROUP_KEY
from pipelines.rules.reference import Reference
from pipelines.rules.settings import RuleSettings

RULE_ID = "IMPOSSIBLE_DAY"
DAY = ["rendering_npi", "service_date"]


def impossible_day(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """IMPOSSIBLE_DAY findings, one per therapist-day over the ceiling."""
    ceiling = settings.ceiling_minutes(ref)
    oig = settings.oig_minutes(ref)
    timed = units.filter(pl.col("is_timed") & ~pl.col("duplicate_extra"))
    lacking = pl.col("minutes_used").is_null() & (pl.col("units_billed") > 0)
    documented = pl.col("minutes_used").sum()
    least = 15 * pl.col("units_billed").sum() - 7  # the chart: u units need at least 15u - 7 minutes
    with_total = lacking.any() & pl.col("total_timed_minutes").is_not_null().any()
    visits = timed.group_by(*DAY, *GROUP_KEY[2:], "patient_id", "claim_id").agg(
        pl.when(with_total)
        .then(pl.col("total_timed_minutes").max())
        .when(lacking.any())
        .then(pl.max_horizontal(documented, least))
        .otherwise(documented)
        .alias("minutes"),
        pl.when(lacking.any() & ~with_total)
        .then((least - documented).clip(lower_bound=0))
        .otherwise(0)
        .alias("inferred"),
        pl.col("units_billed").filter(lacking).sum().alias("unit_only_units"),
        amount_micros().sum().alias("amount"),
        pl.col("units_billed").filter(pl.col("price_per_unit").is_not_null()).sum().alias("priced_units"),
    )
    days = (
        visits.group_by(DAY)
        .agg(
            pl.col("minutes").sum(),
            pl.col("inferred").sum(),
            pl.col("unit_only_units").filter(pl.col("inferred") > 0).sum(),
            pl.len().alias("n_visits"),
            pl.col("amount").sum(),
            pl.col("priced_units").sum(),
        )
        .filter(pl.col("minutes") > ceiling)
    )
    inferred = (
        pl.when(pl.col("inferred") > 0)
        .then(
            pl.format(
                " {} of them inferred from {} billed without minutes (at the least the chart allows, 15 "
                "x units - 7 a visit).",
                plural(pl.col("inferred"), "minute"),
                plural(pl.col("unit_only_units"), "unit"),
            )
        )
        .otherwise(pl.lit(""))
    )
    result = days.with_columns(units_for_minutes(pl.col("minutes") - ceiling).alias("units_over")).cache()
    # the units over are the day's latest claims' (the hours beyond the ceiling came last)
    claims = spread(
        timed.filter(pl.col("units_billed") > 0).join(
            result.select(*DAY, pl.col("units_over").alias("_budget")), on=DAY, how="inner"
        ),
        DAY,
        "_budget",
        ["claim_id", "line_number"],
        [True, True],
    )
    result = result.join(claims, on=DAY, how="left").with_columns(
        at_risk(
            pl.col("units_over"),
            per_unit(pl.col("amount"), pl.col("priced_units")),
        ),
        pl.concat_str(
            pl.format(
                "NPI {} counts {} timed one-on-one minutes ({} h) over {} visits this day, above the ceiling of {} "
                "minutes; the OIG reference of {} minutes ({} h) is exceeded by {} minutes.",
                pl.col("rendering_npi"),
                pl.col("minutes"),
                (pl.col("minutes") / 60).round(1),
                pl.col("n_visits"),
                pl.lit(ceiling),
                pl.lit(oig),
                pl.lit(f"{oig / 60:g}"),
                pl.col("minutes") - oig,
            ),
            inferred,
        ).alias("detail"),
    )
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), THERAPIST_DAY)
