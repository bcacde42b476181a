"""DX_SUPPORT: a 97112 line whose claim carries no diagnosis supporting neuromuscular re-education.

Contract: "a 97112 line's claim carries no diagnosis that supports neuromuscular re-education".
Sources, all secondary (docs/rules.md, DX_SUPPORT): a Medicare contractor's retired policy (First
Coast LMRP, Physical Medicine and Rehabilitation) as codingahead.com reproduces its conditions: "the
patient has the loss of deep tendon reflexes and vibration sense accompanied by paresthesia, burning,
or diffuse pain of the feet, lower legs, and/or fingers; the patient has nerve palsy, such as peroneal
nerve injury causing foot drop; or the patient has muscular weakness or flaccidity as a result of a
cerebral dysfunction, a nerve injury or disease, or has had a spinal cord disease or trauma"; Aetna
CPB 0325 (as chirocode.com quotes it): "impairments which affect the body's neuromuscular system (e.g.,
poor static or dynamic sitting/standing balance, loss of gross and fine motor coordination,
hypo/hypertonicity)". Simple strengthening is 97110, so muscle weakness (M62.81) or pain codes alone
do not support 97112 (unitreview's reading). The MAC billing and coding articles (A57067, A56566)
could not be read for a 97112 list. The supportive list is reference data (``dx_97112_supportive.csv``,
ICD-10-CM prefixes, each family with its label and source; see ``pipelines/reference/README.md``).

The claim's diagnoses are the union of ``diagnosis_codes`` over all its lines (codes separated by
';' — ',' and spaces are tolerated — compared upper case without the dot). A billed (units > 0) line of
a checked code (``settings.dx_support_codes``) is reported when none of them starts with a supportive
prefix; a claim with no diagnosis at all lacks support too (the detail says so). units_over = the
line's units. Duplicate extras are DUPLICATE's. Line grain (claim_id, line_number); patient_id,
service_date and rendering_npi are also filled for drill-down.
"""

from __future__ import annotations

import re

import polars as pl

from pipelines.rules.findings._common import LINE_DRILL_DOWN, as_findings, at_risk, each_line, plural
from pipelines.rules.frame import canonical
from pipelines.rules.reference import Reference, normalize_dx
from pipelines.rules.settings import RuleSettings

RULE_ID = "DX_SUPPORT"


def dx_support(lines: pl.LazyFrame, units: pl.LazyFrame, ref: Reference, settings: RuleSettings) -> pl.LazyFrame:
    """DX_SUPPORT findings, one per unsupported billed 97112 line (line grain)."""
    checked = units.filter(
        pl.col("cpt_code").is_in(list(settings.dx_support_codes))
        & (pl.col("units_billed") > 0)
        & ~pl.col("duplicate_extra")
    )
    prefixes = ref.supportive_prefixes()
    supportive = "^(?:" + "|".join(re.escape(p) for p in prefixes) + ")" if prefixes else "^$a"
    dx = (
        canonical(lines)
        .select("claim_id", "diagnosis_codes")
        .join(checked.select("claim_id").unique(), on="claim_id", how="semi")
        .unique()  # a claim's lines usually repeat one diagnosis list
        .with_columns(pl.col("diagnosis_codes").str.replace_all(r"[,\s]+", ";").str.split(";").alias("dx"))
        .explode("dx")
        .with_columns(pl.col("dx").str.strip_chars().str.to_uppercase())
        .with_columns(pl.when(pl.col("dx").str.len_chars() > 0).then(pl.col("dx")).alias("dx"))
    )
    claims = dx.group_by("claim_id").agg(
        normalize_dx(pl.col("dx")).str.contains(supportive).any().alias("supported"),
        pl.col("dx").drop_nulls().unique().sort().str.join(", ").alias("dx_list"),
    )
    unsupported = checked.join(claims.filter(~pl.col("supported")), on="claim_id", how="inner")
    detail = (
        pl.when(pl.col("dx_list").str.len_chars() > 0)
        .then(
            pl.format(
                "{} billed for {} on a claim whose diagnoses ({}) include none of the {} supportive ICD-10-CM "
                "prefixes for neuromuscular re-education (dx_97112_supportive).",
                pl.col("cpt_code"),
                plural(pl.col("units_billed"), "unit"),
                pl.col("dx_list"),
                pl.lit(len(prefixes)),
            )
        )
        .otherwise(
            pl.format(
                "{} billed for {} on a claim with no diagnosis code at all, so nothing supports neuromuscular "
                "re-education.",
                pl.col("cpt_code"),
                plural(pl.col("units_billed"), "unit"),
            )
        )
    )
    result = unsupported.with_columns(
        each_line(),
        pl.col("units_billed").alias("units_over"),
        at_risk(pl.col("units_billed"), pl.col("price_per_unit").fill_null(0.0)),
        detail.alias("detail"),
    )
    return as_findings(result, RULE_ID, settings.severity(RULE_ID), LINE_DRILL_DOWN)
