"""What a page is filtered by, kept in the URL's query string: the one place that reads and writes it.

A reload, a shared link, a breadcrumb and Back all restore the same view. Parameters:

* ``from``, ``to``: first and last month of service (``YYYY-MM``, inclusive); either may be left
  out (open); the older ``period=YYYY-MM`` (or ``all``) reads as ``from=to=`` that month;
* ``clinic``: a billing NPI, repeated for several (any of them);
* ``payer``: a payer type, repeated for several (any of them);
* ``discipline``: PT, OT, SLP ...;
* ``q``: the providers page's search (an NPI's first digits or part of a name).

Pages read the state with ``ViewState.from_params`` (Dash passes the query to ``layout`` as keyword
arguments) and write it with ``ViewState.query()``, which always gives the same text for the same
state, so that an unchanged view never adds a history entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode

from dashboards import data

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_VALUES = 50  # per repeated parameter
MAX_TEXT = 100  # characters of any one value
PARAMETERS = ("from", "to", "period", "clinic", "payer", "discipline", "q")


class BadQuery(ValueError):
    """A parameter that cannot be read (strict parsing, e.g. for an export)."""


def _values(params: Mapping, name: str) -> list[str]:
    value = params.get(name)
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    return [str(v).strip() for v in values if v is not None and str(v).strip() != ""]


@dataclass(frozen=True)
class ViewState:
    first_month: str | None = None
    last_month: str | None = None
    clinics: tuple[str, ...] = ()
    payers: tuple[str, ...] = ()
    discipline: str | None = None
    search: str = ""

    # ---- reading -----------------------------------------------------------------------------

    @classmethod
    def from_params(cls, params: Mapping | None, *, strict: bool = False) -> ViewState:
        """The state from query parameters (a value may be a string or a list of strings). Values
        that cannot be read are left out, or raise ``BadQuery`` when ``strict``."""
        params = params or {}

        def bad(message: str):
            if strict:
                raise BadQuery(message)

        def one(name: str) -> str | None:
            values = _values(params, name)
            if len(values) > 1:
                bad(f"{name} given more than once")
            value = values[0] if values else None
            if value is not None and len(value) > MAX_TEXT:
                bad(f"{name} is too long")
                return None
            return value

        def month(name: str) -> str | None:
            value = one(name)
            if value is not None and not MONTH.match(value):
                bad(f"{name} is not a month (YYYY-MM)")
                return None
            return value

        def many(name: str) -> tuple[str, ...]:
            values = _values(params, name)
            if len(values) > MAX_VALUES or any(len(v) > MAX_TEXT for v in values):
                bad(f"too many or too long values of {name}")
                values = [v for v in values if len(v) <= MAX_TEXT][:MAX_VALUES]
            return tuple(dict.fromkeys(sorted(values)))

        first, last = month("from"), month("to")
        period = one("period")
        if period is not None and first is None and last is None:
            if period == "all":
                pass
            elif MONTH.match(period):
                first = last = period
            elif ".." in period and all(p == "" or MONTH.match(p) for p in period.split("..", 1)):
                first, last = (p or None for p in period.split("..", 1))
            else:
                bad("period is not all, a month (YYYY-MM) or a range (YYYY-MM..YYYY-MM)")
        if first and last and first > last:
            first, last = last, first
        return cls(
            first_month=first,
            last_month=last,
            clinics=many("clinic"),
            payers=many("payer"),
            discipline=one("discipline"),
            search=(one("q") or ""),
        )

    @classmethod
    def from_search(cls, search: str | None, *, strict: bool = False) -> ViewState:
        """The state from a query string (``?from=...``, with or without the ``?``)."""
        text = (search or "").lstrip("?")
        return cls.from_params(parse_qs(text, keep_blank_values=False), strict=strict)

    # ---- writing -----------------------------------------------------------------------------

    def query(self, *, with_search: bool = True) -> str:
        """The canonical query string (``""`` for the unfiltered view, else ``?...``)."""
        pairs: list[tuple[str, str]] = []
        if self.first_month:
            pairs.append(("from", self.first_month))
        if self.last_month:
            pairs.append(("to", self.last_month))
        pairs += [("clinic", c) for c in sorted(self.clinics)]
        pairs += [("payer", p) for p in sorted(self.payers)]
        if self.discipline:
            pairs.append(("discipline", self.discipline))
        if with_search and self.search:
            pairs.append(("q", self.search))
        return "?" + urlencode(pairs) if pairs else ""

    def href(self, path: str, *, with_search: bool = True) -> str:
        return path + self.query(with_search=with_search)

    def with_changes(self, **changes) -> ViewState:
        """A copy with some fields changed (lists of values become sorted tuples)."""
        for name in ("clinics", "payers"):
            if name in changes:
                changes[name] = tuple(dict.fromkeys(sorted(v for v in (changes[name] or ()) if v)))
        for name in ("first_month", "last_month", "discipline"):
            if name in changes and not changes[name]:
                changes[name] = None
        if "search" in changes:
            changes["search"] = (changes["search"] or "").strip()[:MAX_TEXT]
        state = replace(self, **changes)
        if state.first_month and state.last_month and state.first_month > state.last_month:
            state = replace(state, first_month=state.last_month, last_month=state.first_month)
        return state

    # ---- meaning -----------------------------------------------------------------------------

    @property
    def period(self) -> str:
        """As ``dashboards.data`` reads it: ``all``, one month, or ``first..last`` (ends may be open)."""
        if not self.first_month and not self.last_month:
            return "all"
        if self.first_month == self.last_month:
            return self.first_month
        return f"{self.first_month or ''}..{self.last_month or ''}"

    def with_period(self, period: str | None) -> ViewState:
        """The state showing ``period`` (``all``, a month or a range)."""
        picked = ViewState.from_params({"period": period or "all"})
        return self.with_changes(first_month=picked.first_month, last_month=picked.last_month)

    def filters(self) -> data.Filters:
        return data.Filters(
            period=self.period, clinic=self.clinics or None, discipline=self.discipline, payer_type=self.payers or None
        )

    def period_text(self) -> str:
        return period_text(self.period)

    def describe(self) -> list[tuple[str, str]]:
        """(filter, value) pairs in words, e.g. for an export's metadata."""
        return [
            ("period", self.period_text()),
            ("clinics (billing NPI)", ", ".join(self.clinics) or "all"),
            ("payer types", ", ".join(self.payers) or "all"),
            ("discipline", self.discipline or "all"),
            ("provider search", self.search or "none"),
        ]


def period_text(period: str | None) -> str:
    """A period in words: "whole review", "2026-01", "2026-01 to 2026-03", "from 2026-02"."""
    if not period or period == "all":
        return "whole review"
    if ".." not in period:
        return period
    first, last = period.split("..", 1)
    if first and last:
        return f"{first} to {last}"
    return f"from {first}" if first else f"through {last}"
