"""The one Definitions object: assets by stage, their checks, resources, jobs.

``dagster dev`` / ``dg`` load ``defs`` (warehouse, input and configuration from the environment:
UNITREVIEW_WAREHOUSE, UNITREVIEW_INPUT, UNITREVIEW_CONFIG); the ``unitreview`` command builds the
same definitions with its own arguments through ``build_defs``.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.assets import ingest, publish, rules, scores
from pipelines.config import Config

DEFAULT_WAREHOUSE = "warehouse/unitreview.duckdb"
DEFAULT_INPUT = "data_samples"


def build_defs(
    warehouse_path: str = DEFAULT_WAREHOUSE,
    input_path: str = DEFAULT_INPUT,
    config_path: str | None = None,
    config: Config | None = None,
) -> dg.Definitions:
    from pipelines.config import load_config
    from pipelines.resources import ReviewSettings

    config = config or load_config(config_path)
    connection_config = {
        key: value
        for key, value in {
            "threads": config.warehouse.threads,
            "memory_limit": config.warehouse.memory_limit,
        }.items()
        if value is not None
    }
    review_job = dg.define_asset_job(
        "review", selection=dg.AssetSelection.all(), description="The whole review: ingest, units, findings, scores."
    )
    return dg.Definitions(
        assets=[
            ingest.ingest_extracts,
            rules.review_rules,
            scores.review_scores,
            publish.review_snapshot,
            publish.review_report,
        ],
        asset_checks=[
            ingest.rows_reconcile,
            ingest.line_keys_unique,
            rules.one_units_row_per_line,
            rules.no_negative_expected_units,
            rules.findings_keys_exist,
            scores.ranks_without_gaps,
        ],
        jobs=[review_job],
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
