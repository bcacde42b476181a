"""Ingest stage: every extract under the input path -> claim_lines, quarantine, ingest_log (the work:
``pipelines.ingest.load``)."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.assets import progress
from pipelines.ingest.load import ingest_summary, load_extracts
from pipelines.ingest.readers import find_extracts
from pipelines.resources import ReviewSettings
from pipelines.warehouse import schema


def source_name(path: Path, root: Path) -> str:
    """How the warehouse names a file: its path under the input folder (its name for a file)."""
    return path.name if root.is_file() else path.relative_to(root).as_posix()


class IngestSelection(dg.Config):
    """Which extracts to read: all under the input path (default), or these names (the sensor's)."""

    files: list[str] = []  # noqa: RUF012 - a pydantic field (Dagster config): each run gets its own list


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "claim_lines", description="Every loaded claim service line, typed, with its source file and row."
        ),
        dg.AssetSpec("quarantine", description="Rows not loaded, with every reason and the raw values."),
        dg.AssetSpec(
            "ingest_log", description="One row per file read: SHA-256, rows read/loaded/quarantined, status, reason."
        ),
    ],
    group_name="ingest",
    pool="warehouse_writes",
)
def ingest_extracts(
    context: dg.AssetExecutionContext,
    config: IngestSelection,
    warehouse_db: DuckDBResource,
    review: ReviewSettings,
):
    """Read every extract under the input path; each file commits with its rows or not at all."""
    root = review.input_root()
    if not root.exists():
        raise dg.Failure(f"input path {root} does not exist")
    profiles = review.config().header_profiles()
    files = find_extracts(root)
    if config.files:
        wanted = set(config.files)
        files = [p for p in files if source_name(p, root) in wanted]
    names = [source_name(p, root) for p in files]
    with warehouse_db.get_connection() as con, progress.stage("ingest", len(files)) as shown:
        schema.ensure_schema(con)
        outcomes = load_extracts(con, files, names, profiles, context.run.run_id, shown, context.log)
        totals = con.execute(
            "select (select count(*) from claim_lines), (select count(*) from quarantine), "
            "(select count(*) from ingest_log)"
        ).fetchall()[0]
    run_meta = ingest_summary(outcomes, len(files))
    files_json = dg.MetadataValue.json([{k: v for k, v in o.items() if k != "sha256"} for o in outcomes])
    yield dg.MaterializeResult(
        asset_key="claim_lines",
        metadata={**run_meta, "table_rows": totals[0], "files": files_json},
    )
    yield dg.MaterializeResult(asset_key="quarantine", metadata={"table_rows": totals[1]})
    yield dg.MaterializeResult(asset_key="ingest_log", metadata={"table_rows": totals[2]})


@dg.asset_check(
    asset="ingest_log", blocking=True, description="rows_read = rows_loaded + rows_quarantined for every file read"
)
def rows_reconcile(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse_db.get_connection() as con:
        bad = con.execute(
            "select count(*) from ingest_log where rows_read <> rows_loaded + rows_quarantined"
        ).fetchall()[0][0]
        mismatched = con.execute(
            "select count(*) from (select source_file, sum(rows_loaded) loaded from ingest_log"
            "  where status = 'loaded' group by all) l"
            " left join (select source_file, count(*) n from claim_lines group by all) c"
            " using (source_file) where l.loaded <> coalesce(c.n, 0)"
        ).fetchall()[0][0]
    return dg.AssetCheckResult(
        passed=bad == 0 and mismatched == 0,
        metadata={"files_not_reconciling": bad, "files_with_missing_lines": mismatched},
    )


@dg.asset_check(asset="claim_lines", blocking=True, description="(claim_id, line_number) identifies one loaded line")
def line_keys_unique(warehouse_db: DuckDBResource) -> dg.AssetCheckResult:
    with warehouse_db.get_connection() as con:
        repeated = con.execute(
            "select count(*) from (select 1 from claim_lines group by claim_id, line_number having count(*) > 1)"
        ).fetchall()[0][0]
    return dg.AssetCheckResult(passed=repeated == 0, metadata={"repeated_keys": repeated})
