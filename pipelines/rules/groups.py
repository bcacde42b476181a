"""The 8-minute-rule group: whose minutes add up before the chart is applied.

Domain doc, "The CMS method": "The group for the rule (unitreview's default): one patient, one
calendar day, one billing provider, one discipline (GP physical therapy, GO occupational therapy, GN
speech-language pathology), each discipline billing under its own plan of care; minutes of different
therapists of the same discipline and practice add up."
"""

from __future__ import annotations

import polars as pl

GROUP_KEY = ("patient_id", "service_date", "billing_provider", "discipline")

DISCIPLINE_BY_MODIFIER = {"GP": "PT", "GO": "OT", "GN": "SLP"}
DISCIPLINES = ("PT", "OT", "SLP")

# A GP/GO/GN token among up to four 2-character modifiers separated by ';', ',' or spaces.
_PLAN_MODIFIER = r"(?:^|[;,\s])(GP|GO|GN)(?:$|[;,\s])"


def billing_provider() -> pl.Expr:
    """The billing NPI, or the rendering NPI when the line has none."""
    billing = pl.col("billing_npi").str.strip_chars()
    return pl.when(billing.str.len_chars() > 0).then(billing).otherwise(pl.col("rendering_npi")).alias("billing_provider")


def discipline() -> pl.Expr:
    """PT / OT / SLP: from the GP/GO/GN modifier (the first one if several), else the line's
    provider_specialty, else PT."""
    plan = pl.col("modifiers").str.to_uppercase().str.extract(_PLAN_MODIFIER, 1)
    from_modifier = plan.replace_strict(DISCIPLINE_BY_MODIFIER, default=None, return_dtype=pl.String)
    specialty = pl.col("provider_specialty").str.strip_chars().str.to_uppercase()
    from_specialty = pl.when(specialty.is_in(list(DISCIPLINES))).then(specialty)
    return pl.coalesce(from_modifier, from_specialty, pl.lit("PT")).alias("discipline")


def with_group_key(lines: pl.LazyFrame) -> pl.LazyFrame:
    """``lines`` with ``billing_provider`` and ``discipline`` added (the rest of the key is
    patient_id and service_date)."""
    return lines.with_columns(billing_provider(), discipline())
