"""Co-treatment (Pub. 100-04 ch. 5 sec. 20.3: "The time counted is the time the patient is treated"):
two clinicians treating one patient at the same time for one service count that time once."""

import polars as pl

from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.testing import NPI_B, NPI_C, at, claim_lines

REF = Reference.load()


def review(*rows: dict) -> tuple[pl.DataFrame, list[dict]]:
    settings = RuleSettings()
    lines = claim_lines(*rows, billing_npi=NPI_C)
    units = line_units(lines, REF, settings).collect()
    return units, findings(lines, units.lazy(), REF, settings).collect().to_dicts()


def gait(claim: str, npi: str, start: tuple[int, int], end: tuple[int, int], minutes: int, units: int, **row) -> dict:
    return {
        "claim_id": claim,
        "rendering_npi": npi,
        "cpt_code": "97116",
        "minutes": minutes,
        "units_billed": units,
        "visit_start": at(*start),
        "visit_end": at(*end),
        **row,
    }


def test_a_therapist_and_an_assistant_in_the_parallel_bars_count_the_time_once() -> None:
    # gait training needing a therapist and an assistant at once, 9:00-9:30: each documents 30 minutes
    # and bills 2 units. The patient was treated 30 minutes: 2 units in all, not 4.
    units, found = review(
        gait("C1", "1234567893", (9, 0), (9, 30), 30, 2),
        gait("C2", NPI_B, (9, 0), (9, 30), 30, 2, modifiers="GP CQ"),
    )
    assert units["group_shared_minutes"].to_list() == [30, 30]
    assert units["group_timed_minutes"].to_list() == [30, 30] and units["group_supported_units"].to_list() == [2, 2]
    (f,) = found
    assert f["rule_id"] == "UNITS_OVER_MINUTES" and f["units_over"] == 2
    assert f["detail"].startswith("30 timed minutes (97116 30) support 2 units under the CMS method; 4 billed")
    assert (
        "Co-treatment: 30 minutes two clinicians spent with the patient at the same time on one service count once"
        in f["detail"]
    )


def test_only_the_overlapping_minutes_count_once() -> None:
    # the assistant joins at 9:20 for the last 10 minutes: 30 + 10 - 10 = 30 minutes, 2 units; billed 2 + 1
    units, found = review(
        gait("C1", "1234567893", (9, 0), (9, 30), 30, 2),
        gait("C2", NPI_B, (9, 20), (9, 30), 10, 1),
    )
    assert units["group_shared_minutes"].to_list() == [10, 10] and units["group_timed_minutes"].to_list() == [30, 30]
    assert [f["units_over"] for f in found] == [1]


def test_clinicians_one_after_the_other_or_on_different_services_add_up() -> None:
    units, found = review(
        gait("C1", "1234567893", (9, 0), (9, 30), 30, 2),
        gait("C2", NPI_B, (9, 30), (10, 0), 30, 2),  # back to back: 60 minutes, 4 units
    )
    assert units["group_shared_minutes"].to_list() == [0, 0] and units["group_timed_minutes"].to_list() == [60, 60]
    assert found == []
    units, _ = review(
        gait("C1", "1234567893", (9, 0), (9, 30), 30, 2),
        gait("C2", NPI_B, (9, 0), (9, 30), 30, 2, cpt_code="97112"),  # another service at the same time
    )
    assert units["group_shared_minutes"].to_list() == [0, 0] and units["group_timed_minutes"].to_list() == [60, 60]
