"""The provider metrics behind the scores, on lines small enough to count by hand.

Patient-day = one therapist, one patient, one date. Claims Processing Manual ch. 5 sec. 20.2: "a
provider's direct patient contact time for each unit will average 15 minutes" (minutes per timed
unit); OIG: "more than 8 hours of outpatient therapy provided in a single day" (share of days over 8h).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.scores import ScoreSettings, compute_scores, provider_scores
from pipelines.scores.attribution import attributed, normalized_findings
from pipelines.scores.facts import line_frame, patient_days
from pipelines.scores.score import scores_of_lines
from tests.test_scores_data import LINE_SCHEMA, NO_FINDINGS, findings, row, units_of

A, B, C = "1000000001", "1000000002", "1000000003"
D1, D2, FEB = date(2024, 1, 8), date(2024, 1, 9), date(2024, 2, 5)


def frames(rows: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """claim_lines and line_units from short rows: npi, patient, date, cpt, units, and optionally
    minutes, total (visit total), claim, timed, discipline, name."""
    lines, timed = [], []
    for i, r in enumerate(rows):
        lines.append(
            {
                "claim_id": r.get("claim", f"C{i}"),
                "line_number": r.get("line", 1),
                "patient_id": r["patient"],
                "rendering_npi": r["npi"],
                "service_date": r["date"],
                "cpt_code": r["cpt"],
                "units_billed": r["units"],
                "payer_type": "medicare",
                "minutes": r.get("minutes"),
                "total_timed_minutes": r.get("total"),
                "billing_npi": r.get("billing", "1999999999"),
                "provider_name": r.get("name"),
                "clinic_name": None,
                "_discipline": r.get("discipline", "PT"),
            }
        )
        timed.append(r.get("timed", True))
    frame = pl.DataFrame(lines, schema={**LINE_SCHEMA, "_discipline": pl.String})
    units = units_of(frame).with_columns(pl.Series("is_timed", timed))
    return frame.drop("_discipline"), units


def test_volume_and_units_per_patient_day():
    lines, units = frames(
        [
            {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 3, "claim": "c1"},
            {"npi": A, "patient": "p1", "date": D1, "cpt": "97110", "units": 1, "claim": "c1", "line": 2},
            {"npi": A, "patient": "p1", "date": D2, "cpt": "97112", "units": 1},
            {"npi": A, "patient": "p2", "date": D2, "cpt": "97140", "units": 2},
            {"npi": A, "patient": "p2", "date": D2, "cpt": "97161", "units": 1, "timed": False},
        ]
    )
    r = row(provider_scores(lines, units, NO_FINDINGS), A)
    assert (r["patient_days"], r["patients"], r["working_days"]) == (3, 2, 2)
    assert (r["timed_units"], r["units_97112"]) == (7, 4)  # the evaluation is untimed
    assert r["timed_units_per_patient_day"] == pytest.approx(7 / 3)
    assert r["units_97112_per_patient_day"] == pytest.approx(4 / 3)
    assert r["share_97112_of_timed_units"] == pytest.approx(4 / 7)


def test_share_of_patient_days_with_97112_at_the_daily_limit():
    rows = [
        {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 4},
        {"npi": A, "patient": "p2", "date": D1, "cpt": "97112", "units": 5},
        {"npi": A, "patient": "p3", "date": D1, "cpt": "97112", "units": 3},
        {"npi": A, "patient": "p4", "date": D1, "cpt": "97110", "units": 4},
    ]
    lines, units = frames(rows)
    assert row(provider_scores(lines, units, NO_FINDINGS), A)["share_days_97112_at_limit"] == 0.5
    lower = provider_scores(lines, units, NO_FINDINGS, ScoreSettings(daily_limit_97112=3))
    assert row(lower, A)["share_days_97112_at_limit"] == 0.75


def test_minutes_per_timed_unit_from_per_code_minutes_and_visit_totals():
    lines, units = frames(
        [
            # per-code minutes: 40 minutes for 3 units
            {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 2, "minutes": 25, "claim": "c1"},
            {
                "npi": A,
                "patient": "p1",
                "date": D1,
                "cpt": "97110",
                "units": 1,
                "minutes": 15,
                "claim": "c1",
                "line": 2,
            },
            # visit total only, repeated on both lines: counted once (30 minutes for 3 units)
            {"npi": A, "patient": "p2", "date": D1, "cpt": "97112", "units": 2, "total": 30, "claim": "c2"},
            {"npi": A, "patient": "p2", "date": D1, "cpt": "97110", "units": 1, "total": 30, "claim": "c2", "line": 2},
            # nothing documented: left out of both sides
            {"npi": A, "patient": "p3", "date": D1, "cpt": "97112", "units": 4, "claim": "c3"},
            # untimed minutes never count
            {
                "npi": A,
                "patient": "p1",
                "date": D1,
                "cpt": "97161",
                "units": 1,
                "minutes": 45,
                "timed": False,
                "claim": "c1",
                "line": 3,
            },
        ]
    )
    r = row(provider_scores(lines, units, NO_FINDINGS), A)
    assert r["minutes_per_timed_unit"] == pytest.approx((40 + 30) / (3 + 3))


def test_minutes_come_from_line_units_when_the_claim_lines_have_no_minutes_column():
    lines, units = frames([{"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 2, "minutes": 20}])
    r = row(provider_scores(lines.drop("minutes", "total_timed_minutes", "provider_name"), units, NO_FINDINGS), A)
    assert r["minutes_per_timed_unit"] == 10
    assert r["provider_name"] is None


def test_no_documented_minutes_or_timed_units_leave_the_ratio_null():
    lines, units = frames(
        [
            {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 2},
            {"npi": B, "patient": "p1", "date": D1, "cpt": "97161", "units": 1, "timed": False},
        ]
    )
    scores = provider_scores(lines, units, NO_FINDINGS)
    assert row(scores, A)["minutes_per_timed_unit"] is None
    assert row(scores, B)["share_97112_of_timed_units"] is None


def test_timed_hours_per_working_day_and_the_oig_8_hours():
    lines, units = frames(
        [
            # D1: 300 + 240 documented minutes = 9 hours
            {"npi": A, "patient": "p1", "date": D1, "cpt": "97110", "units": 20, "minutes": 300},
            {"npi": A, "patient": "p2", "date": D1, "cpt": "97110", "units": 16, "minutes": 240},
            # D2: undocumented, 2 units at 15 minutes = 0.5 hours
            {"npi": A, "patient": "p1", "date": D2, "cpt": "97112", "units": 2},
        ]
    )
    r = row(provider_scores(lines, units, NO_FINDINGS), A)
    assert r["working_days"] == 2
    assert r["timed_hours_per_day_mean"] == pytest.approx((9 + 0.5) / 2)
    assert r["timed_hours_per_day_max"] == pytest.approx(9)
    assert r["share_days_over_8h"] == 0.5
    nine_hours = provider_scores(lines, units, NO_FINDINGS, ScoreSettings(oig_day_minutes=540))
    assert row(nine_hours, A)["share_days_over_8h"] == 0  # exactly the reference is not over it


def test_provider_name_is_the_most_frequent_one():
    lines, units = frames(
        [
            {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 1, "name": "Dr B"},
            {"npi": A, "patient": "p2", "date": D1, "cpt": "97112", "units": 1, "name": "Dr A"},
            {"npi": A, "patient": "p3", "date": D1, "cpt": "97112", "units": 1, "name": "Dr B"},
            {"npi": A, "patient": "p4", "date": D1, "cpt": "97112", "units": 1, "name": None},
        ]
    )
    assert row(provider_scores(lines, units, NO_FINDINGS), A)["provider_name"] == "Dr B"


TWO_THERAPISTS = [
    {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 5, "claim": "a1"},
    {"npi": A, "patient": "p2", "date": D1, "cpt": "97112", "units": 2, "claim": "a2"},
    {"npi": A, "patient": "p3", "date": D2, "cpt": "97112", "units": 2, "claim": "a3"},
    {"npi": A, "patient": "p1", "date": FEB, "cpt": "97112", "units": 2, "claim": "a4"},
    {"npi": B, "patient": "p1", "date": D1, "cpt": "97110", "units": 1, "claim": "b1"},
    {"npi": C, "patient": "p9", "date": D1, "cpt": "97110", "units": 1, "claim": "c1"},
]


def test_patient_day_finding_without_an_npi_goes_to_every_therapist_of_that_patient_day():
    lines, units = frames(TWO_THERAPISTS)
    found = findings(
        [{"rule_id": "DAILY_LIMIT", "patient_id": "p1", "service_date": D1, "units_over": 1, "amount_at_risk": 40.0}]
    )
    scores = provider_scores(lines, units, found)
    a, b, c = row(scores, A), row(scores, B), row(scores, C)
    assert (a["findings"], a["units_over"], a["amount_at_risk"]) == (1, 1, 40.0)
    assert (b["findings"], b["amount_at_risk"]) == (1, 40.0)
    assert (c["findings"], c["amount_at_risk"], c["rate_daily_limit"]) == (0, 0.0, 0.0)
    assert a["rate_daily_limit"] == pytest.approx(1 / 4)
    assert row(scores, A, "2024-01")["rate_daily_limit"] == pytest.approx(1 / 3)
    assert row(scores, A, "2024-02")["findings"] == 0


def test_line_grain_finding_takes_the_npi_and_day_of_its_claim_line():
    lines, units = frames(TWO_THERAPISTS)
    found = findings(
        [
            {"rule_id": "MINUTES_MISSING", "claim_id": "a4", "line_number": 1, "amount_at_risk": 10.0},
            {"rule_id": "MINUTES_MISSING", "claim_id": "a1", "line_number": 1, "amount_at_risk": 5.0},
            {"rule_id": "DX_SUPPORT", "claim_id": "no-such-claim", "line_number": 1, "amount_at_risk": 99.0},
        ]
    )
    scores = provider_scores(lines, units, found)
    assert row(scores, A)["findings"] == 2 and row(scores, A)["amount_at_risk"] == 15.0
    assert row(scores, A, "2024-02")["amount_at_risk"] == 10.0
    assert row(scores, A, "2024-02")["rate_minutes_missing"] == 1.0
    assert scores["amount_at_risk"].max() == 15.0  # the unattributable finding counts nowhere


def test_therapist_day_finding_is_tested_on_working_days():
    lines, units = frames(TWO_THERAPISTS)
    found = findings(
        [{"rule_id": "IMPOSSIBLE_DAY", "rendering_npi": A, "service_date": D1, "units_over": 3, "amount_at_risk": 90.0}]
    )
    result = compute_scores(lines, units, found)
    a = row(result.scores, A)
    assert (a["findings"], a["units_over"], a["rate_impossible_day"]) == (1, 3, pytest.approx(1 / 4))
    assert row(result.scores, B)["findings"] == 0
    # the test: 1 flagged working day of A's 3, against B's and C's 0 of 1 each
    m = result.metrics.filter(
        (pl.col("rendering_npi") == A) & (pl.col("period") == "all") & (pl.col("metric") == "rate_impossible_day")
    ).row(0, named=True)
    assert m["p_value"] is not None and 0 < m["p_value"] < 1


def test_every_rule_has_a_rate_column_and_new_rule_ids_get_one():
    lines, units = frames(TWO_THERAPISTS)
    plain = provider_scores(lines, units, None)
    rates = [c for c in plain.columns if c.startswith("rate_")]
    assert rates == [
        "rate_units_over_minutes",
        "rate_allocation",
        "rate_daily_limit",
        "rate_minutes_missing",
        "rate_dx_support",
        "rate_duplicate",
        "rate_overlap",
        "rate_documentation",
        "rate_impossible_day",
        "rate_untimed_units",
    ]
    assert plain.select(pl.sum_horizontal(rates).sum()).item() == 0
    found = findings([{"rule_id": "new_rule", "rendering_npi": B, "patient_id": "p1", "service_date": D1}])
    extended = provider_scores(lines, units, found)
    assert row(extended, B)["rate_new_rule"] == 1.0
    assert row(extended, A)["rate_new_rule"] == 0.0


def test_duplicate_findings_on_one_patient_day_count_each_but_flag_the_day_once():
    lines, units = frames(TWO_THERAPISTS)
    same_day = {"rule_id": "UNITS_OVER_MINUTES", "rendering_npi": A, "patient_id": "p1", "service_date": D1}
    result = compute_scores(lines, units, findings([same_day, same_day]))
    assert row(result.scores, A)["rate_units_over_minutes"] == pytest.approx(2 / 4)
    assert row(result.scores, A)["findings"] == 2
    # the proportion test counts flagged patient-days: 1 of A's 4, not 2
    line = line_frame(lines, units, ScoreSettings())
    days = patient_days(line)
    counts, flagged = attributed(normalized_findings(findings([same_day, same_day])), line, days)
    assert counts.collect()["findings"].to_list() == [2]
    assert flagged.collect()["flagged_days"].to_list() == [1]


def test_a_visit_with_a_line_lacking_minutes_uses_its_visit_total_and_else_is_undocumented():
    lines, units = frames(
        [
            # c1: one line has minutes, the other lacks them, the visit total says 40: 40 for 3 units
            {
                "npi": A,
                "patient": "p1",
                "date": D1,
                "cpt": "97112",
                "units": 2,
                "minutes": 25,
                "total": 40,
                "claim": "c1",
            },
            {"npi": A, "patient": "p1", "date": D1, "cpt": "97110", "units": 1, "total": 40, "claim": "c1", "line": 2},
            # c2: same gap without a total: undocumented, 15 minutes a unit toward the day's hours
            {"npi": A, "patient": "p2", "date": D1, "cpt": "97112", "units": 2, "minutes": 10, "claim": "c2"},
            {"npi": A, "patient": "p2", "date": D1, "cpt": "97110", "units": 2, "claim": "c2", "line": 2},
        ]
    )
    r = row(provider_scores(lines, units, NO_FINDINGS), A)
    assert r["minutes_per_timed_unit"] == pytest.approx(40 / 3)
    assert r["timed_hours_per_day_max"] == pytest.approx((40 + 4 * 15) / 60)


def test_duplicate_extra_lines_bill_units_but_add_no_minutes():
    rows = [
        {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 2, "minutes": 30, "claim": "c1"},
        {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 2, "minutes": 30, "claim": "c2"},
    ]
    lines, units = frames(rows)
    units = units.with_columns((pl.col("claim_id") == "c2").alias("duplicate_extra"))
    r = row(provider_scores(lines, units, NO_FINDINGS), A)
    assert r["timed_units"] == 4  # billed twice
    assert r["minutes_per_timed_unit"] == 15  # the minutes of the service, once
    assert r["timed_hours_per_day_max"] == 0.5


def test_units_that_carry_the_line_columns_score_like_lines_and_units_apart():
    """The pipeline joins provider_name (and peer keys) while reading and passes no lines."""
    lines, units = frames([{**r, "name": f"Therapist {r['npi'][-2:]}"} for r in TWO_THERAPISTS])
    carried = units.join(
        lines.select("claim_id", "line_number", "provider_name"), on=["claim_id", "line_number"], how="left"
    )
    found = findings(
        [{"rule_id": "IMPOSSIBLE_DAY", "rendering_npi": A, "service_date": D1, "units_over": 3, "amount_at_risk": 90.0}]
    )
    apart, together = compute_scores(lines, units, found), compute_scores(None, carried, found)
    assert together.scores.equals(apart.scores) and together.metrics.equals(apart.metrics)
    # the pipeline builds each month's line frame batch by batch while reading: the same scores
    month = pl.col("service_date").dt.month()
    pieces = [
        (
            pl.concat([line_frame(None, part, ScoreSettings()) for part in carried.filter(month == m).iter_slices(2)]),
            found.filter(month == m),
        )
        for m in (1, 2)
    ]
    batched = scores_of_lines(pieces, ScoreSettings())
    assert batched.scores.equals(apart.scores) and batched.metrics.equals(apart.metrics)
    assert row(together.scores, A)["provider_name"] == f"Therapist {A[-2:]}"


# ---- the whole window from its months ----------------------------------------------------------------

MAR = date(2024, 3, 4)


def test_the_whole_windows_patients_are_distinct_patients_over_the_months_not_a_sum_of_monthly_counts():
    lines, units = frames(
        [
            {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 1},
            {"npi": A, "patient": "p2", "date": D2, "cpt": "97112", "units": 1},
            {"npi": A, "patient": "p1", "date": FEB, "cpt": "97112", "units": 1},
            {"npi": B, "patient": "p1", "date": FEB, "cpt": "97112", "units": 1},
        ]
    )
    scores = provider_scores(lines, units, NO_FINDINGS)
    assert row(scores, A, "2024-01")["patients"] == 2 and row(scores, A, "2024-02")["patients"] == 1
    assert row(scores, A)["patients"] == 2  # p1, seen in both months, counts once
    assert row(scores, B)["patients"] == 1  # the same patient with another therapist is that therapist's


TWO_MONTHS = [
    # January: 9 hours on D1 (one patient at the 97112 limit), 0.5 on D2; named "Dr A" on 3 lines
    {"npi": A, "patient": "p1", "date": D1, "cpt": "97112", "units": 4, "minutes": 60, "claim": "a1", "name": "Dr A"},
    {
        "npi": A,
        "patient": "p1",
        "date": D1,
        "cpt": "97110",
        "units": 16,
        "minutes": 240,
        "claim": "a1",
        "line": 2,
        "name": "Dr A",
    },
    {"npi": A, "patient": "p2", "date": D1, "cpt": "97110", "units": 16, "minutes": 240, "claim": "a2"},
    {"npi": A, "patient": "p2", "date": D2, "cpt": "97112", "units": 2, "claim": "a3", "name": "Dr A"},
    # February: 3 hours on one day; "Dr B" on 4 lines
    *(
        {
            "npi": A,
            "patient": f"p{i}",
            "date": FEB,
            "cpt": "97110",
            "units": 3,
            "minutes": 45,
            "claim": f"a{4 + i}",
            "name": "Dr B",
        }
        for i in range(4)
    ),
    # March: one short day
    {"npi": A, "patient": "p1", "date": MAR, "cpt": "97112", "units": 1, "minutes": 15, "claim": "a9"},
    {"npi": B, "patient": "p7", "date": FEB, "cpt": "97110", "units": 2, "minutes": 30, "claim": "b1", "name": "Dr C"},
]
TWO_MONTHS_FINDINGS = [
    {
        "rule_id": "UNITS_OVER_MINUTES",
        "rendering_npi": A,
        "patient_id": "p1",
        "service_date": D1,
        "units_over": 2,
        "amount_at_risk": 60.5,
    },
    {
        "rule_id": "UNITS_OVER_MINUTES",
        "rendering_npi": A,
        "patient_id": "p0",
        "service_date": FEB,
        "units_over": 1,
        "amount_at_risk": 30.25,
    },
    {"rule_id": "IMPOSSIBLE_DAY", "rendering_npi": A, "service_date": D1, "units_over": 4, "amount_at_risk": 120.0},
    {"rule_id": "MINUTES_MISSING", "claim_id": "a3", "line_number": 1, "amount_at_risk": 10.0},
]


def test_the_whole_window_adds_up_its_months():
    lines, units = frames(TWO_MONTHS)
    scores = provider_scores(lines, units, findings(TWO_MONTHS_FINDINGS))
    months = [row(scores, A, m) for m in ("2024-01", "2024-02", "2024-03")]
    whole = row(scores, A)
    for count in (
        "patient_days",
        "working_days",
        "timed_units",
        "units_97112",
        "findings",
        "units_over",
        "amount_at_risk",
    ):
        assert whole[count] == sum(m[count] for m in months), count
    assert [m["working_days"] for m in months] == [2, 1, 1] and whole["patient_days"] == 8
    hours = [9, 0.5, 3, 0.25]
    assert whole["timed_hours_per_day_max"] == max(m["timed_hours_per_day_max"] for m in months) == 9
    # the mean over the window's working days, not the mean of the months' means
    assert whole["timed_hours_per_day_mean"] == pytest.approx(sum(hours) / 4)
    assert months[0]["timed_hours_per_day_mean"] == pytest.approx((9 + 0.5) / 2)
    assert whole["share_days_over_8h"] == 1 / 4 and whole["share_days_97112_at_limit"] == 1 / 8
    assert whole["minutes_per_timed_unit"] == pytest.approx((540 + 180 + 15) / (36 + 12 + 1))
    assert whole["rate_units_over_minutes"] == 2 / 8 and whole["rate_minutes_missing"] == 1 / 8
    # the most frequent name over the window's lines: "Dr B" (4 lines) over "Dr A" (3)
    assert [m["provider_name"] for m in months] == ["Dr A", "Dr B", None] and whole["provider_name"] == "Dr B"
    assert (whole["period_start"], whole["period_end"]) == (D1, MAR)
    assert (months[1]["period_start"], months[1]["period_end"]) == (date(2024, 2, 1), date(2024, 2, 29))


def test_scoring_month_by_month_gives_the_tables_of_all_lines_at_once():
    lines, units = frames(TWO_MONTHS)
    found = findings(TWO_MONTHS_FINDINGS)
    at_once = compute_scores(lines, units, found)
    line = line_frame(lines, units, ScoreSettings())
    # what the pipeline reads a month: its line units, and the findings dated in it
    month_of_finding = found.join(
        lines.select("claim_id", "line_number", pl.col("service_date").alias("line_date")),
        on=["claim_id", "line_number"],
        how="left",
    ).select(pl.exclude("line_date"), pl.coalesce("service_date", "line_date").dt.month().alias("_month"))
    pieces = [
        (line.filter(pl.col("service_date").dt.month() == m), month_of_finding.filter(pl.col("_month") == m))
        for m in (1, 2, 3)
    ]
    by_month = scores_of_lines(pieces, ScoreSettings())
    assert by_month.scores.equals(at_once.scores) and by_month.metrics.equals(at_once.metrics)
    assert sorted(set(at_once.scores["period"])) == ["2024-01", "2024-02", "2024-03", "all"]
