"""Publish stage: the read-only snapshot the dashboard reads, and the managers' HTML report."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines import progress
from pipelines.publish import publish_snapshot


def snapshot_path(warehouse_path: str) -> Path:
    """warehouse/unitreview.duckdb -> warehouse/unitreview.snapshot.duckdb"""
    path = Path(warehouse_path)
    return path.with_name(f"{path.stem}.snapshot.duckdb")


def report_path(warehouse_path: str) -> Path:
    """warehouse/unitreview.duckdb -> warehouse/unitreview_report.html"""
    path = Path(warehouse_path)
    return path.with_name(f"{path.stem}_report.html")


@dg.asset(
    deps=["claim_lines", "line_units", "findings", "provider_scores", "provider_metrics", "review_runs"],
    group_name="publish",
    pool="warehouse_writes",
    description="A copy of the warehouse swapped in atomically; the dashboard and report read only this.",
)
def review_snapshot(warehouse_db: DuckDBResource) -> dg.MaterializeResult:
    target = snapshot_path(warehouse_db.database)
    with warehouse_db.get_connection() as con, progress.stage("publish", 1) as shown:
        info = publish_snapshot(con, target)
        shown.advance("publish", "snapshot")
    return dg.MaterializeResult(
        metadata={"path": str(target), "taken_at": str(info["taken_at"]), **{f"rows_{t}": n for t, n in info["tables"].items()}}
    )


@dg.asset(deps=["review_snapshot"], group_name="publish", description="The self-contained HTML report for managers (no patient identifiers).")
def review_report(warehouse_db: DuckDBResource) -> dg.MaterializeResult:
    from dashboards.report import write_report

    out = write_report(snapshot_path(warehouse_db.database), report_path(warehouse_db.database))
    return dg.MaterializeResult(metadata={"path": str(out), "bytes": out.stat().st_size})
