"""Findings attributed to the rendering NPIs they concern, per service month.

A finding belongs to a provider as follows (contract, "Rule ids and their grain"):
- line grain (MINUTES_MISSING, DX_SUPPORT): the NPI, patient and date of its claim line, when the
  finding leaves them empty;
- patient-day grain with an NPI (UNITS_OVER_MINUTES, ALLOCATION, DOCUMENTATION): that NPI's
  patient-day;
- patient-day grain without an NPI (DAILY_LIMIT, DUPLICATE): every rendering NPI that billed a line
  for that patient that day. Such a finding counts in full (findings, units_over, amount_at_risk) for
  each of them, so provider totals need not add up to the findings table;
- therapist-day grain (OVERLAP, IMPOSSIBLE_DAY): that NPI; the patient-days it touches are all the
  NPI's patient-days of that date.
A finding with no service date, or that no NPI can be found for, is not attributed. A provider's
``amount_at_risk`` sums its findings' ``exposure`` (each line's amount counted once across rules,
``pipelines/rules/exposure.py``), not the findings' own amounts.

Two counts per provider, service month and rule come out: ``findings`` (distinct findings, for the
rate ``findings per patient-day``) and ``flagged_days``, the successes of the rule's proportion test:
distinct patient-days of the provider touched by at least one finding of the rule (out of its
patient-days), or for the therapist-day rules (OVERLAP, IMPOSSIBLE_DAY) distinct working days with a
finding (out of its working days). A finding, its patient-days and working days lie in the month of
its service date, so the whole window's counts are the sums of the months' (``facts.by_period``).
"""

from __future__ import annotations

import polars as pl

from pipelines.scores.facts import MONTH_START, NPI, PATIENT_DAY, lazy

# Every rule id of the contract: each gets a rate column (0 when the rule raised nothing).
KNOWN_RULE_IDS = (
    "UNITS_OVER_MINUTES",
    "ALLOCATION",
    "DAILY_LIMIT",
    "MINUTES_MISSING",
    "DX_SUPPORT",
    "DUPLICATE",
    "OVERLAP",
    "DOCUMENTATION",
    "IMPOSSIBLE_DAY",
    "UNTIMED_UNITS",
)

# Therapist-day rules: their proportion test counts the provider's flagged working days out of its
# working days (the patient-days of one working day are not independent trials).
THERAPIST_DAY_RULES = ("OVERLAP", "IMPOSSIBLE_DAY")

FINDING_COLUMNS: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    NPI: pl.String(),
    "patient_id": pl.String(),
    "service_date": pl.Date(),
    "claim_id": pl.String(),
    "line_number": pl.Int64(),
    "units_over": pl.Int64(),
    "amount_at_risk": pl.Float64(),
    "exposure": pl.Float64(),
}


def normalized_findings(findings: pl.DataFrame | pl.LazyFrame | None) -> pl.LazyFrame:
    """The finding columns scoring reads, typed; missing columns are nulls, rule ids upper case."""
    if findings is None:
        return pl.LazyFrame(schema=FINDING_COLUMNS)
    f = lazy(findings)
    names = set(f.collect_schema().names())
    return (
        f.select(
            (pl.col(c).cast(t) if c in names else pl.lit(None, dtype=t)).alias(c) for c, t in FINDING_COLUMNS.items()
        )
        .with_columns(
            pl.col("rule_id").str.strip_chars().str.to_uppercase(),
            # a provider's amount at risk sums its findings' exposure: each line's amount counted once
            # (pipelines/rules/exposure.py); findings from before exposure existed keep their own amount
            pl.coalesce("exposure", "amount_at_risk").alias("amount_at_risk"),
        )
        .filter(pl.col("rule_id").is_not_null())
    )


def present_rule_ids(findings: pl.LazyFrame) -> set[str]:
    return set(findings.select(pl.col("rule_id").unique()).collect()["rule_id"].to_list())


def rule_ids(present: set[str]) -> list[str]:
    """The contract's rule ids, then any other rule id present in the findings (sorted)."""
    return [*KNOWN_RULE_IDS, *sorted(present - set(KNOWN_RULE_IDS))]


def attributed(findings: pl.LazyFrame, line: pl.DataFrame, days: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(per provider, service month (``month_start``) and rule: findings, units_over, amount_at_risk;
    per provider, service month and rule: flagged_days, the proportion test's successes)."""
    claim_line = line.lazy().select(
        "claim_id",
        "line_number",
        pl.col(NPI).alias("_npi"),
        pl.col("patient_id").alias("_pid"),
        pl.col("service_date").alias("_date"),
    )
    f = (
        findings.with_row_index("fid")
        .join(claim_line, on=["claim_id", "line_number"], how="left")
        .with_columns(
            pl.coalesce(NPI, "_npi").alias(NPI),
            pl.coalesce("patient_id", "_pid").alias("patient_id"),
            pl.coalesce("service_date", "_date").alias("service_date"),
        )
        .filter(pl.col("service_date").is_not_null())
        .select("fid", "rule_id", NPI, "patient_id", "service_date", "units_over", "amount_at_risk")
        .collect()
        .lazy()
    )
    keys = days.select(*PATIENT_DAY)
    has_npi = pl.col(NPI).is_not_null()
    has_patient = pl.col("patient_id").is_not_null()
    touch = ["fid", NPI, "patient_id", "service_date"]
    own_day = f.filter(has_npi & has_patient).select(touch)
    patient_day = f.filter(~has_npi & has_patient).drop(NPI).join(keys, on=["patient_id", "service_date"]).select(touch)
    therapist_day = (
        f.filter(has_npi & ~has_patient)
        .drop("patient_id")
        .join(keys, on=[NPI, "service_date"], how="left")
        .select(touch)
    )
    touched = pl.concat([own_day, patient_day, therapist_day], how="vertical").collect().lazy()

    detail = f.select("fid", "rule_id", "service_date", "units_over", "amount_at_risk")
    counts = (
        touched.select("fid", NPI)
        .unique()
        .join(detail, on="fid")
        .with_columns(MONTH_START)
        .group_by(NPI, "month_start", "rule_id")
        .agg(
            pl.len().cast(pl.Int64).alias("findings"),
            pl.col("units_over").sum().cast(pl.Int64),
            pl.col("amount_at_risk").sum().cast(pl.Float64),
        )
    )
    with_rule = touched.join(f.select("fid", "rule_id"), on="fid")
    day_rule = pl.col("rule_id").is_in(list(THERAPIST_DAY_RULES))
    flagged_patient_days = (
        with_rule.filter(~day_rule & pl.col("patient_id").is_not_null())
        .select("rule_id", *PATIENT_DAY)
        .unique()
        .join(keys, on=list(PATIENT_DAY), how="semi")
    )
    flagged_working_days = (
        with_rule.filter(day_rule)
        .select("rule_id", NPI, "service_date")
        .unique()
        .join(keys.select(NPI, "service_date").unique(), on=[NPI, "service_date"], how="semi")
    )
    flagged = (
        pl.concat([flagged_patient_days.drop("patient_id"), flagged_working_days], how="vertical")
        .with_columns(MONTH_START)
        .group_by(NPI, "month_start", "rule_id")
        .agg(pl.len().cast(pl.Int64).alias("flagged_days"))
    )
    return counts, flagged


def rule_column(rule_id: str) -> str:
    return f"rate_{rule_id.lower()}"


def count_column(rule_id: str) -> str:
    return f"findings_{rule_id.lower()}"


def flagged_column(rule_id: str) -> str:
    return f"flagged_days_{rule_id.lower()}"


def findings_wide(counts: pl.LazyFrame, flagged: pl.LazyFrame, rules: list[str]) -> pl.LazyFrame:
    """One row per provider-period from ``attributed``'s counts per period (``facts.by_period``):
    findings per rule and in total, units_over, amount_at_risk, and the flagged patient-days per rule."""
    rule = pl.col("rule_id")
    totals = counts.group_by(NPI, "period").agg(
        *(pl.col("findings").filter(rule == r).sum().alias(count_column(r)) for r in rules),
        pl.col("findings").sum(),
        pl.col("units_over").sum(),
        pl.col("amount_at_risk").sum(),
    )
    days = flagged.group_by(NPI, "period").agg(
        pl.col("flagged_days").filter(rule == r).sum().alias(flagged_column(r)) for r in rules
    )
    return totals.join(days, on=[NPI, "period"], how="full", coalesce=True)
