"""Visit totals (Pub. 100-02 ch. 15 sec. 220.3: treatment notes record "Total timed code treatment
minutes and total treatment time in minutes" ... "The billing and the total timed code treatment
minutes must be consistent"): a total repeated on the PT and OT lines of one visit is one visit's
minutes; per-code minutes and the visit total that disagree are each checked, the lower governs."""

import polars as pl

from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.testing import NPI_B, NPI_C, claim_lines

REF = Reference.load()


def review(*rows: dict, **defaults) -> tuple[pl.DataFrame, list[dict]]:
    settings = RuleSettings()
    lines = claim_lines(*rows, billing_npi=NPI_C, **defaults)
    units = line_units(lines, REF, settings).collect()
    return units, findings(lines, units.lazy(), REF, settings, rules=["UNITS_OVER_MINUTES"]).collect().to_dicts()


def test_one_visit_total_on_pt_and_ot_lines_bounds_both_disciplines_together() -> None:
    # one 45-minute visit (3 units on the chart) billed 2 units of PT and 2 of OT, the total repeated
    # on every line: each discipline alone is within 45 minutes, together they are one unit over
    rows = (
        {"cpt_code": "97110", "units_billed": 2, "total_timed_minutes": 45, "modifiers": "GP"},
        {"cpt_code": "97530", "units_billed": 2, "total_timed_minutes": 45, "modifiers": "GO", "rendering_npi": NPI_B},
    )
    units, (f,) = review(*rows)
    assert units["visit_disciplines"].to_list() == ["OT+PT", "OT+PT"]
    assert (f["units_over"], f["discipline"], f["patient_id"]) == (1, "OT+PT", "PAT-0001")
    assert f["detail"].startswith(
        "One visit total of 45 timed minutes is repeated on the OT+PT lines of claim C1: one visit's minutes, "
        "bounding its disciplines together. They support 3 units under the CMS method; 4 billed"
    )
    _, found = review(rows[0], {**rows[1], "units_billed": 1})
    assert found == []  # 2 + 1 = 3 units: consistent with the one total


def test_totals_per_discipline_are_not_one_visit() -> None:
    # the PT lines carry the PT note's 30 minutes, the OT lines the OT note's 35: two notes, 2 + 2 units
    # (two notes with the very same total cannot be told from one visit total: read as one)
    units, found = review(
        {"cpt_code": "97110", "units_billed": 2, "total_timed_minutes": 30, "modifiers": "GP"},
        {"cpt_code": "97530", "units_billed": 2, "total_timed_minutes": 35, "modifiers": "GO", "rendering_npi": NPI_B},
    )
    assert units["visit_disciplines"].to_list() == [None, None] and found == []


def test_per_code_minutes_and_the_visit_total_disagreeing_the_lower_governs() -> None:
    # the manual's example 1, 24 + 23 = 47 minutes (3 units), but the visit total says 30 (2 units)
    units, (f,) = review(
        {"cpt_code": "97112", "minutes": 24, "units_billed": 2, "total_timed_minutes": 30},
        {"cpt_code": "97110", "minutes": 23, "units_billed": 1, "total_timed_minutes": 30},
    )
    assert units.select("group_code_minutes", "group_visit_total_minutes", "group_timed_minutes").row(0) == (47, 30, 30)
    assert f["units_over"] == 1
    assert f["detail"] == (
        "The per-code minutes add up to 47 (97112 24, 97110 23) but the visit totals to 30: checked against each, "
        "the lower governs, 30 timed minutes supporting 2 units under the CMS method; 3 billed (97112 2, 97110 1)."
    )
    # the other way round: a visit total of 60 does not lift the 47 documented minutes' 3 units
    units, (f,) = review(
        {"cpt_code": "97112", "minutes": 24, "units_billed": 2, "total_timed_minutes": 60},
        {"cpt_code": "97110", "minutes": 23, "units_billed": 2, "total_timed_minutes": 60},
    )
    assert units["group_timed_minutes"].to_list() == [47, 47] and f["units_over"] == 1
    assert f["detail"].endswith("The visit totals say 60 minutes; the per-code minutes, lower, govern.")
