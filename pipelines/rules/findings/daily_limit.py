"""DAILY_LIMIT: more units of a code in one day than its Medically Unlikely Edit (or configured limit).

CMS's practitioner MUE table (``pipelines/reference/mue_practitioner_2024-07-01.csv``) gives every
code it lists a value and an adjudication indicator (MAI). CMS's MUE page: "An MUE for a HCPCS/CPT
code is the maximum units of service that a provider would report under most circumstances for a
single beneficiary on a single date of service." NGS Medicare (a MAC), "Medically Unlikely Edits Billing
and Processing": "MAI Indicator “1”: this is a claim line edit which will deny when UOS are in excess
of the MUE, although this may be impacted by the presence of a modifier on the claim line." Palmetto
GBA (a MAC): "HCPCS codes with a MAI "2" are absolute date of service (DOS) and per day edits based on
policy", and "the denial may be appealed for HCPCS code with a MUE adjudication indicator (MAI) of "1"
or "3."" Secondary (no primary text read): that MAI 2 and 3 sum the code's lines of the date across
the same provider's claims and, when exceeded, deny every unit of the code that date, not the excess.

Which limit a billed line (units > 0; duplicate extras are DUPLICATE's) is checked against:

1. ``[rules] daily_limits`` (``settings.daily_limit_overrides``), for any code and payer: a limit per
   date of service without an MAI;
2. a line of a payer in ``settings.mue_payer_types`` (default Medicare and Medicare Advantage: MUEs
   are Medicare's edits): the code's MUE. A code the table does not list has no MUE check (the review
   summary counts those lines); an MUE of 0 marks a code Medicare does not pay separately (97010
   bundled, 97014 replaced by G0283 for Medicare), a coding matter rather than units over a limit, so
   it raises no DAILY_LIMIT (the summary counts those lines too);
3. other payers: ``daily_limits.csv`` (97112: 4, a configurable default, not a published edit), per
   date of service.

MAI 1: a line whose units exceed the value is a finding at line grain (claim_id, line_number, with the
patient-day); every unit of the line is at risk. Otherwise the units of the code are summed per
patient, date and billing provider (``billing_npi``, else the rendering NPI whose number the claim
bills under) over all that provider's claims; above the value every unit of the code that date is at
risk (units_over = all of them), one finding per (patient-day, provider, code) at patient-day grain.
``justification_documented`` on a counted line lowers the severity to
``settings.daily_limit_justified_severity`` only where the limit can be paid on appeal (MAI 3, or a
limit without an MAI); MAI 1 and 2 keep theirs (MAI 2 is absolute).
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.findings._common import (
    CLAIMS,
    LINE,
    PATIENT_DAY,
    as_findings,
    at_risk,
    each_line,
    join_sorted,
    lines_claimed,
    plural,
    unit_price,
)
from pipelines.rules.frame import canonical
from pipelines.rules.reference import Reference, normalize_code
from pipelines.rules.settings import RuleSettings

RULE_ID = "DAILY_LIMIT"
DAY = ["patient_id", "service_date"]
KEY = [*DAY, "provider", "cpt_code", "limit_source"]
LIMIT_SCHEMA = {
    "cpt_code": pl.String,
    "max_units_per_day": pl.Int64,
    "mue_indicator": pl.Int64,
    "limit_source": pl.String,
}


def mue_provider() -> pl.Expr:
    """The provider an MUE counts per: the billing NPI, else the rendering NPI."""
    billing = pl.col("billing_npi").str.strip_chars()
    return pl.when(billing.str.len_chars() > 0).then(billing).otherwise(pl.col("rendering_npi")).alias("provider")


def in_mue_scope(settings: RuleSettings) -> pl.Expr:
    """True for a line whose payer_type the MUE table applies to."""
    return pl.col("payer_type").str.strip_chars().str.to_lowercase().is_in(list(settings.mue_payer_types))


def mue_limits(ref: Reference) -> pl.DataFrame:
    """The MUE table's codes with a value above 0, in ``LIMIT_SCHEMA``."""
    source = ref.mue["source"].first() if ref.mue.height else "CMS MUE table"
    return (
        ref.mue.filter(pl.col("max_units_per_day") > 0)
        .select("cpt_code", "max_units_per_day", "mue_indicator", pl.lit(source).alias("limit_source"))
        .cast(LIMIT_SCHEMA)
    )


def line_limits(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """Every billed line (units > 0, not a duplicate extra) with the limit it is checked against:
    provider, in_scope, max_units_per_day, mue_indicator, limit_source (null: no limit)."""
    overrides = pl.DataFrame(
        [(code, value, None, "configured limit") for code, value in settings.daily_limit_overrides.items()],
        schema=LIMIT_SCHEMA,
        orient="row",
    )
    seed = ref.daily_limits.select(
        "cpt_code", "max_units_per_day", "mue_indicator", pl.lit("daily_limits.csv").alias("limit_source")
    ).cast(LIMIT_SCHEMA)
    extra = canonical(lines).select(
        *LINE, "payer_type", "billing_npi", "justification_documented", pl.col("rendering_npi").alias("_rendering")
    )
    billed = (
        units.filter(~pl.col("duplicate_extra") & (pl.col("units_billed") > 0))
        .select(*LINE, *DAY, "rendering_npi", "cpt_code", "units_billed", "price_per_unit")
        .join(extra, on=LINE, how="left")
        .with_columns(in_mue_scope(settings).fill_null(False).alias("in_scope"), mue_provider())
    )

    def limit(frame: pl.DataFrame, suffix: str) -> list[pl.Expr]:
        return [pl.col(c).alias(f"{c}{suffix}") for c in frame.columns if c != "cpt_code"]

    joined = (
        billed.join(overrides.lazy().select("cpt_code", *limit(overrides, "_o")), on="cpt_code", how="left")
        .join(mue_limits(ref).lazy().select("cpt_code", *limit(overrides, "_m")), on="cpt_code", how="left")
        .join(seed.lazy().select("cpt_code", *limit(overrides, "_s")), on="cpt_code", how="left")
    )
    source = (
        pl.when(pl.col("limit_source_o").is_not_null())
        .then(pl.lit("o"))
        .when(pl.col("in_scope") & pl.col("limit_source_m").is_not_null())
        .then(pl.lit("m"))
        .when(~pl.col("in_scope") & pl.col("limit_source_s").is_not_null())
        .then(pl.lit("s"))
    )
    pick = {
        c: pl.when(pl.col("_which") == "o")
        .then(pl.col(f"{c}_o"))
        .when(pl.col("_which") == "m")
        .then(pl.col(f"{c}_m"))
        .when(pl.col("_which") == "s")
        .then(pl.col(f"{c}_s"))
        .alias(c)
        for c in ("max_units_per_day", "mue_indicator", "limit_source")
    }
    return (
        joined.with_columns(source.alias("_which"))
        .with_columns(*pick.values())
        .drop([c for c in joined.collect_schema().names() if c[-2:] in ("_o", "_m", "_s")] + ["_which"])
    )


def _scope(mai: pl.Expr, source: pl.Expr) -> pl.Expr:
    """'per date of service (MAI 3, clinical: payable on appeal with records; <source>)'."""
    what = (
        pl.when(mai == 1)
        .then(pl.lit("per claim line (MAI 1"))
        .when(mai == 2)
        .then(pl.lit("per date of service (MAI 2, policy: absolute"))
        .when(mai == 3)
        .then(pl.lit("per date of service (MAI 3, clinical: payable on appeal with records"))
        .otherwise(pl.lit("per date of service ("))
    )
    return pl.format("{}{}{})", what, pl.when(mai.is_null()).then(pl.lit("")).otherwise(pl.lit("; ")), source)


def daily_limit(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """DAILY_LIMIT findings: one per MAI-1 line over its MUE (line grain), one per (patient-day,
    provider, code) over its MUE or limit otherwise (patient-day grain)."""
    checked = line_limits(lines, units, ref, settings).filter(pl.col("limit_source").is_not_null()).cache()
    limit, mai = pl.col("max_units_per_day"), pl.col("mue_indicator")
    justified = pl.col("justification_documented").fill_null(False)

    per_line = checked.filter((mai == 1) & (pl.col("units_billed") > limit)).with_columns(
        pl.col("units_billed").alias("billed"),
        pl.lit(1, pl.Int64).alias("n_claims"),
        pl.format("{} {}", pl.col("claim_id"), pl.col("units_billed")).alias("claims"),
        justified.alias("justified"),
        pl.col("price_per_unit").fill_null(0.0).alias("price"),
        each_line(),
    )
    per_day = (
        checked.filter(mai.is_null() | (mai != 1))
        .group_by(KEY)
        .agg(
            pl.col("units_billed").sum().alias("billed"),
            limit.first(),
            mai.first(),
            justified.any().alias("justified"),
            unit_price().alias("price"),
            pl.col("claim_id").n_unique().cast(pl.Int64).alias("n_claims"),
            lines_claimed(),  # over the MUE the edit denies every unit of the code that date
        )
        .filter(pl.col("billed") > limit)
    )
    by_claim = (
        checked.join(per_day.select(KEY), on=KEY, how="semi")
        .group_by(*KEY, "claim_id")
        .agg(pl.col("units_billed").sum().alias("u"))
        .group_by(KEY)
        .agg(join_sorted(pl.format("{} {}", pl.col("claim_id"), pl.col("u")), pl.col("claim_id")).alias("claims"))
    )
    per_day = per_day.join(by_claim, on=KEY, how="left")
    columns = [
        *KEY,
        "claim_id",
        "line_number",
        "billed",
        "max_units_per_day",
        "mue_indicator",
        "justified",
        "price",
        "n_claims",
        "claims",
        CLAIMS,
    ]
    result = pl.concat(
        [
            per_line.select(columns),
            per_day.with_columns(
                pl.lit(None, pl.String).alias("claim_id"), pl.lit(None, pl.Int64).alias("line_number")
            ).select(columns),
        ]
    )
    is_mue = pl.col("limit_source").str.starts_with("CMS MUE")
    detail = pl.format(
        "{}: {} billed this day by billing NPI {} on {} claim(s) ({}) against {} of {} {}. Over it every unit "
        "of the code that date is {}: {} at risk.{}",
        pl.col("cpt_code"),
        plural(pl.col("billed"), "unit"),
        pl.col("provider"),
        pl.col("n_claims"),
        pl.col("claims"),
        pl.when(is_mue).then(pl.lit("an MUE")).otherwise(pl.lit("a daily limit")),
        pl.col("max_units_per_day"),
        _scope(pl.col("mue_indicator"), pl.col("limit_source")),
        pl.when(is_mue).then(pl.lit("denied")).otherwise(pl.lit("at risk")),
        plural(pl.col("billed"), "unit"),
        pl.when(pl.col("justified"))
        .then(pl.lit(" The record marks units above the limit as justified."))
        .otherwise(pl.lit("")),
    )
    result = result.with_columns(
        pl.col("billed").alias("units_over"),
        pl.col("provider").alias("billing_provider"),
        detail.alias("detail"),
        at_risk(pl.col("billed"), pl.col("price")),
    )
    appealable = pl.col("mue_indicator").is_null() | (pl.col("mue_indicator") == 3)
    severity = (
        pl.when(pl.col("justified") & appealable)
        .then(pl.lit(settings.daily_limit_justified_severity))
        .otherwise(pl.lit(settings.severity(RULE_ID)))
    )
    line_grain = pl.col("claim_id").is_not_null()
    found = as_findings(result, RULE_ID, severity, (*PATIENT_DAY, *LINE, "billing_provider"))
    return found.with_columns(
        pl.when(line_grain).then(pl.col("claim_id")).alias("claim_id"),
        pl.when(line_grain).then(pl.col("line_number")).alias("line_number"),
    )


def mue_coverage(billed: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.DataFrame:
    """For the summary: of ``billed`` (cpt_code, payer_type, lines: billed line counts, e.g. grouped
    from claim_lines in SQL), the lines of payers in the MUE's scope whose code the MUE table does not
    list (no MUE check) or lists with 0 (not separately payable): one row per (reason, cpt_code)."""
    codes = ref.mue.select("cpt_code", "max_units_per_day").lazy()
    return (
        billed.filter(in_mue_scope(settings).fill_null(False))
        .select(normalize_code(pl.col("cpt_code")).alias("cpt_code"), "lines")
        .join(codes, on="cpt_code", how="left")
        .with_columns(
            pl.when(pl.col("max_units_per_day").is_null())
            .then(pl.lit("not in the MUE table"))
            .when(pl.col("max_units_per_day") == 0)
            .then(pl.lit("MUE 0 (not separately payable)"))
            .alias("reason")
        )
        .filter(pl.col("reason").is_not_null())
        .group_by("reason", "cpt_code")
        .agg(pl.col("lines").sum())
        .sort("reason", "cpt_code")
        .collect()
    )
