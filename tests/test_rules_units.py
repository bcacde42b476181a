"""line_units: the units the documented minutes support, per line (CMS 8-minute rule and AMA)."""

import polars as pl

from pipelines.rules import Reference, RuleSettings, line_units
from pipelines.rules.testing import NPI_B, NPI_C, claim_lines
from pipelines.rules.units import LINE_UNITS_SCHEMA

REF = Reference.load()


def units(*rows: dict, settings: RuleSettings | None = None, **defaults) -> pl.DataFrame:
    return line_units(claim_lines(*rows, **defaults), REF, settings or RuleSettings()).collect()


def expected(frame: pl.DataFrame) -> dict[str, int | None]:
    return dict(frame.select("cpt_code", "expected_units").iter_rows())


def test_output_has_the_documented_schema_one_row_per_line_sorted() -> None:
    frame = units(
        {"claim_id": "B", "cpt_code": "97110", "minutes": 20}, {"claim_id": "A", "cpt_code": "97112", "minutes": 20}
    )
    assert frame.schema == pl.Schema(LINE_UNITS_SCHEMA)
    assert frame.select("claim_id", "line_number").rows() == [("A", 1), ("B", 1)]


def test_manual_example_1_24_minutes_97112_and_23_minutes_97110() -> None:
    # "47 minutes ... only 3 timed units ... 2 units of code 97112 and one unit of code 97110"
    frame = units({"cpt_code": "97112", "minutes": 24, "units_billed": 2}, {"cpt_code": "97110", "minutes": 23})
    assert expected(frame) == {"97112": 2, "97110": 1}
    assert frame["group_timed_minutes"].to_list() == [47, 47]
    assert frame["group_supported_units"].to_list() == [3, 3]
    assert set(frame["method"]) == {"cms"}


def test_manual_example_3_33_minutes_97110_and_7_minutes_97140() -> None:
    # "Bill 2 units of 97110 and 1 unit of 97140": a code can get a unit with under 8 minutes.
    frame = units({"cpt_code": "97110", "minutes": 33, "units_billed": 2}, {"cpt_code": "97140", "minutes": 7})
    assert expected(frame) == {"97110": 2, "97140": 1}


def test_several_services_of_7_minutes_or_less_reaching_8_give_one_unit_to_the_longest() -> None:
    # "bill one unit for the service performed for the most minutes"
    frame = units(
        {"cpt_code": "97112", "minutes": 5},
        {"cpt_code": "97110", "minutes": 3},
        {"cpt_code": "97140", "minutes": 2},
    )
    assert expected(frame) == {"97112": 1, "97110": 0, "97140": 0}


def test_leftover_units_go_to_the_largest_remaining_minutes() -> None:
    # 45 + 22 + 8 = 75 minutes -> 5 units; full blocks 3 + 1 + 0; the leftover unit goes to the
    # largest remainder: 97116 (8) over 97140 (7) and 97110 (0).
    frame = units(
        {"cpt_code": "97110", "minutes": 45}, {"cpt_code": "97140", "minutes": 22}, {"cpt_code": "97116", "minutes": 8}
    )
    assert expected(frame) == {"97110": 3, "97140": 1, "97116": 1}


def test_a_code_with_8_minutes_can_receive_no_unit() -> None:
    # 44 + 8 = 52 minutes -> 3 units; full blocks 2 + 0; the leftover goes to 97110 (remainder 14 > 8).
    frame = units({"cpt_code": "97110", "minutes": 44}, {"cpt_code": "97140", "minutes": 8})
    assert expected(frame) == {"97110": 3, "97140": 0}


def test_a_tie_on_remaining_minutes_is_the_clinicians_choice() -> None:
    # Two 20-minute services: 40 minutes -> 3 units, as 2 + 1 or 1 + 2.
    frame = units({"cpt_code": "97110", "minutes": 20}, {"cpt_code": "97116", "minutes": 20})
    assert expected(frame) == {"97110": None, "97116": None}
    assert frame.select("expected_units_min", "expected_units_max").rows() == [(1, 2), (1, 2)]
    assert frame["group_supported_units"].to_list() == [3, 3]


def test_untimed_codes_expect_one_unit_and_their_minutes_never_count() -> None:
    frame = units(
        {"cpt_code": "97161", "minutes": 45},  # evaluation, untimed
        {"cpt_code": "97010", "minutes": 15},  # supervised modality, untimed
        {"cpt_code": "97110", "minutes": 10},
    )
    assert expected(frame) == {"97161": 1, "97010": 1, "97110": 1}
    assert frame.filter(pl.col("cpt_code") == "97161")["expected_basis"].item() == "untimed"
    assert frame["group_timed_minutes"].unique().to_list() == [10]
    assert frame.filter(~pl.col("is_timed"))["minutes_used"].to_list() == [None, None]


def test_the_same_minutes_under_cms_and_ama() -> None:
    # "10 min 97110 + 10 min 97116 = 2 units under AMA, 1 unit under CMS"
    rows = ({"cpt_code": "97110", "minutes": 10}, {"cpt_code": "97116", "minutes": 10})
    cms = units(*rows, payer_type="medicare")
    ama = units(*rows, payer_type="commercial")
    assert cms["group_supported_units"].to_list() == [1, 1] and set(cms["method"]) == {"cms"}
    assert ama["group_supported_units"].to_list() == [2, 2] and set(ama["method"]) == {"ama"}
    assert expected(ama) == {"97110": 1, "97116": 1}
    # CMS: 20 minutes, one unit, remainders tie at 10: either code may carry it.
    assert cms.select("expected_units_min", "expected_units_max").rows() == [(0, 1), (0, 1)]


def test_payer_name_override_changes_the_method() -> None:
    rows = (
        {"cpt_code": "97110", "minutes": 10, "payer_name": "Acme Health"},
        {"cpt_code": "97116", "minutes": 10, "payer_name": "Acme Health"},
    )
    settings = RuleSettings(payer_name_methods={"acme health": "cms"})
    frame = units(*rows, payer_type="commercial", settings=settings)
    assert set(frame["method"]) == {"cms"} and frame["group_supported_units"].to_list() == [1, 1]


def test_visit_total_only_checks_the_day_total_but_skips_the_allocation() -> None:
    frame = units(
        {"cpt_code": "97112", "total_timed_minutes": 47, "units_billed": 2},
        {"cpt_code": "97110", "total_timed_minutes": 47, "units_billed": 1},
    )
    assert frame["group_timed_minutes"].to_list() == [47, 47]
    assert frame["group_supported_units"].to_list() == [3, 3]
    assert frame["expected_basis"].to_list() == ["visit_total_only", "visit_total_only"]
    assert frame["expected_units"].to_list() == [None, None]


def test_visit_totals_of_two_claims_add_up_once_each() -> None:
    frame = units(
        {"claim_id": "C1", "cpt_code": "97112", "total_timed_minutes": 20, "units_billed": 1},
        {"claim_id": "C1", "cpt_code": "97110", "total_timed_minutes": 20, "units_billed": 1},
        {"claim_id": "C2", "cpt_code": "97110", "total_timed_minutes": 25, "units_billed": 2},
        billing_npi=NPI_C,  # one practice: its claims of the day are one group
    )
    assert frame["group_timed_minutes"].unique().to_list() == [45]
    assert frame["group_supported_units"].unique().to_list() == [3]


def test_missing_minutes_leave_expected_units_unknown() -> None:
    frame = units({"cpt_code": "97112", "minutes": 10, "units_billed": 1}, {"cpt_code": "97110", "units_billed": 1})
    assert frame["group_basis"].unique().to_list() == ["minutes_missing"]
    assert frame["group_timed_minutes"].to_list() == [None, None]
    m97110 = frame.filter(pl.col("cpt_code") == "97110")
    assert m97110["expected_basis"].item() == "minutes_missing" and m97110["expected_units"].item() is None
    # The documented code keeps a sound range whatever the missing minutes were: [10 // 15, ceil(10 / 15)].
    m97112 = frame.filter(pl.col("cpt_code") == "97112")
    assert m97112.select("expected_units_min", "expected_units_max").row(0) == (0, 1)


def test_zero_unit_timed_lines_still_count_their_minutes() -> None:
    # Documented but not billed: its 20 minutes still make the day 35 minutes -> 2 units.
    frame = units(
        {"cpt_code": "97112", "minutes": 15, "units_billed": 2}, {"cpt_code": "97110", "minutes": 20, "units_billed": 0}
    )
    assert frame["group_timed_minutes"].to_list() == [35, 35]
    assert frame["group_supported_units"].to_list() == [2, 2]


def test_lines_sharing_a_code_pool_their_minutes_then_fill_in_claim_and_line_order() -> None:
    # Two 97110 lines of 12 minutes: the code has 24 minutes -> 2 units (CMS, one code).
    frame = units(
        {"claim_id": "C1", "cpt_code": "97110", "minutes": 12, "units_billed": 1},
        {"claim_id": "C2", "cpt_code": "97110", "minutes": 12, "units_billed": 2},
        billing_npi=NPI_C,
    )
    assert frame["code_minutes"].to_list() == [24, 24]
    assert frame["expected_units"].to_list() == [1, 1]  # first line up to its own 1 unit, the last takes the rest
    frame = units(
        {"claim_id": "C1", "cpt_code": "97110", "minutes": 10, "units_billed": 2},
        {"claim_id": "C2", "cpt_code": "97110", "minutes": 10, "units_billed": 2},
        billing_npi=NPI_C,
    )
    assert frame["expected_units"].to_list() == [1, 0]


def test_minutes_of_therapists_of_the_same_practice_and_discipline_add_up() -> None:
    frame = units(
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 10, "billing_npi": "1111111112"},
        {"claim_id": "C2", "cpt_code": "97110", "minutes": 10, "billing_npi": "1111111112", "rendering_npi": NPI_B},
    )
    assert frame["group_timed_minutes"].to_list() == [20, 20]
    assert frame["group_supported_units"].to_list() == [1, 1]


def test_disciplines_are_separate_groups() -> None:
    frame = units(
        {"cpt_code": "97110", "minutes": 10, "modifiers": "GP"}, {"cpt_code": "97530", "minutes": 10, "modifiers": "GO"}
    )
    assert frame["group_timed_minutes"].to_list() == [10, 10]
    assert frame["discipline"].to_list() == ["PT", "OT"]


def test_a_duplicate_extra_is_left_out_of_the_day() -> None:
    frame = units(
        {"claim_id": "C1", "cpt_code": "97112", "minutes": 30, "units_billed": 2},
        {"claim_id": "C2", "cpt_code": "97112", "minutes": 30, "units_billed": 2},
        billing_npi=NPI_C,
    )
    assert frame["duplicate_extra"].to_list() == [False, True]
    assert frame["group_timed_minutes"].to_list() == [30, 30]
    assert frame.select("expected_units", "expected_basis").rows() == [(2, "per_code_minutes"), (0, "duplicate")]


def test_price_per_unit_prefers_allowed_over_charge() -> None:
    frame = units(
        {"cpt_code": "97112", "minutes": 30, "units_billed": 2, "allowed_amount": 60.0, "charge_amount": 100.0},
        {"cpt_code": "97110", "minutes": 15, "units_billed": 1, "charge_amount": 40.0},
        {"cpt_code": "97140", "minutes": 0, "units_billed": 0},
    )
    assert frame["price_per_unit"].to_list() == [30.0, 40.0, None]


# --- what line units depend on: a [rules] change elsewhere leaves them standing ------------------------


class Reads:
    """A stand-in for a Reference or RuleSettings that records the names read from it."""

    def __init__(self, wrapped: object) -> None:
        object.__setattr__(self, "_wrapped", wrapped)
        object.__setattr__(self, "names", set())

    def __getattr__(self, name: str):
        self.names.add(name)
        return getattr(self._wrapped, name)


def test_line_units_read_nothing_of_the_reference_or_settings_but_their_inputs() -> None:
    from pipelines.rules.units import units_inputs

    lines = claim_lines(
        {"cpt_code": "97112", "minutes": 24, "units_billed": 2, "payer_name": "Acme"},
        {"cpt_code": "97110", "minutes": 23, "payer_type": "commercial"},
        {"cpt_code": "97165", "units_billed": 1},
    )
    ref, settings = Reads(REF), Reads(RuleSettings(payer_name_methods={"acme": "cms"}))
    line_units(lines, ref, settings).collect()
    inputs_ref, inputs_settings = Reads(REF), Reads(RuleSettings())
    units_inputs(inputs_ref, inputs_settings)
    assert ref.names and settings.names  # the recording works
    assert ref.names <= inputs_ref.names and settings.names <= inputs_settings.names


def test_the_units_fingerprint_moves_with_the_payer_methods_and_timed_codes_only() -> None:
    from dataclasses import replace

    from pipelines.rules.units import units_fingerprint

    base = units_fingerprint(REF, RuleSettings())
    elsewhere = RuleSettings(
        mue_payer_types=("medicare",),
        daily_limit_overrides={"97112": 6},
        impossible_day_ceiling_minutes=600,
        oig_reference_minutes=400,
        dx_support_codes=("97112", "97110"),
        severity_overrides={"OVERLAP": "low"},
        daily_limit_justified_severity="medium",
    )
    assert units_fingerprint(REF, elsewhere) == base
    assert units_fingerprint(replace(REF, dx_97112_supportive=REF.dx_97112_supportive.head(1)), RuleSettings()) == base
    assert units_fingerprint(REF, RuleSettings(payer_type_methods={"commercial": "cms"})) != base
    assert units_fingerprint(REF, RuleSettings(payer_name_methods={"acme": "cms"})) != base
    untimed_97112 = REF.cpt_codes.with_columns(
        pl.when(pl.col("cpt_code") == "97112").then(False).otherwise(pl.col("timed")).alias("timed")
    )
    assert units_fingerprint(replace(REF, cpt_codes=untimed_97112), RuleSettings()) != base
