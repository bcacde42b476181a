"""Scores stage: line_units + findings -> provider_scores and provider_metrics, one service month at a time."""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from pipelines import progress, warehouse
from pipelines.columns import CANONICAL
from pipelines.resources import ReviewSettings
from pipelines.scores.attribution import FINDING_COLUMNS
from pipelines.scores.facts import line_frame
from pipelines.scores.score import Scores, scores_of_lines
from pipelines.scores.settings import ScoreSettings

UNIT_COLUMNS = [
    "claim_id", "line_number", "rendering_npi", "patient_id", "service_date", "discipline",
    "billing_provider", "cpt_code", "is_timed", "duplicate_extra", "units_billed", "minutes_used",
    "total_timed_minutes",
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "provider_scores",
            deps=["line_units", "findings"],
            description="One row per rendering NPI per period (each month and 'all'): metrics, risk_rank, outlier, reasons.",
        ),
        dg.AssetSpec(
            "provider_metrics",
            deps=["line_units", "findings"],
            description="Each provider metric against its peer group: median, robust z, percentile, p-value.",
        ),
    ],
    group_name="scores",
    pool="warehouse_writes",
)
def review_scores(warehouse_db: DuckDBResource, review: ReviewSettings):
    """Peer comparison of every therapist, ranked so that 1 is the one to review first."""
    settings = review.config().score_settings()
    with warehouse_db.get_connection() as con:
        months = warehouse.scored_months(con)
        with progress.stage("scores", len(months) + 1) as shown:
            scores = scores_in_warehouse(con, settings, months, shown)
            # one transaction: the ranking and the metrics behind it are never from different reviews
            warehouse.replace_tables(con, {"provider_scores": scores.scores, "provider_metrics": scores.metrics})
            shown.advance("scores", "provider_scores")
    whole = scores.scores.filter(scores.scores["period"] == "all")
    yield dg.MaterializeResult(
        asset_key="provider_scores",
        metadata={
            "table_rows": scores.scores.height,
            "providers": whole.height,
            "outliers": int(whole["outlier"].sum() or 0),
        },
    )
    yield dg.MaterializeResult(asset_key="provider_metrics", metadata={"table_rows": scores.metrics.height})


def scores_in_warehouse(
    con: duckdb.DuckDBPyConnection,
    settings: ScoreSettings,
    months: list[dt.date] | None = None,
    shown: progress.ProgressDisplay | None = None,
) -> Scores:
    """Both tables from the warehouse's line units and findings, read one service month at a time:
    only one month's line frame is in memory (every grain scoring uses lies within a month)."""
    unit_columns = UNIT_COLUMNS + [k for k in settings.peer_keys if k not in CANONICAL and k not in UNIT_COLUMNS]
    line_columns = ["provider_name"] + [k for k in settings.peer_keys if k in CANONICAL and k not in UNIT_COLUMNS]

    def month_lines(month: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
        # each line unit with its claim line's name and peer keys (joined while reading), turned into
        # scoring's line frame batch by batch: the read columns of the month are never held at once
        batches = warehouse.month_units_with_line_columns(con, month, unit_columns, line_columns)
        line = pl.concat([line_frame(None, batch, settings) for batch in batches], how="vertical")
        return line, warehouse.read_month_columns(con, "findings", list(FINDING_COLUMNS), month)

    def pieces() -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        for month in warehouse.scored_months(con) if months is None else months:
            yield month_lines(month)
            if shown is not None:  # the consumer asks for the next month: this one is scored
                shown.advance("scores", month.isoformat()[:7])

    return scores_of_lines(pieces(), settings)


@dg.asset_check(asset="provider_scores", blocking=True, description="One row per provider and period; ranks 1..n without gaps")
def ranks_without_gaps(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse_db.get_connection() as con:
        repeated, gapped = con.execute(
            "select (select count(*) from (select 1 from provider_scores group by period, rendering_npi having count(*) > 1)),"
            " (select count(*) from (select period from provider_scores group by period"
            "   having min(risk_rank) <> 1 or max(risk_rank) <> count(*) or count(distinct risk_rank) <> count(*)))"
        ).fetchall()[0]
    return dg.AssetCheckResult(
        passed=repeated == 0 and gapped == 0,
        metadata={"repeated_provider_periods": repeated, "periods_with_rank_gaps": gapped},
    )
