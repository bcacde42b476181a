"""The app's links to one day: a patient-day (the patient named by token, never by id) and a
therapist-day (one rendering NPI's visits on one date)."""

from __future__ import annotations

# Findings of therapist-day grain (contract, "Rule ids and their grain"): they name no patient and
# open the therapist-day page.
from pipelines.scores.attribution import THERAPIST_DAY_RULES


def patient_day_href(npi: str, token: str | None, day) -> str | None:
    if not token or day is None:
        return None
    return f"/patient-day/{npi}/{token}/{day}"


def therapist_day_href(npi: str, day) -> str | None:
    if not npi or day is None:
        return None
    return f"/therapist-day/{npi}/{day}"


def finding_href(npi: str, rule_id: str | None, token: str | None, day) -> str | None:
    """Where a finding opens: its therapist-day for OVERLAP and IMPOSSIBLE_DAY, else its patient-day."""
    if rule_id in THERAPIST_DAY_RULES:
        return therapist_day_href(npi, day)
    return patient_day_href(npi, token, day)
