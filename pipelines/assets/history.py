"""Review history: every finding's first and last sighting, and one row per review that changed
something (the work: ``pipelines.warehouse.history``)."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.resources import ReviewSettings
from pipelines.warehouse.history import record_review


@dg.asset(
    deps=["claim_lines", "findings", "provider_scores"],
    group_name="history",
    pool="warehouse_writes",
    description="One row per review that changed the warehouse; findings gain first_seen / last_seen.",
)
def review_runs(
    context: dg.AssetExecutionContext, warehouse_db: DuckDBResource, review: ReviewSettings
) -> dg.MaterializeResult:
    config_hash = review.config().rules_fingerprint()
    with warehouse_db.get_connection() as con:
        metadata = record_review(
            con, context.run.run_id, _started_at(context), dt.datetime.now(dt.UTC), review.input_path, config_hash
        )
    return dg.MaterializeResult(metadata=metadata)


def _started_at(context: dg.AssetExecutionContext) -> dt.datetime | None:
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = record.start_time if record else None
    return dt.datetime.fromtimestamp(started, dt.UTC) if started else None
