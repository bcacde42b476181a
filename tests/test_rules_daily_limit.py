"""DAILY_LIMIT against CMS's practitioner MUE table (shipped seed, 07-01-2024): every code the table
lists, MAI 1 per claim line, MAI 2 and 3 per patient, date and billing provider over that provider's
claims, every unit of the code at risk when over; a configured limit for any code; other payers
against daily_limits.csv."""

from pathlib import Path

import polars as pl

from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.findings.daily_limit import mue_coverage
from pipelines.rules.testing import NPI_A, NPI_B, NPI_C, claim_lines

REF = Reference.load()


def found(*rows: dict, settings: RuleSettings | None = None, ref: Reference = REF, **defaults) -> list[dict]:
    settings = settings or RuleSettings()
    lines = claim_lines(*rows, **defaults)
    units = line_units(lines, ref, settings).collect().lazy()
    return findings(lines, units, ref, settings, rules=["DAILY_LIMIT"]).collect().to_dicts()


def test_the_seed_is_cms_practitioner_table_of_every_code() -> None:
    mue = {r["cpt_code"]: (r["max_units_per_day"], r["mue_indicator"]) for r in REF.mue.iter_rows(named=True)}
    assert REF.mue.height == 14_677  # every code of the 07-01-2024 table, not only therapy codes
    # the README's example and a few therapy codes as CMS publishes them
    assert mue["97112"] == (4, 3) and mue["97110"] == (6, 3) and mue["97161"] == (1, 2) and mue["97010"] == (0, 3)
    assert REF.mue["source"][0] == "CMS MUE table (mue_practitioner_2024-07-01.csv)"


def test_97112_over_its_mue_puts_every_unit_of_the_day_at_risk() -> None:
    # 97112: MUE 4, MAI 3. 3 + 2 units on two claims of one billing provider are 5 > 4: the edit
    # denies the code's units that date, so all 5 are at risk, not the 1 above the MUE.
    (f,) = found(
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 45, "units_billed": 3, "allowed_amount": 90.0},
        {
            "claim_id": "C2",
            "cpt_code": "97112",
            "minutes": 30,
            "units_billed": 2,
            "allowed_amount": 60.0,
            "rendering_npi": NPI_B,
        },
        billing_npi=NPI_C,
    )
    assert (f["units_over"], f["amount_at_risk"], f["severity"]) == (5, 150.0, "medium")
    assert (f["patient_id"], f["rendering_npi"], f["claim_id"], f["billing_provider"]) == (
        "PAT-0001",
        None,
        None,
        NPI_C,
    )
    assert f["detail"].startswith(
        f"97112: 5 units billed this day by billing NPI {NPI_C} on 2 claim(s) (C1 3, C2 2) against an MUE of 4 per "
        "date of service (MAI 3, clinical: payable on appeal with records; CMS MUE table"
    )


def test_mai_3_sums_one_billing_providers_claims_not_two_providers() -> None:
    assert not found(  # 3 units billed by one practice, 2 by another: each within 4
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 45, "units_billed": 3, "billing_npi": NPI_A},
        {
            "claim_id": "C2",
            "cpt_code": "97112",
            "minutes": 30,
            "units_billed": 2,
            "billing_npi": NPI_C,
            "rendering_npi": NPI_B,
        },
    )
    assert not found({"cpt_code": "97112", "minutes": 60, "units_billed": 4})  # at the MUE


def test_every_code_the_table_lists_is_checked_not_only_97112() -> None:
    # 97110: MUE 6 (MAI 3); 7 units for a Medicare patient is over it
    (f,) = found({"cpt_code": "97110", "minutes": 100, "units_billed": 7})
    assert f["units_over"] == 7 and f["detail"].startswith("97110: 7 units")
    assert not found({"cpt_code": "97110", "minutes": 90, "units_billed": 6})


def test_mai_2_is_absolute_justification_does_not_lower_it_but_does_for_mai_3() -> None:
    # two PT evaluations (97161: MUE 1, MAI 2 policy) of one practice the same day, by two therapists
    (f,) = found(
        {"claim_id": "C1", "cpt_code": "97161", "units_billed": 1, "justification_documented": True},
        {"claim_id": "C2", "cpt_code": "97161", "units_billed": 1, "rendering_npi": NPI_B},
        billing_npi=NPI_C,
    )
    assert (f["units_over"], f["severity"]) == (2, "medium")
    assert "(MAI 2, policy: absolute" in f["detail"] and "justified" in f["detail"]
    (f,) = found({"cpt_code": "97112", "minutes": 75, "units_billed": 5, "justification_documented": True})
    assert f["severity"] == "low" and "justified" in f["detail"]


def test_mai_1_compares_each_claim_line_at_line_grain(tmp_path: Path) -> None:
    # a newer CMS file through the mue_table setting, in CMS's own headers: 97140 MUE 2, a line edit
    mue = tmp_path / "MCR_MUE_PractitionerServices.csv"
    mue.write_text(
        '"CPT codes ... copyright American Medical Association."\n'
        "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale\n"
        "97140,2,1 Line Edit,Clinical: Data\n"
    )
    ref = Reference.load({"mue": mue})
    assert not found(  # 2 + 2 on two lines: each line within its edit
        {"claim_id": "C1", "cpt_code": "97140", "minutes": 30, "units_billed": 2},
        {"claim_id": "C2", "cpt_code": "97140", "minutes": 30, "units_billed": 2, "rendering_npi": NPI_B},
        ref=ref,
    )
    (f,) = found({"claim_id": "C1", "cpt_code": "97140", "minutes": 45, "units_billed": 3}, ref=ref)
    assert (f["claim_id"], f["line_number"], f["units_over"]) == ("C1", 1, 3)  # the line is denied, all of it
    assert "per claim line (MAI 1" in f["detail"]
    assert not found({"cpt_code": "97112", "minutes": 90, "units_billed": 6}, ref=ref)  # not in that file: no check


def test_a_configured_limit_overrides_the_table_for_any_code_and_payer() -> None:
    settings = RuleSettings(daily_limit_overrides={"97110": 3, "97112": 6})
    (f,) = found({"cpt_code": "97110", "minutes": 60, "units_billed": 4}, payer_type="commercial", settings=settings)
    assert f["units_over"] == 4 and "a daily limit of 3 per date of service (configured limit)" in f["detail"]
    assert not found({"cpt_code": "97112", "minutes": 75, "units_billed": 5}, settings=settings)


def test_other_payers_use_daily_limits_csv_not_the_mue() -> None:
    assert not found({"cpt_code": "97110", "minutes": 100, "units_billed": 7}, payer_type="commercial")
    (f,) = found({"cpt_code": "97112", "minutes": 75, "units_billed": 5}, payer_type="commercial")
    assert f["units_over"] == 5 and "a daily limit of 4 per date of service (daily_limits.csv)" in f["detail"]
    assert f["severity"] == "medium"


def test_mue_0_and_unlisted_codes_raise_nothing_and_are_counted_for_the_summary() -> None:
    rows = (
        {"cpt_code": "97010", "units_billed": 1},  # hot packs: MUE 0, bundled for Medicare
        {"claim_id": "C2", "cpt_code": "97010", "units_billed": 1, "payer_type": "commercial"},  # out of scope
        {"claim_id": "C3", "cpt_code": "Q9999", "units_billed": 3},  # not in the table
    )
    assert not found(*rows)
    billed = claim_lines(*rows).group_by("cpt_code", "payer_type").agg(pl.len().alias("lines"))
    counts = mue_coverage(billed, REF, RuleSettings())
    assert counts.rows() == [("MUE 0 (not separately payable)", "97010", 1), ("not in the MUE table", "Q9999", 1)]
