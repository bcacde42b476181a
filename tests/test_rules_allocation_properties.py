"""Properties of the CMS allocation (Claims Processing Manual ch. 5 sec. 20.2 C): "each code first
gets its full 15-minute blocks; the units left over go one each to the codes with the largest
remaining minutes. A tie on remaining minutes is the clinician's choice: a checker must accept every
tied assignment and never report it."
"""

from itertools import combinations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.rules import Reference, RuleSettings, findings, line_units
from pipelines.rules.testing import NPI_C, claim_lines

REF = Reference.load()
SETTINGS = RuleSettings()
CODES = ["97110", "97112", "97116", "97140", "97530"]

day_minutes = st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=5)


def chart(m: int) -> int:
    return (m + 7) // 15 if m >= 8 else 0


def valid_allocations(minutes: list[int]) -> list[list[int]]:
    """Every allocation the manual allows, by brute force: full blocks, then the leftover units on
    a set of codes none of which has fewer remaining minutes than a code left out."""
    blocks = [m // 15 for m in minutes]
    rest = [m % 15 for m in minutes]
    leftover = chart(sum(minutes)) - sum(blocks)
    allocations = []
    for chosen in combinations(range(len(minutes)), leftover):
        outside = [rest[j] for j in range(len(minutes)) if j not in chosen]
        if all(rest[i] >= max(outside, default=-1) for i in chosen):
            allocations.append([b + (i in chosen) for i, b in enumerate(blocks)])
    return allocations


def allocate(minutes: list[int], billed: list[int] | None = None) -> pl.DataFrame:
    billed = billed or [0] * len(minutes)
    rows = [{"cpt_code": c, "minutes": m, "units_billed": u} for c, m, u in zip(CODES, minutes, billed, strict=False)]
    return line_units(claim_lines(*rows), REF, SETTINGS).collect()


@settings(max_examples=120, deadline=None)
@given(day_minutes)
def test_expected_ranges_are_exactly_the_range_over_every_valid_allocation(minutes: list[int]) -> None:
    frame = allocate(minutes)
    allocations = valid_allocations(minutes)
    assert allocations, "the manual always allows at least one allocation"
    for row in frame.sort("cpt_code").iter_rows(named=True):
        code_index = CODES.index(row["cpt_code"])
        options = {a[code_index] for a in allocations}
        assert (row["expected_units_min"], row["expected_units_max"]) == (min(options), max(options))
        assert row["expected_units"] == (options.pop() if len(options) == 1 else None)


@settings(max_examples=120, deadline=None)
@given(day_minutes)
def test_allocation_sums_to_the_chart_blocks_first_and_at_most_one_more(minutes: list[int]) -> None:
    frame = allocate(minutes)
    total = chart(sum(minutes))
    low, high = frame["expected_units_min"].sum(), frame["expected_units_max"].sum()
    assert low <= total <= high
    if frame["expected_units"].null_count() == 0:
        assert frame["expected_units"].sum() == total
    for row in frame.iter_rows(named=True):
        blocks = row["code_minutes"] // 15
        assert blocks <= row["expected_units_min"] <= row["expected_units_max"] <= blocks + 1


@settings(max_examples=120, deadline=None)
@given(day_minutes)
def test_no_leftover_unit_while_a_code_with_more_remaining_minutes_gets_none(minutes: list[int]) -> None:
    frame = allocate(minutes)
    rows = list(frame.iter_rows(named=True))
    for a in rows:
        surely_gets = a["expected_units_min"] > a["code_minutes"] // 15
        for b in rows:
            surely_not = b["expected_units_max"] == b["code_minutes"] // 15
            if surely_gets and surely_not:
                assert a["code_minutes"] % 15 >= b["code_minutes"] % 15


@settings(max_examples=80, deadline=None)
@given(day_minutes)
def test_billing_any_valid_allocation_raises_no_finding(minutes: list[int]) -> None:
    for billed in valid_allocations(minutes):
        lines = claim_lines(
            *[{"cpt_code": c, "minutes": m, "units_billed": u} for c, m, u in zip(CODES, minutes, billed, strict=False)]
        )
        found = findings(
            lines, line_units(lines, REF, SETTINGS), REF, SETTINGS, rules=["UNITS_OVER_MINUTES", "ALLOCATION"]
        )
        assert found.collect().height == 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=5), st.data())
def test_moving_a_unit_onto_a_code_above_every_allocation_is_an_allocation_finding(minutes: list[int], data) -> None:
    allocations = valid_allocations(minutes)
    ceiling = [max(a[i] for a in allocations) for i in range(len(minutes))]
    billed = list(data.draw(st.sampled_from(allocations)))
    donors = [i for i, u in enumerate(billed) if u > 0]
    if not donors:
        return
    donor = data.draw(st.sampled_from(donors))
    taker = data.draw(st.sampled_from([i for i in range(len(minutes)) if i != donor]))
    billed[donor] -= 1
    billed[taker] += 1
    lines = claim_lines(
        *[{"cpt_code": c, "minutes": m, "units_billed": u} for c, m, u in zip(CODES, minutes, billed, strict=False)]
    )
    found = findings(
        lines, line_units(lines, REF, SETTINGS), REF, SETTINGS, rules=["UNITS_OVER_MINUTES", "ALLOCATION"]
    ).collect()
    if billed[taker] > ceiling[taker]:
        assert found["rule_id"].to_list() == ["ALLOCATION"]
        assert found["units_over"].to_list() == [billed[taker] - ceiling[taker]]
    else:
        assert found.height == 0  # still a valid (tied) assignment


@settings(max_examples=60, deadline=None)
@given(day_minutes, st.lists(st.integers(min_value=0, max_value=1), min_size=5, max_size=5))
def test_splitting_a_codes_minutes_over_two_lines_changes_nothing_for_the_code(
    minutes: list[int], splits: list[int]
) -> None:
    whole = allocate(minutes).sort("cpt_code")
    rows = []
    for code, m, split in zip(CODES, minutes, splits, strict=False):
        if split and m > 1:
            rows += [
                {"claim_id": "C1", "cpt_code": code, "minutes": m // 2},
                {"claim_id": "C2", "cpt_code": code, "minutes": m - m // 2},
            ]
        else:
            rows.append({"claim_id": "C1", "cpt_code": code, "minutes": m})
    parts = line_units(claim_lines(*rows, units_billed=0, billing_npi=NPI_C), REF, SETTINGS).collect()
    per_code = parts.group_by("cpt_code").agg(
        pl.col("code_minutes").first(), pl.col("code_units_min").first(), pl.col("code_units_max").first()
    )
    assert (
        per_code.sort("cpt_code").rows()
        == whole.select("cpt_code", "code_minutes", "code_units_min", "code_units_max").rows()
    )
