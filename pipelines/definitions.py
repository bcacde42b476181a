"""The one Definitions object: assets by stage, their checks, resources, jobs, sensor and schedule.

``dagster dev`` / ``dg`` load ``defs`` (warehouse, input and configuration from the environment:
UNITREVIEW_WAREHOUSE, UNITREVIEW_INPUT, UNITREVIEW_CONFIG); the ``unitreview`` command builds the
same definitions with its own arguments through ``build_defs``.

Stages (asset groups): ingest -> rules -> scores -> history -> publish.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.assets import history, ingest, publish, rules, scores
from pipelines.automation import build_landing_sensor
from pipelines.config import Config, load_config
from pipelines.resources import ReviewSettings

DEFAULT_WAREHOUSE = "warehouse/unitreview.duckdb"
DEFAULT_INPUT = "data_samples"

ASSETS = [
    ingest.ingest_extracts,
    rules.review_rules,
    scores.review_scores,
    history.review_runs,
    publish.review_publish,
]
CHECKS = [
    ingest.rows_reconcile,
    ingest.line_keys_unique,
    rules.one_units_row_per_line,
    rules.no_negative_expected_units,
    rules.findings_keys_exist,
    scores.ranks_without_gaps,
]


def build_defs(
    warehouse_path: str = DEFAULT_WAREHOUSE,
    input_path: str = DEFAULT_INPUT,
    config_path: str | None = None,
    config: Config | None = None,
) -> dg.Definitions:
    config = config or load_config(config_path)
    connection_config = {
        key: value
        for key, value in {"threads": config.warehouse.threads, "memory_limit": config.warehouse.memory_limit}.items()
        if value not in (None, "")
    }
    review_job = dg.define_asset_job(
        "review",
        selection=dg.AssetSelection.all(),
        description="The whole review: ingest new extracts, recompute changed months, scores, history, snapshot, report.",
    )
    ingest_job = dg.define_asset_job(
        "ingest",
        selection=dg.AssetSelection.groups("ingest"),
        description="Read extracts into claim_lines / quarantine / ingest_log (the landing-folder sensor's job).",
    )
    weekly_review = dg.ScheduleDefinition(
        name="scheduled_review",
        job=review_job,
        cron_schedule=config.schedule.cron,
        execution_timezone=config.schedule.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Recompute findings and scores, publish the snapshot and the report.",
    )
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=[review_job, ingest_job],
        schedules=[weekly_review],
        sensors=[build_landing_sensor("ingest", config.schedule.sensor_interval_seconds)],
        resources={
            "warehouse_db": DuckDBResource(database=warehouse_path, connection_config=connection_config),
            "review": ReviewSettings(input_path=input_path, config_path=config_path),
        },
    )


defs = build_defs(
    warehouse_path=os.environ.get("UNITREVIEW_WAREHOUSE", DEFAULT_WAREHOUSE),
    input_path=os.environ.get("UNITREVIEW_INPUT", DEFAULT_INPUT),
    config_path=os.environ.get("UNITREVIEW_CONFIG") or None,
)
