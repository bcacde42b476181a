"""The unit chart (Claims Processing Manual ch. 5 sec. 20.2 C): 8-22 min = 1, 23-37 = 2, 38-52 = 3,
53-67 = 4, 68-82 = 5, 83-97 = 6, 98-112 = 7, 113-127 = 8, and "the pattern remains the same"."""

import polars as pl
import pytest

from pipelines.rules.chart import units_for_minutes


def chart(minutes: list[int | None]) -> list[int | None]:
    frame = pl.DataFrame({"m": minutes}, schema={"m": pl.Int64})
    return frame.select(units_for_minutes(pl.col("m")))["m"].to_list()


@pytest.mark.parametrize(
    ("last_minute_of_band", "units"),
    [(7, 0), (22, 1), (37, 2), (52, 3), (67, 4), (82, 5), (97, 6), (112, 7), (127, 8)],
)
def test_every_boundary_of_the_chart(last_minute_of_band: int, units: int) -> None:
    # The band's last minute still gives its units; one more minute gives one more unit.
    assert chart([last_minute_of_band, last_minute_of_band + 1]) == [units, units + 1]


def test_under_8_minutes_in_total_is_no_unit() -> None:
    assert chart([0, 1, 7]) == [0, 0, 0]


def test_the_pattern_remains_the_same_beyond_the_printed_chart() -> None:
    assert chart([128, 142, 143, 157, 158, 720]) == [9, 9, 10, 10, 11, 48]


def test_unknown_minutes_stay_unknown() -> None:
    assert chart([None]) == [None]
