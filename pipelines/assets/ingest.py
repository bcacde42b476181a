"""Ingest stage: every extract under the input path -> claim_lines, quarantine, ingest_log."""


from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines import progress, warehouse
from pipelines.ingest.extract import UNREADABLE, ingest_file, rejected_file, sha256_of
from pipelines.ingest.readers import extract_format, find_extracts
from pipelines.resources import ReviewSettings


def source_name(path: Path, root: Path) -> str:
    """How the warehouse names a file: its path under the input folder (its name for a file)."""
    return path.name if root.is_file() else path.relative_to(root).as_posix()


class IngestSelection(dg.Config):
    """Which extracts to read: all under the input path (default), or these names (the sensor's)."""

    files: list[str] = []


@dg.multi_asset(
    specs=[
        dg.AssetSpec("claim_lines", description="Every loaded claim service line, typed, with its source file and row."),
        dg.AssetSpec("quarantine", description="Rows not loaded, with every reason and the raw values."),
        dg.AssetSpec("ingest_log", description="One row per file read: SHA-256, rows read/loaded/quarantined, status, reason."),
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
    outcomes: list[dict] = []
    with warehouse_db.get_connection() as con, progress.stage("ingest", len(files)) as shown:
        warehouse.ensure_schema(con)
        lookup = warehouse.existing_keys(con)
        for path in files:
            name = source_name(path, root)
            try:
                digest = sha256_of(path)
            except OSError as exc:  # e.g. permission denied: this file is rejected, the others go on
                digest, unreadable = UNREADABLE, f"cannot be read: {exc.strerror or type(exc).__name__}"
            else:
                unreadable = None
            if warehouse.known_file(con, name, digest):
                outcomes.append({"source_file": name, "status": "unchanged"})
                shown.advance("ingest", f"{name}: already ingested")
                continue
            earlier = warehouse.loaded_as(con, digest)
            if earlier is not None:
                warehouse.write_duplicate_delivery(
                    con, name, digest, extract_format(path), path.stat().st_size, earlier, context.run.run_id
                )
                outcomes.append({"source_file": name, "status": "duplicate", "reason": f"same content as {earlier}"})
                shown.advance("ingest", f"{name}: duplicate of {earlier}")
                continue
            if unreadable:
                result = rejected_file(name, extract_format(path), unreadable)
            else:
                result = ingest_file(path, name, profiles, lookup, sha256=digest)
            warehouse.write_file_result(con, result, context.run.run_id)
            outcomes.append({**result.log_row(), "sha256": None})
            if result.status == "rejected":
                context.log.warning(f"rejected {name}: {result.reason}")
            else:
                context.log.info(
                    f"{name}: {result.rows_read} rows read, {result.rows_loaded} loaded, "
                    f"{result.rows_quarantined} quarantined"
                )
            shown.advance("ingest", f"{name}: {result.status}")
        totals = con.execute(
            "select (select count(*) from claim_lines), (select count(*) from quarantine), "
            "(select count(*) from ingest_log)"
        ).fetchall()[0]

    read = [o for o in outcomes if o["status"] in ("loaded", "rejected")]
    run_meta = {
        "files_seen": len(files),
        "files_loaded": sum(o["status"] == "loaded" for o in outcomes),
        "files_rejected": sum(o["status"] == "rejected" for o in outcomes),
        "files_duplicate": sum(o["status"] == "duplicate" for o in outcomes),
        "files_unchanged": sum(o["status"] == "unchanged" for o in outcomes),
        "rows_read": sum(o["rows_read"] for o in read),
        "rows_loaded": sum(o["rows_loaded"] for o in read),
        "rows_quarantined": sum(o["rows_quarantined"] for o in read),
    }
    files_json = dg.MetadataValue.json(
        [{k: v for k, v in o.items() if k != "sha256"} for o in outcomes]
    )
    yield dg.MaterializeResult(
        asset_key="claim_lines",
        metadata={**run_meta, "table_rows": totals[0], "files": files_json},
    )
    yield dg.MaterializeResult(asset_key="quarantine", metadata={"table_rows": totals[1]})
    yield dg.MaterializeResult(asset_key="ingest_log", metadata={"table_rows": totals[2]})


@dg.asset_check(asset="ingest_log", blocking=True, description="rows_read = rows_loaded + rows_quarantined for every file read")
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
