"""Ingest stage: every extract under the input path -> claim_lines, quarantine, ingest_log."""


from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.assets import progress
from pipelines.ingest.extract import (
    UNREADABLE,
    FileResult,
    PreparedFile,
    finish_file,
    prepare_file,
    rejected_file,
    sha256_of,
)
from pipelines.ingest.readers import extract_format, find_extracts
from pipelines.resources import ReviewSettings
from pipelines.warehouse import ingest_log, schema


def source_name(path: Path, root: Path) -> str:
    """How the warehouse names a file: its path under the input folder (its name for a file)."""
    return path.name if root.is_file() else path.relative_to(root).as_posix()


def _digest(path: Path, logged: dict[tuple[int, int], str]) -> tuple[str, str | None, tuple[int, int] | None]:
    """(SHA-256, None, read) where ``read`` is the (size, modification time in ns) of a file read and
    hashed now, None for one not read; or (UNREADABLE, why, None) when the file cannot be read (e.g.
    permission denied). A file whose (size, modification time) is in ``logged`` (its name's entries
    in the ingest log) is not read: its logged SHA-256 is taken, as git's index does; any write to
    the file changes its modification time, and it is then read and hashed."""
    try:
        stat = path.stat()
        seen = (stat.st_size, stat.st_mtime_ns)
        if seen in logged:
            return logged[seen], None, None
        return sha256_of(path), None, seen
    except OSError as exc:  # this file is rejected, the others go on
        return UNREADABLE, f"cannot be read: {exc.strerror or type(exc).__name__}", None


def _drop(work: Future | None) -> None:
    """Work done ahead for a file that is not loaded after all: cancelled if not started, else its
    result (or error) is ignored."""
    if work is not None:
        work.cancel()


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
    names = [source_name(p, root) for p in files]
    # Files commit one by one, in order, each in its own transaction, from this thread only. To use
    # both cores, worker threads work ahead: one hashes the next files, one reads and validates the
    # next file to load (prepare_file: no warehouse) while this thread writes the current one.
    # Whether a file is loaded is still decided at its turn, against the warehouse as it is then;
    # work done ahead for a file that turns out unchanged or a duplicate is dropped, and an error
    # raised ahead is raised at that file's turn.
    hasher = ThreadPoolExecutor(1, thread_name_prefix="ingest-hash")
    reader = ThreadPoolExecutor(1, thread_name_prefix="ingest-read")
    try:
        digests: dict[int, Future] = {}
        ahead: dict[int, Future] = {}

        def digest_of(i: int) -> Future:
            """File i's (sha256, unreadable reason), the two files after it hashed meanwhile."""
            for j in range(i, min(i + 3, len(files))):
                if j not in digests:
                    digests[j] = hasher.submit(_digest, files[j], logged.get(names[j], {}))
            return digests[i]

        with warehouse_db.get_connection() as con, progress.stage("ingest", len(files)) as shown:
            schema.ensure_schema(con)
            lookup = ingest_log.existing_keys(con)
            logged = ingest_log.logged_file_stats(con)

            def read_ahead(i: int) -> None:
                """Start preparing file i if, as the warehouse is now, it is a file to load."""
                if i >= len(files) or i in ahead or digest_of(i).exception() is not None:
                    return
                digest, unreadable, _ = digest_of(i).result()
                if unreadable or ingest_log.known_file(con, names[i], digest):
                    return
                if ingest_log.loaded_as(con, digest) is None:
                    ahead[i] = reader.submit(prepare_file, files[i], names[i], profiles, sha256=digest)

            for i, path in enumerate(files):
                name = names[i]
                digest, unreadable, read = digest_of(i).result()
                mtime_ns = read[1] if read else None
                if ingest_log.known_file(con, name, digest):
                    _drop(ahead.pop(i, None))
                    if read:  # read again (touched, or logged before the stat was kept): not next time
                        ingest_log.note_file_stat(con, name, digest, *read)
                    outcomes.append({"source_file": name, "status": "unchanged"})
                    shown.advance("ingest", f"{name}: already ingested")
                    continue
                earlier = ingest_log.loaded_as(con, digest)
                if earlier is not None:
                    _drop(ahead.pop(i, None))
                    ingest_log.write_duplicate_delivery(
                        con, name, digest, extract_format(path), path.stat().st_size, earlier, context.run.run_id, mtime_ns
                    )
                    outcomes.append({"source_file": name, "status": "duplicate", "reason": f"same content as {earlier}"})
                    shown.advance("ingest", f"{name}: duplicate of {earlier}")
                    continue
                if unreadable:
                    result = rejected_file(name, extract_format(path), unreadable)
                else:
                    future = ahead.pop(i, None) or reader.submit(
                        prepare_file, path, name, profiles, sha256=digest
                    )
                    read_ahead(i + 1)  # the next file is read while this one is finished and written
                    prepared: PreparedFile | FileResult = future.result()
                    result = prepared if isinstance(prepared, FileResult) else finish_file(prepared, lookup)
                    del prepared
                ingest_log.write_file_result(con, result, context.run.run_id, mtime_ns)
                outcomes.append({**result.log_row(), "sha256": None})
                if result.status == "rejected":
                    context.log.warning(f"rejected {name}: {result.reason}")
                else:
                    context.log.info(
                        f"{name}: {result.rows_read} rows read, {result.rows_loaded} loaded, "
                        f"{result.rows_quarantined} quarantined"
                    )
                shown.advance("ingest", f"{name}: {result.status}")
                del result
            totals = con.execute(
                "select (select count(*) from claim_lines), (select count(*) from quarantine), "
                "(select count(*) from ingest_log)"
            ).fetchall()[0]
    finally:
        hasher.shutdown(wait=True, cancel_futures=True)
        reader.shutdown(wait=True, cancel_futures=True)

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
