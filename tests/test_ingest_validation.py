"""Each row rule of the input contract v1: a row that breaks it is quarantined with that reason."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipelines.ingest.validate import conform, typed, validate
from tests.extracts import VALID_ROW, row


def check(*records: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = pl.DataFrame(
        [{"source_row": i, **r} for i, r in enumerate(records, start=1)],
        schema={"source_row": pl.Int64, **dict.fromkeys(VALID_ROW, pl.String)},
    )
    return validate(conform(frame, {c: c for c in VALID_ROW}))


def reasons_for(**changes) -> list[str]:
    valid, invalid = check(row(**changes))
    assert valid.height + invalid.height == 1
    return invalid["reasons"].to_list()[0] if invalid.height else []


def test_the_reference_row_is_valid_and_typed():
    valid, invalid = check(row())
    assert invalid.height == 0
    line = typed(valid).row(0, named=True)
    assert line["service_date"] == dt.date(2026, 10, 1)
    assert line["units_billed"] == 2 and line["minutes"] == 30
    assert line["visit_start"] == dt.datetime(2026, 10, 1, 9, 0)
    assert line["allowed_amount"] == pytest.approx(70.5)


# a year ahead: the module is imported once and a run may cross midnight before this case runs
FUTURE = (dt.date.today() + dt.timedelta(days=365)).isoformat()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"claim_id": None}, "claim_id: required value missing"),
        ({"claim_id": "   "}, "claim_id: required value missing"),
        ({"line_number": "0"}, "line_number: below 1"),
        ({"line_number": "one"}, "line_number: not a whole number"),
        ({"line_number": "1.5"}, "line_number: not a whole number"),
        ({"patient_id": None}, "patient_id: required value missing"),
        ({"rendering_npi": "123456789"}, "rendering_npi: not 10 digits"),
        ({"rendering_npi": "1234567890"}, "rendering_npi: check digit invalid"),
        ({"billing_npi": "1234567890"}, "billing_npi: check digit invalid"),
        ({"service_date": "2026-13-01"}, "service_date: not a date (YYYY-MM-DD or MM/DD/YYYY)"),
        ({"service_date": "01.10.2026"}, "service_date: not a date (YYYY-MM-DD or MM/DD/YYYY)"),
        ({"service_date": FUTURE}, "service_date: in the future or before 2000-01-01"),
        ({"service_date": "12/31/1999"}, "service_date: in the future or before 2000-01-01"),
        ({"cpt_code": "9711"}, "cpt_code: not a CPT/HCPCS code (5 digits, or a letter and 4 digits)"),
        ({"cpt_code": "97112A"}, "cpt_code: not a CPT/HCPCS code (5 digits, or a letter and 4 digits)"),
        ({"units_billed": "-1"}, "units_billed: below 0"),
        ({"units_billed": "two"}, "units_billed: not a whole number"),
        (
            {"payer_type": "self_pay"},
            "payer_type: not one of medicare, medicare_advantage, medicaid, commercial, workers_comp, tricare, other",
        ),
        ({"minutes": "721"}, "minutes: outside 0..720"),
        ({"minutes": "thirty"}, "minutes: not a whole number"),
        ({"total_timed_minutes": "1441"}, "total_timed_minutes: outside 0..1440"),
        ({"modifiers": "GP;59;KX;CQ;XU"}, "modifiers: not up to four 2-character modifiers"),
        ({"diagnosis_codes": "stroke"}, "diagnosis_codes: not ICD-10-CM codes separated by ';'"),
        ({"charge_amount": "$120"}, "amount: charge, allowed or paid amount not a decimal number"),
        ({"paid_amount": "-3.00"}, "amount: charge, allowed or paid amount below 0"),
        ({"visit_end": "2026-10-01T08:00"}, "visit_end: not after visit_start on the same day"),
        ({"visit_end": "2026-10-02T09:30"}, "visit_end: not after visit_start on the same day"),
        ({"visit_start": "9am"}, "visit_start/visit_end: not a timestamp (YYYY-MM-DD HH:MM[:SS])"),
    ],
)
def test_a_broken_rule_quarantines_the_row_with_its_reason(changes, reason):
    assert reasons_for(**changes) == [reason]


def test_every_reason_of_a_row_is_given_not_just_the_first():
    reasons = reasons_for(claim_id=None, units_billed="-2", service_date="yesterday")
    assert set(reasons) == {
        "claim_id: required value missing",
        "units_billed: below 0",
        "service_date: not a date (YYYY-MM-DD or MM/DD/YYYY)",
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"service_date": "10/01/2026"},  # US format
        {"service_date": "2026-10-01 00:00:00"},  # a spreadsheet's date cell
        {"units_billed": "0"},  # a documented, unbilled timed service
        {"units_billed": "2.0"},  # a typed file's whole number
        {"payer_type": "Medicare Advantage"},  # matched case-insensitively
        {"cpt_code": "g0283"},
        {"modifiers": "GP, 59 KX;CQ"},
        {"diagnosis_codes": "I639; r2681"},  # with or without the dot
        {"minutes": None, "total_timed_minutes": None},  # a finding later, not a bad row
        {"visit_start": "2026-10-01 09:00:00", "visit_end": "2026-10-01 09:45:30"},
    ],
)
def test_values_the_contract_allows_are_loaded(changes):
    assert reasons_for(**changes) == []


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://x.test","click")', "+1+1", "-2+3", "@SUM(A1:A9)", "x'); drop table claim_lines; --"],
)
def test_text_that_looks_like_a_formula_or_sql_is_kept_as_data(text):
    valid, invalid = check(row(payer_name=text, provider_name=text))
    assert invalid.height == 0
    line = typed(valid).row(0, named=True)
    assert line["payer_name"] == text and line["provider_name"] == text


def test_payer_type_is_stored_in_the_contracts_spelling():
    valid, _ = check(row(payer_type="MEDICARE ADVANTAGE"))
    assert typed(valid)["payer_type"].to_list() == ["medicare_advantage"]
