"""The overview's and the report's figures: filter choices, headline counts, findings by rule and by
month, the 97112 units per patient-day and the ingest counts, each for the chosen filters.
"""

from __future__ import annotations

import polars as pl

from dashboards.data import summaries
from dashboards.data.derived import (
    CLAIM_DAYS_97112,
    CLAIM_LINE_CELLS,
    DAYS_97112,
    FINDINGS,
    HIST_97112,
    LINE_CELLS,
    finding_filter,
    findings_direct,
    line_cells_filter,
)
from dashboards.data.lines import direct_lines_sql, direct_params, lines_sql, one_units_row_per_line
from dashboards.data.periods import Filters, in_period, one_of, period_params, whole_months
from dashboards.data.snapshot import Snapshot

DEFAULT_DAILY_LIMIT_97112 = 4


def filter_options(snap: Snapshot) -> dict[str, list]:
    """Choices for the overview's filters: periods (months, newest first), clinics (billing NPI,
    label), disciplines and payer types. Worked out once per snapshot (every page load asks)."""
    options = summaries.remember(snap, "filter_options", lambda: _filter_options(snap))
    return {k: list(v) for k, v in options.items()}


def _filter_options(snap: Snapshot) -> dict[str, list]:
    out: dict[str, list] = {"periods": [], "clinics": [], "disciplines": [], "payer_types": []}
    if snap.has("claim_lines", "service_date"):
        out["periods"] = [
            r[0]
            for r in snap.rows(
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
            out["payer_types"] = [
                r[0]
                for r in snap.rows(
                    "select distinct payer_type from claim_lines where payer_type is not null order by 1"
                )
            ]
    elif snap.has("provider_scores", "period"):
        out["periods"] = [
            r[0] for r in snap.rows("select distinct period from provider_scores where period <> 'all' order by 1 desc")
        ]
    for table in ("line_units", "provider_scores"):
        if snap.has(table, "discipline"):
            out["disciplines"] = [
                r[0]
                for r in snap.rows(f"select distinct discipline from {table} where discipline is not null order by 1")
            ]
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
    lines_sql(snap, "1")  # the same MissingData as the query
    if not filters.discipline and one_units_row_per_line(snap):
        if whole_months(filters) and summaries.ready(snap, CLAIM_LINE_CELLS):
            query = (
                f"select coalesce(sum(lines), 0)::bigint as n from {summaries.table(CLAIM_LINE_CELLS)} "
                f"where {line_cells_filter(discipline=False)}"
            )
            return int(summaries.frame(snap, (CLAIM_LINE_CELLS,), query, direct_params(filters))["n"][0])
        return int(snap.frame(direct_lines_sql(snap, "count(*) as n"), direct_params(filters))["n"][0])
    if whole_months(filters):
        return int(
            summaries.frame(
                snap,
                (LINE_CELLS,),
                f"select coalesce(sum(lines), 0)::bigint as n from {summaries.table(LINE_CELLS)} "
                f"where {line_cells_filter()}",
                filters.params(),
            )["n"][0]
        )
    return int(snap.frame(lines_sql(snap, "count(*) as n"), filters.params())["n"][0])


def _findings_source(snap: Snapshot, filters: Filters) -> str | None:
    """What the findings queries read: the findings table itself (no clinic, payer or discipline
    chosen and ``findings_direct``), else the enriched findings (None: the derived table)."""
    snap.require("findings", "rule_id")
    if filters.clinic or filters.payer_type or filters.discipline or not findings_direct(snap):
        return None
    f = lambda c, t="varchar": snap.col("findings", "f", c, t)
    return (
        f"(select f.rule_id, {f('units_over', 'double')} as units_over, "
        f"{f('amount_at_risk', 'double')} as amount_at_risk, "
        f"coalesce({f('exposure', 'double')}, {f('amount_at_risk', 'double')}) as exposure, "
        f"{f('service_date', 'date')} as service_date, strftime({f('service_date', 'date')}, '%Y-%m') as month, "
        "cast(null as varchar) as billing_npi, cast(null as varchar) as payer_type, "
        "cast(null as varchar) as discipline "
        "from findings f)"
    )


def _findings_frame(snap: Snapshot, filters: Filters, query: str) -> pl.DataFrame:
    """``query`` with ``{src}`` the findings to read (see ``_findings_source``)."""
    source = _findings_source(snap, filters)
    if source is not None:
        return snap.frame(query.format(src=source), filters.params())
    return summaries.frame(snap, (FINDINGS,), query.format(src=summaries.table(FINDINGS)), filters.params())


def findings_by_rule(snap: Snapshot, filters: Filters) -> pl.DataFrame:
    """Findings, units over and amount at risk per rule; the amount sums the findings' exposure (each
    line's amount at risk counted once across rules)."""
    return _findings_frame(
        snap,
        filters,
        "select rule_id, count(*)::bigint as findings, coalesce(sum(units_over), 0)::double as units_over, "
        "coalesce(sum(exposure), 0)::double as amount_at_risk "
        f"from {{src}} where {finding_filter()} group by rule_id order by findings desc, rule_id",
    )


def findings_monthly(snap: Snapshot, filters: Filters) -> pl.DataFrame:
    """Findings per month and rule (findings without a service date are left out)."""
    return _findings_frame(
        snap,
        filters,
        "select month, rule_id, count(*)::bigint as findings, coalesce(sum(exposure), 0)::double as amount_at_risk "
        f"from {{src}} where month is not null and {finding_filter()} "
        "group by month, rule_id order by month, rule_id",
    )


def units_97112_per_patient_day(snap: Snapshot, filters: Filters) -> pl.DataFrame:
    """How many patient-days had each count of 97112 units (all therapists of the day together)."""
    lines_sql(snap, "1")
    if filters.discipline or not one_units_row_per_line(snap):
        return summaries.frame(
            snap,
            (DAYS_97112,),
            "select units::bigint as units, count(*)::bigint as patient_days from (select sum(units) as units "
            f"from {summaries.table(DAYS_97112)} where {in_period('service_date')} "
            f"and {one_of('clinic', 'billing_npi')} and {one_of('payer', 'payer_type')} "
            "and ($discipline is null or discipline = $discipline) group by patient_id, service_date) "
            "group by units order by units",
            filters.params(),
        )
    everyone = not (filters.clinic or filters.payer_type)
    if everyone and whole_months(filters) and summaries.ready(snap, HIST_97112):
        return summaries.frame(
            snap,
            (HIST_97112,),
            "select units, sum(patient_days)::bigint as patient_days from "
            f"{summaries.table(HIST_97112)} where {in_period('month')} "
            "group by units order by units",
            period_params(filters),
        )
    if summaries.ready(snap, CLAIM_DAYS_97112):
        return summaries.frame(
            snap,
            (CLAIM_DAYS_97112,),
            "select units::bigint as units, count(*)::bigint as patient_days from (select sum(units) as units "
            f"from {summaries.table(CLAIM_DAYS_97112)} where {in_period('service_date')} "
            f"and {one_of('clinic', 'billing_npi')} and {one_of('payer', 'payer_type')} "
            "group by patient_id, service_date) group by units order by units",
            direct_params(filters),
        )
    return snap.frame(
        "select units::bigint as units, count(*)::bigint as patient_days from ("
        + direct_lines_sql(snap, "l.patient_id, l.service_date, sum(l.units_billed) as units")
        + " and l.cpt_code = '97112' group by l.patient_id, l.service_date) group by units order by units",
        direct_params(filters),
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
