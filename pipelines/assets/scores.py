"""Scores stage: line_units + findings -> provider_scores and provider_metrics, one service month at a time."""

import datetime as dt

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from pipelines.assets import progress
from pipelines.ingest.columns import CANONICAL
from pipelines.resources import ReviewSettings
from pipelines.scores.attribution import FINDING_COLUMNS
from pipelines.scores.facts import line_frame
from pipelines.scores.score import piece_of, scores_of_pieces
from pipelines.scores.settings import ScoreSettings
from pipelines.warehouse import by_month, schema, score_pieces, writes

UNIT_COLUMNS = [
    "claim_id",
    "line_number",
    "rendering_npi",
    "patient_id",
    "service_date",
    "discipline",
    "billing_provider",
    "cpt_code",
    "is_timed",
    "duplicate_extra",
    "units_billed",
    "minutes_used",
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
def review_scores(context: dg.AssetExecutionContext, warehouse_db: DuckDBResource, review: ReviewSettings):
    """Peer comparison of every therapist, ranked so that 1 is the one to review first. Scored one
    service month at a time (every grain scoring uses lies within a month), and only the months the
    rules recomputed: the other months' pieces are read back from the warehouse."""
    settings = review.config().score_settings()
    with warehouse_db.get_connection() as con:
        schema.ensure_schema(con)
        months = by_month.scored_months(con)
        stale = score_pieces.months_to_score(con, months, settings)
        with progress.stage("scores", len(stale) + 1) as shown:
            for month in stale:
                line, found = month_lines(con, month, settings)
                score_pieces.save_piece(con, month, piece_of(line, found, settings), settings)
                del line, found  # one month's lines in memory at a time
                shown.advance("scores", month.isoformat()[:7])
            stored = score_pieces.load_pieces(con, months)
            scores = scores_of_pieces([stored] if stored else [], settings)
            # one transaction: the ranking and the metrics behind it are never from different reviews
            writes.replace_tables(con, {"provider_scores": scores.scores, "provider_metrics": scores.metrics})
            shown.advance("scores", "provider_scores")
    if months and not stale:
        context.log.info("no month recomputed by the rules: every month's scoring piece read back")
    whole = scores.scores.filter(scores.scores["period"] == "all")
    yield dg.MaterializeResult(
        asset_key="provider_scores",
        metadata={
            "table_rows": scores.scores.height,
            "providers": whole.height,
            "outliers": int(whole["outlier"].sum() or 0),
            "months_scored": dg.MetadataValue.json([m.isoformat()[:7] for m in stale]),
        },
    )
    yield dg.MaterializeResult(asset_key="provider_metrics", metadata={"table_rows": scores.metrics.height})


def month_lines(
    con: duckdb.DuckDBPyConnection, month: dt.date, settings: ScoreSettings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Scoring's line frame of one service month and the month's findings. Each line unit comes with
    its claim line's name and peer keys (joined while reading) and is turned into the line frame
    batch by batch: the read columns of the month are never held at once."""
    unit_columns = UNIT_COLUMNS + [k for k in settings.peer_keys if k not in CANONICAL and k not in UNIT_COLUMNS]
    line_columns = ["provider_name"] + [k for k in settings.peer_keys if k in CANONICAL and k not in UNIT_COLUMNS]
    batches = by_month.month_units_with_line_columns(con, month, unit_columns, line_columns)
    line = pl.concat([line_frame(None, batch, settings) for batch in batches], how="vertical")
    return line, by_month.read_month_columns(con, "findings", list(FINDING_COLUMNS), month)


@dg.asset_check(
    asset="provider_scores", blocking=True, description="One row per provider and period; ranks 1..n without gaps"
)
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
