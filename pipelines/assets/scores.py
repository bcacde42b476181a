"""Scores stage: line_units + findings -> provider_scores and provider_metrics."""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from pipelines import progress, warehouse
from pipelines.columns import CANONICAL
from pipelines.resources import ReviewSettings
from pipelines.scores.facts import line_frame
from pipelines.scores.score import scores_of_lines
from pipelines.scores.attribution import FINDING_COLUMNS

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
    with warehouse_db.get_connection() as con, progress.stage("scores", 1) as shown:
        # only the columns scoring reads, each line unit with its claim line's name and peer keys
        # (joined while reading), turned into scoring's line frame batch by batch: the ~15 read
        # columns of every line are never in memory at once
        batches = warehouse.units_with_line_columns(
            con,
            UNIT_COLUMNS + [k for k in settings.peer_keys if k not in CANONICAL and k not in UNIT_COLUMNS],
            ["provider_name"] + [k for k in settings.peer_keys if k in CANONICAL and k not in UNIT_COLUMNS],
        )
        line = pl.concat([line_frame(None, batch, settings) for batch in batches], how="vertical")
        found = warehouse.read_columns(con, "findings", list(FINDING_COLUMNS))
        scores = scores_of_lines(line, found, settings)
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
