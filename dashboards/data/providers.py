"""Providers: the risk ranking for the chosen filters, and one provider's profile, metrics against its
peers, monthly trend, findings and claim lines.
"""

from __future__ import annotations

import polars as pl

from dashboards.data import summaries
from dashboards.data.derived import (
    CLAIM_LINE_CELLS,
    FINDINGS,
    LINE_CELLS,
    findings_with_detail,
    line_cells_filter,
)
from dashboards.data.lines import direct_lines_sql, direct_params, line_detail_sql, lines_sql
from dashboards.data.periods import Filters, in_period, period_bounds, scores_period, whole_months
from dashboards.data.snapshot import MissingData, Snapshot

TOP_PROVIDERS = 10


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
        ("provider_name", pl.String),
        ("discipline", pl.String),
        ("peer_group", pl.String),
        ("units_97112_per_patient_day", pl.Float64),
        ("amount_at_risk", pl.Float64),
        ("outlier", pl.Boolean),
        ("reasons", pl.String),
        ("findings", pl.Int64),
        ("units_over", pl.Float64),
        ("patient_days", pl.Int64),
    ]:
        if column not in scores.columns:
            scores = scores.with_columns(pl.lit(None, dtype).alias(column))
    return scores.sort("risk_rank")


def _selected_npis(snap: Snapshot, filters: Filters) -> pl.Series:
    """The therapists with lines the filters select."""
    lines_sql(snap, "1")
    if not filters.discipline:  # a left join never removes a line: the claim lines alone answer
        if whole_months(filters) and summaries.ready(snap, CLAIM_LINE_CELLS):
            query = (
                f"select distinct rendering_npi from {summaries.table(CLAIM_LINE_CELLS)} "
                f"where {line_cells_filter(discipline=False)}"
            )
            return summaries.frame(snap, (CLAIM_LINE_CELLS,), query, direct_params(filters))["rendering_npi"]
        return snap.frame(direct_lines_sql(snap, "distinct l.rendering_npi"), direct_params(filters))["rendering_npi"]
    if whole_months(filters):
        return summaries.frame(
            snap,
            (LINE_CELLS,),
            f"select distinct rendering_npi from {summaries.table(LINE_CELLS)} where {line_cells_filter()}",
            filters.params(),
        )["rendering_npi"]
    return snap.frame(lines_sql(snap, "distinct l.rendering_npi"), filters.params())["rendering_npi"]


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
    cols = [
        "risk_rank",
        "rendering_npi",
        "provider_name",
        "discipline",
        "patient_days",
        "units_97112_per_patient_day",
        "findings",
        "units_over",
        "amount_at_risk",
        "outlier",
        "reasons",
    ]
    frame = provider_map(snap, filters)
    return frame.select([c for c in cols if c in frame.columns]).head(n)


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
                f"select provider_name from {table} where rendering_npi = ? and provider_name is not null limit 1",
                [npi],
            )
            if rows:
                return rows[0][0]
    return None


def provider_metrics(snap: Snapshot, npi: str, period: str) -> pl.DataFrame:
    snap.require("provider_metrics", "period", "rendering_npi", "metric", "value")
    types = {"metric": "varchar", "peer_group": "varchar", "direction_bad": "varchar", "significant": "boolean"}
    want = [
        "metric",
        "value",
        "peer_median",
        "robust_z",
        "percentile",
        "p_value",
        "significant",
        "direction_bad",
        "peer_group",
    ]
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


def provider_findings(snap: Snapshot, npi: str, period: str = "all") -> pl.DataFrame:
    """The provider's findings: its own, and those of a patient-day it billed that name no therapist
    (daily limit, duplicate)."""
    start, end = period_bounds(period)
    has_lines = snap.has("claim_lines", "patient_id", "service_date", "rendering_npi")
    shared = (
        " or (rendering_npi_given is null and claim_id is null and patient_id is not null "
        "and (patient_id, service_date) in "
        "(select patient_id, service_date from claim_lines where rendering_npi = $npi))"
        if has_lines
        else ""
    )
    frame = summaries.frame(
        snap,
        (FINDINGS,),
        f"""
        select * from {findings_with_detail(snap)}
        where (rendering_npi = $npi{shared})
          and {in_period("service_date")}
        order by service_date, rule_id, finding_id
        """,
        {"npi": npi, "start": start, "end": end},
    )
    return frame.select(
        [
            c
            for c in [
                "service_date",
                "rule_id",
                "severity",
                "patient_id",
                "rendering_npi",
                "claim_id",
                "line_number",
                "units_over",
                "amount_at_risk",
                "detail",
                "payer_type",
                "clinic_name",
                "finding_id",
            ]
            if c in frame.columns
        ]
    )


def provider_lines(snap: Snapshot, npi: str, period: str = "all") -> pl.DataFrame:
    snap.require("claim_lines", "claim_id", "line_number", "rendering_npi", "service_date")
    start, end = period_bounds(period)
    return snap.frame(
        line_detail_sql(snap, f"cl.rendering_npi = $npi and {in_period('cl.service_date')}"),
        {"npi": npi, "start": start, "end": end},
    )
