"""One amount at risk per line: each finding priced from its own lines (paid, else allowed, else
charge, else the fee schedule's national estimate, labelled), and each line's amount counted once in
``exposure`` by a documented precedence."""

import datetime as dt

import polars as pl
import pytest

from pipelines.rules import FINDINGS_SCHEMA, Reference, RuleSettings, findings, line_units
from pipelines.rules.exposure import PRECEDENCE
from pipelines.rules.registry import RULES
from pipelines.rules.testing import claim_lines

REF = Reference.load()


def review(*rows: dict, **defaults) -> pl.DataFrame:
    settings = RuleSettings()
    lines = claim_lines(*rows, **defaults)
    units = line_units(lines, REF, settings).collect()
    return findings(lines, units.lazy(), REF, settings).collect()


def test_one_200_dollar_line_is_200_at_risk_however_many_rules_question_it() -> None:
    # 97112 x5 paid $200 on 60 minutes (4 units), a pain diagnosis only, no goals in the record: four
    # rules question the line, their own amounts add up to $640, the line is $200 once
    found = review(
        {
            "cpt_code": "97112",
            "minutes": 60,
            "units_billed": 5,
            "paid_amount": 200.0,
            "allowed_amount": 255.0,
            "diagnosis_codes": "M54.50",
            "goals_documented": False,
        }
    )
    amounts = dict(found.select("rule_id", "amount_at_risk").iter_rows())
    assert amounts == {"DAILY_LIMIT": 200.0, "DOCUMENTATION": 200.0, "DX_SUPPORT": 200.0, "UNITS_OVER_MINUTES": 40.0}
    exposure = dict(found.select("rule_id", "exposure").iter_rows())
    assert exposure == {"DAILY_LIMIT": 200.0, "DOCUMENTATION": 0.0, "DX_SUPPORT": 0.0, "UNITS_OVER_MINUTES": 0.0}
    assert found["exposure"].sum() == 200.0
    counted_by = dict(found.select("rule_id", "counted_by").iter_rows())
    assert counted_by["DX_SUPPORT"] == "DAILY_LIMIT" and counted_by["DAILY_LIMIT"] == ""
    assert set(found["price_basis"]) == {"paid"} and not found["exposure_estimated"].any()


def test_a_later_rule_carries_only_the_units_not_yet_counted() -> None:
    # 97112 x4 on 45 minutes (3 units): UNITS_OVER_MINUTES questions 1 unit, DX_SUPPORT all 4; the
    # line is counted once: 1 unit by UNITS_OVER_MINUTES (earlier in the precedence), 3 by DX_SUPPORT
    found = review(
        {"cpt_code": "97112", "minutes": 45, "units_billed": 4, "allowed_amount": 120.0, "diagnosis_codes": "M62.81"},
        payer_type="commercial",
    )
    rows = {r["rule_id"]: r for r in found.iter_rows(named=True)}
    assert (rows["UNITS_OVER_MINUTES"]["amount_at_risk"], rows["UNITS_OVER_MINUTES"]["exposure"]) == (30.0, 30.0)
    assert (rows["DX_SUPPORT"]["amount_at_risk"], rows["DX_SUPPORT"]["exposure"]) == (120.0, 90.0)
    assert rows["DX_SUPPORT"]["counted_by"] == "UNITS_OVER_MINUTES" and rows["DX_SUPPORT"]["price_basis"] == "allowed"


def test_a_line_without_amounts_is_priced_from_the_fee_schedule_and_says_it_is_an_estimate() -> None:
    # no paid, allowed or charge amount: 97112's 2024 national non-facility RVUs 1.01 x 33.2875 = 33.62
    (f,) = review(
        {
            "cpt_code": "97112",
            "minutes": 30,
            "units_billed": 2,
            "diagnosis_codes": "M54.50",
            "service_date": dt.date(2024, 5, 2),
        }
    ).to_dicts()
    assert (
        f["rule_id"] == "DX_SUPPORT"
        and f["amount_at_risk"] == pytest.approx(67.24)
        and f["exposure"] == f["amount_at_risk"]
    )
    assert (f["price_basis"], f["exposure_estimated"]) == ("pfs_estimate", True)
    # the charge, when it is the only amount, comes before the estimate
    (f,) = review(
        {"cpt_code": "97112", "minutes": 30, "units_billed": 2, "diagnosis_codes": "M54.50", "charge_amount": 90.0}
    ).to_dicts()
    assert (f["amount_at_risk"], f["price_basis"], f["exposure_estimated"]) == (90.0, "charge", False)


def test_the_findings_frame_keeps_its_columns_and_adds_the_exposure_ones() -> None:
    found = review({"cpt_code": "97112", "minutes": 30, "units_billed": 3, "paid_amount": 60.0})
    assert list(found.columns) == list(FINDINGS_SCHEMA)
    assert list(FINDINGS_SCHEMA)[:12] == [
        "rule_id",
        "severity",
        "rendering_npi",
        "patient_id",
        "service_date",
        "claim_id",
        "line_number",
        "units_over",
        "amount_at_risk",
        "detail",
        "billing_provider",
        "discipline",
    ]
    assert list(FINDINGS_SCHEMA)[12:] == ["exposure", "price_basis", "exposure_estimated", "counted_by"]


def test_every_rule_has_its_place_in_the_precedence() -> None:
    assert sorted(PRECEDENCE) == sorted(RULES)
