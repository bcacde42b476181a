"""UNTIMED_UNITS (Pub. 100-04 ch. 5 sec. 20.2 B: for an untimed code "the provider enters '1' in the
field labeled units"), and the first-unit / add-on pair 97129 + 97130 counted as one timed service."""

import polars as pl

from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.testing import NPI_B, claim_lines

REF = Reference.load()


def review(*rows: dict, rules: tuple[str, ...] = ("UNTIMED_UNITS",), **defaults) -> tuple[pl.DataFrame, list[dict]]:
    settings = RuleSettings()
    lines = claim_lines(*rows, **defaults)
    units = line_units(lines, REF, settings).collect()
    return units, findings(lines, units.lazy(), REF, settings, rules=list(rules)).collect().to_dicts()


def found(*rows: dict, **defaults) -> list[dict]:
    return review(*rows, **defaults)[1]


def test_an_untimed_code_billed_for_two_units_is_one_unit_over() -> None:
    # 97150 group therapy is untimed: "1" in the units field, whatever the session's length
    (f,) = found(
        {"cpt_code": "97150", "units_billed": 2, "minutes": 45, "allowed_amount": 36.0}, payer_type="commercial"
    )
    assert (f["units_over"], f["amount_at_risk"], f["severity"]) == (1, 18.0, "medium")
    assert (f["patient_id"], f["service_date"] is not None, f["claim_id"], f["discipline"]) == (
        "PAT-0001",
        True,
        None,
        "PT",
    )
    assert f["detail"] == "PT: 97150 is untimed, billed as 1 unit a day: 97150 x2; 1 unit over."


def test_one_unit_of_each_untimed_service_is_no_finding() -> None:
    assert not found(
        {"cpt_code": "97161", "units_billed": 1},
        {"cpt_code": "G0283", "units_billed": 1},
        {"cpt_code": "97010", "units_billed": 1},
        {"cpt_code": "97112", "minutes": 30, "units_billed": 2},  # timed: not this rule's business
    )


def test_two_evaluations_of_one_discipline_the_same_day() -> None:
    # an evaluation and a re-evaluation by two physical therapists of one practice, the same day
    (f,) = found(
        {"claim_id": "C1", "cpt_code": "97162", "units_billed": 1, "allowed_amount": 100.0},
        {"claim_id": "C2", "cpt_code": "97164", "units_billed": 1, "allowed_amount": 70.0, "rendering_npi": NPI_B},
    )
    assert f["units_over"] == 1 and f["amount_at_risk"] == 70.0  # the later evaluation is the one over
    assert "more than one evaluation the same day (97162 x1, 97164 x1): one a day" in f["detail"]


def test_a_pt_and_an_ot_evaluation_the_same_day_are_two_plans_of_care() -> None:
    assert not found(
        {"claim_id": "C1", "cpt_code": "97161", "units_billed": 1, "modifiers": "GP"},
        {"claim_id": "C2", "cpt_code": "97165", "units_billed": 1, "modifiers": "GO", "rendering_npi": NPI_B},
    )


def test_an_add_on_without_its_primary_and_a_primary_over_its_first_unit() -> None:
    (orphan,) = found({"cpt_code": "97130", "minutes": 30, "units_billed": 2})
    assert orphan["units_over"] == 2 and "97130 billed without 97129 that day" in orphan["detail"]
    (double,) = found({"cpt_code": "97129", "minutes": 35, "units_billed": 2})
    assert double["units_over"] == 1
    assert "97129 is billed for the first 1 unit of the day, 97130 for the further ones" in double["detail"]
    assert not found(
        {"cpt_code": "97129", "minutes": 15, "units_billed": 1}, {"cpt_code": "97130", "minutes": 23, "units_billed": 2}
    )


def test_the_pair_is_one_timed_service_documented_once() -> None:
    # 38 minutes of cognitive intervention documented on the 97129 line: 3 units (chart 38-52), the
    # first on 97129, the two further ones on 97130, whose line carries no minutes of its own
    units, found_ = review(
        {"cpt_code": "97129", "minutes": 38, "units_billed": 1},
        {"cpt_code": "97130", "units_billed": 2},
        rules=("UNTIMED_UNITS", "UNITS_OVER_MINUTES", "ALLOCATION", "MINUTES_MISSING"),
    )
    assert found_ == []
    assert units.select("cpt_code", "expected_units").rows() == [("97129", 1), ("97130", 2)]
    # billed 2 + 2 on the same 38 minutes: one unit more than the chart gives the pair
    _, (over,) = review(
        {"cpt_code": "97129", "minutes": 38, "units_billed": 1},
        {"cpt_code": "97130", "units_billed": 3},
        rules=("UNITS_OVER_MINUTES",),
    )
    assert over["units_over"] == 1 and "97129/97130 38" in over["detail"]
