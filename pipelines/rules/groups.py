"""The 8-minute-rule group: whose minutes add up before the chart is applied.

Domain doc, "The CMS method": "The group for the rule (unitreview's default, configurable): one
patient, one calendar day, one billing provider, one discipline (GP physical therapy, GO occupational
therapy, GN speech-language pathology), each discipline billing under its own plan of care; minutes of
different therapists of the same discipline and practice add up." Pub. 100-04 ch. 5 sec. 20.2 C:
"When more than one service represented by 15 minute timed codes is performed in a single day, the
total number of minutes of service ... determines the number of timed units billed."

The billing provider is the line's ``billing_npi``. Without one, the claim is the billing unit
(``[rules] group_without_billing_npi = "claim"``, the default): one claim with two therapists of one
discipline is one group, not one per rendering therapist; ``"rendering_npi"`` groups by the rendering
therapist instead (each therapist billing under their own number).
"""

from __future__ import annotations

import polars as pl

GROUP_KEY = ("patient_id", "service_date", "billing_provider", "discipline")
WITHOUT_BILLING_NPI = ("claim", "rendering_npi")

DISCIPLINE_BY_MODIFIER = {"GP": "PT", "GO": "OT", "GN": "SLP"}
DISCIPLINES = ("PT", "OT", "SLP")

# A GP/GO/GN token among up to four 2-character modifiers separated by ';', ',' or spaces.
_PLAN_MODIFIER = r"(?:^|[;,\s])(GP|GO|GN)(?:$|[;,\s])"


def billing_provider(without_billing_npi: str = "claim") -> pl.Expr:
    """The billing NPI; when the line has none, 'claim <claim_id>' (``without_billing_npi`` 'claim')
    or the rendering NPI ('rendering_npi')."""
    if without_billing_npi not in WITHOUT_BILLING_NPI:
        raise ValueError(f"group_without_billing_npi must be one of {', '.join(WITHOUT_BILLING_NPI)}")
    billing = pl.col("billing_npi").str.strip_chars()
    fallback = pl.format("claim {}", pl.col("claim_id")) if without_billing_npi == "claim" else pl.col("rendering_npi")
    return pl.when(billing.str.len_chars() > 0).then(billing).otherwise(fallback).alias("billing_provider")


def discipline() -> pl.Expr:
    """PT / OT / SLP: from the GP/GO/GN modifier (the first one if several), else the line's
    provider_specialty, else PT."""
    plan = pl.col("modifiers").str.to_uppercase().str.extract(_PLAN_MODIFIER, 1)
    from_modifier = plan.replace_strict(DISCIPLINE_BY_MODIFIER, default=None, return_dtype=pl.String)
    specialty = pl.col("provider_specialty").str.strip_chars().str.to_uppercase()
    from_specialty = pl.when(specialty.is_in(list(DISCIPLINES))).then(specialty)
    return pl.coalesce(from_modifier, from_specialty, pl.lit("PT")).alias("discipline")


def with_group_key(lines: pl.LazyFrame, without_billing_npi: str = "claim") -> pl.LazyFrame:
    """``lines`` with ``billing_provider`` and ``discipline`` added (the rest of the key is
    patient_id and service_date)."""
    return lines.with_columns(billing_provider(without_billing_npi), discipline())
