"""Plain words for every rule id, metric and column the app and the report show: the one mapping
grids, figures and the help page (``/help``) read.

Each term has a short name (grid headers, figure labels), what it means, and its source: the rule or
scoring module that computes it and the policy text it follows (as quoted in those modules'
docstrings). ``label(key)`` gives the name of any key, ``meaning(key)`` its explanation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    name: str
    meaning: str
    source: str = ""


# ---- findings (pipelines/rules/findings/*.py) ------------------------------------------------------

RULES: dict[str, Term] = {
    "UNITS_OVER_MINUTES": Term(
        "More units than the minutes support",
        "The timed units billed for an 8-minute-rule group (one patient, one day, one clinic and "
        "discipline) exceed the units its documented minutes support under the payer's method: CMS "
        "counts the day's total timed minutes against the 8-minute chart; AMA/CPT charts each code's "
        "own minutes. Units over = the excess; attributed to the therapist billing the most timed units.",
        "CMS Claims Processing Manual ch. 5 sec. 20.2 C; AMA/CPT per-code rule. "
        "Code: pipelines/rules/findings/units_over_minutes.py",
    ),
    "ALLOCATION": Term(
        "Units on the wrong codes",
        "The day's total units are supported, but a code carries more units than any valid split of "
        "the minutes could give it (each code first gets its full 15-minute blocks, leftover units go "
        "to the codes with the most remaining minutes; ties are the clinician's choice). CMS payers only.",
        "CMS Claims Processing Manual ch. 5 sec. 20.2 C. Code: pipelines/rules/findings/allocation.py",
    ),
    "DAILY_LIMIT": Term(
        "97112 over the daily limit",
        "More units of 97112 were billed for the patient in one day, over all claims and therapists, "
        "than the daily limit (4 units, 60 minutes, unless the MUE table or the configuration says "
        "otherwise). Units over = billed minus the limit.",
        "NCCI Policy Manual ch. 1 sec. V (medically unlikely edits); payers' usual allowance of four "
        "units a day. Code: pipelines/rules/findings/daily_limit.py",
    ),
    "MINUTES_MISSING": Term(
        "Timed code without minutes",
        "A timed code was billed with no documented minutes on the line and no visit total: every unit "
        "of the line is at risk.",
        "CMS Benefit Policy Manual ch. 15 sec. 220.3 (notes must record total timed minutes). "
        "Code: pipelines/rules/findings/minutes_missing.py",
    ),
    "DX_SUPPORT": Term(
        "97112 without a supporting diagnosis",
        "A 97112 line whose claim carries no diagnosis supporting neuromuscular re-education (stroke, "
        "brain or spinal cord injury, joint instability, Parkinson's disease, multiple sclerosis ...); "
        "weakness or pain codes alone do not. The list of supporting ICD-10-CM prefixes is reference data.",
        "Reference file pipelines/reference/dx_97112_supportive.csv. Code: pipelines/rules/findings/dx_support.py",
    ),
    "DUPLICATE": Term(
        "Same service billed twice",
        "The same service (patient, date, therapist, code, units) was billed on more than one claim; "
        "the lines after the first claim are the extras, and their units are at risk.",
        "Review outputs contract. Code: pipelines/rules/findings/duplicate.py",
    ),
    "OVERLAP": Term(
        "Overlapping one-on-one visits",
        "One therapist billed one-on-one timed codes for two patients at the same time. Units over = "
        "the 8-minute chart of the overlapping minutes.",
        "NCCI Policy Manual ch. 11 sec. P (one therapy service per 15-minute period). "
        "Code: pipelines/rules/findings/overlap.py",
    ),
    "DOCUMENTATION": Term(
        "97112 record incomplete",
        "A day billing 97112 whose record does not show a functional deficit, measurable goals, the "
        "response to treatment or a skilled neuromuscular technique (from the documentation flags, "
        "else from the note text). The detail names what is missing.",
        "CMS Benefit Policy Manual ch. 15 sec. 220.3; vocabulary in "
        "pipelines/reference/documentation_vocabulary.toml. Code: pipelines/rules/findings/documentation.py",
    ),
    "IMPOSSIBLE_DAY": Term(
        "Impossible day (too many timed hours)",
        "One therapist's documented one-on-one timed minutes in a day exceed the ceiling (12 hours by "
        "default). Units over = the chart of the minutes above the ceiling.",
        'OIG "questionable billing" study (more than 8 hours of therapy in a day). '
        "Code: pipelines/rules/findings/impossible_day.py",
    ),
    "UNTIMED_UNITS": Term(
        "Untimed service billed for more than one unit",
        "A service not measured in 15-minute units (an evaluation, group therapy, a supervised modality) "
        "is billed as one unit a day however long it took; more than one unit of it, or two evaluations "
        "of one discipline the same day, is a finding. 97129/97130 follow their first-unit/add-on arithmetic.",
        'Medicare Claims Processing Manual (Pub. 100-04) ch. 5 sec. 20.2 B: for untimed codes "the provider '
        "enters '1' in the field labeled units\". Code: pipelines/rules/findings/untimed_units.py",
    ),
}

THERAPIST_DAY_RULES = ("OVERLAP", "IMPOSSIBLE_DAY")  # their rates count working days (pipelines.scores.peers)

# ---- provider metrics compared with peers (pipelines/scores/peers.py metric_specs) ----------------

SCORES_SOURCE = "Code: pipelines/scores/facts.py and pipelines/scores/peers.py"

METRICS: dict[str, Term] = {
    "timed_units_per_patient_day": Term(
        "Timed units per patient-day",
        "All timed (15-minute) units the therapist billed, per patient-day (one patient seen on one date).",
        SCORES_SOURCE,
    ),
    "units_97112_per_patient_day": Term(
        "97112 units per patient-day",
        "Units of 97112 (neuromuscular re-education) billed per patient-day.",
        SCORES_SOURCE,
    ),
    "share_97112_of_timed_units": Term(
        "Share of timed units billed as 97112",
        "97112 units as a share of all timed units billed.",
        SCORES_SOURCE,
    ),
    "minutes_per_timed_unit": Term(
        "Documented minutes per timed unit",
        "Documented timed minutes over the timed units billed on documented visits; low is bad (a unit "
        "needs at least 8 minutes, 15 on average).",
        "CMS 8-minute rule (Claims Processing Manual ch. 5 sec. 20.2). " + SCORES_SOURCE,
    ),
    "share_days_97112_at_limit": Term(
        "Patient-days with 97112 at the daily limit",
        "Share of patient-days billing 97112 at the daily limit (4 units) or more, tested against the "
        "rest of the peer group.",
        SCORES_SOURCE,
    ),
    "timed_hours_per_day_mean": Term(
        "Timed hours per working day",
        "The therapist's timed minutes per working day (a date with any timed line), in hours.",
        'OIG "questionable billing" study. ' + SCORES_SOURCE,
    ),
    "timed_hours_per_day_max": Term(
        "Timed hours on the longest day",
        "The most timed hours in any one working day; descriptive, never counts toward the risk score.",
        SCORES_SOURCE,
    ),
    "share_days_over_8h": Term(
        "Working days over 8 timed hours",
        "Share of working days with more than 8 hours of timed minutes, tested against the peer group.",
        'OIG "questionable billing" study (more than 8 hours in a day). ' + SCORES_SOURCE,
    ),
}
for _rule, _term in RULES.items():
    _unit = "working day" if _rule in THERAPIST_DAY_RULES else "patient-day"
    METRICS[f"rate_{_rule.lower()}"] = Term(
        f"{_term.name}: findings per patient-day",
        f"{_rule} findings per patient-day; the test against peers counts the {_unit}s it flagged.",
        SCORES_SOURCE,
    )

# ---- how a provider compares and ranks (pipelines/scores/peers.py, score.py) ----------------------

STATISTICS: dict[str, Term] = {
    "value": Term("Value", "The provider's value of the metric in the period.", SCORES_SOURCE),
    "peer_median": Term(
        "Peer median",
        "The median of the peer group's values (the provider included).",
        "Code: pipelines/scores/peers.py",
    ),
    "robust_z": Term(
        "Robust z-score",
        "How far the value is from the peer median, in robust standard deviations (1.4826 x the median "
        "absolute deviation); 0 is the median, 3 or more in the bad direction stands out.",
        "Code: pipelines/scores/peers.py",
    ),
    "percentile": Term(
        "Percentile among peers",
        "Mid-rank percentile in the peer group (50 = the middle).",
        "Code: pipelines/scores/peers.py",
    ),
    "p_value": Term(
        "p-value",
        "For share metrics: one-sided test of the provider's proportion against the rest of the peer "
        "group (chi-square, or an exact binomial test for small counts).",
        "CMS comparative billing reports' chi-square test at 0.05. Code: pipelines/scores/peers.py",
    ),
    "significant": Term(
        "Significant",
        "The metric stands out in the bad direction (p < 0.05, or robust z >= 3).",
        "Code: pipelines/scores/peers.py",
    ),
    "direction_bad": Term("Bad direction", "Whether a high or a low value draws scrutiny.", SCORES_SOURCE),
    "risk_score": Term(
        "Risk score",
        "2 points per tenfold of dollars at risk, plus each significant metric's robust z (capped at 10), "
        "scaled down for low volume.",
        "Code: pipelines/scores/score.py",
    ),
    "risk_rank": Term(
        "Risk rank",
        "1 = review first: providers ordered by risk score, then dollars at risk.",
        "Code: pipelines/scores/score.py",
    ),
    "outlier": Term(
        "Outlier",
        "Enough volume (30 patient-days) and at least one metric significant with robust z of 3 or more.",
        "Code: pipelines/scores/score.py",
    ),
    "volume_ok": Term("Enough volume", "At least 30 patient-days in the period.", "Code: pipelines/scores/score.py"),
    "reasons": Term(
        "Reasons", "The metrics that add most to the risk score, in words.", "Code: pipelines/scores/score.py"
    ),
    "peer_group": Term(
        "Peer group",
        "The providers compared with each other: same discipline (configurable).",
        "Code: pipelines/scores/peers.py",
    ),
}

# ---- other columns the grids and exports show -----------------------------------------------------

COLUMNS: dict[str, Term] = {
    "rule_id": Term("Rule", "The check that raised the finding (see Findings above)."),
    "severity": Term("Severity", "How serious the rule considers the finding (high, medium, low)."),
    "detail": Term("What the rule found", "The rule's arithmetic in words."),
    "units_over": Term("Units over", "Units billed beyond what is supported."),
    "amount_at_risk": Term("Amount at risk ($)", "Units over x the allowed amount per unit of the lines concerned."),
    "findings": Term("Findings", "Number of findings."),
    "service_date": Term("Date of service", "The day the service was given."),
    "rendering_npi": Term("NPI", "The rendering therapist's National Provider Identifier."),
    "provider_name": Term("Provider", "The rendering therapist."),
    "discipline": Term("Discipline", "PT, OT or SLP (from the GP/GO/GN modifier, else the specialty)."),
    "patient_days": Term("Patient-days", "Distinct patients seen per date, summed."),
    "patients": Term("Patients", "Distinct patients."),
    "working_days": Term("Working days", "Dates with any timed line of the therapist."),
    "timed_units": Term("Timed units", "Timed (15-minute) units billed."),
    "units_97112": Term("97112 units", "Units of 97112 billed."),
    "patient_id": Term("Patient id", "The patient identifier (auditors only)."),
    "patient_ref": Term(
        "Patient reference", "An opaque token for the patient (HMAC of the id), the same on every page."
    ),
    "claim_id": Term("Claim", "The claim of a line-level finding."),
    "claim_ids": Term(
        "Claims", "Every claim with a line in the finding's scope: its line, patient-day or therapist-day."
    ),
    "line_number": Term("Line", "The line's number on its claim."),
    "payer_type": Term("Payer type", "medicare, medicaid, commercial ... (decides CMS or AMA counting)."),
    "payer_name": Term("Payer", "The payer's name."),
    "clinic_name": Term("Clinic", "The billing provider's name."),
    "billing_npi": Term("Clinic NPI", "The billing provider's NPI."),
    "cpt_code": Term("CPT code", "The billed procedure code."),
    "minutes": Term("Minutes", "Documented minutes of the line."),
    "units_billed": Term("Units billed", "Units on the claim line."),
    "expected_units": Term("Units supported", "Units the documented minutes support (8-minute rule or AMA)."),
    "expected_units_min": Term("Supported (low)", "Fewest units a valid allocation gives the line."),
    "expected_units_max": Term("Supported (high)", "Most units a valid allocation gives the line."),
    "method": Term("Counting method", "cms (8-minute rule over the day) or ama (per code)."),
    "group_timed_minutes": Term("Group timed minutes", "Timed minutes of the line's 8-minute-rule group."),
    "group_supported_units": Term("Group units supported", "Units the group's minutes support."),
    "expected_basis": Term("How the units were worked out", "The arithmetic behind the supported units."),
    "total_timed_minutes": Term("Visit timed minutes", "The visit's total timed minutes, as documented."),
    "modifiers": Term("Modifiers", "The line's CPT modifiers."),
    "diagnosis_codes": Term("Diagnoses", "The claim's ICD-10-CM codes."),
    "allowed_amount": Term("Allowed ($)", "The allowed amount of the line."),
    "visit_start": Term("Visit start", "When the visit began."),
    "visit_end": Term("Visit end", "When the visit ended."),
    "deficit_documented": Term("Deficit documented", "Documentation flag: functional deficit."),
    "goals_documented": Term("Goals documented", "Documentation flag: measurable goals."),
    "response_documented": Term("Response documented", "Documentation flag: response to treatment."),
    "note_text": Term("Treatment note", "The note's text (auditors only)."),
    "metric": Term("Metric", "The provider metric (see Provider metrics above)."),
    "month": Term("Month", "Month of service."),
}


def label(key: str) -> str:
    """Plain words for a rule id, metric or column (its own words when none are known)."""
    for table in (RULES, METRICS, STATISTICS, COLUMNS):
        if key in table:
            return table[key].name
    return str(key).replace("_", " ")


def meaning(key: str) -> str:
    for table in (RULES, METRICS, STATISTICS, COLUMNS):
        if key in table:
            return table[key].meaning
    return ""


def rule_label(rule_id: str | None) -> str:
    return RULES[rule_id].name if rule_id in RULES else str(rule_id or "")
