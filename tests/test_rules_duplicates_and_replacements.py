"""DUPLICATE is the same session billed twice; two sessions of a day are two services whose minutes
add up; replacements (claim_frequency 7) supersede and voids (8) remove the claim they name, and
neither is a duplicate; one naming no known claim is kept and counted."""

import polars as pl

from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.claims import unresolved_claims
from pipelines.rules.testing import NPI_C, at, claim_lines

REF = Reference.load()


def review(*rows: dict, **defaults) -> tuple[pl.DataFrame, pl.DataFrame]:
    settings = RuleSettings()
    lines = claim_lines(*rows, billing_npi=NPI_C, **defaults)
    units = line_units(lines, REF, settings).collect()
    return units, findings(lines, units.lazy(), REF, settings).collect()


def session(claim: str, start: tuple[int, int], end: tuple[int, int], **row) -> dict:
    return {
        "claim_id": claim,
        "cpt_code": "97110",
        "minutes": 30,
        "units_billed": 2,
        "visit_start": at(*start),
        "visit_end": at(*end),
        **row,
    }


def test_the_same_session_on_two_claims_is_a_duplicate() -> None:
    # the 9:00-9:45 session billed again on a second claim, its note rounded to 28 minutes
    units, found = review(session("C1", (9, 0), (9, 45)), session("C2", (9, 0), (9, 45), minutes=28))
    assert units["duplicate_extra"].to_list() == [False, True]
    assert found["rule_id"].to_list() == ["DUPLICATE"] and found["units_over"].to_list() == [2]


def test_two_documented_sessions_of_a_day_are_two_services_whose_minutes_add_up() -> None:
    # 30 minutes of 97110 in the morning and 30 in the afternoon: 60 minutes, 4 units (chart 53-67)
    units, found = review(session("C1", (9, 0), (9, 45)), session("C2", (14, 0), (14, 45)))
    assert units["duplicate_extra"].to_list() == [False, False]
    assert units["group_timed_minutes"].to_list() == [60, 60] and units["group_supported_units"].to_list() == [4, 4]
    assert found.height == 0


def test_without_visit_times_the_same_minutes_mean_the_same_session() -> None:
    line = {"cpt_code": "97110", "units_billed": 2}
    units, found = review({**line, "claim_id": "C1", "minutes": 30}, {**line, "claim_id": "C2", "minutes": 30})
    assert found["rule_id"].to_list() == ["DUPLICATE"]
    units, _ = review({**line, "claim_id": "C1", "minutes": 30}, {**line, "claim_id": "C2", "minutes": 25})
    assert units["duplicate_extra"].to_list() == [False, False]  # documented apart: two services


def test_a_replacement_supersedes_the_claim_it_replaces_and_is_no_duplicate() -> None:
    # C1 billed 97112 x3 on 30 minutes (one unit over); its replacement C2 corrects it to 2 units
    units, found = review(
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 30, "units_billed": 3},
        {
            "claim_id": "C2",
            "cpt_code": "97112",
            "minutes": 30,
            "units_billed": 2,
            "claim_frequency": 7,
            "original_claim_id": "C1",
        },
    )
    assert units.select("claim_id", "claim_status", "expected_basis", "duplicate_extra").rows() == [
        ("C1", "replaced", "replaced", False),
        ("C2", "replacement", "per_code_minutes", False),
    ]
    assert units["group_timed_minutes"].to_list() == [30, 30]  # the replaced claim's minutes are gone
    assert found.height == 0
    # the same replacement repeating the original's units exactly is still no DUPLICATE
    _, found = review(
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 30, "units_billed": 2},
        {
            "claim_id": "C2",
            "cpt_code": "97112",
            "minutes": 30,
            "units_billed": 2,
            "claim_frequency": 7,
            "original_claim_id": "C1",
        },
    )
    assert found.height == 0


def test_a_void_removes_the_claim_it_voids_and_itself() -> None:
    units, found = review(
        {"claim_id": "C1", "cpt_code": "97112", "units_billed": 2},  # no minutes: MINUTES_MISSING if it stood
        {"claim_id": "C9", "cpt_code": "97112", "units_billed": 2, "claim_frequency": 8, "original_claim_id": "C1"},
    )
    assert units["claim_status"].to_list() == ["voided", "void"] and units["expected_units"].to_list() == [0, 0]
    assert found.height == 0


def test_a_replacement_or_void_naming_no_known_claim_is_kept_and_counted() -> None:
    rows = (
        {"claim_id": "C2", "cpt_code": "97112", "units_billed": 2, "claim_frequency": 7, "original_claim_id": "GONE"},
        {
            "claim_id": "C3",
            "cpt_code": "97110",
            "minutes": 30,
            "units_billed": 2,
            "claim_frequency": 8,
            "original_claim_id": "ALSO-GONE",
        },
    )
    units, found = review(*rows)
    assert units["claim_status"].to_list() == ["unresolved_replacement", "unresolved_void"]
    assert found["rule_id"].to_list() == ["MINUTES_MISSING"]  # C2 is reviewed as billed
    claims = claim_lines(*rows).select("claim_id", "claim_frequency", "original_claim_id").collect()
    assert unresolved_claims(claims).rows() == [("unresolved_replacement", 1), ("unresolved_void", 1)]
