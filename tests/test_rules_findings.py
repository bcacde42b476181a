"""The patient-day and line findings: UNITS_OVER_MINUTES, ALLOCATION, MINUTES_MISSING, DX_SUPPORT and
DUPLICATE (DAILY_LIMIT: test_rules_daily_limit.py), each raised where the rule says and silent where it does not."""

import itertools

import polars as pl
import pytest

from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.findings._common import unit_price
from pipelines.rules.testing import NPI_A, NPI_B, claim_lines

REF = Reference.load()


def found(rule: str, *rows: dict, settings: RuleSettings | None = None, ref: Reference = REF, **defaults) -> list[dict]:
    settings = settings or RuleSettings()
    lines = claim_lines(*rows, **defaults)
    units = line_units(lines, ref, settings).collect().lazy()
    return findings(lines, units, ref, settings, rules=[rule]).collect().to_dicts()


# --- UNITS_OVER_MINUTES --------------------------------------------------------------------------


def test_units_over_minutes_cms_day_total() -> None:
    (f,) = found(
        "UNITS_OVER_MINUTES",
        {"cpt_code": "97112", "minutes": 24, "units_billed": 2, "allowed_amount": 60.0},
        {"cpt_code": "97110", "minutes": 23, "units_billed": 2, "allowed_amount": 50.0},
    )
    assert (f["units_over"], f["severity"], f["rendering_npi"], f["discipline"]) == (1, "high", NPI_A, "PT")
    assert (
        f["detail"]
        == "47 timed minutes (97112 24, 97110 23) support 3 units under the CMS method; 4 billed (97112 2, 97110 2)."
    )
    # the unit over is 97110's, billed above its code's share (2 where the allocation gives 1): 50 / 2
    assert f["amount_at_risk"] == pytest.approx(25.0) and f["exposure"] == pytest.approx(25.0)
    assert f["claim_id"] is None and f["line_number"] is None  # patient-day grain


def test_units_within_the_chart_are_no_finding() -> None:
    assert not found(
        "UNITS_OVER_MINUTES",
        {"cpt_code": "97112", "minutes": 24, "units_billed": 2},
        {"cpt_code": "97110", "minutes": 23, "units_billed": 1},
    )


def test_units_over_minutes_ama_is_per_code() -> None:
    # AMA: 10 + 10 minutes support one unit each; 2 units of 97110 are one too many even though the day
    # could carry 2 units in total.
    (f,) = found(
        "UNITS_OVER_MINUTES",
        {"cpt_code": "97110", "minutes": 10, "units_billed": 2},
        {"cpt_code": "97116", "minutes": 10, "units_billed": 0},
        payer_type="commercial",
    )
    assert f["units_over"] == 1
    assert "AMA" in f["detail"] and "97110 10 min -> at most 1, 2 billed" in f["detail"]
    assert not found(
        "UNITS_OVER_MINUTES",
        {"cpt_code": "97110", "minutes": 10, "units_billed": 1},
        {"cpt_code": "97116", "minutes": 10, "units_billed": 1},
        payer_type="commercial",
    )


def test_units_over_minutes_with_visit_totals_only() -> None:
    (f,) = found(
        "UNITS_OVER_MINUTES",
        {"cpt_code": "97112", "total_timed_minutes": 47, "units_billed": 2},
        {"cpt_code": "97110", "total_timed_minutes": 47, "units_billed": 2},
    )
    assert f["units_over"] == 1 and "visit totals" in f["detail"]


def test_missing_minutes_are_not_double_reported_as_units_over() -> None:
    rows = (
        {"cpt_code": "97112", "minutes": 10, "units_billed": 4},  # 10 minutes can carry at most 1 unit
        {"cpt_code": "97110", "units_billed": 2},  # no minutes at all: MINUTES_MISSING's
    )
    (over,) = found("UNITS_OVER_MINUTES", *rows)
    (missing,) = found("MINUTES_MISSING", *rows)
    assert over["units_over"] == 3 and "MINUTES_MISSING" in over["detail"]
    assert (missing["claim_id"], missing["line_number"], missing["units_over"]) == ("C1", 2, 2)


def test_several_therapists_attribute_to_the_one_billing_most_units() -> None:
    (f,) = found(
        "UNITS_OVER_MINUTES",
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 10, "units_billed": 1, "rendering_npi": NPI_A},
        {"claim_id": "C2", "cpt_code": "97110", "minutes": 10, "units_billed": 2, "rendering_npi": NPI_B},
        billing_npi="1111111112",
    )
    assert f["rendering_npi"] == NPI_B and f["billing_provider"] == "1111111112"
    assert f"Also rendered by NPI {NPI_A}." in f["detail"]


def test_a_tie_between_therapists_goes_to_the_smallest_npi() -> None:
    (f,) = found(
        "UNITS_OVER_MINUTES",
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 5, "units_billed": 1, "rendering_npi": NPI_B},
        {"claim_id": "C2", "cpt_code": "97110", "minutes": 5, "units_billed": 1, "rendering_npi": NPI_A},
        billing_npi="1111111112",
    )
    assert f["rendering_npi"] == NPI_A


# --- ALLOCATION ----------------------------------------------------------------------------------


def test_allocation_against_the_manual_is_a_finding() -> None:
    # 24 + 23 minutes = 3 units, to be billed 2 x 97112 + 1 x 97110; 1 + 2 has the right total but
    # puts a unit on 97110 that no allocation gives it.
    (f,) = found(
        "ALLOCATION",
        {"cpt_code": "97112", "minutes": 24, "units_billed": 1},
        {"cpt_code": "97110", "minutes": 23, "units_billed": 2, "charge_amount": 80.0},
    )
    assert (f["units_over"], f["severity"], f["amount_at_risk"]) == (1, "low", 40.0)
    assert "gives 97112 2, 97110 1; billed 97112 1, 97110 2" in f["detail"]
    assert not found(
        "ALLOCATION",
        {"cpt_code": "97112", "minutes": 24, "units_billed": 2},
        {"cpt_code": "97110", "minutes": 23, "units_billed": 1},
    )


def test_a_tie_is_never_an_allocation_finding_but_three_on_one_code_is() -> None:
    tie = ({"cpt_code": "97110", "minutes": 20}, {"cpt_code": "97116", "minutes": 20})
    for billed in ((2, 1), (1, 2)):
        rows = [{**r, "units_billed": u} for r, u in zip(tie, billed, strict=True)]
        assert not found("ALLOCATION", *rows) and not found("UNITS_OVER_MINUTES", *rows)
    (f,) = found("ALLOCATION", *[{**r, "units_billed": u} for r, u in zip(tie, (3, 0), strict=True)])
    assert f["units_over"] == 1 and "97110 1-2, 97116 1-2" in f["detail"]


def test_under_billed_day_is_only_an_allocation_finding_beyond_any_valid_share() -> None:
    # 33 min 97110 + 7 min 97140: 3 units as 2 + 1. Billing 2 + 0 is under-billing: no finding.
    assert not found(
        "ALLOCATION",
        {"cpt_code": "97110", "minutes": 33, "units_billed": 2},
        {"cpt_code": "97140", "minutes": 7, "units_billed": 0},
    )
    # Billing 0 + 2: 2 units in total (fewer than 3) but 97140 can never carry 2.
    (f,) = found(
        "ALLOCATION",
        {"cpt_code": "97110", "minutes": 33, "units_billed": 0},
        {"cpt_code": "97140", "minutes": 7, "units_billed": 2},
    )
    assert f["units_over"] == 1


def test_allocation_is_cms_only_and_skipped_without_per_code_minutes() -> None:
    assert not found(
        "ALLOCATION",
        {"cpt_code": "97112", "minutes": 24, "units_billed": 1},
        {"cpt_code": "97110", "minutes": 23, "units_billed": 2},
        payer_type="commercial",
    )
    assert not found(
        "ALLOCATION",
        {"cpt_code": "97112", "total_timed_minutes": 47, "units_billed": 0},
        {"cpt_code": "97110", "total_timed_minutes": 47, "units_billed": 3},
    )


# --- MINUTES_MISSING -----------------------------------------------------------------------------


def test_minutes_missing_is_a_billed_timed_line_without_minutes_or_visit_total() -> None:
    (f,) = found("MINUTES_MISSING", {"cpt_code": "97112", "units_billed": 2, "allowed_amount": 64.0})
    assert (f["claim_id"], f["line_number"], f["units_over"], f["amount_at_risk"]) == ("C1", 1, 2, 64.0)
    assert f["patient_id"] == "PAT-0001" and f["rendering_npi"] == NPI_A  # filled for drill-down
    assert (
        f["detail"]
        == "97112 billed for 2 units with no documented minutes on the line and no total timed minutes for the visit."
    )


def test_no_minutes_missing_with_a_visit_total_or_no_units_or_an_untimed_code() -> None:
    assert not found("MINUTES_MISSING", {"cpt_code": "97112", "units_billed": 2, "total_timed_minutes": 30})
    assert not found("MINUTES_MISSING", {"cpt_code": "97112", "units_billed": 0})
    assert not found("MINUTES_MISSING", {"cpt_code": "97161", "units_billed": 1})


def test_the_visit_total_on_another_line_of_the_visit_covers_the_line() -> None:
    assert not found(
        "MINUTES_MISSING",
        {"cpt_code": "97112", "units_billed": 1, "total_timed_minutes": 30},
        {"cpt_code": "97110", "units_billed": 1, "total_timed_minutes": None},
    )


# --- DX_SUPPORT ----------------------------------------------------------------------------------


def test_dx_support_union_of_the_claims_diagnoses() -> None:
    # The 97112 line carries only M62.81 (weakness) but another line of the claim carries a stroke code.
    assert not found(
        "DX_SUPPORT",
        {"cpt_code": "97112", "minutes": 30, "units_billed": 2, "diagnosis_codes": "M62.81"},
        {"cpt_code": "97110", "minutes": 15, "units_billed": 1, "diagnosis_codes": "i69.351; M62.81"},
    )


def test_dx_support_weakness_and_pain_alone_do_not_support_97112() -> None:
    (f,) = found(
        "DX_SUPPORT",
        {
            "cpt_code": "97112",
            "minutes": 30,
            "units_billed": 2,
            "diagnosis_codes": "M62.81;M54.5",
            "charge_amount": 70.0,
        },
        {"cpt_code": "97110", "minutes": 15, "units_billed": 1, "diagnosis_codes": "M6281"},
    )
    assert (f["claim_id"], f["line_number"], f["units_over"], f["amount_at_risk"], f["severity"]) == (
        "C1",
        1,
        2,
        70.0,
        "medium",
    )
    assert "(M54.5, M62.81, M6281)" in f["detail"]


def test_dx_support_codes_with_or_without_the_dot_and_case() -> None:
    for dx in ("M25.311", "m25311", "Z91.81", "S93401A"):
        assert not found(
            "DX_SUPPORT", {"cpt_code": "97112", "minutes": 30, "units_billed": 2, "diagnosis_codes": dx}
        ), dx


def test_the_neuromuscular_conditions_the_old_list_rejected_now_support_97112() -> None:
    # hemorrhagic stroke, cerebral palsy, ALS, peroneal palsy (G57.3-), its injury and the acquired
    # foot drop it causes, polyneuropathies incl. diabetic, recurrent dislocation (joint instability)
    for dx in ("I61.9", "I69.151", "G80.1", "G12.21", "G57.31", "S84.11XA", "M21.371", "G62.9", "E11.42", "M24.411"):
        assert not found(
            "DX_SUPPORT", {"cpt_code": "97112", "minutes": 30, "units_billed": 2, "diagnosis_codes": dx}
        ), dx
    # still no support: muscle weakness, low back pain, upper-limb carpal tunnel (G56.0-)
    for dx in ("M62.81", "M54.50", "G56.01"):
        assert found("DX_SUPPORT", {"cpt_code": "97112", "minutes": 30, "units_billed": 2, "diagnosis_codes": dx}), dx


def test_every_supportive_family_has_its_label_and_source_and_g83_4_is_cauda_equina() -> None:
    table = REF.dx_97112_supportive
    assert table.filter(pl.col("label").is_null() | pl.col("source").is_null()).height == 0
    g83 = table.filter(pl.col("icd10_prefix") == "G83").row(0, named=True)
    assert (
        g83["label"] == "Other paralytic syndromes"
        and "cauda equina syndrome (G83.4, not foot drop)" in g83["rationale"]
    )
    assert "foot drop" not in g83["label"].lower()


def test_a_claim_with_no_diagnosis_lacks_support_and_says_so() -> None:
    (f,) = found("DX_SUPPORT", {"cpt_code": "97112", "minutes": 30, "units_billed": 2, "diagnosis_codes": None})
    assert "no diagnosis code at all" in f["detail"]


def test_dx_support_only_checks_billed_97112_lines() -> None:
    assert not found("DX_SUPPORT", {"cpt_code": "97110", "minutes": 30, "units_billed": 2, "diagnosis_codes": "M54.5"})
    assert not found("DX_SUPPORT", {"cpt_code": "97112", "minutes": 30, "units_billed": 0, "diagnosis_codes": "M54.5"})


# --- DUPLICATE -----------------------------------------------------------------------------------


def test_duplicate_same_service_on_two_claims() -> None:
    (f,) = found(
        "DUPLICATE",
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 30, "units_billed": 2, "allowed_amount": 60.0},
        {"claim_id": "C2", "cpt_code": "97112", "minutes": 30, "units_billed": 2, "allowed_amount": 62.0},
    )
    assert (f["units_over"], f["amount_at_risk"], f["severity"]) == (2, 62.0, "high")
    assert (f["patient_id"], f["rendering_npi"], f["claim_id"]) == ("PAT-0001", None, None)
    assert f["detail"] == (
        "Same service of the same session (overlapping visit times, or without them the same minutes) billed on "
        f"more than one claim: 97112 x2 by NPI {NPI_A} on claims C1, C2 (extra: C2); 2 units on 1 extra line(s)."
    )


def test_different_units_therapist_or_one_claim_is_not_a_duplicate() -> None:
    base = {"cpt_code": "97112", "minutes": 30}
    assert not found(
        "DUPLICATE", {**base, "claim_id": "C1", "units_billed": 2}, {**base, "claim_id": "C2", "units_billed": 1}
    )
    assert not found(
        "DUPLICATE",
        {**base, "claim_id": "C1", "units_billed": 2},
        {**base, "claim_id": "C2", "units_billed": 2, "rendering_npi": NPI_B},
    )
    assert not found(
        "DUPLICATE", {**base, "claim_id": "C1", "units_billed": 2}, {**base, "claim_id": "C1", "units_billed": 2}
    )


def test_a_duplicate_is_reported_once_not_again_by_the_other_rules() -> None:
    rows = (
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 60, "units_billed": 4},
        {"claim_id": "C2", "cpt_code": "97112", "minutes": 60, "units_billed": 4},  # the same 4 units again
    )
    lines = claim_lines(*rows)
    settings = RuleSettings()
    units = line_units(lines, REF, settings).collect().lazy()
    rules = findings(lines, units, REF, settings).collect()["rule_id"].to_list()
    assert rules == ["DUPLICATE"]


# --- prices ----------------------------------------------------------------------------------------


def test_a_price_per_unit_sums_the_amounts_exactly_in_any_order() -> None:
    # as floats, 0.1 + 0.2 + 0.3 is 0.6000000000000001 in this order and 0.6 in the reverse one: once
    # rounded to the cent, a finding's amount at risk could change with the order the lines came in
    amounts = [0.1, 0.2, 0.3]
    for order in itertools.permutations(amounts):
        lines = pl.DataFrame({"day": [1, 1, 1], "price_per_unit": list(order), "units_billed": [1, 1, 1]})
        assert lines.group_by("day").agg(unit_price().alias("price"))["price"].to_list() == [0.2], order
