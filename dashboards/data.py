"""Queries the report and the app run against a published snapshot: frames in the shapes the figure
builders and grids take. Values travel as parameters; a missing table or column raises
``MissingData`` naming it, so a page can say so instead of failing.

Findings are read *enriched*: grain columns the rule leaves empty are filled from the claim line
(line-grain rules) and the clinic, payer type and discipline come from the lines of the finding's
patient-day or therapist-day, so that every filter applies to every rule.

Speed on large reviews: the joins over all claim lines run once per snapshot, into derived tables
(``dashboards.summaries``): the enriched findings, and the lines and 97112 units by month or
patient-day, clinic, payer type, discipline and therapist. A chosen clinic, payer type or discipline
reads the enriched findings; a chosen discipline reads the line tables. Everything else (the report,
the overview as it opens, a period alone, a clinic or payer type for the lines) reads the claim lines
and findings directly, without joining ``line_units``: that join changes no count as long as each
claim line has exactly one ``line_units`` row and ``(claim_id, line_number)`` names one line, which
the review's blocking checks guarantee (``one_units_row_per_line``, ``line_keys_unique``). Where the
two tables' row counts differ, the joined tables answer instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from dashboards import summaries
from dashboards.privacy import resolve_token
from dashboards.snapshot import MissingData, Snapshot

DEFAULT_DAILY_LIMIT_97112 = 4
TOP_PROVIDERS = 10


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


def _in_period(column: str) -> str:
    """SQL: ``column`` (a date) within ``$start`` .. ``$end``, either of which may be null (open)."""
    return f"($start is null or {column} >= $start) and ($end is null or {column} <= $end)"


def _one_of(param: str, column: str) -> str:
    """SQL: no value chosen for ``$param`` (a list), or ``column`` is one of them."""
    return f"(${param} is null or list_contains(${param}, {column}))"


# ---------------------------------------------------------------------------------------------
# building blocks


def _discipline_sql(snap: Snapshot, units: str = "line_units") -> tuple[str, str]:
    """(joins, expression) giving each claim line ``cl`` its discipline; ``units`` may narrow
    ``line_units`` to the rows of the lines at hand."""
    joins, parts = "", []
    if snap.has("line_units", "claim_id", "line_number", "discipline"):
        joins += f" left join {units} lu on lu.claim_id = cl.claim_id and lu.line_number = cl.line_number"
        parts.append("lu.discipline")
    if snap.has("provider_scores", "rendering_npi", "discipline"):
        joins += (
            " left join (select rendering_npi, any_value(discipline) as discipline from provider_scores "
            "group by rendering_npi) psd on psd.rendering_npi = cl.rendering_npi"
        )
        parts.append("psd.discipline")
    expr = f"coalesce({', '.join(parts)})" if parts else "cast(null as varchar)"
    return joins, expr


def _require_lines(snap: Snapshot) -> None:
    """The claim_lines columns every line query reads (``MissingData`` naming the first absent)."""
    snap.require("claim_lines", "service_date", "patient_id", "rendering_npi", "cpt_code", "units_billed")


def _lines_sql(snap: Snapshot, select: str, filtered: bool = True) -> str:
    """``select`` over the filtered claim lines (alias ``l``: claim_lines columns + discipline)."""
    _require_lines(snap)
    joins, disc = _discipline_sql(snap)
    billing = snap.col("claim_lines", "cl", "billing_npi")
    payer = snap.col("claim_lines", "cl", "payer_type")
    sql = (
        f"with l as (select cl.*, {disc} as discipline_, {billing} as billing_npi_, {payer} as payer_type_ "
        f"from claim_lines cl {joins}) select {select} from l where true"
    )
    if not filtered:
        return sql
    return sql + (
        f" and {_in_period('l.service_date')} and {_one_of('clinic', 'l.billing_npi_')} "
        f"and {_one_of('payer', 'l.payer_type_')} and ($discipline is null or l.discipline_ = $discipline)"
    )


def _direct_lines_sql(snap: Snapshot, select: str) -> str:
    """``select`` over the claim lines filtered by period, clinic and payer type (alias ``l``), without
    the joins that only the discipline needs: the same rows as ``_lines_sql`` when no discipline is
    chosen and ``_one_units_row_per_line`` holds."""
    _require_lines(snap)
    billing = snap.col("claim_lines", "l", "billing_npi")
    payer = snap.col("claim_lines", "l", "payer_type")
    return (
        f"select {select} from claim_lines l where {_in_period('l.service_date')} "
        f"and {_one_of('clinic', billing)} and {_one_of('payer', payer)}"
    )


def _direct_params(filters: Filters) -> dict:
    """The parameters of ``_direct_lines_sql`` (no discipline: it is used without one)."""
    params = filters.params()
    if params.pop("discipline") is not None:
        raise ValueError("the claim lines alone cannot be filtered by discipline")
    return params


def _period_params(filters: Filters) -> dict:
    start, end = filters.bounds()
    return {"start": start, "end": end}


def _one_units_row_per_line(snap: Snapshot) -> bool:
    """Whether joining ``line_units`` for the discipline leaves one row per claim line. The review
    guarantees it (a blocking check); here the two row counts are compared, which costs nothing."""
    if "one_units_row_per_line" not in snap.memo:
        ok = True
        if snap.has("line_units", "claim_id", "line_number", "discipline"):
            lines, units = snap.rows("select (select count(*) from claim_lines), (select count(*) from line_units)")[0]
            ok = lines == units
        snap.memo["one_units_row_per_line"] = ok
    return snap.memo["one_units_row_per_line"]


def _findings_direct(snap: Snapshot) -> bool:
    """Whether, with no clinic, payer or discipline chosen, the findings table alone gives what the
    enriched findings give: one row per finding, dated by its own service date."""
    if "findings_direct" not in snap.memo:
        have_lines = snap.has("claim_lines", "claim_id", "line_number", "patient_id", "service_date", "rendering_npi")
        if not have_lines:
            ok = True
        elif not snap.has("findings", "service_date"):
            ok = False  # dated from the claim line
        else:
            undated = snap.rows("select count(*) from findings where service_date is null")[0][0]
            ok = undated == 0 and _one_units_row_per_line(snap)
        snap.memo["findings_direct"] = ok
    return snap.memo["findings_direct"]


def _whole_months(filters: Filters) -> bool:
    """The period runs from a first to a last day of a month: monthly line counts answer it."""
    start, end = filters.bounds()
    return (start is None or start.day == 1) and (end is None or (end + dt.timedelta(days=1)).day == 1)


def _enriched_findings_sql(snap: Snapshot) -> str:
    """One row per finding, grain columns completed and clinic / payer / discipline attached; all
    but ``detail`` (the derived table ``FINDINGS`` holds this, the detail is joined back to it by
    ``finding_id``, the findings' row number)."""
    snap.require("findings", "rule_id")
    f = lambda c, t="varchar": snap.col("findings", "f", c, t)  # noqa: E731
    have_lines = snap.has("claim_lines", "claim_id", "line_number", "patient_id", "service_date", "rendering_npi")
    base = (
        f"select row_number() over () as finding_id, f.rule_id, {f('severity')} as severity, "
        f"{f('rendering_npi')} as rendering_npi, {f('patient_id')} as patient_id, "
        f"{f('service_date', 'date')} as service_date, {f('claim_id')} as claim_id, "
        f"{f('line_number', 'bigint')} as line_number, {f('units_over', 'double')} as units_over, "
        f"{f('amount_at_risk', 'double')} as amount_at_risk, "
        # totals sum exposure: each line's amount at risk counted once (older snapshots: the amount)
        f"coalesce({f('exposure', 'double')}, {f('amount_at_risk', 'double')}) as exposure, "
        f"{f('billing_provider')} as billing_provider, {f('discipline')} as discipline "
        "from findings f"
    )
    if not have_lines:
        return (
            f"select *, rendering_npi as rendering_npi_given, billing_provider as billing_npi, cast(null as varchar) as clinic_name, "
            "cast(null as varchar) as payer_type, strftime(service_date, '%Y-%m') as month from "
            f"({base})"
        )
    # Only the claim lines that a finding looks up are read with their discipline (joined from
    # line_units): the lines of a finding's claim line (part 1), of its patient-day (part 2: the
    # patient-day and patient-day-therapist lookups) or of its therapist-day (part 3). Each lookup
    # sees every line with its keys, so it finds what it would over all lines.
    joins, disc = _discipline_sql(
        snap, "(select lu.* from line_units lu semi join rel on rel.claim_id = lu.claim_id and rel.line_number = lu.line_number)"
    )
    billing = snap.col("claim_lines", "cl", "billing_npi")
    clinic = snap.col("claim_lines", "cl", "clinic_name")
    payer = snap.col("claim_lines", "cl", "payer_type")
    return f"""
    with f0 as materialized ({base}),
    kl as (select distinct claim_id, line_number from f0 where claim_id is not null and line_number is not null),
    kp as (select distinct patient_id, service_date from f0 where patient_id is not null and service_date is not null),
    kt as (select distinct rendering_npi, service_date from f0
           where patient_id is null and rendering_npi is not null and service_date is not null),
    cl0 as (select cl.claim_id, cl.line_number, cl.patient_id, cl.service_date, cl.rendering_npi,
                   {billing} as billing_npi, {clinic} as clinic_name, {payer} as payer_type from claim_lines cl),
    rel as materialized (
      select 1 as part, c.* from cl0 c semi join kl on kl.claim_id = c.claim_id and kl.line_number = c.line_number
      union all
      select 2 as part, c.* from cl0 c semi join kp on kp.patient_id = c.patient_id and kp.service_date = c.service_date
      union all
      select 3 as part, c.* from cl0 c semi join kt on kt.rendering_npi = c.rendering_npi and kt.service_date = c.service_date
    ),
    cl as (select cl.*, {disc} as discipline from rel cl {joins}),
    pd as (select patient_id, service_date, rendering_npi, min(billing_npi) as billing_npi,
                  min(payer_type) as payer_type, min(discipline) as discipline
           from cl where part = 2 group by patient_id, service_date, rendering_npi),
    p as (select patient_id, service_date, min(billing_npi) as billing_npi, min(payer_type) as payer_type,
                 min(discipline) as discipline from cl where part = 2 group by patient_id, service_date),
    td as (select rendering_npi, service_date, min(billing_npi) as billing_npi, min(payer_type) as payer_type,
                  min(discipline) as discipline from cl where part = 3 group by rendering_npi, service_date),
    la as (select * from cl where part = 1),
    clinics as (select {billing} as billing_npi, min({clinic}) as clinic_name from claim_lines cl
                where {billing} is not null group by all),
    f1 as (
      select f0.finding_id, f0.rule_id, f0.severity, f0.rendering_npi as rendering_npi_given,
             coalesce(f0.rendering_npi, la.rendering_npi) as rendering_npi,
             coalesce(f0.patient_id, la.patient_id) as patient_id,
             coalesce(f0.service_date, la.service_date) as service_date,
             f0.claim_id, f0.line_number, f0.units_over, f0.amount_at_risk, f0.exposure,
             coalesce(f0.billing_provider, la.billing_npi, pda.billing_npi, pa.billing_npi, tda.billing_npi) as billing_npi,
             coalesce(la.payer_type, pda.payer_type, pa.payer_type, tda.payer_type) as payer_type,
             coalesce(f0.discipline, la.discipline, pda.discipline, pa.discipline, tda.discipline) as discipline
      from f0
      left join la on f0.claim_id is not null and la.claim_id = f0.claim_id and la.line_number = f0.line_number
      left join pd pda on la.claim_id is null and f0.rendering_npi is not null and pda.patient_id = f0.patient_id
                      and pda.service_date = f0.service_date and pda.rendering_npi = f0.rendering_npi
      left join p pa on la.claim_id is null and f0.rendering_npi is null and pa.patient_id = f0.patient_id
                    and pa.service_date = f0.service_date
      left join td tda on la.claim_id is null and f0.patient_id is null and tda.rendering_npi = f0.rendering_npi
                      and tda.service_date = f0.service_date
    )
    select f1.*, clinics.clinic_name, strftime(f1.service_date, '%Y-%m') as month
    from f1 left join clinics using (billing_npi)
    """


def _finding_filter() -> str:
    return (
        f"{_in_period('service_date')} and {_one_of('clinic', 'billing_npi')} "
        f"and {_one_of('payer', 'payer_type')} and ($discipline is null or discipline = $discipline)"
    )


# Derived tables (dashboards.summaries), built once per snapshot: the joined relations above,
FINDINGS = "dash_findings"  # the enriched findings (all but ``detail``)
LINE_CELLS = "dash_line_cells"  # claim lines counted by month, clinic, payer type, discipline, therapist
DAYS_97112 = "dash_97112_days"  # 97112 units by patient-day, clinic, payer type, discipline
# the same from the claim lines alone (no discipline), and the 97112 distribution by month
CLAIM_LINE_CELLS = "dash_claim_line_cells"
CLAIM_DAYS_97112 = "dash_claim_97112_days"
HIST_97112 = "dash_97112_hist"
# Which relation answers a filter never depends on whether a table is built yet, so that a filter
# always gives the same answer: the joined relation (FINDINGS for a chosen clinic, payer type or
# discipline; LINE_CELLS and DAYS_97112 for a chosen discipline, or when line_units do not pair with
# the claim lines) or the claim lines alone (the other line queries). A table of the claim lines
# alone is read when it is built, else the claim lines themselves: both give the same rows.


def _line_cells_sql(snap: Snapshot) -> str:
    return _lines_sql(
        snap,
        "date_trunc('month', l.service_date)::date as month, l.billing_npi_ as billing_npi, "
        "l.payer_type_ as payer_type, l.discipline_ as discipline, l.rendering_npi, count(*)::bigint as lines",
        filtered=False,
    ) + " group by all"


def _days_97112_sql(snap: Snapshot) -> str:
    return _lines_sql(
        snap,
        "l.patient_id, l.service_date, l.billing_npi_ as billing_npi, l.payer_type_ as payer_type, "
        "l.discipline_ as discipline, sum(l.units_billed) as units",
        filtered=False,
    ) + " and l.cpt_code = '97112' group by all"


def _billing_and_payer(snap: Snapshot) -> tuple[str, str]:
    """claim_lines' billing NPI and payer type as ``l.`` expressions (null where the column is absent)."""
    _require_lines(snap)
    return snap.col("claim_lines", "l", "billing_npi"), snap.col("claim_lines", "l", "payer_type")


def _claim_line_cells_sql(snap: Snapshot) -> str:
    billing, payer = _billing_and_payer(snap)
    return (
        f"select date_trunc('month', l.service_date)::date as month, {billing} as billing_npi, {payer} as payer_type, "
        "l.rendering_npi, count(*)::bigint as lines from claim_lines l group by all"
    )


def _claim_days_97112_sql(snap: Snapshot) -> str:
    billing, payer = _billing_and_payer(snap)
    return (
        f"select l.patient_id, l.service_date, {billing} as billing_npi, {payer} as payer_type, "
        "sum(l.units_billed) as units from claim_lines l where l.cpt_code = '97112' group by all"
    )


def _hist_97112_sql(snap: Snapshot) -> str:
    return (
        "select date_trunc('month', service_date)::date as month, units::bigint as units, count(*)::bigint as patient_days "
        f"from (select service_date, sum(units) as units from {summaries.table(CLAIM_DAYS_97112)} "
        "group by patient_id, service_date) group by all"
    )


# in the order a prefetch builds them: the findings first (every filter reads them), the tables of the
# claim lines alone next (quick), the joined line tables (a chosen discipline) last
summaries.register(FINDINGS, _enriched_findings_sql)
summaries.register(CLAIM_LINE_CELLS, _claim_line_cells_sql)
summaries.register(CLAIM_DAYS_97112, _claim_days_97112_sql)
summaries.register(HIST_97112, _hist_97112_sql, needs=(CLAIM_DAYS_97112,))
summaries.register(LINE_CELLS, _line_cells_sql)
summaries.register(DAYS_97112, _days_97112_sql)


def _line_cells_filter(discipline: bool = True) -> str:
    """The filters on a table of monthly cells (periods of whole months only, ``_whole_months``)."""
    return (
        f"{_in_period('month')} and {_one_of('clinic', 'billing_npi')} and {_one_of('payer', 'payer_type')}"
        + (" and ($discipline is null or discipline = $discipline)" if discipline else "")
    )


def prefetch(snap: Snapshot) -> None:
    """Build what the overview's filters read in the background (a no-op once built)."""
    try:
        _lines_sql(snap, "1")
        snap.require("findings", "rule_id")
    except MissingData:
        return
    summaries.prefetch(snap)


# ---------------------------------------------------------------------------------------------
# overview


def filter_options(snap: Snapshot) -> dict[str, list]:
    """Choices for the overview's filters: periods (months, newest first), clinics (billing NPI,
    label), disciplines and payer types. Worked out once per snapshot (every page load asks)."""
    options = summaries.remember(snap, "filter_options", lambda: _filter_options(snap))
    return {k: list(v) for k, v in options.items()}


def _filter_options(snap: Snapshot) -> dict[str, list]:
    out: dict[str, list] = {"periods": [], "clinics": [], "disciplines": [], "payer_types": []}
    if snap.has("claim_lines", "service_date"):
        out["periods"] = [
            r[0] for r in snap.rows(
                "select strftime(m, '%Y-%m') as m from (select distinct date_trunc('month', service_date) as m "
                "from claim_lines where service_date is not null) order by 1 desc"
            )
        ]
        if snap.has("claim_lines", "billing_npi"):
            name = snap.col("claim_lines", "claim_lines", "clinic_name")
            out["clinics"] = [
                (r[0], f"{r[1]} ({r[0]})" if r[1] else r[0])
                for r in snap.rows(
                    f"select billing_npi, min({name}) from claim_lines where billing_npi is not null "
                    "group by billing_npi order by 2, 1"
                )
            ]
        if snap.has("claim_lines", "payer_type"):
            out["payer_types"] = [r[0] for r in snap.rows(
                "select distinct payer_type from claim_lines where payer_type is not null order by 1")]
    elif snap.has("provider_scores", "period"):
        out["periods"] = [r[0] for r in snap.rows(
            "select distinct period from provider_scores where period <> 'all' order by 1 desc")]
    for table in ("line_units", "provider_scores"):
        if snap.has(table, "discipline"):
            out["disciplines"] = [r[0] for r in snap.rows(
                f"select distinct discipline from {table} where discipline is not null order by 1")]
            break
    return out


def headline(snap: Snapshot, filters: Filters) -> dict:
    """Lines reviewed, findings (total and by rule), units over and amount at risk."""
    lines = lines_reviewed(snap, filters)
    by_rule = findings_by_rule(snap, filters)
    return {
        "lines_reviewed": int(lines),
        "findings": int(by_rule["findings"].sum()) if by_rule.height else 0,
        "units_over": float(by_rule["units_over"].sum() or 0) if by_rule.height else 0.0,
        "amount_at_risk": float(by_rule["amount_at_risk"].sum() or 0) if by_rule.height else 0.0,
        "by_rule": by_rule,
    }


def lines_reviewed(snap: Snapshot, filters: Filters) -> int:
    """Claim lines the filters select."""
    _lines_sql(snap, "1")  # the same MissingData as the query
    if not filters.discipline and _one_units_row_per_line(snap):
        if _whole_months(filters) and summaries.ready(snap, CLAIM_LINE_CELLS):
            query = (f"select coalesce(sum(lines), 0)::bigint as n from {summaries.table(CLAIM_LINE_CELLS)} "
                     f"where {_line_cells_filter(discipline=False)}")
            return int(_summary(snap, (CLAIM_LINE_CELLS,), query, _direct_params(filters))["n"][0])
        return int(snap.frame(_direct_lines_sql(snap, "count(*) as n"), _direct_params(filters))["n"][0])
    if _whole_months(filters):
        return int(_summary(snap, (LINE_CELLS,),
                            f"select coalesce(sum(lines), 0)::bigint as n from {summaries.table(LINE_CELLS)} "
                            f"where {_line_cells_filter()}", filters.params())["n"][0])
    return int(snap.frame(_lines_sql(snap, "count(*) as n"), filters.params())["n"][0])


def _findings_source(snap: Snapshot, filters: Filters) -> str | None:
    """What the findings queries read: the findings table itself (no clinic, payer or discipline
    chosen and ``_findings_direct``), else the enriched findings (None: the derived table)."""
    snap.require("findings", "rule_id")
    if filters.clinic or filters.payer_type or filters.discipline or not _findings_direct(snap):
        return None
    f = lambda c, t="varchar": snap.col("findings", "f", c, t)  # noqa: E731
    return (
        f"(select f.rule_id, {f('units_over', 'double')} as units_over, {f('amount_at_risk', 'double')} as amount_at_risk, "
        f"coalesce({f('exposure', 'double')}, {f('amount_at_risk', 'double')}) as exposure, "
        f"{f('service_date', 'date')} as service_date, strftime({f('service_date', 'date')}, '%Y-%m') as month, "
        "cast(null as varchar) as billing_npi, cast(null as varchar) as payer_type, cast(null as varchar) as discipline "
        "from findings f)"
    )


def _findings_frame(snap: Snapshot, filters: Filters, query: str) -> pl.DataFrame:
    """``query`` with ``{src}`` the findings to read (see ``_findings_source``)."""
    source = _findings_source(snap, filters)
    if source is not None:
        return snap.frame(query.format(src=source), filters.params())
    return _summary(snap, (FINDINGS,), query.format(src=summaries.table(FINDINGS)), filters.params())


def _summary(snap: Snapshot, names: tuple[str, ...], query: str, params: dict) -> pl.DataFrame:
    return summaries.frame(snap, names, query, params)


def findings_by_rule(snap: Snapshot, filters: Filters) -> pl.DataFrame:
    """Findings, units over and amount at risk per rule; the amount sums the findings' exposure (each
    line's amount at risk counted once across rules)."""
    return _findings_frame(
        snap, filters,
        "select rule_id, count(*)::bigint as findings, coalesce(sum(units_over), 0)::double as units_over, "
        "coalesce(sum(exposure), 0)::double as amount_at_risk "
        f"from {{src}} where {_finding_filter()} group by rule_id order by findings desc, rule_id",
    )


def findings_monthly(snap: Snapshot, filters: Filters) -> pl.DataFrame:
    """Findings per month and rule (findings without a service date are left out)."""
    return _findings_frame(
        snap, filters,
        "select month, rule_id, count(*)::bigint as findings, coalesce(sum(exposure), 0)::double as amount_at_risk "
        f"from {{src}} where month is not null and {_finding_filter()} "
        "group by month, rule_id order by month, rule_id",
    )


def scores_for_period(snap: Snapshot, period: str) -> pl.DataFrame:
    snap.require("provider_scores", "period", "rendering_npi", "risk_rank")
    frame = snap.frame("select * from provider_scores where period = $period order by risk_rank", {"period": period})
    if frame.height == 0:
        raise MissingData(f"provider_scores has no rows for period {period}")
    if "reasons" in frame.columns and isinstance(frame.schema["reasons"], pl.List):
        frame = frame.with_columns(pl.col("reasons").cast(pl.List(pl.String)).list.join("; "))
    return frame


def provider_map(snap: Snapshot, filters: Filters) -> pl.DataFrame:
    """Provider scores of the period for the providers the filters select. Scores are computed over
    each provider's lines, per month and for the whole review: a range of months shows the whole
    review's scores (``scores_period``) of the providers with lines in the range; the clinic and payer
    filters choose which providers are shown."""
    scored = scores_period(filters.period)
    scores = scores_for_period(snap, scored)
    if filters.discipline and "discipline" in scores.columns:
        scores = scores.filter(pl.col("discipline") == filters.discipline)
    a_range = filters.period != "all" and scored == "all"
    if (filters.clinic or filters.payer_type or a_range) and snap.has("claim_lines", "rendering_npi"):
        npis = _selected_npis(snap, filters)
        scores = scores.filter(pl.col("rendering_npi").is_in(npis.to_list()))
    for column, dtype in [
        ("provider_name", pl.String), ("discipline", pl.String), ("peer_group", pl.String),
        ("units_97112_per_patient_day", pl.Float64), ("amount_at_risk", pl.Float64), ("outlier", pl.Boolean),
        ("reasons", pl.String), ("findings", pl.Int64), ("units_over", pl.Float64), ("patient_days", pl.Int64),
    ]:
        if column not in scores.columns:
            scores = scores.with_columns(pl.lit(None, dtype).alias(column))
    return scores.sort("risk_rank")


def _selected_npis(snap: Snapshot, filters: Filters) -> pl.Series:
    """The therapists with lines the filters select."""
    _lines_sql(snap, "1")
    if not filters.discipline:  # a left join never removes a line: the claim lines alone answer
        if _whole_months(filters) and summaries.ready(snap, CLAIM_LINE_CELLS):
            query = (f"select distinct rendering_npi from {summaries.table(CLAIM_LINE_CELLS)} "
                     f"where {_line_cells_filter(discipline=False)}")
            return _summary(snap, (CLAIM_LINE_CELLS,), query, _direct_params(filters))["rendering_npi"]
        return snap.frame(_direct_lines_sql(snap, "distinct l.rendering_npi"), _direct_params(filters))["rendering_npi"]
    if _whole_months(filters):
        return _summary(snap, (LINE_CELLS,), f"select distinct rendering_npi from {summaries.table(LINE_CELLS)} "
                        f"where {_line_cells_filter()}", filters.params())["rendering_npi"]
    return snap.frame(_lines_sql(snap, "distinct l.rendering_npi"), filters.params())["rendering_npi"]


def search_providers(frame: pl.DataFrame, text: str | None) -> pl.DataFrame:
    """The providers whose NPI starts with ``text`` or whose name contains it (any case); every
    provider when ``text`` is empty."""
    text = (text or "").strip()
    if not text:
        return frame
    npi = pl.col("rendering_npi").cast(pl.String).str.starts_with(text)
    if "provider_name" not in frame.columns:
        return frame.filter(npi)
    name = pl.col("provider_name").str.to_lowercase().str.contains(text.lower(), literal=True).fill_null(False)
    return frame.filter(npi | name)


def top_providers(snap: Snapshot, filters: Filters, n: int = TOP_PROVIDERS) -> pl.DataFrame:
    cols = ["risk_rank", "rendering_npi", "provider_name", "discipline", "patient_days",
            "units_97112_per_patient_day", "findings", "units_over", "amount_at_risk", "outlier", "reasons"]
    frame = provider_map(snap, filters)
    return frame.select([c for c in cols if c in frame.columns]).head(n)


def units_97112_per_patient_day(snap: Snapshot, filters: Filters) -> pl.DataFrame:
    """How many patient-days had each count of 97112 units (all therapists of the day together)."""
    _lines_sql(snap, "1")
    if filters.discipline or not _one_units_row_per_line(snap):
        return _summary(
            snap, (DAYS_97112,),
            "select units::bigint as units, count(*)::bigint as patient_days from (select sum(units) as units "
            f"from {summaries.table(DAYS_97112)} where {_in_period('service_date')} "
            f"and {_one_of('clinic', 'billing_npi')} and {_one_of('payer', 'payer_type')} "
            "and ($discipline is null or discipline = $discipline) group by patient_id, service_date) "
            "group by units order by units",
            filters.params(),
        )
    everyone = not (filters.clinic or filters.payer_type)
    if everyone and _whole_months(filters) and summaries.ready(snap, HIST_97112):
        return _summary(
            snap, (HIST_97112,),
            "select units, sum(patient_days)::bigint as patient_days from "
            f"{summaries.table(HIST_97112)} where {_in_period('month')} "
            "group by units order by units",
            _period_params(filters),
        )
    if summaries.ready(snap, CLAIM_DAYS_97112):
        return _summary(
            snap, (CLAIM_DAYS_97112,),
            "select units::bigint as units, count(*)::bigint as patient_days from (select sum(units) as units "
            f"from {summaries.table(CLAIM_DAYS_97112)} where {_in_period('service_date')} "
            f"and {_one_of('clinic', 'billing_npi')} and {_one_of('payer', 'payer_type')} "
            "group by patient_id, service_date) group by units order by units",
            _direct_params(filters),
        )
    return snap.frame(
        "select units::bigint as units, count(*)::bigint as patient_days from ("
        + _direct_lines_sql(snap, "l.patient_id, l.service_date, sum(l.units_billed) as units")
        + " and l.cpt_code = '97112' group by l.patient_id, l.service_date) group by units order by units",
        _direct_params(filters),
    )


def daily_limit_97112(snap: Snapshot) -> int:
    """The 97112 daily limit: from a reference table in the snapshot when there is one, else 4."""
    for table in ("daily_limits", "reference_daily_limits"):
        if snap.has(table, "cpt_code", "max_units_per_day"):
            rows = snap.rows(f"select max_units_per_day from {table} where cpt_code = '97112' limit 1")
            if rows and rows[0][0] is not None:
                return int(rows[0][0])
    return DEFAULT_DAILY_LIMIT_97112


def ingest_status(snap: Snapshot) -> dict:
    """Counts only: files by status, rows read / loaded / quarantined."""
    out: dict = {}
    if snap.has("ingest_log", "status"):
        out["files"] = dict(snap.rows("select status, count(*) from ingest_log group by 1 order by 1"))
        if snap.has("ingest_log", "rows_read", "rows_loaded", "rows_quarantined"):
            r = snap.rows("select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from ingest_log")[0]
            out.update(rows_read=int(r[0] or 0), rows_loaded=int(r[1] or 0), rows_quarantined=int(r[2] or 0))
    if snap.has("quarantine"):
        out["quarantine_rows"] = int(snap.rows("select count(*) from quarantine")[0][0])
    return out


# ---------------------------------------------------------------------------------------------
# providers


def provider_periods(snap: Snapshot) -> list[str]:
    if not snap.has("provider_scores", "period"):
        return []
    periods = [r[0] for r in snap.rows("select distinct period from provider_scores order by 1 desc")]
    return (["all"] if "all" in periods else []) + [p for p in periods if p != "all"]


def provider_profile(snap: Snapshot, npi: str, period: str) -> dict | None:
    snap.require("provider_scores", "period", "rendering_npi")
    frame = snap.frame(
        "select * from provider_scores where rendering_npi = $npi and period = $period limit 1",
        {"npi": npi, "period": period},
    )
    if frame.height == 0:
        return None
    row = frame.row(0, named=True)
    if isinstance(row.get("reasons"), list):
        row["reasons"] = "; ".join(str(x) for x in row["reasons"])
    return row


def provider_name(snap: Snapshot, npi: str) -> str | None:
    for table in ("provider_scores", "claim_lines"):
        if snap.has(table, "rendering_npi", "provider_name"):
            rows = snap.rows(
                f"select provider_name from {table} where rendering_npi = ? and provider_name is not null limit 1", [npi]
            )
            if rows:
                return rows[0][0]
    return None


def provider_metrics(snap: Snapshot, npi: str, period: str) -> pl.DataFrame:
    snap.require("provider_metrics", "period", "rendering_npi", "metric", "value")
    types = {"metric": "varchar", "peer_group": "varchar", "direction_bad": "varchar", "significant": "boolean"}
    want = ["metric", "value", "peer_median", "robust_z", "percentile", "p_value", "significant", "direction_bad", "peer_group"]
    cols = ", ".join(f"{snap.col('provider_metrics', 'm', c, types.get(c, 'double'))} as {c}" for c in want)
    return snap.frame(
        f"select {cols} from provider_metrics m where m.rendering_npi = $npi and m.period = $period order by m.metric",
        {"npi": npi, "period": period},
    )


def provider_trend(snap: Snapshot, npi: str) -> pl.DataFrame:
    """Monthly rows of the provider with the median of its peer group for the same month."""
    snap.require("provider_scores", "period", "rendering_npi")
    metric = "units_97112_per_patient_day"
    have = snap.has("provider_scores", metric)
    m = f"ps.{metric}" if have else "cast(null as double)"
    peer = "ps.peer_group" if snap.has("provider_scores", "peer_group") else "cast(null as varchar)"
    amount = snap.col("provider_scores", "ps", "amount_at_risk", "double")
    findings = snap.col("provider_scores", "ps", "findings", "bigint")
    return snap.frame(
        f"""
        with ps as (select * from provider_scores where period <> 'all'),
        me as (select period, {peer} as peer_group, {m} as value, {amount} as amount_at_risk, {findings} as findings
               from ps where rendering_npi = $npi),
        peers as (select period, {peer} as peer_group, median({m}) as peer_median from ps group by all)
        select me.period as month, me.value as units_97112_per_patient_day, peers.peer_median,
               me.amount_at_risk, me.findings
        from me left join peers on peers.period = me.period and peers.peer_group is not distinct from me.peer_group
        order by month
        """,
        {"npi": npi},
    )


def _enriched_findings_with_detail(snap: Snapshot) -> str:
    """The enriched findings (the derived table) with each finding's ``detail`` joined back by its
    number (the findings' row number, as the table numbered them)."""
    detail = snap.col("findings", "f", "detail")
    return (
        f"(select e.*, d.detail from {summaries.table(FINDINGS)} e join "
        f"(select row_number() over () as finding_id, {detail} as detail from findings f) d using (finding_id))"
    )


def provider_findings(snap: Snapshot, npi: str, period: str = "all") -> pl.DataFrame:
    """The provider's findings: its own, and those of a patient-day it billed that name no therapist
    (daily limit, duplicate)."""
    start, end = period_bounds(period)
    has_lines = snap.has("claim_lines", "patient_id", "service_date", "rendering_npi")
    shared = (
        " or (rendering_npi_given is null and claim_id is null and patient_id is not null and (patient_id, service_date) in "
        "(select patient_id, service_date from claim_lines where rendering_npi = $npi))"
        if has_lines else ""
    )
    frame = _summary(
        snap, (FINDINGS,),
        f"""
        select * from {_enriched_findings_with_detail(snap)}
        where (rendering_npi = $npi{shared})
          and {_in_period('service_date')}
        order by service_date, rule_id, finding_id
        """,
        {"npi": npi, "start": start, "end": end},
    )
    return frame.select(
        [c for c in ["service_date", "rule_id", "severity", "patient_id", "rendering_npi", "claim_id", "line_number",
                     "units_over", "amount_at_risk", "detail", "payer_type", "clinic_name", "finding_id"]
         if c in frame.columns]
    )


def finding_claim_ids(snap: Snapshot, finding_ids) -> pl.DataFrame:
    """``finding_id``, ``claim_ids`` (sorted list) for the given findings (numbered as
    ``provider_findings`` numbers them): every claim with a line in the finding's scope, by its grain
    (``pipelines.rules.findings._common``):

    * a line (``claim_id`` filled): that claim;
    * a patient-day (``patient_id`` filled): the claims of the patient's lines that day; of the
      finding's 8-minute-rule group (billing provider and discipline; ``OT+PT`` for a visit total the two
      disciplines share) when it names one, else of the
      finding's therapist when it names one (an 8-minute-rule group spans its therapists);
    * a therapist-day (neither): the claims of the therapist's lines that day.
    """
    ids = [int(i) for i in finding_ids]
    empty = pl.DataFrame(schema={"finding_id": pl.Int64, "claim_ids": pl.List(pl.String)})
    if not ids:
        return empty
    snap.require("findings", "rule_id")
    f = lambda c, t="varchar": snap.col("findings", "f", c, t)  # noqa: E731
    have_lines = snap.has("claim_lines", "claim_id", "line_number", "patient_id", "service_date", "rendering_npi")
    billing = snap.col("claim_lines", "cl", "billing_npi")
    units = snap.has("line_units", "claim_id", "line_number", "discipline")
    discipline = "lu.discipline" if units else "cast(null as varchar)"
    units_join = " left join line_units lu on lu.claim_id = pd.claim_id and lu.line_number = pd.line_number" if units else ""
    scoped = "select finding_id, claim_id from f where claim_id is not null"
    if have_lines:
        scoped += f"""
        union all
        select finding_id, claim_id from (
          select pd.*, {discipline} as line_discipline from (
            select f.finding_id, f.rendering_npi as f_npi, f.billing_provider as f_billing,
                   f.discipline as f_discipline, cl.claim_id, cl.line_number, cl.rendering_npi, {billing} as billing_npi
            from f join claim_lines cl on cl.patient_id = f.patient_id and cl.service_date = f.service_date
            where f.claim_id is null) pd {units_join})
        where case when f_billing is not null or f_discipline is not null
                   then (f_billing is null or billing_npi = f_billing)
                        and (f_discipline is null or line_discipline is null
                             or list_contains(string_split(f_discipline, '+'), line_discipline))
                   else f_npi is null or rendering_npi = f_npi end
        union all
        select f.finding_id, cl.claim_id from f join claim_lines cl
          on cl.rendering_npi = f.rendering_npi and cl.service_date = f.service_date
        where f.claim_id is null and f.patient_id is null"""
    frame = snap.frame(
        f"""
        with f as materialized (
          select * from (
            select row_number() over () as finding_id, {f('claim_id')} as claim_id, {f('patient_id')} as patient_id,
                   {f('service_date', 'date')} as service_date, {f('rendering_npi')} as rendering_npi,
                   {f('billing_provider')} as billing_provider, {f('discipline')} as discipline
            from findings f)
          where list_contains($ids, finding_id)),
        scoped as ({scoped})
        select f.finding_id, list(distinct s.claim_id order by s.claim_id) filter (where s.claim_id is not null) as claim_ids
        from f left join scoped s using (finding_id) group by f.finding_id order by f.finding_id
        """,
        {"ids": ids},
    )
    return frame.with_columns(pl.col("finding_id").cast(pl.Int64), pl.col("claim_ids").fill_null([]))


def with_claim_ids(snap: Snapshot, findings: pl.DataFrame) -> pl.DataFrame:
    """``findings`` (with ``finding_id``) and a ``claim_ids`` column after ``claim_id``."""
    if "finding_id" not in findings.columns:
        raise ValueError("findings without finding_id: their claims cannot be looked up")
    claims = finding_claim_ids(snap, findings["finding_id"].drop_nulls().to_list())
    out = findings.with_columns(pl.col("finding_id").cast(pl.Int64)).join(claims, on="finding_id", how="left")
    order = [c for c in findings.columns]
    order.insert(order.index("claim_id") + 1 if "claim_id" in order else len(order), "claim_ids")
    return out.select(order)


def _line_detail_sql(snap: Snapshot, where: str) -> str:
    """Claim lines with their expected units (line_units), filtered by ``where`` on ``cl``."""
    lu = snap.has("line_units", "claim_id", "line_number")
    u = lambda c, t="varchar": snap.col("line_units", "lu", c, t) if lu else f"cast(null as {t})"  # noqa: E731
    c = lambda col, t="varchar": snap.col("claim_lines", "cl", col, t)  # noqa: E731
    join = " left join line_units lu on lu.claim_id = cl.claim_id and lu.line_number = cl.line_number" if lu else ""
    return f"""
      select cl.service_date, cl.patient_id, cl.rendering_npi, {c('provider_name')} as provider_name,
             cl.claim_id, cl.line_number, cl.cpt_code, {c('modifiers')} as modifiers,
             {c('minutes', 'bigint')} as minutes, {c('total_timed_minutes', 'bigint')} as total_timed_minutes,
             cl.units_billed, {u('expected_units', 'double')} as expected_units,
             {u('expected_units_min', 'double')} as expected_units_min, {u('expected_units_max', 'double')} as expected_units_max,
             {u('method')} as method, {u('is_timed', 'boolean')} as is_timed,
             {u('group_timed_minutes', 'bigint')} as group_timed_minutes,
             {u('group_supported_units', 'bigint')} as group_supported_units, {u('expected_basis')} as expected_basis,
             {c('payer_type')} as payer_type, {c('payer_name')} as payer_name, {c('billing_npi')} as billing_npi,
             {c('clinic_name')} as clinic_name, {c('diagnosis_codes')} as diagnosis_codes,
             {c('allowed_amount', 'double')} as allowed_amount, {c('visit_start', 'timestamp')} as visit_start,
             {c('visit_end', 'timestamp')} as visit_end, {c('deficit_documented', 'boolean')} as deficit_documented,
             {c('goals_documented', 'boolean')} as goals_documented,
             {c('response_documented', 'boolean')} as response_documented, {c('note_text')} as note_text
      from claim_lines cl {join}
      where {where}
      order by cl.service_date, cl.claim_id, cl.line_number
    """


def provider_lines(snap: Snapshot, npi: str, period: str = "all") -> pl.DataFrame:
    snap.require("claim_lines", "claim_id", "line_number", "rendering_npi", "service_date")
    start, end = period_bounds(period)
    return snap.frame(
        _line_detail_sql(snap, f"cl.rendering_npi = $npi and {_in_period('cl.service_date')}"),
        {"npi": npi, "start": start, "end": end},
    )


# ---------------------------------------------------------------------------------------------
# patient-day


def patient_ids_on(snap: Snapshot, service_date: dt.date, npi: str | None = None) -> list[str]:
    """Patients with lines on a date (of one therapist when ``npi`` is given): to resolve a token."""
    snap.require("claim_lines", "patient_id", "service_date", "rendering_npi")
    rows = snap.rows(
        "select distinct patient_id from claim_lines where service_date = ? and (? is null or rendering_npi = ?)",
        [service_date, npi, npi],
    )
    return [r[0] for r in rows]


def patient_of_token(snap: Snapshot, key: bytes, npi: str | None, token: str | None, service_date: dt.date) -> str | None:
    """The patient a patient-day link names by its token (``privacy.patient_token`` under ``key``),
    among the patients seen that day: the therapist's first, then anyone's."""
    for candidates in (patient_ids_on(snap, service_date, npi), patient_ids_on(snap, service_date, None)):
        pid = resolve_token(key, token, candidates)
        if pid is not None:
            return pid
    return None


def all_patient_ids(snap: Snapshot) -> list[str]:
    """Every patient id in the snapshot, for scrubbing free text shown to managers: those of the
    claim lines and of the findings. line_units is not read: its rows are the claim lines' own (one
    per line, the line's patient), and only findings carry text; reading its 10M patient ids again
    doubled the time (1.0 s against 0.5 s for a 10M-line snapshot)."""
    parts = [f"select patient_id from {t}" for t in ("claim_lines", "findings") if snap.has(t, "patient_id")]
    if not parts:
        return []
    rows = snap.rows(f"select distinct patient_id from ({' union all '.join(parts)}) where patient_id is not null")
    return [r[0] for r in rows]


def patient_day_lines(snap: Snapshot, patient_id: str, service_date: dt.date) -> pl.DataFrame:
    snap.require("claim_lines", "claim_id", "line_number", "patient_id", "service_date")
    return snap.frame(
        _line_detail_sql(snap, "cl.patient_id = $pid and cl.service_date = $day"),
        {"pid": patient_id, "day": service_date},
    )


def patient_day_findings(snap: Snapshot, patient_id: str, service_date: dt.date) -> pl.DataFrame:
    """Findings of the patient-day, of its lines, and the therapist-day findings of its therapists."""
    frame = _summary(
        snap, (FINDINGS,),
        f"""
        select * from {_enriched_findings_with_detail(snap)}
        where service_date = $day and (patient_id = $pid or (patient_id is null and rendering_npi in
              (select rendering_npi from claim_lines where patient_id = $pid and service_date = $day)))
        order by rule_id, finding_id
        """,
        {"pid": patient_id, "day": service_date},
    )
    return frame.select(
        [c for c in ["rule_id", "severity", "rendering_npi", "patient_id", "claim_id", "line_number",
                     "units_over", "amount_at_risk", "detail", "finding_id"] if c in frame.columns]
    )


def review_changes(snap: Snapshot) -> dict | None:
    """What the last recorded review changed: when, new findings and resolved ones, by rule
    (from review_runs and finding_history). None when the snapshot has no review history."""
    if not (snap.has("review_runs", "run_id", "finished_at") and snap.has("finding_history", "first_seen_run", "resolved_run")):
        return None
    last = snap.rows("select run_id, finished_at from review_runs order by finished_at desc limit 1")
    if not last:
        return None
    run_id, finished_at = last[0]
    by_rule = snap.frame(
        "select rule_id, count(*) filter (where first_seen_run = $run)::bigint as new, "
        "count(*) filter (where resolved_run = $run)::bigint as resolved from finding_history "
        "where first_seen_run = $run or resolved_run = $run group by rule_id order by rule_id",
        {"run": run_id},
    )
    previous = snap.rows("select count(*) from review_runs where finished_at < ?", [finished_at])[0][0]
    return {
        "finished_at": finished_at,
        "first_review": previous == 0,
        "new": int(by_rule["new"].sum()) if by_rule.height else 0,
        "resolved": int(by_rule["resolved"].sum()) if by_rule.height else 0,
        "by_rule": by_rule,
    }


def review_changes_text(changes: dict | None) -> str | None:
    """One sentence for managers: what is new since the last review and what was resolved."""
    if changes is None:
        return None
    when = changes["finished_at"].strftime("%Y-%m-%d %H:%M UTC")
    if changes["first_review"]:
        return f"First review ({when}): {changes['new']:,} findings raised."
    detail = ", ".join(
        f"{r['rule_id']} +{r['new']}/-{r['resolved']}" for r in changes["by_rule"].iter_rows(named=True)
    )
    return (
        f"Since the previous review (last run {when}): {changes['new']:,} new findings, "
        f"{changes['resolved']:,} resolved" + (f" ({detail})." if detail else ".")
    )
