"""The rule ids and the grain of each rule's finding (the rule table of
``docs/contract/review-outputs.md``), as plain data: scoring, the generator and the dashboards name
rules from here without importing the rule engine."""

from __future__ import annotations

PATIENT_DAY_NPI = ("patient_id", "service_date", "rendering_npi")
PATIENT_DAY = ("patient_id", "service_date")
LINE = ("claim_id", "line_number")
THERAPIST_DAY = ("rendering_npi", "service_date")

# The keys that identify each rule's finding, in the contract's order: the generator's answer key and
# the evaluation match findings on them.
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

RULE_IDS = tuple(GRAIN)
# Rules about a therapist's day: their rates count working days, their findings open the therapist-day.
THERAPIST_DAY_RULES = tuple(rule for rule, grain in GRAIN.items() if grain == THERAPIST_DAY)
