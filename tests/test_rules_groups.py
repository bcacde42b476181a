"""The 8-minute-rule group: patient, day, billing provider (billing NPI, else the claim: configurable),
and discipline (GP/GO/GN modifier -> PT/OT/SLP, else provider_specialty, else PT)."""

import polars as pl
import pytest

from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.groups import with_group_key
from pipelines.rules.testing import NPI_A, NPI_B, NPI_C, claim_lines


def keys(*rows: dict, **defaults) -> list[tuple[str, str]]:
    frame = with_group_key(claim_lines(*rows, **defaults)).collect()
    return list(frame.select("billing_provider", "discipline").iter_rows())


def test_discipline_from_the_plan_of_care_modifier_among_up_to_four() -> None:
    assert keys(
        {"modifiers": "GP"},
        {"modifiers": "59;GO"},
        {"modifiers": "kx, gn"},
        {"modifiers": "CQ XU 59 GO"},
        billing_npi=NPI_A,
    ) == [(NPI_A, "PT"), (NPI_A, "OT"), (NPI_A, "SLP"), (NPI_A, "OT")]


def test_without_a_plan_modifier_the_specialty_then_pt() -> None:
    assert keys(
        {"modifiers": "KX", "provider_specialty": "OT"},
        {"modifiers": None, "provider_specialty": "slp"},
        {"modifiers": "GPX", "provider_specialty": None},  # not a GP token
        billing_npi=NPI_A,
    ) == [(NPI_A, "OT"), (NPI_A, "SLP"), (NPI_A, "PT")]


def test_billing_provider_is_the_billing_npi_else_the_claim() -> None:
    assert keys(
        {"billing_npi": NPI_B}, {"claim_id": "C2", "billing_npi": None}, {"claim_id": "C3", "billing_npi": ""}
    ) == [(NPI_B, "PT"), ("claim C2", "PT"), ("claim C3", "PT")]
    frame = with_group_key(claim_lines({"billing_npi": None}), "rendering_npi").collect()
    assert frame["billing_provider"].to_list() == [NPI_A]


REF = Reference.load()


def group_units(*rows: dict, settings: RuleSettings | None = None) -> tuple[pl.DataFrame, list[str]]:
    settings = settings or RuleSettings()
    lines = claim_lines(*rows)
    units = line_units(lines, REF, settings).collect()
    rules = findings(lines, units.lazy(), REF, settings, rules=["UNITS_OVER_MINUTES"]).collect()["rule_id"].to_list()
    return units, rules


# Two physical therapists of one practice treat the patient on one claim without a billing NPI: 24
# minutes of 97112 and 23 of 97110. Pub. 100-04 ch. 5 sec. 20.2 C, example 1: "47 minutes ... only 3
# timed units". Billed 2 + 2: one unit too many for the claim, not within 2 + 2 for two therapists.
ONE_CLAIM_TWO_THERAPISTS = (
    {"claim_id": "C1", "cpt_code": "97112", "minutes": 24, "units_billed": 2, "rendering_npi": NPI_A},
    {"claim_id": "C1", "cpt_code": "97110", "minutes": 23, "units_billed": 2, "rendering_npi": NPI_B},
)


def test_one_claim_with_two_therapists_of_one_discipline_is_one_group() -> None:
    units, rules = group_units(*ONE_CLAIM_TWO_THERAPISTS)
    assert units["billing_provider"].to_list() == ["claim C1", "claim C1"]
    assert units["group_timed_minutes"].to_list() == [47, 47] and units["group_supported_units"].to_list() == [3, 3]
    assert rules == ["UNITS_OVER_MINUTES"]


def test_grouping_by_rendering_therapist_is_the_configurable_alternative() -> None:
    units, rules = group_units(
        *ONE_CLAIM_TWO_THERAPISTS, settings=RuleSettings(group_without_billing_npi="rendering_npi")
    )
    assert units["group_timed_minutes"].to_list() == [24, 23] and rules == []


def test_two_claims_without_a_billing_npi_are_two_groups_but_one_billing_npi_joins_them() -> None:
    apart = [dict(row, claim_id=f"C{i}") for i, row in enumerate(ONE_CLAIM_TWO_THERAPISTS)]
    units, rules = group_units(*apart)
    assert units["group_timed_minutes"].to_list() == [24, 23] and rules == []
    units, rules = group_units(*[dict(row, billing_npi=NPI_C) for row in apart])
    assert units["group_timed_minutes"].to_list() == [47, 47] and rules == ["UNITS_OVER_MINUTES"]


def test_an_unknown_grouping_is_refused() -> None:
    with pytest.raises(ValueError, match="group_without_billing_npi"):
        RuleSettings(group_without_billing_npi="therapist")


def test_group_key_columns_are_strings() -> None:
    frame = with_group_key(claim_lines({})).collect()
    assert frame.schema["billing_provider"] == pl.String and frame.schema["discipline"] == pl.String
