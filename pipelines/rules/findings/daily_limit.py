"""DAILY_LIMIT: more units of 97112 for the patient in one day than the daily limit.

Contract: "units of 97112 billed for the patient that day exceed the configured daily limit (default
4)". Seed document: "payers typically allow four units (60 minutes) of 97112 a day, more only when
the record justifies it". NCCI Policy Manual ch. 1 sec. V (MUE): "a per-code maximum of units per
patient per day; adjudication indicator 1 compares each claim line, 2 and 3 sum all lines of the date
of service".

Units are summed over every claim and provider of the patient-day (duplicate extras excluded: they
are DUPLICATE's). The limit of a checked code (``settings.daily_limit_codes``): the setting's
override, else the reference (``daily_limits.csv``, or the MUE when loaded), else
``settings.daily_limit_default``. Indicator 1 counts each line's units above the limit; otherwise
units_over = billed - limit. When any line of the patient-day has ``justification_documented`` true
the finding is still raised, with ``settings.daily_limit_justified_severity``.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.findings._common import PATIENT_DAY, as_findings, at_risk, join_sorted, unit_price
from pipelines.rules.frame import canonical
from pipelines.rules.reference import Reference
from pipelines.rules.settings import RuleSettings

RULE_ID = "DAILY_LIMIT"
DAY = ["patient_id", "service_date"]


def daily_limits(ref: Reference, settings: RuleSettings) -> pl.DataFrame:
    """cpt_code, max_units_per_day, mue_indicator, limit_source for each checked code."""
    table = {row["cpt_code"]: row for row in ref.daily_limits.iter_rows(named=True)}
    rows = []
    for code in settings.daily_limit_codes:
        if code in settings.daily_limit_overrides:
            rows.append((code, settings.daily_limit_overrides[code], None, "configured"))
        elif code in table:
            row = table[code]
            source = "MUE" if (row.get("source") or "").startswith("CMS MUE") else "daily_limits.csv"
            rows.append((code, row["max_units_per_day"], row["mue_indicator"], source))
        else:
            rows.append((code, settings.daily_limit_default, None, "default"))
    return pl.DataFrame(
        rows,
        schema={"cpt_code": pl.String, "max_units_per_day": pl.Int64, "mue_indicator": pl.Int64, "limit_source": pl.String},
        orient="row",
    )


def daily_limit(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """DAILY_LIMIT findings, one per (patient-day, checked code) over its limit (patient-day grain)."""
    limits = daily_limits(ref, settings).lazy()
    billed = units.filter(~pl.col("duplicate_extra") & (pl.col("units_billed") > 0)).join(
        limits, on="cpt_code", how="inner"
    )
    limit = pl.col("max_units_per_day")
    per_line = pl.col("mue_indicator").first() == 1
    over = (
        billed.group_by(*DAY, "cpt_code")
        .agg(
            pl.when(per_line)
            .then((pl.col("units_billed") - limit).clip(lower_bound=0).sum())
            .otherwise(pl.col("units_billed").sum() - limit.first())
            .alias("units_over"),
            pl.col("units_billed").sum().alias("billed"),
            limit.first(),
            pl.col("mue_indicator").first(),
            pl.col("limit_source").first(),
            unit_price().alias("price"),
        )
        .filter(pl.col("units_over") > 0)
    )
    by_claim = (
        billed.join(over.select(*DAY, "cpt_code"), on=[*DAY, "cpt_code"], how="semi")
        .group_by(*DAY, "cpt_code", "claim_id")
        .agg(pl.col("units_billed").sum().alias("u"))
        .group_by(*DAY, "cpt_code")
        .agg(
            join_sorted(pl.format("{} {}", pl.col("claim_id"), pl.col("u")), pl.col("claim_id")).alias("claims"),
            pl.len().alias("n_claims"),
        )
    )
    justified = (
        canonical(lines)
        .filter(pl.col("justification_documented").fill_null(False))
        .select(DAY)
        .unique()
        .with_columns(pl.lit(True).alias("justified"))
    )
    scope = (
        pl.when(pl.col("mue_indicator") == 1)
        .then(pl.lit("per line (MUE indicator 1)"))
        .when(pl.col("mue_indicator").is_not_null())
        .then(pl.format("per date of service (MUE indicator {})", pl.col("mue_indicator")))
        .otherwise(pl.lit("per date of service"))
    )
    detail = pl.format(
        "{}: {} units billed this day on {} claim(s) ({}); daily limit {} {} ({}); {} over.{}",
        pl.col("cpt_code"),
        pl.col("billed"),
        pl.col("n_claims"),
        pl.col("claims"),
        pl.col("max_units_per_day"),
        scope,
        pl.col("limit_source"),
        pl.col("units_over"),
        pl.when(pl.col("justified"))
        .then(pl.lit(" The record marks units above the limit as justified."))
        .otherwise(pl.lit("")),
    )
    result = (
        over.join(by_claim, on=[*DAY, "cpt_code"], how="left")
        .join(justified, on=DAY, how="left")
        .with_columns(pl.col("justified").fill_null(False))
        .with_columns(detail.alias("detail"), at_risk(pl.col("units_over"), pl.col("price")))
    )
    severity = (
        pl.when(pl.col("justified"))
        .then(pl.lit(settings.daily_limit_justified_severity))
        .otherwise(pl.lit(settings.severity(RULE_ID)))
    )
    return as_findings(result, RULE_ID, severity, PATIENT_DAY)
