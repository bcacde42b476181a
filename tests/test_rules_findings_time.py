"""The therapist-day findings: OVERLAP (one-on-one time billed for two patients at once, NCCI ch. 11
sec. P) and IMPOSSIBLE_DAY (more documented timed minutes than the ceiling; OIG's 8 hours reported)."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.testing import NPI_A, NPI_B, at, claim_lines

REF = Reference.load()


def found(rule: str, *rows: dict, settings: RuleSettings | None = None, **defaults) -> list[dict]:
    settings = settings or RuleSettings()
    lines = claim_lines(*rows, **defaults)
    units = line_units(lines, REF, settings).collect().lazy()
    return findings(lines, units, REF, settings, rules=[rule]).collect().to_dicts()


def visit(claim: str, patient: str, start: dt.datetime, end: dt.datetime, code: str = "97112", **extra) -> dict:
    """A visit whose whole window is one-on-one timed time (its minutes are its length), unless told."""
    minutes = int((end - start).total_seconds() // 60)
    return {
        "claim_id": claim,
        "patient_id": patient,
        "visit_start": start,
        "visit_end": end,
        "cpt_code": code,
        "minutes": minutes,
        "units_billed": max(1, (minutes + 7) // 15),
        **extra,
    }


# --- OVERLAP -------------------------------------------------------------------------------------


def test_two_patients_at_once_is_an_overlap() -> None:
    (f,) = found(
        "OVERLAP",
        visit("C1", "PAT-1", at(9), at(10), allowed_amount=60.0, units_billed=4),
        visit("C2", "PAT-2", at(9, 30), at(10, 30), allowed_amount=60.0, units_billed=4),
    )
    assert (f["rendering_npi"], f["service_date"], f["patient_id"], f["claim_id"]) == (NPI_A, at(9).date(), None, None)
    assert (f["units_over"], f["amount_at_risk"], f["severity"]) == (2, 30.0, "high")  # 30 min -> 2 units at 15.00
    assert f["detail"].startswith(
        "2 visits with 2 different patients overlap in time while billing one-on-one timed time"
    )
    assert (
        "30 minutes of their visit windows at once, of which at least 30 minutes one-on-one timed time" in f["detail"]
    )


def test_back_to_back_visits_do_not_overlap_half_open_and_a_short_overlap_is_low() -> None:
    # A visit ending at 10:00 and one starting at 10:00 do not overlap.
    assert not found("OVERLAP", visit("C1", "PAT-1", at(9), at(10)), visit("C2", "PAT-2", at(10), at(11)))
    # Three minutes earlier they do, within the 5-minute tolerance: low severity.
    (f,) = found("OVERLAP", visit("C1", "PAT-1", at(9), at(10)), visit("C2", "PAT-2", at(9, 57), at(11)))
    assert "at least 3 minutes one-on-one" in f["detail"] and f["units_over"] == 0 and f["severity"] == "low"
    assert "Within the tolerance of 5 minutes" in f["detail"]
    (f,) = found(
        "OVERLAP",
        visit("C1", "PAT-1", at(9), at(10)),
        visit("C2", "PAT-2", at(9, 57), at(11)),
        settings=RuleSettings(overlap_tolerance_minutes=2),
    )
    assert f["severity"] == "high"


def test_a_supervised_modality_at_a_visits_edge_may_overlap_another_patient() -> None:
    # PAT-1: 45 minutes of 97112 then hot packs (97010) until 10:00; PAT-2 starts 9:45: the last 15
    # minutes of PAT-1's window need not be one-on-one, so no overlap of one-on-one time
    rows = (
        visit("C1", "PAT-1", at(9), at(10), minutes=45, units_billed=3),
        {
            "claim_id": "C1",
            "patient_id": "PAT-1",
            "cpt_code": "97010",
            "units_billed": 1,
            "visit_start": at(9),
            "visit_end": at(10),
        },
        visit("C2", "PAT-2", at(9, 45), at(10, 30)),
    )
    assert not found("OVERLAP", *rows)
    # starting at 9:35 instead, 25 minutes overlap: at least 10 of them were one-on-one for both
    (f,) = found("OVERLAP", *rows[:2], visit("C2", "PAT-2", at(9, 35), at(10, 30)))
    assert (
        "25 minutes of their visit windows at once, of which at least 10 minutes" in f["detail"]
        and f["units_over"] == 1
    )


def test_assistant_lines_are_the_assistants_time() -> None:
    # the therapist's NPI on a line with CQ: furnished by the assistant, not the therapist's one-on-one time
    assert not found(
        "OVERLAP", visit("C1", "PAT-1", at(9), at(10)), visit("C2", "PAT-2", at(9), at(10), modifiers="GP CQ")
    )


def test_a_group_session_overlapping_one_on_one_time_is_an_overlap_but_not_among_its_own_patients() -> None:
    group = [
        {
            "claim_id": f"G{i}",
            "patient_id": f"GRP-{i}",
            "cpt_code": "97150",
            "units_billed": 1,
            "visit_start": at(10),
            "visit_end": at(11),
        }
        for i in range(3)
    ]
    assert not found("OVERLAP", *group)
    (f,) = found("OVERLAP", *group, visit("C1", "PAT-1", at(10, 30), at(11)))
    assert "1 patient and a group session (97150)" in f["detail"] and "at least 30 minutes" in f["detail"]
    assert f["units_over"] == 2


def test_same_patient_different_therapists_or_untimed_codes_are_no_overlap() -> None:
    assert not found("OVERLAP", visit("C1", "PAT-1", at(9), at(10)), visit("C2", "PAT-1", at(9, 30), at(10, 30)))
    assert not found(
        "OVERLAP", visit("C1", "PAT-1", at(9), at(10)), visit("C2", "PAT-2", at(9), at(10), rendering_npi=NPI_B)
    )
    # A supervised modality alone is not one-on-one time.
    assert not found(
        "OVERLAP",
        visit("C1", "PAT-1", at(9), at(10)),
        visit("C2", "PAT-2", at(9), at(10), code="97010", units_billed=1),
    )


def test_a_patients_own_overlapping_claims_do_not_hide_another_patient() -> None:
    # PAT-1 has two claims 9:00-11:00 and 9:30-9:45; PAT-2 9:50-10:05 overlaps the long one only.
    (f,) = found(
        "OVERLAP",
        visit("C1", "PAT-1", at(9), at(11)),
        visit("C2", "PAT-1", at(9, 30), at(9, 45)),
        visit("C3", "PAT-2", at(9, 50), at(10, 5)),
    )
    assert "at least 15 minutes" in f["detail"]


def simultaneous_patient_minutes(visits: list[tuple[str, int, int]]) -> int:
    """Brute force over the clock: minutes x (patients at once - 1)."""
    total = 0
    for minute in range(24 * 60):
        patients = {p for p, s, e in visits if s <= minute < e}
        total += max(0, len(patients) - 1)
    return total


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["PAT-1", "PAT-2", "PAT-3"]), st.integers(8 * 60, 12 * 60), st.integers(1, 90)),
        min_size=1,
        max_size=6,
    )
)
def test_overlap_minutes_match_a_brute_force_over_the_clock(raw: list[tuple[str, int, int]]) -> None:
    visits = [(p, s, s + d) for p, s, d in raw]
    day = dt.datetime(2024, 3, 4)
    rows = [
        visit(f"C{i}", p, day + dt.timedelta(minutes=s), day + dt.timedelta(minutes=e))
        for i, (p, s, e) in enumerate(visits)
    ]
    result = found("OVERLAP", *rows)
    expected = simultaneous_patient_minutes(visits)
    if expected == 0:
        assert result == []
    else:
        (f,) = result
        assert f"of which at least {expected} minute{'s' if expected != 1 else ''} one-on-one" in f["detail"]


# --- IMPOSSIBLE_DAY ------------------------------------------------------------------------------


def long_day(n_visits: int, minutes: int, **extra) -> list[dict]:
    return [
        {
            "claim_id": f"C{i}",
            "patient_id": f"PAT-{i}",
            "cpt_code": "97110",
            "minutes": minutes,
            "units_billed": 4,
            **extra,
        }
        for i in range(n_visits)
    ]


def test_more_than_twelve_hours_of_documented_timed_minutes_is_an_impossible_day() -> None:
    (f,) = found("IMPOSSIBLE_DAY", *long_day(13, 60, allowed_amount=120.0))  # 780 minutes
    assert (f["rendering_npi"], f["patient_id"], f["units_over"], f["amount_at_risk"]) == (NPI_A, None, 4, 120.0)
    assert f["detail"] == (
        f"NPI {NPI_A} counts 780 timed one-on-one minutes (13.0 h) over 13 visits this day, above the ceiling of 720 "
        "minutes; the OIG reference of 480 minutes (8 h) is exceeded by 300 minutes."
    )


def test_twelve_hours_exactly_is_not_over_and_the_ceiling_is_configurable() -> None:
    assert not found("IMPOSSIBLE_DAY", *long_day(12, 60))
    (f,) = found("IMPOSSIBLE_DAY", *long_day(9, 60), settings=RuleSettings(impossible_day_ceiling_minutes=480))
    assert f["units_over"] == 4


def test_visit_totals_count_once_per_visit_and_untimed_minutes_never() -> None:
    rows = [
        {"claim_id": f"C{i}", "patient_id": f"PAT-{i}", "cpt_code": code, "total_timed_minutes": 61, "units_billed": 2}
        for i in range(12)
        for code in ("97110", "97112")
    ]
    rows.append({"claim_id": "E", "patient_id": "PAT-E", "cpt_code": "97161", "minutes": 60, "units_billed": 1})
    (f,) = found("IMPOSSIBLE_DAY", *rows)  # 12 x 61 = 732, not 24 x 61 and not + 60 untimed
    assert "counts 732 timed" in f["detail"] and "inferred" not in f["detail"]


def test_units_billed_without_minutes_count_at_the_least_time_the_chart_allows() -> None:
    # 14 visits of 4 units each, no minutes and no visit totals: 56 units. The chart gives 4 units from
    # 53 minutes (15 x 4 - 7), so each visit took at least 53 minutes: 14 x 53 = 742 > 720.
    rows = [{"claim_id": f"C{i}", "patient_id": f"PAT-{i}", "cpt_code": "97110", "units_billed": 4} for i in range(14)]
    (f,) = found("IMPOSSIBLE_DAY", *rows)
    assert f["units_over"] == 1  # 22 minutes over the ceiling: 1 unit on the chart
    assert "counts 742 timed one-on-one minutes" in f["detail"]
    assert "742 minutes of them inferred from 56 units billed without minutes" in f["detail"]
    assert not found("IMPOSSIBLE_DAY", *rows[:13])  # 13 x 53 = 689


def test_documented_minutes_on_a_visit_stand_when_above_the_least_for_its_units() -> None:
    # a visit documents 50 minutes on one line and bills another line's 2 units without minutes: the
    # visit's 4 units need at least 53 minutes, so 3 are inferred; 13 such visits: 689 + 1 x 60 = 749
    visit = lambda i: [
        {"claim_id": f"C{i}", "patient_id": f"PAT-{i}", "cpt_code": "97110", "minutes": 50, "units_billed": 2},
        {"claim_id": f"C{i}", "patient_id": f"PAT-{i}", "cpt_code": "97112", "units_billed": 2},
    ]
    rows = [row for i in range(13) for row in visit(i)]
    rows.append({"claim_id": "L", "patient_id": "PAT-L", "cpt_code": "97110", "minutes": 60, "units_billed": 4})
    (f,) = found("IMPOSSIBLE_DAY", *rows)
    assert "counts 749 timed" in f["detail"] and "39 minutes of them inferred from 26 units" in f["detail"]
