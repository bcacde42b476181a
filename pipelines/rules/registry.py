"""From a rule id to its code in one hop, and all findings in one frame.

Rule ids and grains: ``docs/contract/review-outputs.md``. DOCUMENTATION also offers
``documentation_coverage(lines)``: whether it could run (flags or notes present) for the summary.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from pipelines.rules.claims import EXCLUDED
from pipelines.rules.exposure import priced
from pipelines.rules.findings._common import (
    FINDINGS_SCHEMA,
    LINE,
    PATIENT_DAY,
    PATIENT_DAY_NPI,
    THERAPIST_DAY,
    RuleFunction,
)
from pipelines.rules.findings.allocation import allocation
from pipelines.rules.findings.daily_limit import daily_limit
from pipelines.rules.findings.documentation import documentation
from pipelines.rules.findings.duplicate import duplicate
from pipelines.rules.findings.dx_support import dx_support
from pipelines.rules.findings.impossible_day import impossible_day
from pipelines.rules.findings.minutes_missing import minutes_missing
from pipelines.rules.findings.overlap import overlap
from pipelines.rules.findings.units_over_minutes import units_over_minutes
from pipelines.rules.findings.untimed_units import untimed_units
from pipelines.rules.reference import Reference
from pipelines.rules.settings import RuleSettings

RULES: dict[str, RuleFunction] = {
    "UNITS_OVER_MINUTES": units_over_minutes,
    "ALLOCATION": allocation,
    "DAILY_LIMIT": daily_limit,
    "MINUTES_MISSING": minutes_missing,
    "DX_SUPPORT": dx_support,
    "DUPLICATE": duplicate,
    "OVERLAP": overlap,
    "DOCUMENTATION": documentation,
    "IMPOSSIBLE_DAY": impossible_day,
    "UNTIMED_UNITS": untimed_units,
}

# The keys that identify each rule's finding (its grain in the contract's rule table): the generator's
# answer key and the evaluation match findings on them.
GRAIN: dict[str, tuple[str, ...]] = {
    "UNITS_OVER_MINUTES": PATIENT_DAY_NPI,
    "ALLOCATION": PATIENT_DAY_NPI,
    "DAILY_LIMIT": PATIENT_DAY,
    "MINUTES_MISSING": LINE,
    "DX_SUPPORT": LINE,
    "DUPLICATE": PATIENT_DAY,
    "OVERLAP": THERAPIST_DAY,
    "DOCUMENTATION": PATIENT_DAY_NPI,
    "IMPOSSIBLE_DAY": THERAPIST_DAY,
    "UNTIMED_UNITS": PATIENT_DAY,
}

SORT_KEY = [
    "rule_id",
    "service_date",
    "rendering_npi",
    "patient_id",
    "claim_id",
    "line_number",
    "billing_provider",
    "discipline",
    "detail",
]


def findings(
    lines: pl.LazyFrame,
    units: pl.LazyFrame,
    ref: Reference,
    settings: RuleSettings,
    rules: Iterable[str] | None = None,
) -> pl.LazyFrame:
    """Every rule's findings (or only ``rules``') in the FINDINGS schema, sorted.

    ``units`` is ``line_units(lines, ref, settings)``, lazy or collected (``.collect().lazy()``, as
    the warehouse stores it); it is cached so the rules share one computation. The lines of replaced
    and voided claims and of voids (``claims.EXCLUDED``) are left out of every rule. Each finding is
    priced from the lines it questions, with its ``exposure`` counted once per line
    (``exposure.py``).
    """
    selected = list(RULES) if rules is None else list(rules)
    unknown = [r for r in selected if r not in RULES]
    if unknown:
        raise KeyError(f"unknown rule id(s): {', '.join(unknown)}")
    if not selected:
        return pl.LazyFrame(schema=FINDINGS_SCHEMA)
    units = units.cache()  # every rule reads it: a lazy line_units plan is computed once
    # replaced and voided claims, and voids, are no services: no rule sees their lines
    excluded = units.filter(pl.col("claim_status").is_in(EXCLUDED)).select("claim_id").unique()
    lines = lines.join(excluded, on="claim_id", how="anti")
    units = units.filter(~pl.col("claim_status").is_in(EXCLUDED)).cache()
    frames = [RULES[rule_id](lines, units, ref, settings) for rule_id in selected]
    return priced(pl.concat(frames, how="vertical"), units).sort(SORT_KEY, nulls_last=True)
