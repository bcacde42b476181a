"""Publish stage: the read-only snapshot the dashboard reads, and the managers' HTML report."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.assets import progress
from pipelines.warehouse.snapshot import copy_database_snapshot, copy_snapshot, take_snapshot


def snapshot_path(warehouse_path: str) -> Path:
    """warehouse/unitreview.duckdb -> warehouse/unitreview.snapshot.duckdb"""
    path = Path(warehouse_path)
    return path.with_name(f"{path.stem}.snapshot.duckdb")


def report_path(warehouse_path: str) -> Path:
    """warehouse/unitreview.duckdb -> warehouse/unitreview_report.html"""
    path = Path(warehouse_path)
    return path.with_name(f"{path.stem}_report.html")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "review_snapshot",
            deps=["claim_lines", "line_units", "findings", "provider_scores", "provider_metrics", "review_runs"],
            description="A copy of the warehouse swapped in atomically; the dashboard and report read only this.",
        ),
        dg.AssetSpec(
            "review_report",
            deps=["claim_lines", "line_units", "findings", "provider_scores", "provider_metrics", "review_runs"],
            description="The self-contained HTML report for managers (no patient identifiers), of the snapshot's data.",
        ),
    ],
    group_name="publish",
    pool="warehouse_writes",
)
def review_publish(warehouse_db: DuckDBResource):
    """The snapshot, then the report. For a warehouse file the report is rendered from the warehouse
    itself while a second thread copies its bytes into the snapshot: after the checkpoint nothing
    writes the file until this step ends, so both read the same database, and the copy (I/O) overlaps
    the report (queries and plotly). The report is written after the snapshot is swapped in."""
    from dashboards.data.snapshot import SnapshotInfo
    from dashboards.files.report import render_report, save_report

    target, report = snapshot_path(warehouse_db.database), report_path(warehouse_db.database)
    with progress.stage("publish", 1) as shown:
        with warehouse_db.get_connection() as con:
            snapshot = take_snapshot(con, target)
            source = snapshot["source_file"]
            if source is None:  # an in-memory warehouse: copied through the connection, then read
                snapshot = copy_database_snapshot(con, snapshot)
        if source is not None:  # the connection is closed: the copy and the report only read the file
            info = SnapshotInfo(snapshot["taken_at"], snapshot["source_warehouse"], snapshot["tables"])
            with ThreadPoolExecutor(1, thread_name_prefix="snapshot-copy") as copier:
                copying = copier.submit(copy_snapshot, snapshot)
                try:
                    document = render_report(source, info)
                finally:
                    snapshot = copying.result()  # swapped in (or its error raised) before the report
        else:
            document = render_report(target)
        shown.advance("publish", "snapshot")
        out = save_report(document, report)
    yield dg.MaterializeResult(
        asset_key="review_snapshot",
        metadata={
            "path": str(target),
            "taken_at": str(snapshot["taken_at"]),
            **{f"rows_{t}": n for t, n in snapshot["tables"].items()},
        },
    )
    yield dg.MaterializeResult(asset_key="review_report", metadata={"path": str(out), "bytes": out.stat().st_size})
