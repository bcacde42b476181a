"""The rules stage's incremental policy (pipelines.rules.incremental), without Dagster or a warehouse:
which service months a review recomputes, and whether they are written in place or staged."""

import datetime as dt

import pytest

from pipelines.rules.incremental import (
    FLUSH_ROWS,
    IN_PLACE_MONTHS,
    Recompute,
    RulesState,
    flush_due,
    how_to_write,
    what_to_recompute,
)

LAST_RUN = dt.datetime(2026, 3, 1, 12, 0)
CONFIG, UNITS = "config-a", "units-a"


def state(**changes) -> RulesState:
    """A warehouse whose rules ran at LAST_RUN with CONFIG, with no lines ingested since."""
    stored = {
        "computed_through": LAST_RUN,
        "config_hash": CONFIG,
        "units_hash": UNITS,
        "coverage_per_month": True,
        "newest_line": LAST_RUN,
    }
    return RulesState(**{**stored, **changes})


def test_a_first_review_recomputes_every_month():
    assert what_to_recompute(state(computed_through=None, config_hash=None, units_hash=None), CONFIG, UNITS) == (
        Recompute("all", keep_units=False)
    )


def test_no_lines_since_the_last_run_and_the_same_configuration_recompute_nothing():
    assert what_to_recompute(state(), CONFIG, UNITS) == Recompute("none", keep_units=False)


def test_lines_ingested_since_the_last_run_recompute_the_months_they_touch():
    newer = state(newest_line=LAST_RUN + dt.timedelta(hours=1))
    assert what_to_recompute(newer, CONFIG, UNITS) == Recompute("touched", keep_units=False)


def test_a_new_configuration_that_line_units_do_not_read_keeps_the_stored_units():
    assert what_to_recompute(state(), "config-b", UNITS) == Recompute("all", keep_units=True)


def test_a_new_configuration_that_line_units_read_recomputes_them_too():
    assert what_to_recompute(state(), "config-b", "units-b") == Recompute("all", keep_units=False)


def test_stored_units_are_not_kept_when_lines_came_in_since():
    newer = state(newest_line=LAST_RUN + dt.timedelta(hours=1))
    assert what_to_recompute(newer, "config-b", UNITS) == Recompute("all", keep_units=False)


def test_a_warehouse_without_coverage_per_month_is_recomputed_whole_once():
    assert what_to_recompute(state(coverage_per_month=False), CONFIG, UNITS) == Recompute("all", keep_units=False)


def test_a_monthly_review_writes_its_one_month_in_place():
    plan = how_to_write(Recompute("touched", keep_units=False), IN_PLACE_MONTHS)
    assert plan.in_place
    assert plan.tables == ("line_units", "findings", "rule_coverage_months")


def test_more_months_than_go_in_place_are_staged():
    assert not how_to_write(Recompute("touched", keep_units=False), IN_PLACE_MONTHS + 1).in_place


def test_recomputing_everything_is_staged_even_for_one_month():
    assert not how_to_write(Recompute("all", keep_units=False), 1).in_place


def test_kept_line_units_are_not_written_again():
    assert how_to_write(Recompute("all", keep_units=True), 12).tables == ("findings", "rule_coverage_months")


@pytest.mark.parametrize(("waiting", "due"), [(FLUSH_ROWS - 1, False), (FLUSH_ROWS, True), (10 * FLUSH_ROWS, True)])
def test_staged_months_are_written_once_enough_rows_wait(waiting, due):
    assert flush_due(waiting) is due
