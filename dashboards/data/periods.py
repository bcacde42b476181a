"""The overview's filters and the periods they name: months, ranges of months, and the SQL
fragments that apply them (values always as parameters).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


def _any_of(values) -> tuple[str, ...] | None:
    """A filter's chosen values as a tuple (one value or several); None when nothing is chosen."""
    if values is None or values == "":
        return None
    chosen = (values,) if isinstance(values, str) else tuple(v for v in values if v not in (None, ""))
    return chosen or None


@dataclass(frozen=True)
class Filters:
    """The overview's filters. ``period``: ``all``, a month ``YYYY-MM`` or a range of months
    ``YYYY-MM..YYYY-MM`` (either end may be left open, ``YYYY-MM..``); ``clinic``: a billing NPI or
    several; ``payer_type``: one or several (a line matches when it has any of them)."""

    period: str = "all"
    clinic: tuple[str, ...] | str | None = None
    discipline: str | None = None
    payer_type: tuple[str, ...] | str | None = None

    def __post_init__(self):
        object.__setattr__(self, "clinic", _any_of(self.clinic))
        object.__setattr__(self, "payer_type", _any_of(self.payer_type))

    def bounds(self) -> tuple[dt.date | None, dt.date | None]:
        return period_bounds(self.period)

    def params(self) -> dict:
        start, end = self.bounds()
        return {
            "start": start,
            "end": end,
            "clinic": list(self.clinic) if self.clinic else None,
            "discipline": self.discipline or None,
            "payer": list(self.payer_type) if self.payer_type else None,
        }


def _month_start(month: str) -> dt.date:
    year, number = (int(x) for x in month.split("-")[:2])
    return dt.date(year, number, 1)


def _month_end(month: str) -> dt.date:
    start = _month_start(month)
    return dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1) - dt.timedelta(days=1)


def period_bounds(period: str | None) -> tuple[dt.date | None, dt.date | None]:
    """First and last service date of a period (None: open)."""
    if not period or period == "all":
        return None, None
    if ".." in period:
        first, last = period.split("..", 1)
        return (_month_start(first) if first else None), (_month_end(last) if last else None)
    return _month_start(period), _month_end(period)


def scores_period(period: str | None) -> str:
    """The ``provider_scores`` period that answers a period: its month when it is one month, else
    ``all`` (scores are computed per calendar month and over the whole review only)."""
    if not period or period == "all":
        return "all"
    if ".." in period:
        first, last = period.split("..", 1)
        return first if first and first == last else "all"
    return period


def whole_months(filters: Filters) -> bool:
    """The period runs from a first to a last day of a month: monthly line counts answer it."""
    start, end = filters.bounds()
    return (start is None or start.day == 1) and (end is None or (end + dt.timedelta(days=1)).day == 1)


def period_params(filters: Filters) -> dict:
    start, end = filters.bounds()
    return {"start": start, "end": end}


def in_period(column: str) -> str:
    """SQL: ``column`` (a date) within ``$start`` .. ``$end``, either of which may be null (open)."""
    return f"($start is null or {column} >= $start) and ($end is null or {column} <= $end)"


def one_of(param: str, column: str) -> str:
    """SQL: no value chosen for ``$param`` (a list), or ``column`` is one of them."""
    return f"(${param} is null or list_contains(${param}, {column}))"
