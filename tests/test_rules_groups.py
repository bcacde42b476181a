"""The 8-minute-rule group: patient, day, billing provider (billing NPI, else rendering NPI), and
discipline (GP/GO/GN modifier -> PT/OT/SLP, else provider_specialty, else PT)."""

import polars as pl

from pipelines.rules.groups import with_group_key
from pipelines.rules.testing import NPI_A, NPI_B, claim_lines


def keys(*rows: dict) -> list[tuple[str, str]]:
    frame = with_group_key(claim_lines(*rows)).collect()
    return list(frame.select("billing_provider", "discipline").iter_rows())


def test_discipline_from_the_plan_of_care_modifier_among_up_to_four() -> None:
    assert keys(
        {"modifiers": "GP"},
        {"modifiers": "59;GO"},
        {"modifiers": "kx, gn"},
        {"modifiers": "CQ XU 59 GO"},
    ) == [(NPI_A, "PT"), (NPI_A, "OT"), (NPI_A, "SLP"), (NPI_A, "OT")]


def test_without_a_plan_modifier_the_specialty_then_pt() -> None:
    assert keys(
        {"modifiers": "KX", "provider_specialty": "OT"},
        {"modifiers": None, "provider_specialty": "slp"},
        {"modifiers": "GPX", "provider_specialty": None},  # not a GP token
    ) == [(NPI_A, "OT"), (NPI_A, "SLP"), (NPI_A, "PT")]


def test_billing_provider_is_the_billing_npi_else_the_rendering_npi() -> None:
    assert keys({"billing_npi": NPI_B}, {"billing_npi": None}, {"billing_npi": ""}) == [
        (NPI_B, "PT"),
        (NPI_A, "PT"),
        (NPI_A, "PT"),
    ]


def test_group_key_columns_are_strings() -> None:
    frame = with_group_key(claim_lines({})).collect()
    assert frame.schema["billing_provider"] == pl.String and frame.schema["discipline"] == pl.String
