"""UNTIMED_UNITS: an untimed service billed for more than 1 unit a day, or two evaluations the same day.

Claims Processing Manual (Pub. 100-04) ch. 5 sec. 20.2 B: "When reporting service units for HCPCS
codes where the procedure is not defined by a specific timeframe ("untimed" HCPCS), the provider
enters "1" in the field labeled units." (Checked only as far as "(“untimed” HCPCS), th" in a verbatim
quotation on chirocode.com; the end of the sentence is secondary: docs/rules.md, UNTIMED_UNITS.) Untimed are the codes ``cpt_codes.csv``
marks ``timed`` false: evaluations and re-evaluations 97161-97168, group therapy 97150, supervised
modalities 97010-97028 and G0283, 92507 and 92521-92526.

Per patient, day and discipline (the plan of care: GP/GO/GN), from ``line_units`` (duplicate extras
are DUPLICATE's):

- an untimed code other than an evaluation billed for more than 1 unit in total: units_over = units - 1;
- evaluations (``kind`` evaluation: 97161-97163 PT, 97164 PT re-evaluation, 97165-97167 OT, 97168 OT
  re-evaluation) of one discipline: one a day; units_over = the evaluation units - 1;
- a code pair of ``addon_codes.csv`` (97129 first 15 minutes, 97130 each additional 15: one timed
  service whose minutes count together in the 8-minute rule, see ``units.py``): the primary billed
  above its units per day (97129: 1), units_over = the excess; the add-on billed without its primary
  that day, units_over = all its units (an add-on code is reported "in addition to" its primary).

One finding per patient-day and discipline with any of these (grain patient_id, service_date; the
discipline is filled), the detail naming each; amount_at_risk prices each part at its own lines.
"""

from __future__ import annotations

import polars as pl

from pipelines.rules.findings._common import (
    CLAIMS,
    MICROS,
    PATIENT_DAY,
    amount_micros,
    as_findings,
    join_sorted,
    per_unit,
    plural,
    spread,
)
from pipelines.rules.reference import Reference
from pipelines.rules.settings import RuleSettings

RULE_ID = "UNTIMED_UNITS"
DAY = ["patient_id", "service_date", "discipline"]
SCHEMA = {"code": pl.String, "kind": pl.String, "primary_code": pl.String, "cap": pl.Int64}


def _code_roles(ref: Reference) -> pl.LazyFrame:
    """cpt_code -> its part of the rule: 'untimed', 'evaluation', 'primary' (with its add-on and the
    units a day it takes) or 'addon' (with its primary)."""
    evaluations = set(ref.evaluation_codes())
    rows = [(c, "evaluation" if c in evaluations else "untimed", None, 1) for c in ref.untimed_codes()]
    for addon, primary, cap in ref.addon_codes.select(
        "addon_code", "primary_code", "primary_units_per_day"
    ).iter_rows():
        rows.append((primary, "primary", addon, cap))
        rows.append((addon, "addon", primary, None))
    return (
        pl.DataFrame(rows, schema=SCHEMA, orient="row").unique("code", keep="first").lazy().rename({"code": "cpt_code"})
    )


def untimed_units(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """UNTIMED_UNITS findings, one per patient-day and discipline (patient-day grain)."""
    billed = units.filter(~pl.col("duplicate_extra") & (pl.col("units_billed") > 0)).join(
        _code_roles(ref), on="cpt_code", how="inner"
    )
    # one part per (day, discipline, service): a code, the day's evaluations together, or a pair
    service = (
        pl.when(pl.col("kind") == "evaluation")
        .then(pl.lit("evaluation"))
        .when(pl.col("kind") == "addon")
        .then(pl.col("primary_code"))
        .otherwise(pl.col("cpt_code"))
    )
    billed = billed.with_columns(service.alias("_service")).cache()
    parts = billed.group_by(*DAY, "_service").agg(
        pl.col("kind").first().alias("_first_kind"),
        pl.col("units_billed").filter(pl.col("kind") != "addon").sum().alias("units"),
        pl.col("units_billed").filter(pl.col("kind") == "addon").sum().alias("addon_units"),
        pl.col("cap").max().fill_null(1).alias("cap"),
        pl.col("primary_code").filter(pl.col("kind") == "primary").first().alias("addon_code"),
        pl.col("primary_code").filter(pl.col("kind") == "addon").first().alias("primary_of_addon"),
        pl.col("cpt_code").filter(pl.col("kind") == "addon").first().alias("addon_billed"),
        join_sorted(
            pl.format("{} x{}", pl.col("cpt_code"), pl.col("units_billed")), [pl.col("claim_id"), pl.col("line_number")]
        ).alias("billed"),
        amount_micros().filter(pl.col("kind") != "addon").sum().alias("_m_main"),
        pl.col("units_billed")
        .filter((pl.col("kind") != "addon") & pl.col("price_per_unit").is_not_null())
        .sum()
        .alias("_p_main"),
        amount_micros().filter(pl.col("kind") == "addon").sum().alias("_m_addon"),
        pl.col("units_billed")
        .filter((pl.col("kind") == "addon") & pl.col("price_per_unit").is_not_null())
        .sum()
        .alias("_p_addon"),
    )
    over_main = (pl.col("units") - pl.col("cap")).clip(lower_bound=0)
    orphan = (pl.col("units") == 0) & (pl.col("addon_units") > 0)
    over_addon = pl.when(orphan).then(pl.col("addon_units")).otherwise(0)
    is_eval = pl.col("_service") == "evaluation"
    is_pair = pl.col("addon_code").is_not_null() | pl.col("primary_of_addon").is_not_null()
    why = (
        pl.when(orphan)
        .then(
            pl.format(
                "{} billed without {} that day (an add-on is reported in addition to its primary): {}",
                pl.col("addon_billed"),
                pl.col("primary_of_addon"),
                pl.col("billed"),
            )
        )
        .when(is_eval)
        .then(pl.format("more than one evaluation the same day ({}): one a day", pl.col("billed")))
        .when(is_pair)
        .then(
            pl.format(
                "{} is billed for the first {} of the day, {} for the further ones: {}",
                pl.col("_service"),
                plural(pl.col("cap"), "unit"),
                pl.col("addon_code"),
                pl.col("billed"),
            )
        )
        .otherwise(pl.format("{} is untimed, billed as 1 unit a day: {}", pl.col("_service"), pl.col("billed")))
    )
    parts = (
        parts.with_columns((over_main + over_addon).alias("units_over"))
        .filter(pl.col("units_over") > 0)
        .with_columns(
            why.alias("why"),
            (
                over_main.cast(pl.Float64) * per_unit(pl.col("_m_main"), pl.col("_p_main")) * MICROS
                + over_addon.cast(pl.Float64) * per_unit(pl.col("_m_addon"), pl.col("_p_addon")) * MICROS
            )
            .round()
            .cast(pl.Int64)
            .alias("_at_risk"),
        )
    )
    # the units over are the part's latest lines' (main codes and add-ons each their own)
    budgets = parts.select(*DAY, "_service", over_main.alias("_main"), over_addon.alias("_addon"))
    claims = (
        spread(
            billed.join(budgets, on=[*DAY, "_service"], how="semi")
            .join(budgets, on=[*DAY, "_service"], how="left")
            .with_columns(
                (pl.col("kind") == "addon").alias("_is_addon"),
                pl.when(pl.col("kind") == "addon").then(pl.col("_addon")).otherwise(pl.col("_main")).alias("_budget"),
            ),
            [*DAY, "_service", "_is_addon"],
            "_budget",
            ["claim_id", "line_number"],
            [True, True],
        )
        .explode(CLAIMS)
        .group_by(DAY)
        .agg(pl.col(CLAIMS))
    )
    result = (
        parts.group_by(DAY)
        .agg(
            pl.col("units_over").sum(),
            (pl.col("_at_risk").sum() / MICROS).round(2).alias("amount_at_risk"),
            pl.col("why").sort_by("_service").str.join("; ").alias("_why"),
        )
        .with_columns(
            pl.format(
                "{}: {}; {} over.", pl.col("discipline"), pl.col("_why"), plural(pl.col("units_over"), "unit")
            ).alias("detail")
        )
        .join(claims, on=DAY, how="left")
    )
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), (*PATIENT_DAY, "discipline"))
