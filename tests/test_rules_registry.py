"""The registry (one hop from a rule id to its code) and the FINDINGS frame every rule returns."""

import datetime as dt
import sys

import polars as pl
import pytest

from pipelines.ingest.columns import CANONICAL
from pipelines.rules import FINDINGS_SCHEMA, RULES, Reference, RuleSettings, findings, line_units
from pipelines.rules.findings.documentation import coverage_counts_plan
from pipelines.rules.frame import NOT_READ, RULE_COLUMNS
from pipelines.rules.testing import NPI_B, at, claim_lines

REF = Reference.load()
SECRET = "PHI-MRN-771234"  # a patient identifier that must never leak into detail text

# One frame that raises every rule at least once, for the same patient where a patient is involved.
EVERYTHING = claim_lines(
    # UNITS_OVER_MINUTES + DAILY_LIMIT + DX_SUPPORT: 97112 x5 on 60 minutes, a pain diagnosis only
    # DOCUMENTATION: its note names the patient, a deficit, PNF and the response, but no measurable goal
    {
        "claim_id": "A1",
        "cpt_code": "97112",
        "minutes": 60,
        "units_billed": 5,
        "diagnosis_codes": "M54.5",
        "visit_start": at(8, 30),
        "visit_end": at(9, 30),
        "allowed_amount": 150.0,
        "note_text": f"{SECRET}: impaired balance {SECRET}; PNF diagonals; pt tolerated well. Goal: improve balance.",
    },
    # ALLOCATION (OT group of the same patient-day): 24 + 23 billed 1 + 2
    {
        "claim_id": "A2",
        "cpt_code": "97530",
        "minutes": 24,
        "units_billed": 1,
        "modifiers": "GO",
        "rendering_npi": NPI_B,
    },
    {
        "claim_id": "A2",
        "cpt_code": "97535",
        "minutes": 23,
        "units_billed": 2,
        "modifiers": "GO",
        "rendering_npi": NPI_B,
    },
    # MINUTES_MISSING
    {"claim_id": "A3", "cpt_code": "97140", "units_billed": 1, "modifiers": "GN", "rendering_npi": NPI_B},
    # DUPLICATE of A1's 97112 line on another claim
    {"claim_id": "A4", "cpt_code": "97112", "minutes": 60, "units_billed": 5, "diagnosis_codes": "I63.9"},
    # OVERLAP: another patient seen by the same therapist at 9:00
    {
        "claim_id": "B1",
        "patient_id": "OTHER-PATIENT-9",
        "cpt_code": "97110",
        "minutes": 45,
        "units_billed": 2,
        "visit_start": at(9),
        "visit_end": at(9, 45),
    },
    # UNTIMED_UNITS: group therapy billed for 2 units
    {"claim_id": "A5", "cpt_code": "97150", "units_billed": 2, "allowed_amount": 30.0},
    # IMPOSSIBLE_DAY: the same therapist documents another 12 hours
    *[
        {"claim_id": f"X{i}", "patient_id": f"FILLER-{i}", "cpt_code": "97110", "minutes": 60, "units_billed": 4}
        for i in range(12)
    ],
    patient_id=SECRET,
)


def all_findings() -> pl.DataFrame:
    settings = RuleSettings()
    units = line_units(EVERYTHING, REF, settings).collect().lazy()
    return findings(EVERYTHING, units, REF, settings).collect()


def test_every_rule_id_leads_to_its_function() -> None:
    assert set(RULES) == {
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
    }
    for rule_id, function in RULES.items():
        module = sys.modules[function.__module__]
        assert rule_id == module.RULE_ID
        assert module.__name__.endswith(rule_id.lower())  # pipelines/rules/findings/<rule_id>.py
        assert module.__doc__.startswith(rule_id)  # the docstring quotes the rule it applies


def test_all_rules_raise_on_the_sample_in_the_findings_schema() -> None:
    frame = all_findings()
    assert frame.schema == pl.Schema(FINDINGS_SCHEMA)
    assert set(frame["rule_id"]) == set(RULES)
    assert set(frame["severity"]) <= {"high", "medium", "low"}
    assert frame["detail"].null_count() == 0 and frame["units_over"].null_count() == 0
    assert frame["amount_at_risk"].null_count() == 0


GRAINS = {
    "UNITS_OVER_MINUTES": {"patient_id", "service_date", "rendering_npi"},
    "ALLOCATION": {"patient_id", "service_date", "rendering_npi"},
    "DAILY_LIMIT": {"patient_id", "service_date"},
    "DUPLICATE": {"patient_id", "service_date"},
    "MINUTES_MISSING": {"claim_id", "line_number", "patient_id", "service_date", "rendering_npi"},
    "DX_SUPPORT": {"claim_id", "line_number", "patient_id", "service_date", "rendering_npi"},
    "OVERLAP": {"rendering_npi", "service_date"},
    "DOCUMENTATION": {"patient_id", "service_date", "rendering_npi"},
    "IMPOSSIBLE_DAY": {"rendering_npi", "service_date"},
    "UNTIMED_UNITS": {"patient_id", "service_date"},
}


@pytest.mark.parametrize("rule_id", sorted(GRAINS))
def test_each_rule_fills_exactly_its_grain(rule_id: str) -> None:
    rows = all_findings().filter(pl.col("rule_id") == rule_id)
    identifying = {"rendering_npi", "patient_id", "service_date", "claim_id", "line_number"}
    for row in rows.iter_rows(named=True):
        filled = {c for c in identifying if row[c] is not None}
        assert filled == GRAINS[rule_id]


def test_patient_identifiers_never_appear_in_detail() -> None:
    frame = all_findings()
    for detail in frame["detail"]:
        assert SECRET not in detail and "OTHER-PATIENT" not in detail and "FILLER" not in detail


def test_findings_are_sorted_and_repeatable() -> None:
    first, second = all_findings(), all_findings()
    assert first.equals(second)
    assert first.equals(
        first.sort(
            [
                "rule_id",
                "service_date",
                "rendering_npi",
                "patient_id",
                "claim_id",
                "line_number",
                "billing_provider",
                "discipline",
                "detail",
            ],
            nulls_last=True,
        )
    )


def test_findings_do_not_depend_on_the_order_of_lines_or_units() -> None:
    settings = RuleSettings()
    for seed in range(5):
        lines = EVERYTHING.collect().sample(fraction=1.0, shuffle=True, seed=seed).lazy()
        units = line_units(lines, REF, settings, ordered=False).collect()
        assert units.sort("claim_id", "line_number").equals(line_units(EVERYTHING, REF, settings).collect())
        units = units.sample(fraction=1.0, shuffle=True, seed=seed + 100).lazy()
        assert findings(lines, units, REF, settings).collect().equals(all_findings()), seed


def test_the_rules_read_no_column_the_review_leaves_unread() -> None:
    """The review reads a month's lines with ``RULE_COLUMNS`` only: on a generated month with every
    column filled, the line units, findings and coverage counts are the same without the others."""
    from pipelines.generate.extract import generate_months
    from pipelines.generate.month import RULE_IDS

    gen = generate_months(20_000, 11, start_month="2025-03", months=1, today=dt.date(2026, 1, 1))
    lines = next(iter(gen.months)).lines
    assert set(RULE_COLUMNS) | set(NOT_READ) == set(CANONICAL) and not set(RULE_COLUMNS) & set(NOT_READ)
    assert lines.select(NOT_READ).null_count().sum_horizontal().item() == 0  # the dropped columns carry values
    settings = RuleSettings()

    def review(frame: pl.DataFrame) -> list[pl.DataFrame]:
        units = line_units(frame.lazy(), REF, settings).collect()
        found = findings(frame.lazy(), units.lazy(), REF, settings).collect()
        return [units, found, coverage_counts_plan(frame).collect()]

    full, narrow = review(lines), review(lines.select(RULE_COLUMNS))
    assert full[1].height > 1000 and set(full[1]["rule_id"]) >= set(RULE_IDS)  # every rule the generator plants
    for whole, read in zip(full, narrow, strict=True):
        assert read.equals(whole)


def test_an_unknown_rule_id_is_refused() -> None:
    with pytest.raises(KeyError, match="NOPE"):
        findings(EVERYTHING, line_units(EVERYTHING, REF, RuleSettings()), REF, RuleSettings(), rules=["NOPE"])


def test_missing_optional_columns_are_treated_as_absent() -> None:
    lines = EVERYTHING.select(
        "claim_id",
        "line_number",
        "patient_id",
        "rendering_npi",
        "service_date",
        "cpt_code",
        "units_billed",
        "payer_type",
    )
    units = line_units(lines, REF, RuleSettings()).collect()
    assert set(units["expected_basis"]) <= {"minutes_missing", "untimed", "duplicate"}
    frame = findings(lines, units.lazy(), REF, RuleSettings()).collect()
    assert "MINUTES_MISSING" in set(frame["rule_id"]) and "OVERLAP" not in set(frame["rule_id"])


def test_every_rule_id_is_explained_in_docs_rules_md_with_its_source_and_an_example() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text()
    sections = {part.split("\n", 1)[0].strip(): part for part in text.split("\n## ")[1:]}
    for rule_id in RULES:
        assert rule_id in sections, rule_id
        body = sections[rule_id]
        assert "**In plain words.**" in body and "**Source.**" in body and "**Example.**" in body, rule_id
